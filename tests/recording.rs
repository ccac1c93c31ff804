//! What one call records, for real: panics, cancellations, concurrency, custom buckets, the
//! per-call log event with its trace ids, operations nested in requests, exemplars linking
//! buckets to traces, and setup errors naming the bad setting.

// Counts are integers carried as f64 by the exposition format: exact comparison is the point.
#![allow(clippy::float_cmp)]

use obs_runtime::metrics::{ExpositionFormat, MetricsServer, render};
use obs_runtime::{LocalTelemetry, LogFormat, SetupError, observed};
use obs_tests::exposition::{matching, request_count, value};
use obs_tests::http_client::request;
use obs_tests::logs::CapturedLogs;
use obs_tests::process::require_tool;
use obs_tests::process::run_with_stdin;
use obs_tests::{YieldOnce, block_on};
use serde_json::Value;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};

fn openmetrics() -> String {
    render(ExpositionFormat::OpenMetrics)
}

fn count(route: &str, error_type: &str) -> f64 {
    request_count(&openmetrics(), route, error_type)
}

fn in_flight(route: &str) -> f64 {
    value(&openmetrics(), "http_server_active_requests", &[("http_request_method", "GET"), ("http_route", route)])
        .expect("gauge present")
}

#[observed(endpoint = "/rec/panic")]
fn panics(message: &'static str) -> u8 {
    panic!("{message}");
}

#[test]
fn a_panic_is_recorded_and_propagates_unchanged() {
    let caught = std::panic::catch_unwind(|| panics("boom")).expect_err("the panic propagates");
    assert_eq!(caught.downcast_ref::<String>().map(String::as_str), Some("boom"));
    assert_eq!(count("/rec/panic", "panic"), 1.0);
    assert_eq!(in_flight("/rec/panic"), 0.0);
}

#[observed(endpoint = "/rec/async-panic")]
async fn panics_after_await() -> Result<(), std::io::Error> {
    YieldOnce::default().await;
    panic!("late boom");
}

#[test]
fn a_panic_after_an_await_is_recorded() {
    let caught = std::panic::catch_unwind(|| block_on(panics_after_await())).expect_err("propagates");
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"late boom"));
    assert_eq!(count("/rec/async-panic", "panic"), 1.0);
    assert_eq!(in_flight("/rec/async-panic"), 0.0);
}

#[observed(endpoint = "/rec/cancel")]
async fn never_finishes() -> Result<(), std::io::Error> {
    std::future::pending::<()>().await;
    Ok(())
}

#[test]
fn a_future_dropped_mid_await_is_recorded_as_cancelled() {
    {
        let mut future = pin!(never_finishes());
        let mut context = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut context).is_pending());
        assert_eq!(in_flight("/rec/cancel"), 1.0, "in flight while suspended");
    }
    assert_eq!(count("/rec/cancel", "cancelled"), 1.0);
    assert_eq!(in_flight("/rec/cancel"), 0.0);
}

#[test]
fn a_future_never_polled_records_nothing() {
    let future = never_finishes_unpolled();
    drop(future);
    assert_eq!(count("/rec/unpolled", "cancelled"), 0.0);
}

#[observed(endpoint = "/rec/unpolled")]
async fn never_finishes_unpolled() {}

#[observed(endpoint = "/rec/concurrent")]
fn work(n: u64) -> Result<u64, std::fmt::Error> {
    if n.is_multiple_of(10) { Err(std::fmt::Error) } else { Ok(n * 2) }
}

#[test]
fn concurrent_calls_add_up_exactly() {
    const THREADS: u64 = 8;
    const CALLS: u64 = 5_000;
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            scope.spawn(move || {
                for call in 0..CALLS {
                    let _ = work(thread * CALLS + call);
                }
            });
        }
    });
    let text = openmetrics();
    let failures = THREADS * CALLS / 10;
    #[allow(clippy::cast_precision_loss)]
    let (total, failures) = ((THREADS * CALLS) as f64, failures as f64);
    assert_eq!(count("/rec/concurrent", ""), total - failures);
    assert_eq!(count("/rec/concurrent", "Error"), failures);
    let inf = value(
        &text,
        "http_server_request_duration_seconds_bucket",
        &[("http_request_method", "GET"), ("http_route", "/rec/concurrent"), ("error_type", ""), ("le", "+Inf")],
    );
    assert_eq!(inf, Some(total - failures), "the +Inf bucket equals the count");
}

#[observed(endpoint = "/rec/buckets", buckets = [0.001, 0.5, 2])]
fn bucketed() {}

#[test]
fn custom_buckets_replace_the_defaults() {
    bucketed();
    let text = openmetrics();
    let les: Vec<String> =
        matching(&text, "http_server_request_duration_seconds_bucket", &[("http_route", "/rec/buckets")])
            .iter()
            .filter(|sample| sample.labels.iter().any(|(k, v)| k == "error_type" && v.is_empty()))
            .filter(|sample| sample.labels.iter().all(|(k, _)| k != "http_response_status_code"))
            .filter_map(|sample| sample.labels.iter().find(|(k, _)| k == "le").map(|(_, v)| v.clone()))
            .collect();
    assert_eq!(les, ["0.001", "0.5", "2.0", "+Inf"]);
}

#[observed(endpoint = "/rec/never-called")]
fn never_called() {}

#[test]
fn endpoints_are_listed_with_zero_counts_before_their_first_call() {
    let _ = never_called;
    let text = openmetrics();
    let labels = [("http_request_method", "GET"), ("http_route", "/rec/never-called"), ("error_type", "")];
    assert_eq!(value(&text, "http_server_request_duration_seconds_count", &labels), Some(0.0));
    assert_eq!(value(&text, "http_server_active_requests", &labels[..2]), Some(0.0));
}

#[observed(endpoint = "/rec/status/{code}")]
fn respond(code: u16) -> http::Response<()> {
    http::Response::builder().status(code).body(()).expect("valid status")
}

#[test]
fn status_codes_come_from_the_return_value() {
    for code in [200, 200, 404, 503] {
        let _ = respond(code);
    }
    let text = openmetrics();
    let with = |code: &str, error: &str| {
        value(
            &text,
            "http_server_request_duration_seconds_count",
            &[
                ("http_request_method", "GET"),
                ("http_route", "/rec/status/{code}"),
                ("http_response_status_code", code),
                ("error_type", error),
            ],
        )
    };
    assert_eq!(with("200", ""), Some(2.0));
    assert_eq!(with("404", ""), Some(1.0));
    assert_eq!(with("503", "503"), Some(1.0));
}

#[observed(endpoint = "/rec/bounded/{id}")]
fn by_id(id: u16) -> http::StatusCode {
    http::StatusCode::from_u16(200 + id % 7).expect("valid status")
}

#[test]
fn label_values_stay_bounded_whatever_the_arguments() {
    for id in 0..2_000_u16 {
        let _ = by_id(id);
    }
    let text = openmetrics();
    let series = matching(&text, "http_server_request_duration_seconds_count", &[("http_route", "/rec/bounded/{id}")]);
    assert!(series.len() <= 1 + 7 + 2, "{} series for one route", series.len());
    let routes: std::collections::BTreeSet<String> = obs_tests::exposition::samples(&text)
        .into_iter()
        .filter_map(|sample| sample.labels.into_iter().find(|(k, _)| k == "http_route").map(|(_, v)| v))
        .collect();
    let declared: std::collections::BTreeSet<String> =
        obs_runtime::endpoints().map(|site| site.route().to_owned()).collect();
    assert_eq!(routes, declared, "every route label is a declared template");
    let operations: std::collections::BTreeSet<String> = obs_tests::exposition::samples(&text)
        .into_iter()
        .filter_map(|sample| sample.labels.into_iter().find(|(k, _)| k == "operation").map(|(_, v)| v))
        .collect();
    let declared: std::collections::BTreeSet<String> =
        obs_runtime::operations().filter_map(|site| site.operation().map(str::to_owned)).collect();
    assert_eq!(operations, declared, "every operation label is a declared name");
}

#[observed(endpoint = "/rec/log/{id}")]
async fn logged(id: u32) -> Result<http::StatusCode, std::io::Error> {
    YieldOnce::default().await;
    tracing::info!(target: "app", id, "inside the handler");
    tracing::info_span!("render").in_scope(|| tracing::info!(target: "app", "in a span of the handler's own"));
    match id {
        0 => Err(std::io::Error::other("disk on fire")),
        1..=9 => Ok(http::StatusCode::OK),
        _ => Ok(http::StatusCode::NOT_FOUND),
    }
}

fn field<'a>(line: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    &line[name]
}

/// The JSON lines `run` writes with obs's INFO log output.
fn json_lines_of(run: impl FnOnce()) -> Vec<serde_json::Value> {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let telemetry = obs_runtime::builder("recording", "1.2.3")
        .log_format(LogFormat::Json)
        .log_filter("info")
        .log_writer(move || writer.writer())
        .build_local()
        .expect("valid settings");
    tracing::dispatcher::with_default(telemetry.dispatch(), run);
    logs.json_lines()
}

#[test]
fn the_users_spans_inside_a_call_are_in_the_calls_trace() {
    // No span around the calls: each is the root of its own trace.
    let lines = json_lines_of(|| {
        for id in [1, 2] {
            let _ = block_on(logged(id));
        }
    });
    let requests: Vec<&serde_json::Value> = lines.iter().filter(|line| line["target"] == "obs::request").collect();
    let nested: Vec<&serde_json::Value> =
        lines.iter().filter(|line| line["message"] == "in a span of the handler's own").collect();
    assert_eq!((requests.len(), nested.len()), (2, 2), "{lines:#?}");
    assert_ne!(field(requests[0], "trace_id"), field(requests[1], "trace_id"), "two traces");
    for (nested, request) in nested.iter().zip(&requests) {
        assert_eq!(field(nested, "span"), "render");
        assert_eq!(field(nested, "trace_id"), field(request, "trace_id"), "{nested}");
        assert_ne!(field(nested, "span_id"), field(request, "span_id"), "{nested}");
    }
}

#[test]
fn each_call_logs_one_json_event_linked_to_its_trace() {
    let lines = json_lines_of(|| {
        let parent = tracing::info_span!("parent");
        let _entered = parent.enter();
        tracing::info!(target: "app", "before");
        for id in [1, 42, 0] {
            let _ = block_on(logged(id));
        }
    });
    let requests: Vec<&serde_json::Value> = lines.iter().filter(|line| line["target"] == "obs::request").collect();
    assert_eq!(requests.len(), 3, "{lines:#?}");
    let (ok, client, failure) = (requests[0], requests[1], requests[2]);
    assert_eq!(field(ok, "level"), "INFO");
    assert_eq!(field(client, "level"), "WARN");
    assert_eq!(field(failure, "level"), "ERROR");
    assert_eq!(field(ok, "http.request.method"), "GET");
    assert_eq!(field(ok, "http.route"), "/rec/log/{id}");
    assert_eq!(field(ok, "http.response.status_code"), 200);
    assert_eq!(field(client, "http.response.status_code"), 404);
    assert_eq!(field(client, "outcome"), "client_error");
    assert_eq!(field(failure, "outcome"), "failure");
    assert_eq!(field(failure, "error.type"), "Error");
    assert!(field(ok, "error.type").is_null());
    assert_eq!(field(ok, "code.function"), "logged");
    assert_eq!(field(ok, "span"), "GET /rec/log/{id}");
    assert!(field(ok, "duration_ms").as_f64().is_some_and(|ms| ms >= 0.0));
    assert!(field(ok, "timestamp").as_str().is_some_and(|t| t.len() == 27 && t.ends_with('Z')));
    assert_eq!(
        field(ok, "message").as_str().unwrap(),
        format!("GET /rec/log/{{id}} 200 in {:.3} ms", field(ok, "duration_ms").as_f64().unwrap())
    );

    // Every line carries the ids of its span, and the observed spans are children of `parent`.
    let before = lines.iter().find(|line| line["message"] == "before").expect("parent event");
    let trace_id = field(before, "trace_id").as_str().expect("trace id");
    assert_eq!(trace_id.len(), 32);
    for request in &requests {
        assert_eq!(field(request, "trace_id"), trace_id);
        assert_eq!(field(request, "span_id").as_str().map(str::len), Some(16));
        assert_ne!(field(request, "span_id"), field(before, "span_id"));
    }
    let inner: Vec<&serde_json::Value> = lines.iter().filter(|line| line["message"] == "inside the handler").collect();
    assert_eq!(inner.len(), 3);
    for (inside, request) in inner.iter().zip(&requests) {
        assert_eq!(field(inside, "span_id"), field(request, "span_id"), "the body runs inside the call's span");
    }
}

#[test]
fn quiet_logs_keep_their_trace_ids() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let telemetry = obs_runtime::builder("recording", "1.2.3")
        .log_filter("warn")
        .log_writer(move || writer.writer())
        .build_local()
        .expect("valid settings");
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        for id in [1, 42] {
            let _ = block_on(logged(id));
        }
    });
    let lines = logs.json_lines();
    assert_eq!(lines.len(), 1, "only the 404 passes `warn`: {lines:#?}");
    assert_eq!(lines[0]["level"], "WARN");
    assert_eq!(lines[0]["trace_id"].as_str().map(str::len), Some(32));
}

#[test]
fn the_pretty_format_is_for_humans() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let telemetry = obs_runtime::builder("recording", "1.2.3")
        .with_env(|name| (name == "OBS_LOG_FORMAT").then(|| "pretty".to_owned()))
        .log_writer(move || writer.writer())
        .build_local()
        .expect("valid settings");
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        let _ = block_on(logged(3));
    });
    let text = String::from_utf8(logs.writer_bytes()).expect("utf-8");
    assert!(text.contains("GET /rec/log/{id} 200 in"), "{text}");
    assert!(!text.trim_start().starts_with('{'), "{text}");
}

#[test]
fn bad_settings_are_typed_errors_naming_the_variable() {
    let with = |var: &'static str, value: &'static str| {
        obs_runtime::builder("recording", "1").with_env(move |name| (name == var).then(|| value.to_owned()))
    };
    match with("OBS_LOG_FORMAT", "xml").build_local() {
        Err(SetupError::InvalidEnv { var: "OBS_LOG_FORMAT", value, .. }) => assert_eq!(value, "xml"),
        other => panic!("{other:?}"),
    }
    match with("OBS_LOG_BLOCKING", "yes").build_local() {
        Err(SetupError::InvalidEnv { var: "OBS_LOG_BLOCKING", value, .. }) => assert_eq!(value, "yes"),
        other => panic!("{other:?}"),
    }
    match with("RUST_LOG", "app=shouting").build_local() {
        Err(error @ SetupError::InvalidFilter { origin: "RUST_LOG", .. }) => {
            assert!(error.to_string().contains("RUST_LOG=\"app=shouting\""), "{error}");
        }
        other => panic!("{other:?}"),
    }
    match with("OBS_METRICS_ADDR", "localhost:http").init() {
        Err(error @ SetupError::InvalidEnv { var: "OBS_METRICS_ADDR", .. }) => {
            assert!(error.to_string().contains("127.0.0.1:9464"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    match obs_runtime::builder("recording", "1").metrics_addr(addr).init() {
        Err(error @ SetupError::MetricsBind { .. }) => {
            assert!(error.to_string().contains(&addr.to_string()), "{error}");
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Operations: `#[observed(operation = ...)]` inside requests.

fn operation_count(operation: &str, error_type: &str) -> f64 {
    value(&openmetrics(), "operation_duration_seconds_count", &[("operation", operation), ("error_type", error_type)])
        .unwrap_or(0.0)
}

/// JSON logs captured under the toolkit's subscriber, with `log_filter` and extra settings.
fn capturing(log_filter: &str, env: &'static [(&'static str, &'static str)]) -> (CapturedLogs, LocalTelemetry) {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let telemetry = obs_runtime::builder("recording", "1.2.3")
        .with_env(|name| env.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned()))
        .log_format(LogFormat::Json)
        .log_filter(log_filter)
        .log_writer(move || writer.writer())
        .build_local()
        .expect("valid settings");
    (logs, telemetry)
}

fn lines_of<'a>(lines: &'a [Value], target: &str) -> Vec<&'a Value> {
    lines.iter().filter(|line| line["target"] == target).collect()
}

#[observed(operation = "rec.load_row")]
async fn load_row(id: u32) -> Result<u32, std::io::Error> {
    YieldOnce::default().await;
    tracing::info!(target: "app", id, "inside the operation");
    if id == 0 { Err(std::io::Error::other("no such row")) } else { Ok(id * 10) }
}

#[observed(endpoint = "/rec/nested/{id}")]
async fn nested(id: u32) -> Result<http::StatusCode, std::io::Error> {
    let row = load_row(id).await?;
    Ok(if row > 0 { http::StatusCode::OK } else { http::StatusCode::NOT_FOUND })
}

#[test]
fn an_operation_runs_in_its_own_span_within_the_requests_trace() {
    let (logs, telemetry) = capturing("info,obs::operation=debug", &[]);
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        assert_eq!(block_on(nested(4)).expect("ok"), http::StatusCode::OK);
        assert!(block_on(nested(0)).is_err());
    });
    let lines = logs.json_lines();
    let requests = lines_of(&lines, "obs::request");
    let operations = lines_of(&lines, "obs::operation");
    let inside = lines.iter().filter(|line| line["message"] == "inside the operation").collect::<Vec<_>>();
    assert_eq!((requests.len(), operations.len(), inside.len()), (2, 2, 2), "{lines:#?}");

    let (ok, failed) = (operations[0], operations[1]);
    assert_eq!(ok["level"], "DEBUG", "a successful operation logs at DEBUG");
    assert_eq!(failed["level"], "ERROR", "a failed one at ERROR");
    assert_eq!(ok["operation"], "rec.load_row");
    assert_eq!(ok["span"], "rec.load_row", "the event is in the operation's own span");
    assert_eq!(ok["outcome"], "success");
    assert!(ok["error.type"].is_null());
    assert_eq!(ok["code.function"], "load_row");
    assert_eq!(ok["code.namespace"], "recording");
    assert!(ok["http.route"].is_null() && ok["http.response.status_code"].is_null());
    assert_eq!(
        ok["message"].as_str().unwrap(),
        format!("rec.load_row ok in {:.3} ms", ok["duration_ms"].as_f64().unwrap())
    );
    assert_eq!(failed["outcome"], "failure");
    assert_eq!(failed["error.type"], "Error");

    for ((operation, request), body) in operations.iter().zip(&requests).zip(&inside) {
        assert_eq!(operation["trace_id"], request["trace_id"], "one trace per request, operation included");
        assert_ne!(operation["span_id"], request["span_id"], "the operation has a span of its own");
        assert_eq!(body["span_id"], operation["span_id"], "the operation's body runs in its span");
    }
    assert_ne!(requests[0]["trace_id"], requests[1]["trace_id"]);
    assert_eq!(requests[1]["error.type"], "Error", "the request fails with the operation's error");

    assert_eq!(operation_count("rec.load_row", ""), 1.0);
    assert_eq!(operation_count("rec.load_row", "Error"), 1.0);
    assert_eq!(count("/rec/nested/{id}", "Error"), 1.0);
}

#[observed(operation = "rec.quiet")]
fn quiet_operation(fail: bool) -> Result<(), std::fmt::Error> {
    if fail { Err(std::fmt::Error) } else { Ok(()) }
}

#[test]
fn successful_operations_do_not_flood_info_logs() {
    let (logs, telemetry) = capturing("info", &[]);
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        for _ in 0..5 {
            quiet_operation(false).expect("ok");
        }
        assert!(quiet_operation(true).is_err());
    });
    let lines = logs.json_lines();
    let operations = lines_of(&lines, "obs::operation");
    assert_eq!(operations.len(), 1, "only the failure reaches an INFO log: {lines:#?}");
    assert_eq!(operations[0]["level"], "ERROR");
    assert_eq!(
        operations[0]["message"].as_str().map(|text| text.starts_with("rec.quiet failed (Error) in ")),
        Some(true)
    );
    assert_eq!(operation_count("rec.quiet", ""), 5.0);
    assert_eq!(operation_count("rec.quiet", "Error"), 1.0);
}

#[observed(operation = "rec.explode")]
fn explode() -> u8 {
    panic!("operation boom");
}

#[observed(endpoint = "/rec/explode")]
fn explode_handler() -> u8 {
    explode()
}

#[test]
fn a_panic_in_an_operation_is_recorded_by_it_and_by_its_request() {
    let caught = std::panic::catch_unwind(explode_handler).expect_err("the panic propagates");
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"operation boom"));
    assert_eq!(operation_count("rec.explode", "panic"), 1.0);
    assert_eq!(count("/rec/explode", "panic"), 1.0);
    assert_eq!(in_flight("/rec/explode"), 0.0);
}

#[observed(operation = "rec.wait")]
async fn wait_forever() -> Result<(), std::io::Error> {
    std::future::pending::<()>().await;
    Ok(())
}

#[test]
fn an_operation_dropped_mid_await_is_recorded_as_cancelled() {
    {
        let mut future = pin!(wait_forever());
        let mut context = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut context).is_pending());
        assert_eq!(operation_count("rec.wait", "cancelled"), 0.0, "not finished while suspended");
    }
    assert_eq!(operation_count("rec.wait", "cancelled"), 1.0);
}

#[observed(operation = "rec.never")]
fn never_run() {}

#[test]
fn operations_are_listed_with_zero_counts_before_their_first_call() {
    let _ = never_run;
    let labels = [("operation", "rec.never"), ("error_type", "")];
    assert_eq!(value(&openmetrics(), "operation_duration_seconds_count", &labels), Some(0.0));
}

// ---------------------------------------------------------------------------------------------
// Exemplars: the buckets of the duration histograms link to the trace of a sampled call.

/// The bucket lines of `family` whose labels include `labels`, with an exemplar.
fn exemplar_lines(text: &str, family: &str, labels: &[(&str, &str)]) -> Vec<String> {
    let bucket = format!("{family}_bucket{{");
    text.lines()
        .filter(|line| line.starts_with(&bucket) && line.contains(" # {"))
        .filter(|line| labels.iter().all(|(key, value)| line.contains(&format!("{key}=\"{value}\""))))
        .map(str::to_owned)
        .collect()
}

/// `(trace_id, span_id, value, timestamp)` of the exemplar on a bucket line.
fn exemplar_of(line: &str) -> (String, String, f64, f64) {
    let exemplar = line.split_once(" # ").expect("an exemplar").1;
    let quoted = |key: &str| {
        let start = exemplar.find(&format!("{key}=\"")).unwrap_or_else(|| panic!("no {key} in {line}")) + key.len() + 2;
        exemplar[start..].split('"').next().expect("closing quote").to_owned()
    };
    let mut numbers = exemplar.rsplit_once("} ").expect("value after labels").1.split(' ');
    let mut number = || numbers.next().and_then(|text| text.parse::<f64>().ok()).expect("number");
    (quoted("trace_id"), quoted("span_id"), number(), number())
}

/// The `le` of a bucket line, and the `le` of the bucket below it in the same series (0 for the
/// first bucket).
fn bucket_bounds(text: &str, line: &str) -> (f64, f64) {
    let split = |sample: obs_tests::exposition::Sample| {
        let mut labels = sample.labels;
        let at = labels.iter().position(|(key, _)| key == "le").expect("a bucket");
        let le = labels.remove(at).1;
        (sample.name, labels, if le == "+Inf" { f64::INFINITY } else { le.parse::<f64>().expect("numeric le") })
    };
    let (name, labels, le) = split(obs_tests::exposition::samples(line).remove(0));
    let below = obs_tests::exposition::samples(text)
        .into_iter()
        .filter(|sample| sample.name == name)
        .map(split)
        .filter(|(_, other, other_le)| *other == labels && *other_le < le)
        .map(|(_, _, other_le)| other_le)
        .fold(0.0, f64::max);
    (below, le)
}

#[observed(operation = "rec.exemplar.row")]
async fn exemplar_row(id: u32) -> Result<u32, std::io::Error> {
    YieldOnce::default().await;
    Ok(id + 1)
}

#[observed(endpoint = "/rec/exemplar/{id}")]
async fn exemplar_request(id: u32) -> Result<http::StatusCode, std::io::Error> {
    exemplar_row(id).await?;
    Ok(http::StatusCode::OK)
}

#[test]
#[allow(clippy::too_many_lines)] // one scrape checked four ways reads best as one function
fn a_sampled_call_leaves_exemplars_that_link_its_buckets_to_its_trace() {
    require_tool("promtool", "apt-get install prometheus");
    require_tool("python3", "apt-get install python3");
    let (logs, telemetry) = capturing("info,obs::operation=debug", &[]);
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        assert_eq!(block_on(exemplar_request(1)).expect("ok"), http::StatusCode::OK);
    });
    let lines = logs.json_lines();
    let request_line = lines_of(&lines, "obs::request")[0];
    let operation_line = lines_of(&lines, "obs::operation")[0];

    // A real scrape of the toolkit's listener, in the format Prometheus asks for.
    let server = MetricsServer::start("127.0.0.1:0".parse().expect("address")).expect("listener");
    let accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let scrape = request(server.local_addr(), "GET", "/metrics", &[("Accept", accept)], "").expect("scrape");
    assert_eq!(scrape.status, 200);
    let text = &scrape.body;

    let route = [("http_route", "/rec/exemplar/{id}")];
    let requests = exemplar_lines(text, "http_server_request_duration_seconds", &route);
    assert_eq!(requests.len(), 1, "one call, one bucket with an exemplar:\n{text}");
    let (trace_id, span_id, seconds, timestamp) = exemplar_of(&requests[0]);
    assert_eq!(
        trace_id,
        request_line["trace_id"].as_str().expect("trace id"),
        "the exemplar is the logged call's trace"
    );
    assert_eq!(span_id, request_line["span_id"].as_str().expect("span id"), "and the request span within it");
    let (above, at_most) = bucket_bounds(text, &requests[0]);
    assert!(seconds > above && seconds <= at_most, "{seconds} lies in its bucket ({above}, {at_most}]");
    assert!(timestamp > 1.7e9, "an exemplar timestamp in Unix seconds: {timestamp}");
    let series_labels = [("http_route", "/rec/exemplar/{id}"), ("http_response_status_code", "200")];
    assert_eq!(
        value(
            text,
            "http_server_request_duration_seconds_sum",
            &[("http_request_method", "GET"), series_labels[0], series_labels[1], ("error_type", "")]
        ),
        Some(seconds),
        "the exemplar's value is the observed duration"
    );

    let operations = exemplar_lines(text, "operation_duration_seconds", &[("operation", "rec.exemplar.row")]);
    assert_eq!(operations.len(), 1, "{text}");
    let (operation_trace, operation_span, _, _) = exemplar_of(&operations[0]);
    assert_eq!(operation_trace, trace_id, "the operation's exemplar is in the request's trace");
    assert_eq!(operation_span, operation_line["span_id"].as_str().expect("span id"), "at the operation's span");

    // Python's reference OpenMetrics parser accepts the exemplars and reads the same ids.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/support/parse_openmetrics.py");
    let (parsed_ok, parsed, errors) = run_with_stdin("python3", &[script], text);
    assert!(parsed_ok, "the reference parser rejects the exposition: {errors}");
    let parsed: Value = serde_json::from_str(&parsed).expect("parser output");
    let exemplars: Vec<&Value> = parsed["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .filter(|sample| sample["labels"]["http_route"] == "/rec/exemplar/{id}" && !sample["exemplar"].is_null())
        .collect();
    assert_eq!(exemplars.len(), 1);
    assert_eq!(exemplars[0]["exemplar"]["labels"]["trace_id"], trace_id.as_str());
    assert_eq!(exemplars[0]["exemplar"]["labels"]["span_id"], span_id.as_str());
    assert_eq!(exemplars[0]["exemplar"]["value"].as_f64(), Some(seconds));

    // The Prometheus text format has no exemplars, and promtool accepts it.
    let plain = request(server.local_addr(), "GET", "/metrics", &[], "").expect("scrape");
    assert_eq!(plain.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert!(!plain.body.contains(" # {"), "no exemplar in the 0.0.4 text");
    assert!(
        value(
            &plain.body,
            "operation_duration_seconds_count",
            &[("operation", "rec.exemplar.row"), ("error_type", "")]
        )
        .is_some()
    );
    let (lint_ok, lint_out, lint_err) = run_with_stdin("promtool", &["check", "metrics"], &plain.body);
    assert!(lint_ok, "promtool check metrics failed:\n{lint_out}{lint_err}");
}

#[observed(endpoint = "/rec/unsampled")]
fn unsampled() {}

#[observed(endpoint = "/rec/untraced")]
fn untraced() {}

#[test]
fn unsampled_and_untraced_calls_leave_no_exemplar() {
    let (logs, telemetry) = capturing("info", &[("OTEL_TRACES_SAMPLER", "always_off")]);
    tracing::dispatcher::with_default(telemetry.dispatch(), unsampled);
    untraced();
    let lines = logs.json_lines();
    let logged = lines_of(&lines, "obs::request");
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0]["trace_id"].as_str().map(str::len), Some(32), "the log line still has its ids");
    let text = openmetrics();
    for route in ["/rec/unsampled", "/rec/untraced"] {
        assert_eq!(count(route, ""), 1.0, "{route} is counted");
        let exemplars = exemplar_lines(&text, "http_server_request_duration_seconds", &[("http_route", route)]);
        assert!(exemplars.is_empty(), "{route}: {exemplars:?}");
    }
}
