use obs_runtime::observed;

const NAME: &str = "db.load_user";

#[observed(operation = NAME)]
fn load_user() {}

fn main() {}
