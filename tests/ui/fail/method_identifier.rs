use obs_runtime::observed;

#[observed(endpoint = "/users", method = GET)]
fn handler() {}

fn main() {}
