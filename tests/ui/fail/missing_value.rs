use obs_runtime::observed;

#[observed(endpoint)]
fn handler() {}

fn main() {}
