use obs_runtime::observed;

#[observed(endpont = "/users/{id}")]
fn handler() {}

fn main() {}
