use obs_runtime::observed;

#[observed(endpoint = "/a", buckets = [-1.0, 0.0, LIMIT])]
fn handler() {}

fn main() {}
