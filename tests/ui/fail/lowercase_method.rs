use obs_runtime::observed;

#[observed(endpoint = "/users", method = "get")]
fn handler() {}

fn main() {}
