use obs_runtime::observed;

#[observed(endpoint = "/reports/quarterly/revenue/by-region/by-product-line/by-sales-channel/with-forecast/and-prior-year-comparison/excluding-discontinued-items/v2")]
fn handler() {}

fn main() {}
