use obs_runtime::observed;

#[observed(endpoint = "/a", method = "GET", method = "POST")]
fn handler() {}

fn main() {}
