//! Functions claiming one endpoint or one operation name are a setup error naming every claim
//! and every location at once, not merged series and not only the first clash.

use obs_runtime::{DuplicateClaim, SetupError, observed};

#[observed(endpoint = "/dup", method = "GET")]
fn first() {}

#[observed(endpoint = "/dup", method = "GET")]
fn second() {}

#[observed(endpoint = "/dup", method = "GET")]
fn third() {}

/// Another method on the same route is no clash.
#[observed(endpoint = "/dup", method = "POST")]
fn other_method() {}

#[observed(operation = "db.load")]
fn load_one() {}

#[observed(operation = "db.load")]
fn load_two() {}

/// The same name on an endpoint's route is no clash: the two live in different families.
#[observed(endpoint = "/db.load")]
fn endpoint() {}

#[test]
fn init_reports_every_duplicate_with_every_location() {
    let _ = (first, second, third, other_method, load_one, load_two, endpoint);
    let error = obs_runtime::builder("duplicates", "1").without_metrics_server().init().expect_err("duplicates");
    let SetupError::DuplicateCallSites { duplicates } = &error else {
        panic!("expected a duplicate error, got {error:?}");
    };
    let at = |names: &[&str]| names.iter().map(|name| format!("{}:{}", file!(), line_of(name))).collect::<Vec<_>>();
    assert_eq!(
        duplicates,
        &[
            DuplicateClaim { claimed: "GET /dup".to_owned(), locations: at(&["fn first(", "fn second(", "fn third("]) },
            DuplicateClaim {
                claimed: "operation \"db.load\"".to_owned(),
                locations: at(&["fn load_one(", "fn load_two("])
            },
        ]
    );
    let message = error.to_string();
    assert!(message.contains("GET /dup is annotated 3 times") && message.contains("\"db.load\" is annotated 2 times"));
    assert!(message.ends_with("give each function its own endpoint (method and route) or operation name"), "{message}");
}

fn line_of(prefix: &str) -> usize {
    include_str!("duplicates.rs").lines().position(|line| line.starts_with(prefix)).expect("function in this file") + 1
}
