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

#[cfg(test)]
mod tests {
    use super::HttpExport;
    use crate::telemetry::otlp_config::{Compression, OtlpProtocol, Signal, SignalExport, TlsFiles};
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Duration;

    /// One request as the collector received it: its head (request line and headers) and body.
    type Received = (String, Vec<u8>);

    /// A collector on a real socket answering the requests it gets, in order, with `answers`
    /// (a status, then extra header lines), then with 200; it keeps what it received.
    fn collector(answers: Vec<(&'static str, &'static str)>) -> (String, Arc<Mutex<Vec<Received>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let endpoint = format!("http://{}/v1/traces", listener.local_addr().expect("bound"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&received);
        let mut answers = answers.into_iter();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let Ok(reading) = stream.try_clone() else { return };
                let mut reader = BufReader::new(reading);
                let mut writer = stream;
                'requests: loop {
                    let (mut head, mut length) = (String::new(), 0);
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            break 'requests;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                        head.push_str(&line.to_ascii_lowercase());
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        break;
                    }
                    kept.lock().unwrap_or_else(PoisonError::into_inner).push((head, body));
                    let (status, headers) = answers.next().unwrap_or(("200 OK", ""));
                    let _ = write!(writer, "HTTP/1.1 {status}\r\n{headers}content-length: 0\r\n\r\n");
                }
            }
        });
        (endpoint, received)
    }

    fn export(endpoint: &str, compression: Compression, headers: &[(&str, &str)]) -> HttpExport {
        let settings = SignalExport {
            endpoint: endpoint.to_owned(),
            protocol: OtlpProtocol::HttpProtobuf,
            headers: headers.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect(),
            timeout: Duration::from_secs(5),
            compression,
            tls: TlsFiles::default(),
        };
        HttpExport::new(&settings, Signal::Traces).expect("an HTTP exporter")
    }

    fn received(requests: &Arc<Mutex<Vec<Received>>>) -> Vec<Received> {
        requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    #[test]
    fn overloaded_and_unavailable_answers_are_retried_until_accepted() {
        let (endpoint, requests) =
            collector(vec![("503 Service Unavailable", ""), ("429 Too Many Requests", "retry-after: 0\r\n")]);
        let result = export(&endpoint, Compression::None, &[]).post(b"spans".to_vec());
        assert_eq!(result, Ok(()));
        let requests = received(&requests);
        assert_eq!(requests.len(), 3, "two retries, then accepted");
        assert!(requests.iter().all(|(_, body)| body == b"spans"), "every attempt carries the whole request");
    }

    #[test]
    fn two_retries_at_most() {
        let (endpoint, requests) =
            collector(vec![("502 Bad Gateway", ""), ("504 Gateway Timeout", ""), ("503 Service Unavailable", "")]);
        let result = export(&endpoint, Compression::None, &[]).post(b"spans".to_vec());
        assert_eq!(result, Err("the collector answered 503 Service Unavailable".to_owned()));
        assert_eq!(received(&requests).len(), 3);
    }

    #[test]
    fn a_refusal_that_may_not_be_retried_is_not() {
        let (endpoint, requests) = collector(vec![("400 Bad Request", "")]);
        let exporter = export(&endpoint, Compression::None, &[]);
        assert_eq!(exporter.post(b"spans".to_vec()), Err("the collector answered 400 Bad Request".to_owned()));
        assert_eq!(received(&requests).len(), 1);
        // The metrics pusher's single attempt: one request, whatever the answer.
        assert_eq!(exporter.post_once(b"metrics".to_vec()), Ok(()));
        assert_eq!(received(&requests).len(), 2);
    }

    #[test]
    fn requests_carry_the_protobuf_type_the_configured_headers_and_gzip() {
        let (endpoint, requests) = collector(vec![]);
        let exporter = export(&endpoint, Compression::Gzip, &[("x-api-key", "secret")]);
        assert_eq!(exporter.post(b"spans and more spans".to_vec()), Ok(()));
        let requests = received(&requests);
        let (head, body) = &requests[0];
        assert!(head.starts_with("post /v1/traces http/1.1"), "{head}");
        for header in ["content-type: application/x-protobuf", "content-encoding: gzip", "x-api-key: secret"] {
            assert!(head.contains(header), "{header} in {head}");
        }
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(body.as_slice()).read_to_end(&mut unzipped).expect("a gzip body");
        assert_eq!(unzipped, b"spans and more spans");
    }

    #[test]
    fn an_unreachable_collector_is_an_error() {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a port").port();
        let result = export(&format!("http://127.0.0.1:{port}/v1/traces"), Compression::None, &[]).post(b"x".to_vec());
        assert!(result.is_err(), "{result:?}");
    }
}
