use obs_runtime::observed;

#[observed(endpoint = "/users/{id}", crate = 5)]
fn handler() {}

fn main() {}
