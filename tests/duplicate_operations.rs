//! Two functions claiming one operation name are a setup error naming both, not merged series.

use obs_runtime::{SetupError, observed};

#[observed(operation = "db.load")]
fn first() {}

#[observed(operation = "db.load")]
fn second() {}

/// The same name on an endpoint's route is no clash: the two live in different families.
#[observed(endpoint = "/db.load")]
fn endpoint() {}

#[test]
fn init_reports_both_locations() {
    let _ = (first, second, endpoint);
    let error = obs_runtime::builder("duplicate-operations", "1")
        .without_metrics_server()
        .init()
        .expect_err("two functions claim one operation");
    let SetupError::DuplicateOperation { operation, first, second } = &error else {
        panic!("expected a duplicate-operation error, got {error:?}");
    };
    assert_eq!(*operation, "db.load");
    assert!(first.ends_with(&format!("duplicate_operations.rs:{}", line_of("fn first("))), "{first}");
    assert!(second.ends_with(&format!("duplicate_operations.rs:{}", line_of("fn second("))), "{second}");
    assert!(error.to_string().contains("give each function its own operation name"), "{error}");
}

fn line_of(prefix: &str) -> usize {
    include_str!("duplicate_operations.rs")
        .lines()
        .position(|line| line.starts_with(prefix))
        .expect("function in this file")
        + 1
}
