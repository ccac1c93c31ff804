use obs_runtime::observed;

#[observed(endpoint = "/a")]
const fn handler() -> u8 {
    1
}

fn main() {}
