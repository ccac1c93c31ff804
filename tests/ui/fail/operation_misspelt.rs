use obs_runtime::observed;

#[observed(operaton = "db.load_user")]
fn load_user() {}

fn main() {}
