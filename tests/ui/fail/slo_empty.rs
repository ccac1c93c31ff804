use obs_runtime::observed;

#[observed(endpoint = "/a", slo())]
fn handler() {}

fn main() {}
