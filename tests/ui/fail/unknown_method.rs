use obs_runtime::observed;

#[observed(endpoint = "/users", method = "FETCH")]
fn handler() {}

fn main() {}
