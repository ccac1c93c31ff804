//! A real OTLP receiver (`otlp_receiver.py`, built on the OpenTelemetry project's own protobuf
//! types) as a child process: the spans, log records and metric data points it decoded, as JSON
//! values. It serves plain text or TLS, optionally requiring client certificates; see
//! [`crate::pki`] for certificates to give it.

use crate::process::Spawned;
use serde_json::Value;
use std::path::{Path, PathBuf};
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
    tls: bool,
}

/// What the receiver does with exports.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Accepts and records them.
    Accept,
    /// Answers HTTP 503 / gRPC UNAVAILABLE, as an overloaded collector does.
    Refuse,
    /// Accepts uncompressed exports only (compressed ones: HTTP 415, gRPC UNIMPLEMENTED).
    UncompressedOnly,
}

/// The PEM files a receiver serves TLS with, on both its listeners.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The server certificate; it must name `127.0.0.1`, which the endpoints use.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// When set, the receiver requires client certificates signed by this CA (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

impl OtlpReceiver {
    /// Starts a plain-text receiver on free ports.
    ///
    /// # Panics
    /// When it does not report its ports before the deadline.
    #[must_use]
    pub fn start(mode: Mode) -> Self {
        Self::start_with(mode, None)
    }

    /// Starts a receiver on free ports, serving TLS with `tls` when given.
    ///
    /// # Panics
    /// When it does not report its ports before the deadline (for instance because it cannot
    /// read a TLS file: its stderr is in the message).
    #[must_use]
    pub fn start_with(mode: Mode, tls: Option<&TlsFiles>) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("support/otlp_receiver.py");
        let mut command = Command::new("python3");
        command.arg(script).arg("--mode").arg(match mode {
            Mode::Accept => "accept",
            Mode::Refuse => "refuse",
            Mode::UncompressedOnly => "uncompressed-only",
        });
        if let Some(tls) = tls {
            command.arg("--tls-cert").arg(&tls.cert).arg("--tls-key").arg(&tls.key);
            if let Some(client_ca) = &tls.client_ca {
                command.arg("--client-ca").arg(client_ca);
            }
        }
        let process = Spawned::start(command);
        let line = process.wait_for_line(STARTUP_DEADLINE, |line| line.contains("\"listening\""));
        let json: Value = serde_json::from_str(&line).expect("listening line is JSON");
        let port = |key: &str| json[key].as_u64().and_then(|port| u16::try_from(port).ok()).expect("port");
        assert_eq!(json["tls"].as_bool(), Some(tls.is_some()), "the receiver serves TLS as asked: {line}");
        OtlpReceiver { http_port: port("http"), grpc_port: port("grpc"), tls: tls.is_some(), process }
    }

    /// Whether it serves TLS.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// The base URL of its OTLP/HTTP listener: `http://127.0.0.1:<port>`, or `https://` with TLS.
    #[must_use]
    pub fn http_endpoint(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme(), self.http_port)
    }

    /// The URL of its OTLP/gRPC listener: `http://127.0.0.1:<port>`, or `https://` with TLS.
    #[must_use]
    pub fn grpc_endpoint(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme(), self.grpc_port)
    }

    /// Its `{"event": <event>, ..}` lines so far, such as `tls_handshake_failed` (reported for
    /// the HTTP listener only: grpcio does not tell of failed handshakes).
    #[must_use]
    pub fn events(&self, event: &str) -> Vec<Value> {
        self.lines().filter(|item| item["event"] == event).collect()
    }

    fn lines(&self) -> impl Iterator<Item = Value> {
        self.process.stdout_lines().into_iter().filter_map(|line| serde_json::from_str::<Value>(&line).ok())
    }

    /// Every item received so far whose `signal` is `span`, `log` or `metric` (one per data
    /// point); the format of each is in `otlp_receiver.py`.
    #[must_use]
    pub fn received(&self, signal: &str) -> Vec<Value> {
        self.lines().filter(|item| item["signal"] == signal).collect()
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
