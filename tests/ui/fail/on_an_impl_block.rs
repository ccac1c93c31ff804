use obs_runtime::observed;

struct Handler;

#[observed(endpoint = "/a")]
impl Handler {}

fn main() {}
