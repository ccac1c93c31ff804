//! OTLP export for real: the demo process exports to a real OTLP receiver over HTTP/protobuf and
//! over gRPC, and what arrived is decoded by the OpenTelemetry project's own protobuf types.
//! Then the collector is down, refusing, or black-holing: the demo keeps serving, the dropped
//! counter rises and shutdown completes.

use obs_tests::demo::Demo;
use obs_tests::exposition::value;
use obs_tests::http_client::request;
use obs_tests::otlp::{Mode, OtlpReceiver};
use obs_tests::process::example_binary;
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

const ARRIVAL_DEADLINE: Duration = Duration::from_mins(1);
/// Generous: the demo's own shutdown deadline is 5 s; this only bounds a hung test.
const EXIT_DEADLINE: Duration = Duration::from_mins(1);

/// `GET path` on the demo; its status.
fn get(demo: &Demo, path: &str) -> u16 {
    demo.call("GET", path, "").status
}

fn scrape(demo: &Demo) -> String {
    demo.scrape(None).body
}

fn dropped(demo: &Demo, signal: &str, reason: &str) -> f64 {
    value(&scrape(demo), "obs_telemetry_dropped_total", &[("signal", signal), ("reason", reason)]).unwrap_or(0.0)
}

fn text<'a>(item: &'a Value, pointer: &str) -> &'a str {
    item.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no {pointer} in {item}"))
}

/// One request of each outcome through the demo, exported with `env`, checked end to end.
/// Returns how many printed lines were plumbing, which the export left out.
fn exports_one_trace_per_request_and_exactly_the_logged_records(
    receiver: &OtlpReceiver,
    env: &[(&str, &str)],
) -> usize {
    let demo = Demo::start_with(env);
    assert_eq!(get(&demo, "/users/7"), 200);
    assert_eq!(get(&demo, "/users/0"), 500);
    let printed = demo.stop(EXIT_DEADLINE);

    // Each request is a server span and, inside it, the `db.load_user` operation's span.
    let all_spans = receiver.wait_for("span", ARRIVAL_DEADLINE, |spans| spans.len() >= 4);
    assert_eq!(all_spans.len(), 4, "two spans per request: {all_spans:#?}");
    let spans: Vec<Value> = all_spans.iter().filter(|span| span["kind"] == "SPAN_KIND_SERVER").cloned().collect();
    assert_eq!(spans.len(), 2, "one server span per request: {all_spans:#?}");
    for span in &spans {
        assert_eq!(text(span, "/name"), "GET /users/{id}");
        assert_eq!(text(span, "/kind"), "SPAN_KIND_SERVER");
        assert_eq!(text(span, "/parent_span_id"), "", "a root span: no caller sent a traceparent");
        assert_eq!(text(span, "/attributes/http.request.method"), "GET");
        assert_eq!(text(span, "/attributes/http.route"), "/users/{id}");
        assert_eq!(text(span, "/attributes/code.function"), "get_user");
        let resource = &span["resource"];
        assert_eq!(resource["service.name"], "demo");
        assert_eq!(resource["service.version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(resource["telemetry.sdk.language"], "rust");
        assert_eq!(resource["deployment.environment"], "e2e");
        for key in ["service.instance.id", "host.name", "host.arch", "process.pid", "process.executable.name"] {
            assert!(!resource[key].is_null(), "resource lacks {key}: {resource}");
        }
    }
    let by_status = |code: i64| {
        spans
            .iter()
            .find(|span| span["attributes"]["http.response.status_code"] == code)
            .unwrap_or_else(|| panic!("no span with status {code}: {spans:#?}"))
    };
    assert_eq!(text(by_status(200), "/status_code"), "STATUS_CODE_UNSET");
    assert_eq!(text(by_status(500), "/status_code"), "STATUS_CODE_ERROR");
    assert_eq!(text(by_status(500), "/attributes/error.type"), "ApiError");
    assert_ne!(by_status(200)["trace_id"], by_status(500)["trace_id"]);

    // Exactly the printed lines are exported: nothing of hyper, h2, tonic or the exporter itself.
    let expected_records = printed.iter().filter(|line| !is_plumbing(text(line, "/target"))).count();
    let logs = receiver.wait_for("log", ARRIVAL_DEADLINE, |logs| logs.len() >= expected_records);
    // As multisets: an export request groups records by instrumentation scope, not by time.
    let plumbing_lines = printed.iter().filter(|line| is_plumbing(text(line, "/target"))).count();
    let mut printed_messages: Vec<&str> =
        printed.iter().filter(|line| !is_plumbing(text(line, "/target"))).map(|line| text(line, "/message")).collect();
    let mut exported_bodies: Vec<&str> = logs.iter().map(|log| text(log, "/body")).collect();
    printed_messages.sort_unstable();
    exported_bodies.sort_unstable();
    assert_eq!(exported_bodies, printed_messages, "exported records == printed lines");
    // A record logged through the `log` facade (as crates that predate tracing log) is both,
    // under its own target.
    let legacy = "order numbering starts at 1";
    assert!(printed.iter().any(|line| line["message"] == legacy && line["target"] == "demo::legacy"), "printed");
    assert!(exported_bodies.contains(&legacy), "the `log` record is exported");

    for status in [200, 500] {
        let span = by_status(status);
        let record = logs
            .iter()
            .find(|log| log["attributes"]["http.response.status_code"] == status)
            .expect("the request's log record");
        assert_eq!(record["trace_id"], span["trace_id"], "log and span share the trace id");
        assert_eq!(record["span_id"], span["span_id"], "the log record points at the request span");
        let line = printed.iter().find(|line| line["http.response.status_code"] == status).expect("printed line");
        assert_eq!(line["trace_id"], span["trace_id"], "the JSON line carries the exported trace id");
        assert_eq!(line["span_id"], span["span_id"]);
        assert_eq!(text(record, "/severity_text"), if status == 500 { "ERROR" } else { "INFO" });
    }
    let targets: BTreeSet<&str> = logs.iter().map(|log| text(log, "/scope")).collect();
    assert!(targets.is_superset(&BTreeSet::from(["demo", "obs::request", "obs::system"])), "{targets:?}");
    assert!(!targets.iter().any(|target| is_plumbing(target)), "plumbing exported: {targets:?}");
    plumbing_lines
}

/// The targets of the HTTP and gRPC stacks and of the exporter itself.
fn is_plumbing(target: &str) -> bool {
    ["hyper", "h2", "tonic", "tower", "reqwest", "rustls", "want", "mio", "opentelemetry", "obs::export"].iter().any(
        |plumbing| {
            target
                .strip_prefix(plumbing)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::") || rest.starts_with('_'))
        },
    )
}

#[test]
fn http_protobuf_export_reaches_a_real_receiver() {
    let receiver = OtlpReceiver::start(Mode::Accept);
    let endpoint = receiver.http_endpoint();
    let plumbing = exports_one_trace_per_request_and_exactly_the_logged_records(
        &receiver,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=e2e"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=secret%20key"),
            ("RUST_LOG", "trace"),
        ],
    );
    assert!(plumbing > 0, "at TRACE the transport logs, so the filter is tested");
    let spans = receiver.received("span");
    assert_eq!(spans[0]["transport"], "http");
    assert_eq!(spans[0]["headers"]["x-api-key"], "secret key", "OTEL_EXPORTER_OTLP_HEADERS is sent, decoded");
}

#[test]
fn grpc_export_reaches_a_real_receiver() {
    let receiver = OtlpReceiver::start(Mode::Accept);
    let endpoint = receiver.grpc_endpoint();
    // Everything at TRACE: tonic, h2 and hyper log their every frame, and none of it may be exported.
    let plumbing = exports_one_trace_per_request_and_exactly_the_logged_records(
        &receiver,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=e2e"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=grpc-key"),
            ("RUST_LOG", "trace"),
        ],
    );
    assert!(plumbing > 0, "at TRACE the transport logs, so the filter is tested");
    let spans = receiver.received("span");
    assert_eq!(spans[0]["transport"], "grpc");
    assert_eq!(spans[0]["headers"]["x-api-key"], "grpc-key");
}

#[test]
fn per_signal_variables_and_the_sampler_decide_what_is_exported() {
    let receiver = OtlpReceiver::start(Mode::Accept);
    let logs_only = format!("{}/v1/logs", receiver.http_endpoint());
    let demo = Demo::start_with(&[
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", &logs_only),
        ("OTEL_SERVICE_NAME", "renamed-demo"),
        ("OTEL_TRACES_SAMPLER", "always_off"),
    ]);
    assert_eq!(get(&demo, "/users/3"), 200);
    let printed = demo.stop(EXIT_DEADLINE);
    let logs = receiver.wait_for("log", ARRIVAL_DEADLINE, |logs| logs.len() >= printed.len());
    assert!(logs.iter().all(|log| log["resource"]["service.name"] == "renamed-demo"));
    assert_eq!(printed[0]["service.name"], "renamed-demo", "OTEL_SERVICE_NAME renames the service everywhere");
    assert!(receiver.received("span").is_empty(), "no traces endpoint: no spans");
    // Unsampled traces still give every line its ids, so logs link even without exported spans.
    let request_line = printed.iter().find(|line| line["target"] == "obs::request").expect("request line");
    assert!(request_line["trace_id"].as_str().is_some_and(|id| id.len() == 32));
}

#[test]
fn sdk_disabled_exports_nothing() {
    let receiver = OtlpReceiver::start(Mode::Accept);
    let endpoint = receiver.http_endpoint();
    let demo = Demo::start_with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint), ("OTEL_SDK_DISABLED", "true")]);
    assert_eq!(get(&demo, "/users/3"), 200);
    let printed = demo.stop(EXIT_DEADLINE);
    assert_eq!(printed[0]["otlp.traces"], "off");
    assert_eq!(printed[0]["otlp.logs"], "off");
    // The demo flushed and exited: anything it had exported would be here by now.
    assert!(receiver.received("span").is_empty() && receiver.received("log").is_empty());
}

#[test]
fn a_bad_otel_variable_stops_start_up_naming_it() {
    for (name, bad) in [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_RESOURCE_ATTRIBUTES", "novalue"),
    ] {
        let output = Command::new(example_binary("demo"))
            .env("OBS_APP_ADDR", "127.0.0.1:0")
            .env("OBS_METRICS_ADDR", "127.0.0.1:0")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
            .env(name, bad)
            .output()
            .expect("run demo");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name}={bad} must stop start-up");
        assert!(stderr.contains(name) && stderr.contains(bad), "{name}: {stderr}");
    }
    // A value that is not UTF-8 is named too, whichever variable holds it.
    let not_utf8 = <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(vec![b'x', 0xff]);
    let output = Command::new(example_binary("demo"))
        .env("OBS_APP_ADDR", "127.0.0.1:0")
        .env("OBS_METRICS_ADDR", "127.0.0.1:0")
        .env("OTEL_SERVICE_NAME", &not_utf8)
        .output()
        .expect("run demo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a non-UTF-8 OTEL_SERVICE_NAME must stop start-up");
    assert!(stderr.contains("OTEL_SERVICE_NAME") && stderr.contains("UTF-8"), "{stderr}");
}

/// A port nobody listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Serves while export fails, shows the loss on `/metrics`, and still shuts down.
fn keeps_serving_while_export_fails(env: &[(&str, &str)]) {
    let demo = Demo::start_with(env);
    for id in 1..=300 {
        assert_eq!(get(&demo, &format!("/users/{id}")), 200, "the application is unaffected");
    }
    let until = std::time::Instant::now() + ARRIVAL_DEADLINE;
    while dropped(&demo, "traces", "export_failed") + dropped(&demo, "traces", "queue_full") < 1.0 {
        assert!(std::time::Instant::now() < until, "no dropped spans counted:\n{}", scrape(&demo));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(value(&scrape(&demo), "obs_telemetry_exported_total", &[("signal", "traces")]), Some(0.0));
    demo.stop(EXIT_DEADLINE);
}

#[test]
fn collector_down_costs_nothing_but_counted_drops() {
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    keeps_serving_while_export_fails(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
    keeps_serving_while_export_fails(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]);
}

#[test]
fn refusing_collector_costs_nothing_but_counted_drops() {
    let receiver = OtlpReceiver::start(Mode::Refuse);
    keeps_serving_while_export_fails(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.http_endpoint())]);
}

#[test]
fn black_holing_collector_cannot_hang_requests_or_shutdown() {
    // Accepts connections and never answers.
    let hole = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", hole.local_addr().expect("addr"));
    let held = std::thread::spawn(move || {
        let mut connections = Vec::new();
        for stream in hole.incoming().take(64).flatten() {
            connections.push(stream);
        }
        connections.len()
    });
    keeps_serving_while_export_fails(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
    ]);
    keeps_serving_while_export_fails(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
    ]);
    drop(held);
}

#[test]
fn ratio_sampler_keeps_the_callers_decision() {
    let receiver = OtlpReceiver::start(Mode::Accept);
    let endpoint = receiver.http_endpoint();
    let demo = Demo::start_with(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0"),
    ]);
    // A new trace at ratio 0 is never sampled; a caller's sampled trace is continued and exported.
    assert_eq!(get(&demo, "/users/1"), 200);
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let continued =
        request(demo.app, "GET", "/users/2", &[("traceparent", traceparent)], "").expect("GET with traceparent");
    assert_eq!(continued.status, 200);
    let printed = demo.stop(EXIT_DEADLINE);
    // The request's server span and its `db.load_user` operation span.
    let all_spans = receiver.wait_for("span", ARRIVAL_DEADLINE, |spans| spans.len() >= 2);
    assert_eq!(all_spans.len(), 2, "only the caller-sampled request is exported: {all_spans:#?}");
    assert!(all_spans.iter().all(|span| span["trace_id"] == "0af7651916cd43dd8448eb211c80319c"));
    let spans: Vec<&Value> = all_spans.iter().filter(|span| span["kind"] == "SPAN_KIND_SERVER").collect();
    assert_eq!(spans.len(), 1, "{all_spans:#?}");
    assert_eq!(spans[0]["trace_id"], "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(spans[0]["parent_span_id"], "b7ad6b7169203331");
    // Both requests' log lines carry trace ids, sampled or not.
    let request_lines: Vec<&Value> = printed.iter().filter(|line| line["target"] == "obs::request").collect();
    assert_eq!(request_lines.len(), 2);
    assert!(request_lines.iter().any(|line| line["trace_id"] == "0af7651916cd43dd8448eb211c80319c"));
}

/// The spans of one trace, exported by the demo, as (server span, its child spans).
fn server_span_and_children<'a>(spans: &'a [Value], server: &'a Value) -> Vec<&'a Value> {
    spans.iter().filter(|span| span["trace_id"] == server["trace_id"] && span["span_id"] != server["span_id"]).collect()
}

#[test]
fn operations_are_internal_child_spans_of_the_request_and_exemplars_link_to_the_trace() {
    let receiver = OtlpReceiver::start(Mode::Accept);
    let endpoint = receiver.http_endpoint();
    let demo = Demo::start_with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
    assert_eq!(get(&demo, "/users/7"), 200);
    assert_eq!(get(&demo, "/users/0"), 500);
    let order = request(
        demo.app,
        "POST",
        "/orders",
        &[("Content-Type", "application/json")],
        r#"{"item":"book","quantity":2}"#,
    )
    .expect("POST /orders");
    assert_eq!(order.status, 201, "{}", order.body);
    let openmetrics = demo.scrape(Some("application/openmetrics-text;version=1.0.0")).body;
    demo.stop(EXIT_DEADLINE);

    let spans = receiver.wait_for("span", ARRIVAL_DEADLINE, |spans| spans.len() >= 6);
    assert_eq!(spans.len(), 6, "a server span and an operation span per request: {spans:#?}");
    let server = |name: &str, status: i64| {
        spans
            .iter()
            .find(|span| {
                span["kind"] == "SPAN_KIND_SERVER"
                    && span["name"] == name
                    && span["attributes"]["http.response.status_code"] == status
            })
            .unwrap_or_else(|| panic!("no server span {name} {status}: {spans:#?}"))
    };
    for (name, status, operation, function) in [
        ("GET /users/{id}", 200, "db.load_user", "UserRepository::load"),
        ("GET /users/{id}", 500, "db.load_user", "UserRepository::load"),
        ("POST /orders", 201, "db.save_order", "OrderRepository::save"),
    ] {
        let parent = server(name, status);
        let children = server_span_and_children(&spans, parent);
        assert_eq!(children.len(), 1, "{name} {status}: the trace has depth 2: {spans:#?}");
        let child = children[0];
        assert_eq!(text(child, "/name"), operation);
        assert_eq!(text(child, "/kind"), "SPAN_KIND_INTERNAL");
        assert_eq!(child["parent_span_id"], parent["span_id"], "{operation} is a child of the request span");
        assert_eq!(text(child, "/attributes/code.function"), function);
        assert_eq!(text(child, "/attributes/code.namespace"), "demo");
        assert!(child["attributes"]["http.route"].is_null(), "an operation has no route: {child}");
        if status == 500 {
            assert_eq!(text(child, "/status_code"), "STATUS_CODE_ERROR");
            assert_eq!(text(child, "/attributes/error.type"), "ApiError", "the failing operation says why");
        } else {
            assert_eq!(text(child, "/status_code"), "STATUS_CODE_UNSET");
        }
    }

    // The exemplars of the scrape point at those exported traces.
    let exemplar_trace = |family: &str, labels: &[(&str, &str)]| -> Vec<(String, String)> {
        openmetrics
            .lines()
            .filter(|line| line.starts_with(&format!("{family}_bucket{{")) && line.contains(" # {"))
            .filter(|line| labels.iter().all(|(key, value)| line.contains(&format!("{key}=\"{value}\""))))
            .map(|line| {
                let exemplar = line.split_once(" # ").expect("exemplar").1;
                let id = |key: &str| {
                    let start = exemplar.find(&format!("{key}=\"")).expect(key) + key.len() + 2;
                    exemplar[start..].split('"').next().expect("quoted").to_owned()
                };
                (id("trace_id"), id("span_id"))
            })
            .collect()
    };
    let ok_request = server("GET /users/{id}", 200);
    let ok_operation = server_span_and_children(&spans, ok_request)[0];
    let request_exemplars = exemplar_trace(
        "http_server_request_duration_seconds",
        &[("http_route", "/users/{id}"), ("http_response_status_code", "200")],
    );
    assert_eq!(
        request_exemplars,
        [(text(ok_request, "/trace_id").to_owned(), text(ok_request, "/span_id").to_owned())],
        "the 200 series' one exemplar is the exported request span:\n{openmetrics}"
    );
    let operation_exemplars =
        exemplar_trace("operation_duration_seconds", &[("operation", "db.load_user"), ("error_type", "")]);
    assert_eq!(
        operation_exemplars,
        [(text(ok_operation, "/trace_id").to_owned(), text(ok_operation, "/span_id").to_owned())],
        "the operation's exemplar is its exported span:\n{openmetrics}"
    );
}
