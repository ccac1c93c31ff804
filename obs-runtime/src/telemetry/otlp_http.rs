//! Posting an encoded OTLP request over HTTP: the collector's URL, the configured headers,
//! gzip when asked for, and the retries OTLP/HTTP prescribes for a collector that is briefly
//! unreachable or overloaded, all within the signal's export timeout.

use crate::error::SetupError;
use crate::telemetry::otlp::{header_map, http_client};
use crate::telemetry::otlp_config::{Compression, Signal, SignalExport};
use std::time::{Duration, Instant};

/// At most this many attempts after the first: a batch waiting on retries holds the queue
/// behind it.
const MAX_RETRIES: u32 = 2;
/// The wait before the first retry, doubled before each next one.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
/// The longest wait between attempts, whatever a `Retry-After` asks.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(1);

/// One signal's OTLP/HTTP endpoint and how to reach it.
#[derive(Debug)]
pub(crate) struct HttpExport {
    client: reqwest::blocking::Client,
    endpoint: String,
    headers: http::HeaderMap,
    gzip: bool,
    timeout: Duration,
}

/// Why one attempt failed.
#[derive(Debug)]
enum Failure {
    /// No answer: refused, reset, timed out.
    Network(String),
    /// The collector answered with an error status.
    Status { code: http::StatusCode, retry_after: Option<Duration> },
}

/// Whether OTLP/HTTP allows another attempt after a failure.
enum Retry {
    Never,
    /// After the exporter's own backoff.
    AfterBackoff,
    /// After the wait the collector asked for (`Retry-After`).
    After(Duration),
}

impl Failure {
    fn retry(&self) -> Retry {
        match self {
            Failure::Network(_) => Retry::AfterBackoff,
            Failure::Status { code, retry_after } => match (code.as_u16(), retry_after) {
                (429 | 503, Some(asked)) => Retry::After(*asked),
                (429 | 503 | 502 | 504, _) => Retry::AfterBackoff,
                _ => Retry::Never,
            },
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Network(reason) => write!(formatter, "{reason}"),
            Failure::Status { code, .. } => write!(formatter, "the collector answered {code}"),
        }
    }
}

impl HttpExport {
    pub(crate) fn new(settings: &SignalExport, signal: Signal) -> Result<Self, SetupError> {
        Ok(HttpExport {
            client: http_client(settings, signal)?,
            endpoint: settings.endpoint.clone(),
            headers: header_map(&settings.headers, signal)?,
            gzip: settings.compression == Compression::Gzip,
            timeout: settings.timeout,
        })
    }

    /// Posts `body` (an encoded OTLP request) once.
    ///
    /// # Errors
    /// When the collector cannot be reached or answers with an error status.
    pub(crate) fn post_once(&self, body: Vec<u8>) -> Result<(), String> {
        let body = self.compressed(body)?;
        self.attempt(body, self.timeout).map_err(|failure| failure.to_string())
    }

    /// Posts `body`, retrying what OTLP/HTTP says may be retried until the export timeout.
    ///
    /// # Errors
    /// When the last attempt failed, or the first failure may not be retried.
    pub(crate) fn post(&self, body: Vec<u8>) -> Result<(), String> {
        let deadline = Instant::now() + self.timeout;
        let body = self.compressed(body)?;
        let mut delay = FIRST_RETRY_DELAY;
        let mut retries = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let failure = match self.attempt(body.clone(), remaining) {
                Ok(()) => return Ok(()),
                Err(failure) => failure,
            };
            let wait = match failure.retry() {
                Retry::Never => return Err(failure.to_string()),
                Retry::AfterBackoff => delay,
                Retry::After(asked) => asked.min(MAX_RETRY_DELAY),
            };
            if retries == MAX_RETRIES || Instant::now() + wait >= deadline {
                return Err(failure.to_string());
            }
            std::thread::sleep(wait);
            retries += 1;
            delay = (delay * 2).min(MAX_RETRY_DELAY);
        }
    }

    fn compressed(&self, body: Vec<u8>) -> Result<Vec<u8>, String> {
        if self.gzip {
            gzip_bytes(&body).map_err(|error| format!("compressing the request: {error}"))
        } else {
            Ok(body)
        }
    }

    fn attempt(&self, body: Vec<u8>, timeout: Duration) -> Result<(), Failure> {
        let mut post = self
            .client
            .post(self.endpoint.as_str())
            .headers(self.headers.clone())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .timeout(timeout);
        if self.gzip {
            post = post.header(http::header::CONTENT_ENCODING, "gzip");
        }
        let response = post.body(body).send().map_err(|error| Failure::Network(error.to_string()))?;
        let code = response.status();
        if code.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Err(Failure::Status { code, retry_after })
    }
}

/// `body` gzipped, at the fast level: export threads share the service's cores.
fn gzip_bytes(body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
    encoder.write_all(body)?;
    encoder.finish()
}
