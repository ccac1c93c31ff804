use obs_runtime::observed;

#[observed(endpoint = "/users/{user id}/{id}")]
fn handler() {}

fn main() {}
