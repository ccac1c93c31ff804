//! Every function shape `#[observed]` supports, as an endpoint and as an operation, compiles in a
//! user crate under `-D warnings` and `clippy::pedantic` (this file is linted by
//! `cargo clippy --all-targets`), keeps its behaviour, and is counted.

#![deny(warnings, clippy::pedantic)]

use obs_runtime::metrics::{ExpositionFormat, render};
use obs_runtime::observed;
use obs_tests::exposition::value;
use obs_tests::{YieldOnce, block_on};
use std::fmt::Display;

/// Sync, returning `()`.
#[observed(endpoint = "/shapes/unit")]
fn unit() {}

/// Sync, with `?` and an early `return`.
#[observed(endpoint = "/shapes/parse", method = "POST")]
fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    if text.is_empty() {
        return Ok(0);
    }
    let number: u32 = text.trim().parse()?;
    Ok(number * 2)
}

/// Async, awaiting, with `?`.
#[observed(endpoint = "/shapes/async/{id}")]
async fn load(id: u32) -> Result<String, std::fmt::Error> {
    YieldOnce::default().await;
    if id == 0 {
        return Err(std::fmt::Error);
    }
    Ok(format!("item {id}"))
}

/// Generic, with a where-clause.
#[observed(endpoint = "/shapes/generic")]
fn first<T>(items: &[T]) -> Option<T>
where
    T: Clone,
{
    items.first().cloned()
}

/// `impl Trait` in return and argument position.
#[observed(endpoint = "/shapes/impl-trait")]
fn evens(limit: impl Into<u32>) -> impl Iterator<Item = u32> {
    (0..limit.into()).filter(|n| n % 2 == 0)
}

/// Destructuring patterns in arguments.
#[observed(endpoint = "/shapes/pattern", method = "PUT")]
fn sum((left, right): (u32, u32)) -> u32 {
    left + right
}

struct Repo<T> {
    name: String,
    items: Vec<T>,
}

impl<T: Display + Clone> Repo<T> {
    /// `&self`, returning a borrow of `self`.
    #[observed(endpoint = "/shapes/repo/name")]
    fn name(&self) -> &str {
        &self.name
    }

    /// `&mut self`.
    #[observed(endpoint = "/shapes/repo/push", method = "POST")]
    fn push(&mut self, item: T) -> usize {
        self.items.push(item);
        self.items.len()
    }

    /// `self` by value.
    #[observed(endpoint = "/shapes/repo/into", method = "DELETE")]
    fn into_items(self) -> Vec<T> {
        self.items
    }

    /// Async `&self`.
    #[observed(endpoint = "/shapes/repo/describe")]
    async fn describe(&self) -> String {
        YieldOnce::default().await;
        self.items.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
    }
}

/// Attributes and doc comments stay on the function.
#[must_use]
#[inline]
#[observed(endpoint = "/shapes/attributes")]
pub fn with_attributes() -> u8 {
    7
}

/// Objectives declared: a latency threshold at every default bucket bound compiles, which keeps
/// the macro's copy of the default buckets equal to the runtime's.
macro_rules! latency_objective_at {
    ($($name:ident: $route:literal = $threshold:literal),* $(,)?) => {
        $(
            #[observed(endpoint = $route, slo(latency = $threshold))]
            fn $name() {}
        )*
        /// Calls every function above.
        fn call_every_latency_objective() {
            $($name();)*
        }
    };
}

latency_objective_at! {
    at_5ms: "/slo/5ms" = "5ms @ 99%",
    at_10ms: "/slo/10ms" = "10ms @ 99%",
    at_25ms: "/slo/25ms" = "25ms @ 99%",
    at_50ms: "/slo/50ms" = "50ms @ 99%",
    at_75ms: "/slo/75ms" = "75ms @ 99%",
    at_100ms: "/slo/100ms" = "100ms @ 99%",
    at_250ms: "/slo/250ms" = "250ms @ 99%",
    at_500ms: "/slo/500ms" = "500ms @ 99%",
    at_750ms: "/slo/750ms" = "750ms @ 99%",
    at_1s: "/slo/1s" = "1s @ 99%",
    at_2500ms: "/slo/2500ms" = "2.5s @ 99%",
    at_5s: "/slo/5s" = "5s @ 99%",
    at_7500ms: "/slo/7500ms" = "7500ms @ 99%",
    at_10s: "/slo/10s" = "10s @ 99%",
}

#[observed(endpoint = "/shapes/slo", method = "PATCH", buckets = [0.05, 0.3, 2.0], slo(success = "99.95%", latency = "300ms @ 95%"))]
fn with_objectives() {}

/// Operation: sync, with `?` and an early `return`.
#[observed(operation = "shapes.parse")]
fn parse_operation(text: &str) -> Result<u32, std::num::ParseIntError> {
    if text.is_empty() {
        return Ok(0);
    }
    Ok(text.trim().parse::<u32>()? + 1)
}

/// Operation: async, awaiting, with `?`.
#[observed(operation = "shapes.async-load")]
async fn load_operation(id: u32) -> Result<String, std::fmt::Error> {
    YieldOnce::default().await;
    if id == 0 {
        return Err(std::fmt::Error);
    }
    Ok(format!("row {id}"))
}

/// Operation: generic, with a where-clause and custom buckets.
#[observed(operation = "shapes.generic", buckets = [0.001, 0.1])]
fn last_operation<T>(items: &[T]) -> Option<T>
where
    T: Clone,
{
    items.last().cloned()
}

/// Operation: `impl Trait` in return and argument position, returning `()` elsewhere.
#[observed(operation = "shapes.impl_trait")]
fn odds_operation(limit: impl Into<u32>) -> impl Iterator<Item = u32> {
    (0..limit.into()).filter(|n| n % 2 == 1)
}

/// Operation returning `()`.
#[observed(operation = "shapes.unit")]
fn unit_operation() {}

struct Store<T> {
    rows: Vec<T>,
}

impl<T: Display + Clone> Store<T> {
    /// Operation: `&self`, returning a borrow of `self`.
    #[observed(operation = "shapes.store.first")]
    fn first(&self) -> Option<&T> {
        self.rows.first()
    }

    /// Operation: `&mut self`.
    #[observed(operation = "shapes.store.insert")]
    fn insert(&mut self, row: T) -> usize {
        self.rows.push(row);
        self.rows.len()
    }

    /// Operation: async `&self`.
    #[observed(operation = "shapes.store.render")]
    async fn render(&self) -> String {
        YieldOnce::default().await;
        self.rows.iter().map(ToString::to_string).collect::<Vec<_>>().join(";")
    }

    /// Operation: `self` by value.
    #[observed(operation = "shapes.store.drain")]
    fn drain(self) -> Vec<T> {
        self.rows
    }
}

fn count(route: &str, method: &str, extra: &[(&str, &str)]) -> f64 {
    let text = render(ExpositionFormat::OpenMetrics);
    let mut labels = vec![("http_request_method", method), ("http_route", route)];
    labels.extend_from_slice(extra);
    value(&text, "http_server_request_duration_seconds_count", &labels).unwrap_or(0.0)
}

const OK: (&str, &str) = ("error_type", "");

fn operation_count(operation: &str, error_type: &str) -> f64 {
    let text = render(ExpositionFormat::OpenMetrics);
    value(&text, "operation_duration_seconds_count", &[("operation", operation), ("error_type", error_type)])
        .unwrap_or(0.0)
}

#[test]
fn every_operation_shape_keeps_its_behaviour_and_is_counted() {
    assert_eq!(parse_operation("20"), Ok(21));
    assert_eq!(parse_operation(""), Ok(0));
    assert!(parse_operation("x").is_err());
    assert_eq!(block_on(load_operation(4)).as_deref(), Ok("row 4"));
    assert!(block_on(load_operation(0)).is_err());
    assert_eq!(last_operation(&["a", "b"]), Some("b"));
    assert_eq!(odds_operation(6_u8).collect::<Vec<_>>(), vec![1, 3, 5]);
    unit_operation();
    let mut store = Store { rows: vec![1] };
    assert_eq!(store.first(), Some(&1));
    assert_eq!(store.insert(2), 2);
    assert_eq!(block_on(store.render()), "1;2");
    assert_eq!(store.drain(), vec![1, 2]);

    assert!((operation_count("shapes.parse", "") - 2.0).abs() < f64::EPSILON);
    assert!((operation_count("shapes.parse", "ParseIntError") - 1.0).abs() < f64::EPSILON);
    assert!((operation_count("shapes.async-load", "") - 1.0).abs() < f64::EPSILON);
    assert!((operation_count("shapes.async-load", "Error") - 1.0).abs() < f64::EPSILON);
    for operation in [
        "shapes.generic",
        "shapes.impl_trait",
        "shapes.unit",
        "shapes.store.first",
        "shapes.store.insert",
        "shapes.store.render",
        "shapes.store.drain",
    ] {
        assert!((operation_count(operation, "") - 1.0).abs() < f64::EPSILON, "{operation}");
    }
    let text = render(ExpositionFormat::OpenMetrics);
    let bucket = |le: &str| {
        value(
            &text,
            "operation_duration_seconds_bucket",
            &[("operation", "shapes.generic"), ("error_type", ""), ("le", le)],
        )
    };
    assert!(bucket("0.001").is_some() && bucket("0.1").is_some() && bucket("+Inf").is_some());
    assert_eq!(bucket("0.005"), None, "custom buckets replace the defaults");
}

#[test]
fn operations_are_in_the_catalog_but_not_among_the_endpoints() {
    let site =
        obs_runtime::catalog().iter().find(|site| site.operation() == Some("shapes.store.first")).expect("registered");
    assert_eq!(site.kind(), obs_runtime::CallSiteKind::Operation);
    assert_eq!((site.route(), site.method()), ("", ""), "an operation has no route and no method");
    assert_eq!(site.function(), "Store::first", "a method is named with its impl's type");
    assert_eq!(site.doc(), "Operation: `&self`, returning a borrow of `self`.");
    assert_eq!(site.span_name(), "shapes.store.first");
    assert_eq!(site.module_path(), "shapes");
    let operations: Vec<&str> = obs_runtime::operations().filter_map(obs_runtime::CallSite::operation).collect();
    assert_eq!(operations.iter().filter(|name| name.starts_with("shapes.")).count(), 9, "{operations:?}");
    assert!(obs_runtime::endpoints().all(|site| site.kind() == obs_runtime::CallSiteKind::Endpoint));
    assert!(obs_runtime::endpoints().all(|site| site.operation().is_none() && site.route().starts_with('/')));
    assert_eq!(
        obs_runtime::endpoints().count() + obs_runtime::operations().count(),
        obs_runtime::catalog().len(),
        "every call site is one or the other"
    );
}

#[test]
fn every_shape_keeps_its_behaviour_and_is_counted() {
    unit();
    assert_eq!(parse("21"), Ok(42));
    assert_eq!(parse(""), Ok(0));
    assert!(parse("x").is_err());
    assert_eq!(block_on(load(3)).as_deref(), Ok("item 3"));
    assert!(block_on(load(0)).is_err());
    assert_eq!(first(&[5, 6]), Some(5));
    assert_eq!(evens(7_u8).collect::<Vec<_>>(), vec![0, 2, 4, 6]);
    assert_eq!(sum((2, 3)), 5);
    let mut repo = Repo { name: "repo".to_owned(), items: vec![1] };
    assert_eq!(repo.name(), "repo");
    assert_eq!(repo.push(2), 2);
    assert_eq!(block_on(repo.describe()), "1,2");
    assert_eq!(repo.into_items(), vec![1, 2]);
    assert_eq!(with_attributes(), 7);

    assert!((count("/shapes/unit", "GET", &[OK]) - 1.0).abs() < f64::EPSILON);
    assert!((count("/shapes/parse", "POST", &[OK]) - 2.0).abs() < f64::EPSILON);
    assert!((count("/shapes/parse", "POST", &[("error_type", "ParseIntError")]) - 1.0).abs() < f64::EPSILON);
    assert!((count("/shapes/async/{id}", "GET", &[OK]) - 1.0).abs() < f64::EPSILON);
    assert!((count("/shapes/async/{id}", "GET", &[("error_type", "Error")]) - 1.0).abs() < f64::EPSILON);
    for (route, method) in [
        ("/shapes/generic", "GET"),
        ("/shapes/impl-trait", "GET"),
        ("/shapes/pattern", "PUT"),
        ("/shapes/repo/name", "GET"),
        ("/shapes/repo/push", "POST"),
        ("/shapes/repo/into", "DELETE"),
        ("/shapes/repo/describe", "GET"),
        ("/shapes/attributes", "GET"),
    ] {
        assert!((count(route, method, &[OK]) - 1.0).abs() < f64::EPSILON, "{method} {route}");
    }
}

#[test]
fn the_catalog_keeps_docs_and_locations() {
    let site = obs_runtime::catalog().iter().find(|site| site.route() == "/shapes/parse").expect("registered");
    assert_eq!(site.method(), "POST");
    assert_eq!(site.function(), "parse");
    assert_eq!(site.doc(), "Sync, with `?` and an early `return`.");
    assert!(site.file().ends_with("shapes.rs"), "{}", site.file());
    let expected_line =
        include_str!("shapes.rs").lines().position(|line| line.starts_with("fn parse(")).expect("fn parse") + 1;
    assert_eq!(usize::try_from(site.line()).ok(), Some(expected_line));
    assert_eq!(site.module_path(), "shapes");
    assert_eq!(site.span_name(), "POST /shapes/parse");
    assert_eq!(site.buckets(), obs_runtime::DEFAULT_BUCKETS);
    assert_eq!(obs_runtime::catalog().iter().filter(|site| site.route().starts_with("/shapes/")).count(), 12);
}

#[test]
#[allow(clippy::float_cmp)] // parsed from the same decimal text: exact equality is the claim
fn declared_objectives_reach_the_catalog() {
    with_objectives();
    let site = obs_runtime::catalog().iter().find(|site| site.route() == "/shapes/slo").expect("registered");
    let objectives = site.objectives();
    assert!(objectives.success_declared() && objectives.latency_declared());
    assert_eq!(objectives.success_target(), 0.9995);
    assert_eq!(objectives.latency_threshold_seconds(), 0.3);
    assert_eq!(objectives.latency_target(), 0.95);

    let defaulted = obs_runtime::catalog().iter().find(|site| site.route() == "/shapes/unit").expect("registered");
    let objectives = defaulted.objectives();
    assert!(!objectives.success_declared() && !objectives.latency_declared());
    assert_eq!(objectives.success_target(), obs_runtime::DEFAULT_SUCCESS_TARGET);
    assert_eq!(objectives.latency_threshold_seconds(), obs_runtime::DEFAULT_LATENCY_THRESHOLD_SECONDS);
}

#[test]
fn every_default_bound_is_a_valid_latency_threshold() {
    call_every_latency_objective();
    let mut thresholds: Vec<f64> = obs_runtime::catalog()
        .iter()
        .filter(|site| site.route().starts_with("/slo/"))
        .map(|site| site.objectives().latency_threshold_seconds())
        .collect();
    thresholds.sort_by(f64::total_cmp);
    assert_eq!(thresholds, obs_runtime::DEFAULT_BUCKETS);
}
