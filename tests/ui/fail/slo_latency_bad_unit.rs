use obs_runtime::observed;

#[observed(endpoint = "/a", slo(latency = "250 minutes @ 99%"))]
fn handler() {}

fn main() {}
