use obs_runtime::observed;

#[observed(endpoint = "/a", buckets = [0.1, 0.5, 0.5, 0.2])]
fn handler() {}

fn main() {}
