//! A real Prometheus server (Debian's `prometheus`) for end-to-end tests: its own data directory,
//! a port chosen by the kernel, readiness and target health polled with deadlines, and a client
//! for the HTTP API (`/api/v1/query`, `/api/v1/targets`, `/api/v1/rules`, `/api/v1/alerts`).

use crate::http_client::request;
use crate::process::{Spawned, require_tool};
use crate::scratch::{ScratchDir, listening_address, poll_until, tail};
use serde_json::Value;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// How long Prometheus may take to listen and report ready.
const STARTUP_DEADLINE: Duration = Duration::from_mins(1);

/// A running Prometheus, killed on drop; its data directory is removed on drop.
pub struct Prometheus {
    process: Spawned,
    addr: SocketAddr,
    _data: ScratchDir,
}

/// The answer to an instant query that succeeded.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// `vector`, `scalar`, `matrix` or `string`.
    pub result_type: String,
    /// The series of a vector or matrix; a scalar or string as a one-element list of `[time, value]`.
    pub result: Vec<Value>,
    /// Warnings Prometheus attached to the answer.
    pub warnings: Vec<String>,
}

impl QueryResult {
    /// Whether the answer holds data: at least one series, or a scalar/string.
    #[must_use]
    pub fn has_data(&self) -> bool {
        !self.result.is_empty()
    }

    /// The values of a vector's samples as numbers (`NaN` and `±Inf` included).
    #[must_use]
    pub fn values(&self) -> Vec<f64> {
        match self.result_type.as_str() {
            "vector" => self.result.iter().filter_map(|series| sample_value(&series["value"])).collect(),
            "scalar" => self.result.first().and_then(sample_value).into_iter().collect(),
            _ => Vec::new(),
        }
    }
}

fn sample_value(pair: &Value) -> Option<f64> {
    pair.get(1)?.as_str()?.parse().ok()
}

/// Percent-encodes `text` for a URL query string or a form body (RFC 3986 unreserved kept).
#[must_use]
pub fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

impl Prometheus {
    /// Starts `prometheus` with `config` on 127.0.0.1 (port 0: the kernel picks it), a fresh
    /// TSDB directory and `extra_args`, and waits until `/-/ready` answers 200.
    ///
    /// # Panics
    /// When `prometheus` is not installed, or does not become ready before the deadline; the
    /// message holds the tail of its log.
    #[must_use]
    pub fn start(config: &Path, extra_args: &[&str]) -> Self {
        require_tool("prometheus", "apt-get install prometheus");
        let data = ScratchDir::new("prometheus-data");
        let mut command = Command::new("prometheus");
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.path().display()))
            .arg("--web.listen-address=127.0.0.1:0")
            .arg("--log.level=info")
            .args(extra_args)
            .current_dir(data.path());
        let process = Spawned::start(command);
        let addr = listening_address(&process, STARTUP_DEADLINE);
        let prometheus = Prometheus { process, addr, _data: data };
        poll_until(
            "Prometheus /-/ready",
            STARTUP_DEADLINE,
            Duration::from_millis(100),
            || request(addr, "GET", "/-/ready", &[], "").ok().filter(|response| response.status == 200),
            || prometheus.log_tail(),
        );
        prometheus
    }

    /// Where the HTTP API listens.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The last lines Prometheus logged, for failure messages.
    #[must_use]
    pub fn log_tail(&self) -> String {
        format!("prometheus log (last 40 lines):\n{}", tail(&self.process.stderr_lines(), 40))
    }

    /// GETs an API path and returns its `data`, or the error Prometheus gave.
    ///
    /// # Errors
    /// A connection error, a non-200 status or a `status` other than `success`.
    pub fn api(&self, path_and_query: &str) -> Result<Value, String> {
        let response = request(self.addr, "GET", path_and_query, &[], "").map_err(|error| error.to_string())?;
        decode(response.status, &response.body).map(|(data, _)| data)
    }

    /// Runs an instant query through `POST /api/v1/query`.
    ///
    /// # Errors
    /// The HTTP status and Prometheus' `errorType: error` when the query is rejected or fails.
    pub fn query(&self, expr: &str) -> Result<QueryResult, String> {
        let body = format!("query={}", percent_encode(expr));
        let response = request(
            self.addr,
            "POST",
            "/api/v1/query",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &body,
        )
        .map_err(|error| format!("connection: {error}"))?;
        let (data, warnings) = decode(response.status, &response.body)?;
        let result_type = data["resultType"].as_str().unwrap_or_default().to_owned();
        let result = match &data["result"] {
            Value::Array(series) if result_type == "vector" || result_type == "matrix" => series.clone(),
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        };
        Ok(QueryResult { result_type, result, warnings })
    }

    /// Waits until every active target of scrape job `job` is up (and there is at least one).
    ///
    /// # Panics
    /// At the deadline, with the targets' last errors and the log tail.
    pub fn wait_for_target_up(&self, job: &str, deadline: Duration) {
        let last = RefCell::new(Value::Null);
        poll_until(
            &format!("scrape job {job:?} to be up"),
            deadline,
            Duration::from_millis(250),
            || {
                let data = self.api("/api/v1/targets?state=active").ok()?;
                let targets: Vec<Value> = data["activeTargets"]
                    .as_array()?
                    .iter()
                    .filter(|target| target["labels"]["job"] == job)
                    .cloned()
                    .collect();
                *last.borrow_mut() = Value::Array(targets.clone());
                (!targets.is_empty() && targets.iter().all(|target| target["health"] == "up")).then_some(())
            },
            || format!("targets of {job:?}: {:#}\n{}", last.borrow(), self.log_tail()),
        );
    }

    /// The rule groups as loaded (`/api/v1/rules`).
    ///
    /// # Panics
    /// When the API call fails.
    #[must_use]
    pub fn rule_groups(&self) -> Vec<Value> {
        let data = self.api("/api/v1/rules").unwrap_or_else(|error| panic!("/api/v1/rules: {error}"));
        data["groups"].as_array().cloned().unwrap_or_default()
    }

    /// The alerts Prometheus holds, pending or firing (`/api/v1/alerts`).
    ///
    /// # Panics
    /// When the API call fails.
    #[must_use]
    pub fn alerts(&self) -> Vec<Value> {
        let data = self.api("/api/v1/alerts").unwrap_or_else(|error| panic!("/api/v1/alerts: {error}"));
        data["alerts"].as_array().cloned().unwrap_or_default()
    }
}

/// Splits a Prometheus API answer into `data` and `warnings`, or the error it reports.
fn decode(status: u16, body: &str) -> Result<(Value, Vec<String>), String> {
    let json: Value =
        serde_json::from_str(body).map_err(|error| format!("HTTP {status}, body is not JSON ({error}): {body}"))?;
    if status != 200 || json["status"] != "success" {
        return Err(format!(
            "HTTP {status}: {}: {}",
            json["errorType"].as_str().unwrap_or("?"),
            json["error"].as_str().unwrap_or(body)
        ));
    }
    let warnings = json["warnings"]
        .as_array()
        .map(|list| list.iter().map(|warning| warning.as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default();
    Ok((json["data"].clone(), warnings))
}
