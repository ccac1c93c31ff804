//! Functions that return a future are observed until the future completes, not when it is
//! created: an `#[async_trait]` method, the same shape written by hand in a trait impl, a
//! `fn -> impl Future` and a `fn -> Pin<Box<dyn Future>>`. Each sleeps 50 ms; the recorded
//! duration covers the sleep, an `Err` is a failure with its type's name, the in-flight gauge
//! holds while the future is pending, an operation called inside is a child in the same trace,
//! and a future dropped mid-flight is `cancelled`.

// Counts are integers carried as f64 by the exposition format: exact comparison is the point.
#![allow(clippy::float_cmp)]

use async_trait::async_trait;
use obs_runtime::metrics::{ExpositionFormat, render};
use obs_runtime::{LocalTelemetry, LogFormat, observed};
use obs_tests::exposition::{request_count, sum_matching, value};
use obs_tests::logs::CapturedLogs;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::Duration;

const SLEEP: Duration = Duration::from_millis(50);

/// The error every shape returns for `id == 0`.
#[derive(Debug)]
pub struct Unavailable;

#[observed(operation = "shape.step")]
async fn step(id: u32) -> u32 {
    tracing::info!(target: "app", id, "inside the step");
    id + 1
}

/// Sleeps, calls the operation, fails for 0.
async fn work(id: u32) -> Result<u32, Unavailable> {
    tokio::time::sleep(SLEEP).await;
    let next = step(id).await;
    if id == 0 { Err(Unavailable) } else { Ok(next) }
}

#[async_trait]
trait Greeter {
    async fn greet(&self, id: u32) -> Result<u32, Unavailable>;
}

struct AsyncTraitService;

#[async_trait]
impl Greeter for AsyncTraitService {
    /// An `#[async_trait]` method: the attribute on the impl has already turned it into a sync
    /// fn returning `Pin<Box<dyn Future + Send>>` when `#[observed]` sees it.
    #[observed(endpoint = "/future/async-trait/{id}")]
    async fn greet(&self, id: u32) -> Result<u32, Unavailable> {
        work(id).await
    }
}

trait Repository {
    fn load(&self, id: u32) -> Pin<Box<dyn Future<Output = Result<u32, Unavailable>> + Send + '_>>;
}

struct HandWrittenService {
    offset: u32,
}

impl Repository for HandWrittenService {
    /// The same shape written by hand.
    #[observed(endpoint = "/future/hand-written/{id}")]
    fn load(&self, id: u32) -> Pin<Box<dyn Future<Output = Result<u32, Unavailable>> + Send + '_>> {
        Box::pin(async move { work(id).await.map(|value| value + self.offset) })
    }
}

/// `impl Future`, with work done before the future is built.
#[observed(endpoint = "/future/impl-future/{id}")]
fn impl_future(id: u32) -> impl Future<Output = Result<u32, Unavailable>> + Send {
    let doubled = id * 2;
    async move { work(doubled).await }
}

/// A boxed future made elsewhere: wrapped, not rewritten.
#[observed(endpoint = "/future/boxed/{id}")]
fn boxed(id: u32) -> Pin<Box<dyn Future<Output = Result<u32, Unavailable>> + Send>> {
    if id == 7 {
        return Box::pin(std::future::ready(Ok(7)));
    }
    Box::pin(work(id))
}

fn openmetrics() -> String {
    render(ExpositionFormat::OpenMetrics)
}

fn count(route: &str, error_type: &str) -> f64 {
    request_count(&openmetrics(), route, error_type)
}

fn duration_sum(route: &str, error_type: &str) -> f64 {
    sum_matching(
        &openmetrics(),
        "http_server_request_duration_seconds_sum",
        &[("http_route", route), ("error_type", error_type)],
    )
}

fn in_flight(route: &str) -> f64 {
    value(&openmetrics(), "http_server_active_requests", &[("http_request_method", "GET"), ("http_route", route)])
        .expect("gauge present")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime")
}

fn capturing() -> (CapturedLogs, LocalTelemetry) {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let telemetry = obs_runtime::builder("future-shapes", "1.0.0")
        .with_env(|_| None)
        .log_format(LogFormat::Json)
        .log_filter("info,obs::operation=debug")
        .log_writer(move || writer.writer())
        .build_local()
        .expect("valid settings");
    (logs, telemetry)
}

type Made = Pin<Box<dyn Future<Output = Result<u32, Unavailable>> + Send>>;

/// A route and how to make its function's future for an id.
type Shape = (&'static str, fn(u32) -> Made);

/// Every shape, as a way to make its future for an id.
fn shapes() -> [Shape; 4] {
    [
        ("/future/async-trait/{id}", |id| Box::pin(async move { AsyncTraitService.greet(id).await })),
        ("/future/hand-written/{id}", |id| Box::pin(async move { HandWrittenService { offset: 100 }.load(id).await })),
        ("/future/impl-future/{id}", |id| Box::pin(impl_future(id))),
        ("/future/boxed/{id}", boxed),
    ]
}

/// One test, run in order: the phases read the same call sites' gauges and counts.
#[test]
fn futures_are_observed_until_they_complete() {
    the_call_covers_the_future_until_it_completes();
    a_future_dropped_mid_flight_is_cancelled();
    a_boxed_future_that_is_ready_at_once_is_one_success();
}

fn the_call_covers_the_future_until_it_completes() {
    let runtime = runtime();
    let (logs, telemetry) = capturing();
    for (route, make) in shapes() {
        tracing::dispatcher::with_default(telemetry.dispatch(), || {
            // Polled once by hand: pending in the sleep, so in flight.
            let mut future = make(3);
            let _context = runtime.enter();
            assert!(future.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
            assert_eq!(in_flight(route), 1.0, "{route}: in flight while the future is pending");
            assert!(runtime.block_on(future).is_ok());
            assert_eq!(in_flight(route), 0.0, "{route}: not in flight once complete");
            assert!(runtime.block_on(make(0)).is_err());
        });
        assert_eq!(count(route, ""), 1.0, "{route}");
        assert_eq!(count(route, "Unavailable"), 1.0, "{route}: the Err is a failure named by its type");
        for error_type in ["", "Unavailable"] {
            assert!(
                duration_sum(route, error_type) >= SLEEP.as_secs_f64(),
                "{route}: the recorded duration covers the sleep"
            );
        }
    }

    let lines = logs.json_lines();
    let of = |target: &str| lines.iter().filter(|line| line["target"] == target).collect::<Vec<&Value>>();
    let (requests, steps, inside) = (of("obs::request"), of("obs::operation"), of("app"));
    assert_eq!((requests.len(), steps.len(), inside.len()), (8, 8, 8), "{lines:#?}");
    for ((request, step), body) in requests.iter().zip(&steps).zip(&inside) {
        assert!(request["duration_ms"].as_f64().unwrap() >= 50.0, "{request}");
        assert_eq!(step["trace_id"], request["trace_id"], "the operation is in the request's trace: {request}");
        assert_ne!(step["span_id"], request["span_id"]);
        assert_eq!(body["span_id"], step["span_id"], "the operation's body runs in its span");
        if request["error.type"] == "Unavailable" {
            assert_eq!((request["level"].as_str(), request["outcome"].as_str()), (Some("ERROR"), Some("failure")));
        } else {
            assert_eq!((request["level"].as_str(), request["outcome"].as_str()), (Some("INFO"), Some("success")));
        }
    }
    let functions: std::collections::BTreeSet<&str> =
        requests.iter().filter_map(|line| line["code.function"].as_str()).collect();
    assert_eq!(
        functions,
        ["AsyncTraitService::greet", "HandWrittenService::load", "boxed", "impl_future"].into(),
        "methods are named with their impl's type"
    );
    let traces: std::collections::BTreeSet<&str> =
        requests.iter().filter_map(|line| line["trace_id"].as_str()).collect();
    assert_eq!(traces.len(), 8, "every call is a trace of its own");
}

fn a_future_dropped_mid_flight_is_cancelled() {
    let runtime = runtime();
    let _context = runtime.enter();
    for (route, make) in shapes() {
        let before = count(route, "cancelled");
        let mut future = make(5);
        assert!(future.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
        drop(future);
        assert_eq!(count(route, "cancelled"), before + 1.0, "{route}");
        assert_eq!(in_flight(route), 0.0, "{route}");
    }
}

fn a_boxed_future_that_is_ready_at_once_is_one_success() {
    let runtime = runtime();
    let before = count("/future/boxed/{id}", "");
    assert_eq!(runtime.block_on(boxed(7)).ok(), Some(7));
    assert_eq!(count("/future/boxed/{id}", ""), before + 1.0);
}
