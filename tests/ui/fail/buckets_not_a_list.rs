use obs_runtime::observed;

#[observed(endpoint = "/a", buckets = 0.5)]
fn handler() {}

fn main() {}
