//! Posting an encoded OTLP request over HTTP: the collector's URL, the configured headers,
//! gzip when asked for, and the retries OTLP/HTTP prescribes for a collector that is briefly
//! unreachable or overloaded (`otlp_retry`), all within the signal's export timeout.

use crate::error::SetupError;
use crate::telemetry::export_queue::Accepted;
use crate::telemetry::otlp::{header_map, http_client};
use crate::telemetry::otlp_config::{Compression, Signal, SignalExport};
use crate::telemetry::otlp_retry::{Retry, accepted, with_retries};
use std::time::{Duration, SystemTime};

/// What obs's exports call themselves, as OTLP exporters should.
const USER_AGENT: &str = concat!("OTel-OTLP-Exporter-Rust obs-runtime/", env!("CARGO_PKG_VERSION"));

/// One signal's OTLP/HTTP endpoint and how to reach it.
#[derive(Debug)]
pub(crate) struct HttpExport {
    client: reqwest::blocking::Client,
    endpoint: String,
    /// Content type, user agent, gzip's content encoding, then the configured headers (which win).
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

impl Failure {
    fn retry(&self) -> Retry {
        match self {
            Failure::Network(_) => Retry::AfterBackoff,
            Failure::Status { code, retry_after } => match (code.as_u16(), retry_after) {
                (429 | 503, Some(asked)) => Retry::AtLeast(*asked),
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
        let gzip = settings.compression == Compression::Gzip;
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/x-protobuf"));
        headers.insert(http::header::USER_AGENT, http::HeaderValue::from_static(USER_AGENT));
        if gzip {
            headers.insert(http::header::CONTENT_ENCODING, http::HeaderValue::from_static("gzip"));
        }
        headers.extend(header_map(&settings.headers, signal)?);
        Ok(HttpExport {
            client: http_client(settings, signal)?,
            endpoint: settings.endpoint.clone(),
            headers,
            gzip,
            timeout: settings.timeout,
        })
    }

    /// Posts `body` (an encoded OTLP request) once.
    ///
    /// # Errors
    /// When the collector cannot be reached or answers with an error status.
    pub(crate) fn post_once(&self, body: Vec<u8>) -> Result<Accepted, String> {
        let body = bytes::Bytes::from(self.compressed(body)?);
        self.attempt(body, self.timeout).map_err(|failure| failure.to_string())
    }

    /// Posts `body`, retrying what OTLP/HTTP says may be retried until the export timeout.
    ///
    /// # Errors
    /// When the last attempt failed, or the first failure may not be retried.
    pub(crate) fn post(&self, body: Vec<u8>) -> Result<Accepted, String> {
        let body = bytes::Bytes::from(self.compressed(body)?);
        with_retries(self.timeout, |remaining| {
            self.attempt(body.clone(), remaining).map_err(|failure| (failure.to_string(), failure.retry()))
        })
    }

    fn compressed(&self, body: Vec<u8>) -> Result<Vec<u8>, String> {
        if self.gzip {
            gzip_bytes(&body).map_err(|error| format!("compressing the request: {error}"))
        } else {
            Ok(body)
        }
    }

    fn attempt(&self, body: bytes::Bytes, timeout: Duration) -> Result<Accepted, Failure> {
        let response = self
            .client
            .post(self.endpoint.as_str())
            .headers(self.headers.clone())
            .timeout(timeout)
            .body(body)
            .send()
            .map_err(|error| Failure::Network(error.to_string()))?;
        let code = response.status();
        if !code.is_success() {
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| retry_after(value, SystemTime::now()));
            return Err(Failure::Status { code, retry_after });
        }
        // A body that cannot be read or parsed says nothing against the export: it was accepted.
        Ok(accepted(&response.bytes().unwrap_or_default()))
    }
}

/// How long a `Retry-After` value asks to wait: a number of seconds, or an HTTP date
/// (`Fri, 31 Dec 1999 23:59:59 GMT`) from `now`; `None` when it is neither.
fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = crate::telemetry::timestamp::parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or_default())
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
    use crate::telemetry::export_queue::Accepted;
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
        assert_eq!(result, Ok(Accepted::All));
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
        assert_eq!(exporter.post_once(b"metrics".to_vec()), Ok(Accepted::All));
        assert_eq!(received(&requests).len(), 2);
    }

    #[test]
    fn requests_carry_the_protobuf_type_the_configured_headers_and_gzip() {
        let (endpoint, requests) = collector(vec![]);
        let exporter = export(&endpoint, Compression::Gzip, &[("x-api-key", "secret")]);
        assert_eq!(exporter.post(b"spans and more spans".to_vec()), Ok(Accepted::All));
        let requests = received(&requests);
        let (head, body) = &requests[0];
        assert!(head.starts_with("post /v1/traces http/1.1"), "{head}");
        let user_agent = format!("user-agent: otel-otlp-exporter-rust obs-runtime/{}", env!("CARGO_PKG_VERSION"));
        for header in
            ["content-type: application/x-protobuf", "content-encoding: gzip", "x-api-key: secret", &user_agent]
        {
            assert!(head.contains(header), "{header} in {head}");
        }
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(body.as_slice()).read_to_end(&mut unzipped).expect("a gzip body");
        assert_eq!(unzipped, b"spans and more spans");
    }

    #[test]
    fn a_partial_success_says_how_many_were_rejected() {
        let mut answer = Vec::new();
        crate::telemetry::otlp_wire::message(&mut answer, 1, |partial| {
            crate::telemetry::otlp_wire::unsigned(partial, 1, 2);
            crate::telemetry::otlp_wire::bytes(partial, 2, b"attribute too long");
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let endpoint = format!("http://{}/v1/logs", listener.local_addr().expect("bound"));
        std::thread::spawn(move || {
            let Ok((stream, _)) = listener.accept() else { return };
            let Ok(reading) = stream.try_clone() else { return };
            let mut reader = BufReader::new(reading);
            let mut line = String::new();
            let mut length = 0;
            while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let _ = reader.read_exact(&mut vec![0; length]);
            let mut writer = stream;
            let _ = write!(writer, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", answer.len());
            let _ = writer.write_all(&answer);
        });
        let accepted = export(&endpoint, Compression::None, &[]).post(b"records".to_vec());
        assert_eq!(accepted, Ok(Accepted::AllBut { rejected: 2, reason: "attribute too long".to_owned() }));
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(super::retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(super::retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(super::retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(Duration::ZERO), "in the past");
        assert_eq!(super::retry_after("soon", now), None);
    }

    #[test]
    fn an_unreachable_collector_is_an_error() {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a port").port();
        let result = export(&format!("http://127.0.0.1:{port}/v1/traces"), Compression::None, &[]).post(b"x".to_vec());
        assert!(result.is_err(), "{result:?}");
    }
}
