//! OTLP to a hosted-style backend and OTLP metrics, against the real receiver: traces, logs and
//! metrics over HTTPS with mutual TLS and gzip, for both `http/protobuf` and `grpc`, with a CA
//! made in the test; the wrong CA loses everything as counted `export_failed` while requests
//! succeed; the pushed request-duration histogram counts what `/metrics` counts.

use obs_tests::demo::Demo;
use obs_tests::exposition::{samples, value};
use obs_tests::otlp::{Mode, OtlpReceiver};
use obs_tests::pki::TestPki;
use obs_tests::process::example_binary;
use obs_tests::scratch::ScratchDir;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

const ARRIVAL_DEADLINE: Duration = Duration::from_mins(1);
const EXIT_DEADLINE: Duration = Duration::from_mins(1);

fn path(file: &std::path::Path) -> String {
    file.to_str().expect("UTF-8 path").to_owned()
}

fn dropped(demo: &Demo, signal: &str, reason: &str) -> f64 {
    value(&demo.scrape(None).body, "obs_telemetry_dropped_total", &[("signal", signal), ("reason", reason)])
        .unwrap_or(0.0)
}

fn of_transport(items: &[Value], transport: &str) -> Vec<Value> {
    items.iter().filter(|item| item["transport"] == transport).cloned().collect()
}

#[test]
fn traces_logs_and_metrics_go_over_mutual_tls_with_gzip_for_both_protocols() {
    let scratch = ScratchDir::new("otlp-tls");
    let pki = TestPki::generate(scratch.path());
    let receiver = OtlpReceiver::start_with(Mode::Accept, Some(&pki.mutual_tls()));
    assert!(receiver.http_endpoint().starts_with("https://"));
    let (ca, client_cert, client_key) = (path(&pki.ca_cert), path(&pki.client_cert), path(&pki.client_key));
    for (protocol, transport, endpoint) in
        [("http/protobuf", "http", receiver.http_endpoint()), ("grpc", "grpc", receiver.grpc_endpoint())]
    {
        let demo = Demo::start_with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &client_cert),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &client_key),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
        ]);
        demo.expect("GET", "/users/7", "", 200);
        demo.stop(EXIT_DEADLINE);
        for signal in ["span", "log", "metric"] {
            let arrived =
                receiver.wait_for(signal, ARRIVAL_DEADLINE, |items| !of_transport(items, transport).is_empty());
            let arrived = of_transport(&arrived, transport);
            assert!(!arrived.is_empty(), "{protocol}: no {signal} over TLS");
            if transport == "http" {
                // gRPC's receiver decompresses before the handler sees the request; HTTP shows it.
                assert!(arrived.iter().all(|item| item["content_encoding"] == "gzip"), "{protocol}: {arrived:#?}");
            }
        }
        let metrics = of_transport(&receiver.received("metric"), transport);
        let duration = metrics
            .iter()
            .rfind(|point| {
                point["name"] == "http.server.request.duration"
                    && point["attributes"]["http.response.status_code"] == 200
            })
            .unwrap_or_else(|| panic!("{protocol}: no request duration pushed: {metrics:#?}"));
        assert_eq!(duration["count"], 1, "{duration}");
        assert_eq!(duration["resource"]["service.name"], "demo");
    }
    assert!(receiver.events("tls_handshake_failed").is_empty(), "{:#?}", receiver.events("tls_handshake_failed"));
}

#[test]
fn gzip_is_really_sent_over_both_protocols() {
    // A receiver that refuses compressed exports takes them uncompressed and refuses them gzipped:
    // over gRPC, where grpcio decompresses before anything can look, this is the proof.
    let receiver = OtlpReceiver::start(Mode::UncompressedOnly);
    for (protocol, transport, endpoint) in
        [("http/protobuf", "http", receiver.http_endpoint()), ("grpc", "grpc", receiver.grpc_endpoint())]
    {
        let plain =
            Demo::start_with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint), ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)]);
        plain.expect("GET", "/users/7", "", 200);
        plain.stop(EXIT_DEADLINE);
        let spans = receiver.wait_for("span", ARRIVAL_DEADLINE, |spans| !of_transport(spans, transport).is_empty());
        assert!(!of_transport(&spans, transport).is_empty(), "{protocol}: uncompressed spans arrive");
        let arrived_before = of_transport(&receiver.received("span"), transport).len();

        let gzipped = Demo::start_with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ]);
        let until = Instant::now() + ARRIVAL_DEADLINE;
        while dropped(&gzipped, "traces", "export_failed") < 1.0 {
            gzipped.expect("GET", "/users/7", "", 200);
            assert!(Instant::now() < until, "{protocol}: gzipped exports were not refused, so not gzipped");
            std::thread::sleep(Duration::from_millis(200));
        }
        gzipped.stop(EXIT_DEADLINE);
        assert_eq!(of_transport(&receiver.received("span"), transport).len(), arrived_before, "{protocol}");
    }
}

#[test]
fn the_wrong_ca_loses_every_signal_as_counted_export_failures_while_requests_succeed() {
    let scratch = ScratchDir::new("otlp-wrong-ca");
    let pki = TestPki::generate(scratch.path());
    let receiver = OtlpReceiver::start_with(Mode::Accept, Some(&pki.server_tls()));
    let wrong_ca = path(&pki.wrong_ca_cert);
    for (protocol, endpoint) in [("http/protobuf", receiver.http_endpoint()), ("grpc", receiver.grpc_endpoint())] {
        let demo = Demo::start_with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", &wrong_ca),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
        ]);
        let until = Instant::now() + ARRIVAL_DEADLINE;
        loop {
            demo.expect("GET", "/users/7", "", 200);
            let lost = ["traces", "logs", "metrics"].map(|signal| dropped(&demo, signal, "export_failed"));
            if lost.iter().all(|&count| count >= 1.0) {
                break;
            }
            assert!(Instant::now() < until, "{protocol}: losses not counted for every signal: {lost:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
        demo.stop(EXIT_DEADLINE);
    }
    for signal in ["span", "log", "metric"] {
        assert!(receiver.received(signal).is_empty(), "nothing is delivered to a server the CA does not vouch for");
    }
}

#[test]
fn a_certificate_file_that_cannot_be_used_stops_start_up_naming_its_variable() {
    let scratch = ScratchDir::new("otlp-bad-cert");
    let not_pem = scratch.write("not-a-cert.pem", "hello\n");
    let missing = scratch.join("missing.pem");
    let key = ("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&not_pem));
    for (name, bad, also) in [
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&missing), None),
        ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", path(&not_pem), None),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", path(&not_pem), Some(&key)),
        // A key without its certificate is named too.
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&not_pem), None),
    ] {
        let mut command = Command::new(example_binary("demo"));
        command
            .env("OBS_APP_ADDR", "127.0.0.1:0")
            .env("OBS_METRICS_ADDR", "127.0.0.1:0")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:4318")
            .env(name, &bad);
        if let Some((var, value)) = also {
            command.env(var, value);
        }
        let output = command.output().expect("run demo");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name}={bad} must stop start-up");
        assert!(stderr.contains(name) && stderr.contains(&bad), "{name}: {stderr}");
    }
}

/// The newest pushed data point of each request-duration series, keyed like the scrape's labels.
fn last_pushed_counts(points: &[Value]) -> BTreeMap<Vec<(String, String)>, u64> {
    let mut newest: BTreeMap<Vec<(String, String)>, (u64, u64)> = BTreeMap::new();
    for point in points.iter().filter(|point| point["name"] == "http.server.request.duration") {
        let attributes = point["attributes"].as_object().expect("attributes");
        let label = |key: &str| attributes.get(key).map(|value| value.to_string().trim_matches('"').to_owned());
        let mut key = vec![
            ("http_request_method".to_owned(), label("http.request.method").expect("method")),
            ("http_route".to_owned(), label("http.route").expect("route")),
            ("error_type".to_owned(), label("error.type").unwrap_or_default()),
        ];
        if let Some(status) = label("http.response.status_code") {
            key.push(("http_response_status_code".to_owned(), status));
        }
        key.sort();
        let time = point["time_unix_nano"].as_u64().expect("time");
        let count = point["count"].as_u64().expect("count");
        if newest.get(&key).is_none_or(|(seen, _)| *seen <= time) {
            newest.insert(key, (time, count));
        }
    }
    newest.into_iter().map(|(key, (_, count))| (key, count)).collect()
}

#[test]
fn pushed_request_durations_count_what_metrics_scrapes() {
    let receiver = OtlpReceiver::start(Mode::Accept);
    let demo = Demo::start_with(&[
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &format!("{}/v1/metrics", receiver.http_endpoint())),
        ("OTEL_METRIC_EXPORT_INTERVAL", "300"),
    ]);
    for (path, status) in
        [("/users/7", 200), ("/users/8", 200), ("/users/0", 500), ("/users/1000", 404), ("/health", 200)]
    {
        demo.expect("GET", path, "", status);
    }
    demo.expect("POST", "/orders", r#"{"item":"book","quantity":1}"#, 201);
    let scraped = demo.scrape(Some("application/openmetrics-text;version=1.0.0")).body;
    demo.stop(EXIT_DEADLINE);
    // The last push, at shutdown, saw the same calls the scrape did.
    let points = receiver.received("metric");
    let pushed = last_pushed_counts(&points);
    let mut expected = BTreeMap::new();
    for sample in
        samples(&scraped).into_iter().filter(|sample| sample.name == "http_server_request_duration_seconds_count")
    {
        let mut labels = sample.labels;
        labels.sort();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        expected.insert(labels, sample.value as u64);
    }
    assert!(expected.values().sum::<u64>() >= 6, "{scraped}");
    assert_eq!(pushed, expected, "pushed counts per series equal the scraped ones");
    let point = points
        .iter()
        .rfind(|point| {
            point["name"] == "http.server.request.duration" && point["attributes"]["http.response.status_code"] == 500
        })
        .expect("the 500");
    assert_eq!(point["unit"], "s");
    assert_eq!(point["attributes"]["error.type"], "ApiError");
    assert_eq!(point["explicit_bounds"].as_array().map(Vec::len), Some(obs_runtime::DEFAULT_BUCKETS.len()));
    assert!(points.iter().any(|point| point["name"] == "http.server.active_requests" && point["kind"] == "sum"));
    assert!(points.iter().any(|point| point["name"] == "demo_orders_created" && point["value"] == 1.0));
    assert!(points.iter().any(|point| point["name"] == "demo_users_lookups" && point["monotonic"] == true));
}

#[test]
fn with_the_metrics_collector_down_requests_are_unaffected_and_pushes_are_counted_lost() {
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let demo = Demo::start_with(&[
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &format!("http://127.0.0.1:{closed}/v1/metrics")),
        ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
    ]);
    let until = Instant::now() + ARRIVAL_DEADLINE;
    while dropped(&demo, "metrics", "export_failed") < 2.0 {
        demo.expect("GET", "/users/7", "", 200);
        assert!(Instant::now() < until, "no lost push counted:\n{}", demo.scrape(None).body);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(value(&demo.scrape(None).body, "obs_telemetry_exported_total", &[("signal", "metrics")]), Some(0.0));
    demo.stop(EXIT_DEADLINE);
}
