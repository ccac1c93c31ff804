//! gRPC over a real connection: the `grpc_users` example (a tonic service whose method is
//! `#[observed]` inside `#[tonic::async_trait]`) answers a tonic client; each call's status code
//! is classified (`OK` a success, `NOT_FOUND` a client error, `UNAVAILABLE` a failure named by its
//! code), scraped from `/metrics` as `rpc_grpc_status_code`, logged at the right level, and
//! exported on the server span as `rpc.grpc.status_code` to a real OTLP receiver.

// Counts are integers carried as f64 by the exposition format: exact comparison is the point.
#![allow(clippy::float_cmp)]

use obs_examples::grpc::UsersClient;
use obs_tests::exposition::sum_matching;
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
const ROUTE: &str = "/demo.Users/GetUser";

fn address(line: &str, field: &str) -> SocketAddr {
    let json: Value = serde_json::from_str(line).expect("JSON line");
    json[field].as_str().and_then(|text| text.parse().ok()).unwrap_or_else(|| panic!("{field} in {line}"))
}

fn count(metrics: &str, grpc_code: &str, error_type: &str) -> f64 {
    sum_matching(
        metrics,
        "http_server_request_duration_seconds_count",
        &[
            ("http_route", ROUTE),
            ("http_request_method", "POST"),
            ("rpc_grpc_status_code", grpc_code),
            ("error_type", error_type),
        ],
    )
}

#[test]
fn grpc_calls_are_classified_by_status_code() {
    let receiver = OtlpReceiver::start(Mode::Accept);
    let mut command = Command::new(example_binary("grpc_users"));
    command
        .env("OBS_APP_ADDR", "127.0.0.1:0")
        .env("OBS_METRICS_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint())
        .env_remove("OBS_LOG_FORMAT")
        .env_remove("OTEL_SDK_DISABLED");
    let mut server = Spawned::start(command);
    let started = server.wait_for_line(STARTUP_DEADLINE, |line| line.contains("\"event\":\"startup\""));
    let metrics_addr = address(&started, "metrics.address");
    let listening = server.wait_for_line(STARTUP_DEADLINE, |line| line.contains("\"event\":\"listening\""));
    let app_addr = address(&listening, "http.address");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let answers = runtime.block_on(async {
        let mut client = UsersClient::connect(format!("http://{app_addr}")).await.expect("connect");
        let mut answers = Vec::new();
        for id in [7, 5000, 0] {
            answers.push(client.get_user(id).await);
        }
        answers
    });
    // The client's connection lives on this runtime: closed here, so shutdown need not wait on it.
    drop(runtime);
    let user = answers[0].as_ref().expect("user 7 exists").get_ref();
    assert_eq!((user.id, user.name.as_str()), (7, "user-7"));
    assert_eq!(answers[1].as_ref().expect_err("no user 5000").code(), tonic::Code::NotFound);
    assert_eq!(answers[2].as_ref().expect_err("database down").code(), tonic::Code::Unavailable);

    let scrape = request(metrics_addr, "GET", "/metrics", &[], "").expect("scrape");
    assert_eq!(scrape.status, 200);
    assert_eq!(count(&scrape.body, "0", ""), 1.0, "{}", scrape.body);
    assert_eq!(count(&scrape.body, "5", ""), 1.0, "NOT_FOUND is a client error: {}", scrape.body);
    assert_eq!(count(&scrape.body, "14", "UNAVAILABLE"), 1.0, "UNAVAILABLE is a failure: {}", scrape.body);

    let status = server.terminate(EXIT_DEADLINE).expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status}");
    let requests: Vec<Value> = server
        .stdout_lines()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["target"] == "obs::request")
        .collect();
    let seen: Vec<(String, i64, String)> = requests
        .iter()
        .map(|line| {
            (
                line["level"].as_str().unwrap_or_default().to_owned(),
                line["rpc.grpc.status_code"].as_i64().unwrap_or(-1),
                line["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("INFO".into(), 0, "success".into()),
            ("WARN".into(), 5, "client_error".into()),
            ("ERROR".into(), 14, "failure".into())
        ]
    );
    assert!(requests.iter().all(|line| line["code.function"] == "Directory::get_user"), "{requests:#?}");

    let spans = receiver.wait_for("span", ARRIVAL_DEADLINE, |spans| {
        spans.iter().filter(|span| span["name"] == format!("POST {ROUTE}")).count() >= 3
    });
    let mut codes: Vec<(i64, Option<String>)> = spans
        .iter()
        .filter(|span| span["name"] == format!("POST {ROUTE}"))
        .map(|span| {
            assert_eq!(span["kind"], "SPAN_KIND_SERVER");
            let attributes = &span["attributes"];
            (
                attributes["rpc.grpc.status_code"].as_i64().expect("rpc.grpc.status_code on the span"),
                attributes["error.type"].as_str().map(str::to_owned),
            )
        })
        .collect();
    codes.sort();
    assert_eq!(codes, [(0, None), (5, None), (14, Some("UNAVAILABLE".to_owned()))]);
}
