//! The `/metrics` listener: a small HTTP/1.1 server on its own threads, so a scrape never runs on
//! (or waits for) the application's async runtime, and the application never waits for a scrape.

use crate::metrics::{ExpositionFormat, render};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A slow or stuck client gets this long to send its request line and headers.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Scrapes answered at once; more are refused with 503 rather than queued without bound.
const MAX_CONCURRENT_SCRAPES: usize = 4;
/// Longest request head accepted; a scrape request is a few hundred bytes.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// A running `/metrics` listener; dropping it stops the listener and waits for it.
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `addr` and serves `GET /metrics` until dropped.
    ///
    /// # Errors
    /// The bind error, when the address is in use or not local.
    ///
    /// ```
    /// let server = obs_runtime::metrics::MetricsServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    /// assert_ne!(server.local_addr().port(), 0);
    /// ```
    pub fn start(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let acceptor = std::thread::Builder::new().name("obs-metrics".into()).spawn({
            let stopping = Arc::clone(&stopping);
            move || accept_loop(&listener, &stopping)
        })?;
        Ok(MetricsServer { local_addr, stopping, acceptor: Some(acceptor) })
    }

    /// The address actually bound (useful with port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // accept() has no timeout; a connection of our own wakes it to see the flag.
        let _ = TcpStream::connect_timeout(&self.local_addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, stopping: &AtomicBool) {
    let in_flight = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut stream) = stream else { continue };
        if in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_CONCURRENT_SCRAPES {
            in_flight.fetch_sub(1, Ordering::SeqCst);
            let _ = respond(&mut stream, "503 Service Unavailable", "text/plain", "too many concurrent scrapes\n");
            continue;
        }
        let in_flight_here = Arc::clone(&in_flight);
        let spawned = std::thread::Builder::new().name("obs-scrape".into()).spawn(move || {
            let _ = serve(stream);
            in_flight_here.fetch_sub(1, Ordering::SeqCst);
        });
        if spawned.is_err() {
            in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// The parts of a request this endpoint looks at.
#[derive(Debug, PartialEq)]
struct RequestHead {
    method: String,
    path: String,
    accept: Option<String>,
}

fn read_head(reader: impl BufRead) -> io::Result<RequestHead> {
    let mut reader = reader.take(MAX_HEAD_BYTES as u64);
    let mut line = String::new();
    let mut next_line = |line: &mut String| -> io::Result<()> {
        line.clear();
        let read = reader.read_line(line)?;
        if read == 0 || !line.ends_with('\n') {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "incomplete or oversized request head"));
        }
        Ok(())
    };
    next_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default().to_owned();
    let mut accept = None;
    loop {
        next_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.trim().eq_ignore_ascii_case("accept") {
                accept = Some(value.trim().to_owned());
            }
        }
    }
    Ok(RequestHead { method, path, accept })
}

fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    let Ok(head) = read_head(BufReader::new(&stream)) else {
        return respond(&mut stream, "400 Bad Request", "text/plain", "malformed request\n");
    };
    if head.path != "/metrics" {
        return respond(&mut stream, "404 Not Found", "text/plain", "metrics are served at /metrics\n");
    }
    if head.method != "GET" && head.method != "HEAD" {
        return respond(&mut stream, "405 Method Not Allowed", "text/plain", "use GET\n");
    }
    let format = ExpositionFormat::negotiate(head.accept.as_deref());
    let body = render(format);
    let body = if head.method == "HEAD" { String::new() } else { body };
    respond(&mut stream, "200 OK", format.content_type(), &body)
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &str) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::{MetricsServer, RequestHead, read_head};
    use std::io::{Read, Write};
    use std::net::TcpStream;

    #[test]
    fn parses_request_heads() {
        let raw = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nACCEPT: application/openmetrics-text\r\n\r\n";
        let head = read_head(raw.as_bytes()).unwrap();
        assert_eq!(
            head,
            RequestHead {
                method: "GET".into(),
                path: "/metrics".into(),
                accept: Some("application/openmetrics-text".into())
            }
        );
        assert!(read_head("GET /metrics HTTP/1.1\r\nHost: a\r\n".as_bytes()).is_err());
    }

    fn get(server: &MetricsServer, request: &str) -> String {
        let mut stream = TcpStream::connect(server.local_addr()).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    #[test]
    fn serves_negotiated_formats_and_refuses_the_rest() {
        let server = MetricsServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let openmetrics =
            get(&server, "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0\r\n\r\n");
        assert!(openmetrics.starts_with("HTTP/1.1 200 OK\r\n"), "{openmetrics}");
        assert!(openmetrics.contains("Content-Type: application/openmetrics-text; version=1.0.0"));
        assert!(openmetrics.ends_with("# EOF\n"));
        let text = get(&server, "GET /metrics HTTP/1.1\r\n\r\n");
        assert!(text.contains("Content-Type: text/plain; version=0.0.4"));
        assert!(!text.contains("# EOF"));
        assert!(get(&server, "GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(get(&server, "POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
        assert!(get(&server, "garbage\r\n").starts_with("HTTP/1.1 400"));
    }
}
