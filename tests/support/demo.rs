//! The demo example as a real process (app and metrics on 127.0.0.1 port 0, addresses read from
//! its JSON start-up lines), traffic helpers, and its `generate` subcommand.

use crate::http_client::{Response, request};
use crate::process::{Spawned, example_binary};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const STARTUP_DEADLINE: Duration = Duration::from_mins(1);

/// A running demo, killed on drop.
pub struct Demo {
    process: Spawned,
    /// The application listener.
    pub app: SocketAddr,
    /// The metrics listener (`/metrics`).
    pub metrics: SocketAddr,
}

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|error| panic!("stdout line is not JSON ({error}): {line}"))
}

fn address_in(line: &str, field: &str) -> SocketAddr {
    json(line)[field].as_str().and_then(|text| text.parse().ok()).unwrap_or_else(|| panic!("no {field} in {line}"))
}

/// Variables of the test runner's own environment that would change what the demo does.
const INHERITED_SETTINGS: &[&str] =
    &["OBS_LOG_FORMAT", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_SDK_DISABLED"];

impl Demo {
    /// Starts the demo built by `cargo test` with both listeners on port 0, logging only its
    /// system events and warnings (for tests that send much traffic).
    ///
    /// # Panics
    /// When it does not report its addresses before the deadline.
    #[must_use]
    pub fn start() -> Self {
        Self::start_with(&[("RUST_LOG", "warn,obs::system=info,demo=info")])
    }

    /// Starts the demo with both listeners on port 0, `RUST_LOG=info`, none of the runner's
    /// `OBS_LOG_FORMAT`/`OTEL_*` settings, and then `env` on top.
    ///
    /// # Panics
    /// When it does not report its addresses before the deadline.
    #[must_use]
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(example_binary("demo"));
        command.env("OBS_APP_ADDR", "127.0.0.1:0").env("OBS_METRICS_ADDR", "127.0.0.1:0").env("RUST_LOG", "info");
        for name in INHERITED_SETTINGS {
            command.env_remove(name);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let process = Spawned::start(command);
        let startup = process.wait_for_line(STARTUP_DEADLINE, |line| line.contains("\"event\":\"startup\""));
        let listening = process.wait_for_line(STARTUP_DEADLINE, |line| line.contains("\"event\":\"listening\""));
        Demo { app: address_in(&listening, "http.address"), metrics: address_in(&startup, "metrics.address"), process }
    }

    /// The process id, to read its `/proc` entries.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Scrapes `/metrics`, with `accept` as the `Accept` header when given.
    ///
    /// # Panics
    /// On a connection error.
    #[must_use]
    pub fn scrape(&self, accept: Option<&str>) -> Response {
        let headers: Vec<(&str, &str)> = accept.map(|accept| ("Accept", accept)).into_iter().collect();
        request(self.metrics, "GET", "/metrics", &headers, "").expect("scrape")
    }

    /// Every line the demo wrote to stdout so far.
    #[must_use]
    pub fn stdout_lines(&self) -> Vec<String> {
        self.process.stdout_lines()
    }

    /// Sends SIGTERM, asserts the demo exits successfully within `deadline`, and returns every
    /// stdout line it wrote, parsed as JSON.
    ///
    /// # Panics
    /// When it does not exit in time, exits unsuccessfully, or wrote a line that is not JSON.
    #[allow(clippy::must_use_candidate)] // stopping is the point; the lines are there when wanted
    pub fn stop(mut self, deadline: Duration) -> Vec<Value> {
        let status = self.process.terminate(deadline).expect("the demo exits after SIGTERM");
        assert!(status.success(), "demo exit status {status}\nstderr: {:?}", self.process.stderr_lines());
        self.process.stdout_lines().iter().map(|line| json(line)).collect()
    }

    /// Sends one request to the app (a JSON body when `body` is not empty).
    ///
    /// # Panics
    /// On a connection error.
    #[must_use]
    pub fn call(&self, method: &str, path: &str, body: &str) -> Response {
        let headers: &[(&str, &str)] = if body.is_empty() { &[] } else { &[("Content-Type", "application/json")] };
        request(self.app, method, path, headers, body).unwrap_or_else(|error| panic!("{method} {path}: {error}"))
    }

    /// Sends `method path` and asserts the status.
    ///
    /// # Panics
    /// When the status differs.
    pub fn expect(&self, method: &str, path: &str, body: &str, status: u16) {
        let response = self.call(method, path, body);
        assert_eq!(response.status, status, "{method} {path}: {}", response.body);
    }

    /// Sends `count` successful `GET /users/{n}` calls over `threads` keep-alive connections in
    /// parallel: a bounded burst that dilutes an error ratio without using up ephemeral ports.
    ///
    /// # Panics
    /// On a connection error or any answer other than 200.
    pub fn successes(&self, count: u64, threads: u64) {
        let app = self.app;
        std::thread::scope(|scope| {
            for thread in 0..threads {
                scope.spawn(move || {
                    let mut connection = KeepAlive::connect(app);
                    for n in (thread..count).step_by(usize::try_from(threads).expect("thread count")) {
                        // 997 and 998 are the demo's panic and timeout.
                        let path = format!("/users/{}", n % 996 + 1);
                        let status = connection.get(&path);
                        assert_eq!(status, 200, "GET {path}");
                    }
                });
            }
        });
    }

    /// Everything the demo wrote to stderr, for failure messages.
    #[must_use]
    pub fn stderr(&self) -> Vec<String> {
        self.process.stderr_lines()
    }
}

/// Runs `demo generate <dir> <args...>`.
///
/// # Panics
/// When the subcommand fails; the message holds its output.
pub fn generate(dir: &Path, args: &[&str]) {
    let output = Command::new(example_binary("demo"))
        .arg("generate")
        .arg(dir)
        .args(args)
        .env_remove("OBS_LOG_FORMAT")
        .output()
        .expect("run demo generate");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo generate {} {args:?} failed ({}):\n{stdout}\n{}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One HTTP/1.1 keep-alive connection sending bodiless GETs and reading `Content-Length` bodies.
struct KeepAlive {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: SocketAddr,
}

impl KeepAlive {
    fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap_or_else(|error| panic!("connect {addr}: {error}"));
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("read timeout");
        let _ = stream.set_nodelay(true);
        let writer = stream.try_clone().expect("clone stream");
        KeepAlive { reader: BufReader::new(stream), writer, host: addr }
    }

    /// Sends `GET path` and returns the status, having read the whole response.
    fn get(&mut self, path: &str) -> u16 {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        self.writer.write_all(request.as_bytes()).unwrap_or_else(|error| panic!("GET {path}: {error}"));
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap_or_else(|error| panic!("GET {path}: {error}"));
        let status = line.split_whitespace().nth(1).and_then(|code| code.parse().ok());
        let status = status.unwrap_or_else(|| panic!("GET {path}: bad status line {line:?}"));
        let mut length = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap_or_else(|error| panic!("GET {path}: {error}"));
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or_else(|_| panic!("GET {path}: bad length {value:?}"));
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap_or_else(|error| panic!("GET {path}: body: {error}"));
        status
    }
}
