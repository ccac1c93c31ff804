use obs_runtime::observed;

#[observed]
fn handler() {}

fn main() {}
