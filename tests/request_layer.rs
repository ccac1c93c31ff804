//! The request layer counts every request once, whichever part of the stack answered: the demo
//! (`ObsLayer` outermost, then catch-panic and timeout middleware) is driven with requests an
//! extractor rejects, no route matches, the method router refuses, the timeout cuts off and a
//! caught panic ends, plus one an `#[observed]` handler answers. Each gives exactly one histogram
//! observation with its route and status, one server span at the real OTLP receiver, and one log
//! line; the in-flight gauge ends at zero.

// Counts are integers carried as f64 by the exposition format: exact comparison is the point.
#![allow(clippy::float_cmp)]

use obs_runtime::{LogFormat, observed};
use obs_tests::demo::Demo;
use obs_tests::exposition::{samples, sum_matching};
use obs_tests::logs::CapturedLogs;
use obs_tests::otlp::{Mode, OtlpReceiver};
use serde_json::Value;
use std::time::Duration;

const ARRIVAL: Duration = Duration::from_mins(1);

/// (method, path, status the client gets, recorded method, route, `error_type`, span name).
const CASES: [(&str, &str, u16, &str, &str, &str, &str); 7] = [
    ("GET", "/users/7", 200, "GET", "/users/{id}", "", "GET /users/{id}"),
    ("GET", "/users/abc", 400, "GET", "/users/{id}", "", "GET /users/{id}"),
    ("GET", "/nope", 404, "GET", "(unmatched)", "", "GET"),
    ("DELETE", "/users/7", 405, "DELETE", "/users/{id}", "", "DELETE /users/{id}"),
    ("GET", "/users/998", 408, "GET", "/users/{id}", "cancelled", "GET /users/{id}"),
    ("GET", "/users/997", 500, "GET", "/users/{id}", "panic", "GET /users/{id}"),
    ("GET", "/users/0", 500, "GET", "/users/{id}", "ApiError", "GET /users/{id}"),
];

#[test]
fn every_request_is_recorded_exactly_once_whoever_answered_it() {
    let receiver = OtlpReceiver::start(Mode::Accept);
    let demo = Demo::start_with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.http_endpoint())]);
    for (method, path, status, ..) in CASES {
        demo.expect(method, path, "", status);
    }

    let text = demo.scrape(Some("application/openmetrics-text;version=1.0.0")).body;
    let counted: f64 = samples(&text)
        .iter()
        .filter(|sample| sample.name == "http_server_request_duration_seconds_count")
        .map(|sample| sample.value)
        .sum();
    assert_eq!(counted, 7.0, "one observation per request, none twice:\n{text}");
    for (_, path, status, method, route, error_type, _) in CASES {
        let labels = [
            ("http_request_method", method),
            ("http_route", route),
            ("http_response_status_code", &status.to_string()),
            ("error_type", error_type),
        ];
        let count = sum_matching(&text, "http_server_request_duration_seconds_count", &labels);
        assert_eq!(count, 1.0, "{method} {path}: {labels:?}\n{text}");
    }
    let in_flight: Vec<f64> = samples(&text)
        .iter()
        .filter(|sample| sample.name == "http_server_active_requests")
        .map(|sample| sample.value)
        .collect();
    assert!(!in_flight.is_empty() && in_flight.iter().all(|value| *value == 0.0), "in flight: {in_flight:?}");

    let lines = demo.stop(Duration::from_mins(1));
    let requests: Vec<&Value> = lines.iter().filter(|line| line["target"] == "obs::request").collect();
    let logged: Vec<(i64, String)> = requests
        .iter()
        .map(|line| {
            (
                line["http.response.status_code"].as_i64().unwrap_or(-1),
                line["error.type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(i64, String)> = CASES.iter().map(|case| (i64::from(case.2), case.5.to_owned())).collect();
    assert_eq!(logged, expected, "one log line per request, in order: {requests:#?}");
    assert!(requests.iter().all(|line| line["trace_id"].as_str().is_some_and(|id| id.len() == 32)));

    let spans = receiver.wait_for("span", ARRIVAL, |spans| {
        spans.iter().filter(|span| span["kind"] == "SPAN_KIND_SERVER").count() >= CASES.len()
    });
    let servers: Vec<&Value> = spans.iter().filter(|span| span["kind"] == "SPAN_KIND_SERVER").collect();
    assert_eq!(servers.len(), CASES.len(), "one server span per request: {servers:#?}");
    let mut seen: Vec<(String, i64)> = servers
        .iter()
        .map(|span| {
            let name = span["name"].as_str().unwrap_or_default().to_owned();
            (name, span["attributes"]["http.response.status_code"].as_i64().unwrap_or(-1))
        })
        .collect();
    seen.sort();
    let mut wanted: Vec<(String, i64)> = CASES.iter().map(|case| (case.6.to_owned(), i64::from(case.2))).collect();
    wanted.sort();
    assert_eq!(seen, wanted);
    let traces: std::collections::BTreeSet<&str> =
        servers.iter().filter_map(|span| span["trace_id"].as_str()).collect();
    assert_eq!(traces.len(), CASES.len(), "each request is a trace of its own");
    let handled = servers
        .iter()
        .find(|span| span["attributes"]["http.response.status_code"] == 200)
        .expect("the handled request's span");
    assert_eq!(handled["attributes"]["code.function"], "get_user", "the handler adopted the layer's span");
    let children = spans.iter().filter(|span| span["parent_span_id"] == handled["span_id"]).count();
    assert_eq!(children, 1, "the db.load_user operation is its child");
    assert!(
        !lines.iter().any(|line| line["event"] == "route_not_observed" || line["event"] == "route_mismatch"),
        "every demo route is annotated with the router's template"
    );
}

/// Annotated with a template the router below does not use.
#[observed(endpoint = "/typo/{id}")]
async fn annotated_as_another_route() -> &'static str {
    "item"
}

/// Served without an annotation.
async fn not_annotated() -> &'static str {
    "plain"
}

/// The string fields recorded on spans after their creation, as `field=value`.
#[derive(Clone, Default)]
struct RecordedFields(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> obs_runtime::telemetry::tracing_subscriber::Layer<S> for RecordedFields {
    fn on_record(
        &self,
        _: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: obs_runtime::telemetry::tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Strings<'a>(&'a mut Vec<String>);
        impl tracing::field::Visit for Strings<'_> {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                self.0.push(format!("{}={value}", field.name()));
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        values.record(&mut Strings(&mut self.0.lock().expect("not poisoned")));
    }
}

/// obs writing INFO JSON lines to `logs`, nothing from the environment.
fn json_lines_to(logs: &CapturedLogs) -> obs_runtime::ObsBuilder {
    let writer = logs.clone();
    obs_runtime::builder("request-layer", "1.0.0")
        .with_env(|_| None)
        .log_format(LogFormat::Json)
        .log_filter("info")
        .log_writer(move || writer.writer())
}

/// GETs each of `paths` from `app` under `telemetry`, in order, each answered 200.
fn get_each(telemetry: &obs_runtime::LocalTelemetry, mut app: axum::Router, paths: &[&str]) {
    use tower_service::Service as _;
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        for path in paths {
            let request = http::Request::get(*path).body(axum::body::Body::empty()).expect("request");
            let response = runtime.block_on(app.call(request)).expect("infallible");
            assert_eq!(response.status(), 200, "{path}");
        }
    });
}

#[test]
fn a_route_written_differently_or_not_annotated_is_warned_about_once() {
    use axum::routing::get;

    let logs = CapturedLogs::default();
    let recorded = RecordedFields::default();
    let telemetry = json_lines_to(&logs).with_layer(recorded.clone()).build_local().expect("valid settings");
    let app = axum::Router::new()
        .route("/items/{id}", get(annotated_as_another_route))
        .route("/plain", get(not_annotated))
        .layer(obs_runtime::layer::ObsLayer::new());
    get_each(&telemetry, app, &["/items/1", "/items/2", "/plain", "/plain"]);
    let lines = logs.json_lines();
    let events = |event: &str| lines.iter().filter(|line| line["event"] == event).collect::<Vec<_>>();
    let mismatches = events("route_mismatch");
    assert_eq!(mismatches.len(), 1, "said once: {lines:#?}");
    assert_eq!(mismatches[0]["http.route"], "/items/{id}");
    assert!(mismatches[0]["message"].as_str().unwrap_or_default().contains("annotated as GET /typo/{id}"));
    let unannotated = events("route_not_observed");
    assert_eq!(unannotated.len(), 1, "said once: {lines:#?}");
    assert_eq!(unannotated[0]["http.route"], "/plain");
    let requests = lines.iter().filter(|line| line["target"] == "obs::request").count();
    assert_eq!(requests, 4, "every request still recorded once");
    // The endpoint that adopted the layer's span renamed it as its own annotation says.
    let recorded = recorded.0.lock().expect("not poisoned").clone();
    for field in [
        "otel.name=GET /typo/{id}",
        "http.route=/typo/{id}",
        "code.function=annotated_as_another_route",
        "code.namespace=request_layer",
    ] {
        assert_eq!(recorded.iter().filter(|seen| *seen == field).count(), 2, "{field} in {recorded:#?}");
    }
}

/// Annotated with the route the router below matches; logs an event of its own.
#[observed(endpoint = "/orders/{id}")]
async fn get_order() -> &'static str {
    tracing::info!(target: "app::orders", "loading the order");
    "order"
}

/// Annotated with another template than the router's, for the test below alone (the mismatch
/// is warned about once per route and process).
#[observed(endpoint = "/misnamed/{id}")]
async fn annotated_as_yet_another_route() -> &'static str {
    "thing"
}

#[test]
fn an_adopted_span_is_named_and_identified_alike_in_every_line_of_its_request() {
    use axum::routing::get;

    // obs's layers alone and nothing exported: the call names its span from what obs decided
    // when the layer made it, without looking it up; the user's event inside looks it up.
    let logs = CapturedLogs::default();
    let telemetry = json_lines_to(&logs).build_local().expect("valid settings");
    let app = axum::Router::new()
        .route("/orders/{id}", get(get_order))
        .route("/things/{id}", get(annotated_as_yet_another_route))
        .layer(obs_runtime::layer::ObsLayer::new());
    get_each(&telemetry, app, &["/orders/1", "/things/1"]);
    let lines = logs.json_lines();
    let user = lines.iter().find(|line| line["target"] == "app::orders").expect("the handler's line");
    let order = lines.iter().find(|line| line["http.route"] == "/orders/{id}").expect("the order's request line");
    assert_eq!(order["target"], "obs::request", "{order}");
    for key in ["span", "trace_id", "span_id"] {
        assert!(user[key].is_string(), "{key} in {user}");
        assert_eq!(order[key], user[key], "{key}: the request's line and the handler's name one span");
    }
    assert_eq!(order["span"], "GET /orders/{id}");
    // An endpoint annotated with another route renames the span: its line says the new name.
    let item = lines.iter().find(|line| line["http.route"] == "/misnamed/{id}").expect("the thing's request line");
    assert_eq!(item["span"], "GET /misnamed/{id}", "{item}");
    assert_eq!(item["trace_id"].as_str().map(str::len), Some(32), "{item}");
}
