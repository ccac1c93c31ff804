use obs_runtime::observed;

#[observed(endpoint = "/a", buckets = [0.1, 0.5, 1.0], slo(latency = "250ms @ 99%"))]
fn handler() {}

fn main() {}
