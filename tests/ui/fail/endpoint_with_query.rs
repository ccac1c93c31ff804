use obs_runtime::observed;

#[observed(endpoint = "/users?id=1")]
fn handler() {}

fn main() {}
