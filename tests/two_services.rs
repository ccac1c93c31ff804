//! Trace context across processes: the `frontend` example calls the `users_service` example,
//! both export to one real OTLP receiver, and one request yields one trace with spans from both.

use obs_tests::http_client::request;
use obs_tests::otlp::{Mode, OtlpReceiver};
use obs_tests::process::{Spawned, example_binary};
use serde_json::Value;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

const STARTUP_DEADLINE: Duration = Duration::from_mins(1);
const ARRIVAL_DEADLINE: Duration = Duration::from_mins(1);
const EXIT_DEADLINE: Duration = Duration::from_mins(1);

/// A caller's span the test pretends to be: the trace must continue from it.
const CALLER_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

fn start(example: &str, otlp_endpoint: &str, extra_env: &[(&str, &str)]) -> (Spawned, SocketAddr) {
    let mut command = Command::new(example_binary(example));
    command
        .env("OBS_APP_ADDR", "127.0.0.1:0")
        .env("OBS_METRICS_ADDR", "off")
        .env("RUST_LOG", "info")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_endpoint)
        .env_remove("OBS_LOG_FORMAT")
        .env_remove("OTEL_SDK_DISABLED");
    for (name, value) in extra_env {
        command.env(name, value);
    }
    let process = Spawned::start(command);
    let line = process.wait_for_line(STARTUP_DEADLINE, |line| line.contains("\"event\":\"listening\""));
    let json: Value = serde_json::from_str(&line).expect("JSON line");
    let addr = json["http.address"].as_str().and_then(|text| text.parse().ok()).expect("http.address");
    (process, addr)
}

fn span<'a>(spans: &'a [Value], service: &str, name: &str) -> &'a Value {
    spans
        .iter()
        .find(|span| span["resource"]["service.name"] == service && span["name"] == name)
        .unwrap_or_else(|| panic!("no span {name:?} from {service}: {spans:#?}"))
}

#[test]
fn one_request_is_one_trace_across_both_services() {
    let receiver = OtlpReceiver::start(Mode::Accept);
    // The two services speak different OTLP protocols to the same receiver, as mixed fleets do.
    let (mut users, users_addr) =
        start("users_service", &receiver.grpc_endpoint(), &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
    let users_url = format!("http://{users_addr}");
    let (mut frontend, frontend_addr) = start("frontend", &receiver.http_endpoint(), &[("USERS_URL", &users_url)]);

    let traceparent = format!("00-{CALLER_TRACE_ID}-{CALLER_SPAN_ID}-01");
    let response =
        request(frontend_addr, "GET", "/profile/7", &[("traceparent", &traceparent)], "").expect("GET /profile/7");
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(response.body.contains("Hello, user-7!"), "{}", response.body);
    let missing = request(frontend_addr, "GET", "/profile/5000", &[], "").expect("GET /profile/5000");
    assert_eq!(missing.status, 404);

    for process in [&mut frontend, &mut users] {
        let status = process.terminate(EXIT_DEADLINE).expect("exits after SIGTERM");
        assert!(status.success(), "exit status {status}");
    }
    let spans = receiver.wait_for("span", ARRIVAL_DEADLINE, |spans| spans.len() >= 6);
    let traced: Vec<Value> = spans.iter().filter(|span| span["trace_id"] == CALLER_TRACE_ID).cloned().collect();
    eprintln!("span tree of GET /profile/7:");
    for span in &traced {
        eprintln!(
            "  {} {} {} span={} parent={}",
            span["resource"]["service.name"], span["kind"], span["name"], span["span_id"], span["parent_span_id"]
        );
    }
    assert_eq!(traced.len(), 3, "frontend server + client span, users server span: {spans:#?}");

    let entry = span(&traced, "frontend", "GET /profile/{id}");
    let call = span(&traced, "frontend", "GET /users/{id}");
    let served = span(&traced, "users", "GET /users/{id}");
    assert_eq!(entry["kind"], "SPAN_KIND_SERVER");
    assert_eq!(entry["parent_span_id"], CALLER_SPAN_ID, "the frontend continues the caller's trace");
    assert_eq!(call["kind"], "SPAN_KIND_CLIENT");
    assert_eq!(call["parent_span_id"], entry["span_id"]);
    assert_eq!(served["kind"], "SPAN_KIND_SERVER");
    assert_eq!(served["parent_span_id"], call["span_id"], "the users span is a child of the frontend's call");
    assert_eq!(served["transport"], "grpc");
    assert_eq!(entry["transport"], "http");
    assert_eq!(served["attributes"]["http.response.status_code"], 200);

    // Without a caller, the 404 is a new trace of its own, still spanning both services.
    let not_found = span(&spans, "users", "GET /users/{id}");
    let not_found = spans
        .iter()
        .find(|span| {
            span["resource"]["service.name"] == "users" && span["attributes"]["http.response.status_code"] == 404
        })
        .unwrap_or(not_found);
    assert_ne!(not_found["trace_id"], CALLER_TRACE_ID);
    let same_trace = spans.iter().filter(|span| span["trace_id"] == not_found["trace_id"]).count();
    assert_eq!(same_trace, 3);
}
