use obs_runtime::observed;

#[observed(endpoint = "/a")]
struct Handler;

fn main() {}
