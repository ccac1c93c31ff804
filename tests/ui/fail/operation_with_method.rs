use obs_runtime::observed;

#[observed(operation = "db.load_user", method = "GET")]
fn load_user() {}

fn main() {}
