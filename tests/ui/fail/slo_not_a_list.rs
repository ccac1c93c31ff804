use obs_runtime::observed;

#[observed(endpoint = "/a", slo = "99.9%")]
fn handler() {}

fn main() {}
