use obs_runtime::observed;

#[observed(endpoint = "/a", slo(latency = "250ms"))]
fn handler() {}

fn main() {}
