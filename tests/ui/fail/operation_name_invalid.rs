use obs_runtime::observed;

#[observed(operation = "DB.LoadUser")]
fn upper_case() {}

#[observed(operation = "load user")]
fn with_a_space() {}

#[observed(operation = "")]
fn empty() {}

#[observed(operation = "a.very.long.operation.name.that.goes.on.and.on.well.beyond.any.dashboard")]
fn too_long() {}

fn main() {}
