use obs_runtime::observed;

#[observed(endpoint "/a")]
fn handler() {}

fn main() {}
