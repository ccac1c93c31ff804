use obs_runtime::observed;

#[observed(endpoint = "/users
/{id}")]
fn handler() {}

fn main() {}
