//! The demo as a real process: real HTTP requests, a real scrape of `/metrics` checked by
//! `promtool` and by Python's reference OpenMetrics parser, and its JSON log lines read back.

// Counts are integers carried as f64 by the exposition format: exact comparison is the point.
#![allow(clippy::float_cmp)]
#![allow(clippy::too_many_lines)] // one end-to-end scenario reads best as one function

use obs_tests::demo::Demo;
use obs_tests::exposition::{samples, value};
use obs_tests::process::{example_binary, require_tool, run_with_stdin};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|error| panic!("stdout line is not JSON ({error}): {line}"))
}

/// The requests the test sends: method, path, body, expected status.
const TRAFFIC: &[(&str, &str, &str, u16)] = &[
    ("GET", "/users/7", "", 200),
    ("GET", "/users/8", "", 200),
    ("GET", "/users/999", "", 200),
    ("GET", "/users/1000", "", 404),
    ("GET", "/users/123456", "", 404),
    ("GET", "/users/0", "", 500),
    ("POST", "/orders", r#"{"item":"book","quantity":2}"#, 201),
    ("POST", "/orders", r#"{"item":"pen","quantity":1}"#, 201),
    ("POST", "/orders", r#"{"item":"book","quantity":0}"#, 422),
    ("POST", "/orders", r#"{"item":"#, 422),
    ("GET", "/health", "", 200),
];

fn expected_count(text: &str, method: &str, route: &str, status: Option<&str>, error_type: &str) -> f64 {
    let mut labels = vec![("http_request_method", method), ("http_route", route), ("error_type", error_type)];
    if let Some(status) = status {
        labels.push(("http_response_status_code", status));
    }
    value(text, "http_server_request_duration_seconds_count", &labels)
        .unwrap_or_else(|| panic!("no series for {method} {route} {status:?} {error_type:?}"))
}

#[test]
fn the_demo_serves_counts_logs_and_shuts_down_cleanly() {
    require_tool("promtool", "apt-get install prometheus");
    require_tool("python3", "apt-get install python3");
    let demo = Demo::start_with(&[]);

    for (method, path, body, status) in TRAFFIC {
        let response = demo.call(method, path, body);
        assert_eq!(response.status, *status, "{method} {path}: {}", response.body);
    }
    let user = demo.call("GET", "/users/7", "");
    let user: Value = serde_json::from_str(&user.body).expect("user JSON");
    assert_eq!(user["name"], "user-7");

    // OpenMetrics when asked for, with exact counts per route, method, status and error type.
    let scrape = demo.scrape(Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"));
    assert_eq!(scrape.status, 200);
    assert_eq!(scrape.header("content-type"), Some("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    let text = &scrape.body;
    assert!(text.ends_with("# EOF\n"));
    assert_eq!(expected_count(text, "GET", "/users/{id}", Some("200"), ""), 4.0);
    assert_eq!(expected_count(text, "GET", "/users/{id}", Some("404"), ""), 2.0);
    assert_eq!(expected_count(text, "GET", "/users/{id}", Some("500"), "ApiError"), 1.0);
    assert_eq!(expected_count(text, "POST", "/orders", Some("201"), ""), 2.0);
    // The demo's own business metric, registered through obs_runtime::metrics::register, shares
    // the exposition (one # EOF, checked by promtool and the Python parser below).
    assert_eq!(value(text, "demo_orders_created_total", &[]), Some(2.0), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1);
    // And one recorded through the `metrics` facade, once per GET /users/{id} call, whatever its end.
    let user_calls: f64 = samples(text)
        .iter()
        .filter(|sample| {
            sample.name == "http_server_request_duration_seconds_count"
                && sample.labels.iter().any(|(name, value)| name == "http_route" && value == "/users/{id}")
        })
        .map(|sample| sample.value)
        .sum();
    assert_eq!(user_calls, 7.0, "{text}");
    assert_eq!(value(text, "demo_users_lookups_total", &[]), Some(user_calls), "{text}");
    assert_eq!(expected_count(text, "POST", "/orders", Some("422"), ""), 2.0);
    assert_eq!(expected_count(text, "GET", "/health", Some("200"), ""), 1.0);
    assert_eq!(expected_count(text, "GET", "/health", None, ""), 0.0, "the start-up zero series");
    for (method, route) in [("GET", "/users/{id}"), ("POST", "/orders"), ("GET", "/health")] {
        let gauge =
            value(text, "http_server_active_requests", &[("http_request_method", method), ("http_route", route)]);
        assert_eq!(gauge, Some(0.0), "{method} {route} in flight");
    }
    assert!(value(text, "process_resident_memory_bytes", &[]).is_some_and(|bytes| bytes > 1e6));
    assert!(value(text, "process_open_fds", &[]).is_some_and(|fds| fds >= 3.0));
    assert!(value(text, "process_threads", &[]).is_some_and(|threads| threads >= 2.0));
    assert!(value(text, "process_cpu_seconds_total", &[]).is_some());
    assert!(value(text, "process_start_time_seconds", &[]).is_some_and(|start| start > 1.7e9));
    assert_eq!(
        value(
            text,
            "obs_build_info",
            &[("service_name", "demo"), ("service_version", "0.1.0"), ("obs_version", "0.1.0")]
        ),
        Some(1.0)
    );

    // An independent parser agrees: Python's reference OpenMetrics parser.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/support/parse_openmetrics.py");
    let (parsed_ok, parsed, errors) = run_with_stdin("python3", &[script], text);
    assert!(parsed_ok, "the reference parser rejects the exposition: {errors}");
    let parsed: Value = serde_json::from_str(&parsed).expect("parser output");
    let families = &parsed["families"];
    assert_eq!(families["http_server_request_duration_seconds"]["type"], "histogram");
    assert_eq!(families["http_server_request_duration_seconds"]["unit"], "seconds");
    assert_eq!(families["http_server_active_requests"]["type"], "gauge");
    assert_eq!(families["process_cpu_seconds"]["type"], "counter");
    assert_eq!(families["obs_build"]["type"], "info");
    assert_eq!(families["demo_orders_created"]["type"], "counter");
    assert_eq!(families["demo_users_lookups"]["type"], "counter");
    assert_eq!(families["demo_users_lookups"]["help"], "User lookups through GET /users/{id}.");
    let python_total: f64 = parsed["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .filter(|sample| sample["name"] == "http_server_request_duration_seconds_count")
        .map(|sample| sample["value"].as_f64().expect("number"))
        .sum();
    #[allow(clippy::cast_precision_loss)]
    let sent = (TRAFFIC.len() + 1) as f64;
    assert_eq!(python_total, sent, "every request counted once");

    // The Prometheus text format by default, accepted by promtool's linter.
    let plain = demo.scrape(None);
    assert_eq!(plain.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert!(!plain.body.contains("# EOF"));
    assert!(
        plain.body.contains("\n# TYPE demo_orders_created_total counter\ndemo_orders_created_total 2\n"),
        "{}",
        plain.body
    );
    assert!(plain.body.contains("\n# TYPE demo_users_lookups_total counter\n"), "{}", plain.body);
    let (lint_ok, lint_out, lint_err) = run_with_stdin("promtool", &["check", "metrics"], &plain.body);
    assert!(lint_ok, "promtool check metrics failed:\n{lint_out}{lint_err}");

    // Both formats write the same bucket series, `le` included (`le="1.0"`, never `le="1"`), so a
    // generated query naming a bucket matches whichever format Prometheus scraped.
    let buckets = |text: &str| -> BTreeSet<(String, Vec<(String, String)>)> {
        samples(text)
            .into_iter()
            .filter(|sample| sample.name.ends_with("_bucket"))
            .map(|sample| {
                let mut labels = sample.labels;
                labels.sort();
                (sample.name, labels)
            })
            .collect()
    };
    let (openmetrics_buckets, text_buckets) = (buckets(text), buckets(&plain.body));
    assert_eq!(openmetrics_buckets, text_buckets, "the two formats name different bucket series");
    let le_of = |(_, labels): &(String, Vec<(String, String)>)| {
        labels.iter().find(|(name, _)| name == "le").map(|(_, value)| value.clone()).unwrap_or_default()
    };
    let les: BTreeSet<String> = text_buckets.iter().map(le_of).collect();
    assert!(les.contains("1.0") && !les.contains("1"), "{les:?}");
    assert!(
        text_buckets.iter().any(|(name, _)| name == "operation_duration_seconds_bucket"),
        "the operations' buckets are in both formats"
    );

    // Cardinality: only declared route templates appear, whatever the concrete paths were.
    let routes: std::collections::BTreeSet<&str> = parsed["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .filter_map(|sample| sample["labels"]["http_route"].as_str())
        .collect();
    assert_eq!(routes, ["/health", "/orders", "/users/{id}"].into_iter().collect());

    // One JSON log line per request, with the right level, fields and trace ids.
    let lines = demo.stdout_lines();
    let requests: Vec<Value> =
        lines.iter().map(|line| json(line)).filter(|line| line["target"] == "obs::request").collect();
    assert_eq!(requests.len(), TRAFFIC.len() + 1, "{lines:#?}");
    for ((method, _, _, status), line) in TRAFFIC.iter().zip(&requests) {
        assert_eq!(line["http.request.method"], *method);
        assert_eq!(line["http.response.status_code"], *status);
        let level = match status {
            500.. => "ERROR",
            400..500 => "WARN",
            _ => "INFO",
        };
        assert_eq!(line["level"], level, "{line}");
        assert_eq!(line["trace_id"].as_str().map(str::len), Some(32), "{line}");
        assert_eq!(line["span_id"].as_str().map(str::len), Some(16), "{line}");
        assert!(line["duration_ms"].as_f64().is_some());
    }
    let failure = requests.iter().find(|line| line["outcome"] == "failure").expect("the 500");
    assert_eq!(failure["error.type"], "ApiError");
    assert_eq!(failure["http.route"], "/users/{id}");
    assert_eq!(failure["code.function"], "get_user");
    let trace_ids: std::collections::BTreeSet<&str> =
        requests.iter().filter_map(|line| line["trace_id"].as_str()).collect();
    assert_eq!(trace_ids.len(), requests.len(), "each request is its own trace");

    let startup = json(&lines[0]);
    assert_eq!(startup["event"], "startup");
    assert_eq!(startup["service.name"], "demo");
    assert_eq!(startup["log.format"], "json");
    assert_eq!(startup["endpoints"], 3);

    // SIGTERM: graceful stop, a shutdown event counting every call, exit code 0.
    let lines = demo.stop(Duration::from_secs(30));
    let shutdown = lines.iter().find(|line| line["event"] == "shutdown").expect("shutdown event");
    assert_eq!(shutdown["calls_served"], TRAFFIC.len() + 1);
    assert!(shutdown["uptime_seconds"].as_f64().is_some_and(|seconds| seconds > 0.0));
}

#[test]
fn a_taken_metrics_port_is_a_clear_startup_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let mut command = Command::new(example_binary("demo"));
    command.env("OBS_APP_ADDR", "127.0.0.1:0").env("OBS_METRICS_ADDR", &addr);
    let output = command.output().expect("run demo");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("cannot serve metrics on {addr}")), "{stderr}");
    assert!(stderr.contains("OBS_METRICS_ADDR"), "{stderr}");
}
