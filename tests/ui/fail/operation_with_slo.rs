use obs_runtime::observed;

#[observed(operation = "db.load_user", slo(success = "99.9%"))]
fn load_user() {}

fn main() {}
