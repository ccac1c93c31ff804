use obs_runtime::observed;

#[observed(endpoint = "/a", slo(success = "100%"))]
fn handler() {}

fn main() {}
