use obs_runtime::observed;

#[observed(endpoint = "/a")]
fn handler() -> Result<u32, String> {
    Ok("not a number")
}

fn main() {}
