use obs_runtime::observed;

#[observed(endpoint = "/users/{id}")]
#[track_caller]
fn handler(id: u64) -> u64 {
    id
}

fn main() {}
