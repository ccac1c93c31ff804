//! Two functions claiming one endpoint are a setup error naming both, not merged series.

use obs_runtime::{SetupError, observed};

#[observed(endpoint = "/dup", method = "GET")]
fn first() {}

#[observed(endpoint = "/dup", method = "GET")]
fn second() {}

#[test]
fn init_reports_both_locations() {
    let _ = (first, second);
    match obs_runtime::builder("duplicates", "1").without_metrics_server().init() {
        Err(SetupError::DuplicateEndpoint { method: "GET", route: "/dup", first, second }) => {
            assert!(first.ends_with(&format!("duplicates.rs:{}", line_of("fn first("))), "{first}");
            assert!(second.ends_with(&format!("duplicates.rs:{}", line_of("fn second("))), "{second}");
        }
        other => panic!("expected a duplicate-endpoint error, got {other:?}"),
    }
}

fn line_of(prefix: &str) -> usize {
    include_str!("duplicates.rs").lines().position(|line| line.starts_with(prefix)).expect("function in this file") + 1
}
