use obs_runtime::observed;

#[observed(endpoint = "/users/{id}", operation = "db.load_user")]
fn handler() {}

#[observed(operation = "db.save_user", endpoint = "/users")]
fn saver() {}

fn main() {}
