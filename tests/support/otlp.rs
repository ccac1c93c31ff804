//! A real OTLP receiver (`otlp_receiver.py`, built on the OpenTelemetry project's own protobuf
//! types) as a child process: the spans and log records it decoded, as JSON values.

use crate::process::Spawned;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const STARTUP_DEADLINE: Duration = Duration::from_mins(1);

/// A running receiver, killed on drop.
pub struct OtlpReceiver {
    process: Spawned,
    /// Its OTLP/HTTP port.
    pub http_port: u16,
    /// Its OTLP/gRPC port.
    pub grpc_port: u16,
}

/// What the receiver does with exports.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Accepts and records them.
    Accept,
    /// Answers HTTP 503 / gRPC UNAVAILABLE, as an overloaded collector does.
    Refuse,
}

impl OtlpReceiver {
    /// Starts a receiver on free ports.
    ///
    /// # Panics
    /// When it does not report its ports before the deadline.
    #[must_use]
    pub fn start(mode: Mode) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("support/otlp_receiver.py");
        let mut command = Command::new("python3");
        command.arg(script).arg("--mode").arg(match mode {
            Mode::Accept => "accept",
            Mode::Refuse => "refuse",
        });
        let process = Spawned::start(command);
        let line = process.wait_for_line(STARTUP_DEADLINE, |line| line.contains("\"listening\""));
        let json: Value = serde_json::from_str(&line).expect("listening line is JSON");
        let port = |key: &str| json[key].as_u64().and_then(|port| u16::try_from(port).ok()).expect("port");
        OtlpReceiver { http_port: port("http"), grpc_port: port("grpc"), process }
    }

    /// The base URL of its OTLP/HTTP listener.
    #[must_use]
    pub fn http_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The URL of its OTLP/gRPC listener.
    #[must_use]
    pub fn grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// Every item received so far whose `signal` is `span` or `log`.
    #[must_use]
    pub fn received(&self, signal: &str) -> Vec<Value> {
        self.process
            .stdout_lines()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|item| item["signal"] == signal)
            .collect()
    }

    /// Waits until `done` holds for the received items of `signal`, returning them.
    ///
    /// # Panics
    /// When `deadline` passes first; the message shows what did arrive.
    pub fn wait_for(&self, signal: &str, deadline: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let until = Instant::now() + deadline;
        loop {
            let items = self.received(signal);
            if done(&items) {
                return items;
            }
            assert!(
                Instant::now() < until,
                "receiver: condition on {signal} not met within {deadline:?}; received:\n{}\nstderr:\n{}",
                items.iter().map(Value::to_string).collect::<Vec<_>>().join("\n"),
                self.process.stderr_lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
