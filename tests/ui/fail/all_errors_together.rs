use obs_runtime::observed;

#[observed(endpont = "/a", method = "get", buckets = [])]
fn handler() {}

fn main() {}
