use obs_runtime::observed;

#[observed(endpoint = "/a", slo(latency = "300ms @ 99%"))]
fn handler() {}

fn main() {}
