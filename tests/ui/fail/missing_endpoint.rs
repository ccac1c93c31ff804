use obs_runtime::observed;

#[observed(method = "GET")]
fn handler() {}

fn main() {}
