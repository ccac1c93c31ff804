use obs_runtime::observed;

const ROUTE: &str = "/users";

#[observed(endpoint = ROUTE)]
fn handler() {}

fn main() {}
