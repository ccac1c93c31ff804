use obs_runtime::observed;

#[observed(endpoint = "/a", buckets = [])]
fn handler() {}

fn main() {}
