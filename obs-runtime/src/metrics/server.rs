//! The `/metrics` listener: HTTP/1.1 with keep-alive on a one-thread async runtime of its own, so
//! a scrape never runs on (or waits for) the application's runtime and the application never
//! waits for a scrape.
//!
//! Idle, slow or half-open connections cannot starve a real scrape: each connection is a cheap
//! task, not a thread; a request head must arrive within [`HEAD_TIMEOUT`] of its first wait; and
//! past [`MAX_CONNECTIONS`] the connection idle the longest (one waiting for a request) is closed
//! to make room, so a flood of idle sockets evicts itself while scrapes keep being answered.

use crate::metrics::request_head::{self, Head, HeadError};
use crate::metrics::{ExpositionFormat, render};
use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;

/// A client gets this long, from the moment the server waits for it, to send a whole request
/// head; a slowloris sending a byte a second is closed when it runs out.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// A kept-alive connection may wait this long for its next request: longer than any sane scrape
/// interval, so Prometheus reuses its connection.
pub const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(120);
/// Open connections at most; past it the longest-idle one is closed for each new one.
pub const MAX_CONNECTIONS: usize = 256;
/// Writing a response may take this long before the connection is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bodies this large or larger are worth compressing when the client accepts gzip.
const GZIP_MIN_BYTES: usize = 1024;

/// A running `/metrics` listener; dropping it stops the listener and waits for it.
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    stop: Arc<Notify>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `addr` and serves `GET /metrics` (and `HEAD`) until dropped.
    ///
    /// # Errors
    /// The bind error, when the address is in use or not local, or the listener's thread could
    /// not start.
    ///
    /// ```
    /// let server = obs_runtime::metrics::MetricsServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    /// assert_ne!(server.local_addr().port(), 0);
    /// ```
    pub fn start(addr: SocketAddr) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
        let stop = Arc::new(Notify::new());
        let thread = std::thread::Builder::new().name("obs-metrics".into()).spawn({
            let stop = Arc::clone(&stop);
            move || runtime.block_on(accept_until(listener, &stop))
        })?;
        Ok(MetricsServer { local_addr, stop, thread: Some(thread) })
    }

    /// The address actually bound (useful with port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One open connection, as the cap sees it.
#[derive(Debug)]
struct Connection {
    id: u64,
    /// When it started waiting for a request head; `None` while a request is being answered.
    idle_since: Mutex<Option<Instant>>,
    close: Notify,
}

impl Connection {
    fn set_idle(&self, since: Option<Instant>) {
        *self.idle_since.lock().unwrap_or_else(PoisonError::into_inner) = since;
    }

    fn idle_since(&self) -> Option<Instant> {
        *self.idle_since.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The open connections, for the cap.
#[derive(Debug, Default)]
struct Connections {
    open: Mutex<Vec<Arc<Connection>>>,
    next_id: AtomicU64,
}

impl Connections {
    /// Registers a new connection, closing the longest-idle one when at the cap; `None` when
    /// every open connection is busy answering (the new one is refused).
    fn admit(&self) -> Option<Arc<Connection>> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.len() >= MAX_CONNECTIONS {
            let longest_idle = open
                .iter()
                .enumerate()
                .filter_map(|(index, connection)| connection.idle_since().map(|since| (since, index)))
                .min()?;
            let evicted = open.swap_remove(longest_idle.1);
            evicted.close.notify_one();
        }
        let connection = Arc::new(Connection {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            idle_since: Mutex::new(Some(Instant::now())),
            close: Notify::new(),
        });
        open.push(Arc::clone(&connection));
        Some(connection)
    }

    fn remove(&self, id: u64) {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).retain(|connection| connection.id != id);
    }
}

async fn accept_until(listener: std::net::TcpListener, stop: &Notify) {
    let Ok(listener) = TcpListener::from_std(listener) else { return };
    let connections = Arc::new(Connections::default());
    loop {
        let accepted = tokio::select! {
            () = stop.notified() => return,
            accepted = listener.accept() => accepted,
        };
        // Accept errors (EMFILE, a reset before accept) concern one connection, not the listener.
        let Ok((stream, _)) = accepted else { continue };
        let Some(connection) = connections.admit() else { continue };
        let connections = Arc::clone(&connections);
        tokio::spawn(async move {
            tokio::select! {
                _ = serve(stream, &connection) => {}
                () = connection.close.notified() => {}
            }
            connections.remove(connection.id);
        });
    }
}

/// Answers requests on one connection until the client closes it, asks to, or times out.
async fn serve(mut stream: TcpStream, connection: &Connection) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut buffer = Vec::with_capacity(1024);
    let mut wait = HEAD_TIMEOUT;
    loop {
        connection.set_idle(Some(Instant::now()));
        let head = match read_head(&mut stream, &mut buffer, wait).await? {
            Ok(head) => head,
            Err(ReadEnd::Closed) => return Ok(()),
            Err(ReadEnd::Invalid(reason)) => {
                let response = Response::text("400 Bad Request", reason);
                return write(&mut stream, &response.bytes(false, false)).await;
            }
        };
        connection.set_idle(None);
        let response = respond(&head);
        let keep_alive = head.keep_alive();
        write(&mut stream, &response.bytes(head.method == "HEAD", keep_alive)).await?;
        if !keep_alive {
            return Ok(());
        }
        // The next request's first byte may take as long as a scrape interval.
        wait = KEEP_ALIVE_TIMEOUT;
    }
}

/// Why no request head was read.
enum ReadEnd {
    /// The client closed the connection or timed out between requests.
    Closed,
    /// A malformed, oversized or unfinished head: answered with 400.
    Invalid(&'static str),
}

/// Reads one request head into `buffer` (which keeps any bytes after it). The first byte may take
/// `wait`; the whole head then must arrive within [`HEAD_TIMEOUT`].
async fn read_head(stream: &mut TcpStream, buffer: &mut Vec<u8>, wait: Duration) -> io::Result<Result<Head, ReadEnd>> {
    let mut deadline = Instant::now() + wait;
    let mut started = !buffer.is_empty();
    if started {
        deadline = Instant::now() + HEAD_TIMEOUT;
    }
    loop {
        match request_head::parse(buffer) {
            Ok(Some((head, used))) => {
                buffer.drain(..used);
                return Ok(Ok(head));
            }
            Ok(None) => {}
            Err(HeadError::TooLarge) => return Ok(Err(ReadEnd::Invalid("request head too large\n"))),
            Err(HeadError::Malformed) => return Ok(Err(ReadEnd::Invalid("malformed request\n"))),
        }
        let mut chunk = [0_u8; 1024];
        let read = match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(read) => read?,
            // Silence before the first byte ends a kept-alive connection quietly; a head left
            // unfinished is a slow or stuck client.
            Err(_) if !started => return Ok(Err(ReadEnd::Closed)),
            Err(_) => return Ok(Err(ReadEnd::Invalid("request head not received in time\n"))),
        };
        if read == 0 {
            return Ok(Err(ReadEnd::Closed));
        }
        if !started {
            started = true;
            deadline = Instant::now() + HEAD_TIMEOUT;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

async fn write(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    match tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(bytes)).await {
        Ok(written) => written,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "client not reading the response")),
    }
}

/// A response before its framing: status line, headers, body.
struct Response {
    status: &'static str,
    content_type: &'static str,
    extra_headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
}

impl Response {
    fn text(status: &'static str, body: &str) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            extra_headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    /// The bytes on the wire; a `HEAD` gets the headers a `GET` would, without the body.
    fn bytes(&self, head_only: bool, keep_alive: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
            self.status,
            self.content_type,
            self.body.len(),
            if keep_alive { "keep-alive" } else { "close" }
        );
        for (name, value) in &self.extra_headers {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !head_only {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }
}

fn respond(head: &Head) -> Response {
    if head.path != "/metrics" {
        return Response::text("404 Not Found", "metrics are served at /metrics\n");
    }
    if head.method != "GET" && head.method != "HEAD" {
        let mut response = Response::text("405 Method Not Allowed", "use GET or HEAD\n");
        response.extra_headers.push(("Allow", "GET, HEAD"));
        return response;
    }
    let format = ExpositionFormat::negotiate(head.accept.as_deref());
    let body = render(format).into_bytes();
    let mut response = Response {
        status: "200 OK",
        content_type: format.content_type(),
        extra_headers: vec![("Vary", "Accept, Accept-Encoding")],
        body,
    };
    if head.accepts_gzip() && response.body.len() >= GZIP_MIN_BYTES {
        if let Ok(compressed) = gzip(&response.body) {
            response.body = compressed;
            response.extra_headers.push(("Content-Encoding", "gzip"));
        }
    }
    response
}

fn gzip(body: &[u8]) -> io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
    encoder.write_all(body)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::MetricsServer;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    fn exchange(server: &MetricsServer, request: &str) -> String {
        let mut stream = TcpStream::connect(server.local_addr()).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    #[test]
    fn serves_negotiated_formats_and_refuses_the_rest() {
        let server = MetricsServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let close = "Connection: close\r\n";
        let openmetrics = exchange(
            &server,
            &format!("GET /metrics HTTP/1.1\r\n{close}Accept: application/openmetrics-text;version=1.0.0\r\n\r\n"),
        );
        assert!(openmetrics.starts_with("HTTP/1.1 200 OK\r\n"), "{openmetrics}");
        assert!(openmetrics.contains("Content-Type: application/openmetrics-text; version=1.0.0"));
        assert!(openmetrics.ends_with("# EOF\n"));
        let text = exchange(&server, &format!("GET /metrics HTTP/1.1\r\n{close}\r\n"));
        assert!(text.contains("Content-Type: text/plain; version=0.0.4"));
        assert!(!text.contains("# EOF"));
        assert!(exchange(&server, &format!("GET / HTTP/1.1\r\n{close}\r\n")).starts_with("HTTP/1.1 404"));
        let post = exchange(&server, &format!("POST /metrics HTTP/1.1\r\n{close}\r\n"));
        assert!(post.starts_with("HTTP/1.1 405") && post.contains("Allow: GET, HEAD\r\n"), "{post}");
        assert!(exchange(&server, "garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
        let head = exchange(&server, &format!("HEAD /metrics HTTP/1.1\r\n{close}\r\n"));
        let (headers, body) = head.split_once("\r\n\r\n").unwrap();
        assert!(body.is_empty() && !headers.contains("Content-Length: 0\r\n"), "HEAD has GET's length: {head}");
    }

    #[test]
    fn a_kept_alive_connection_serves_request_after_request() {
        let server = MetricsServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut stream = TcpStream::connect(server.local_addr()).unwrap();
        for _ in 0..3 {
            stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut head = Vec::new();
            let mut byte = [0_u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                stream.read_exact(&mut byte).unwrap();
                head.push(byte[0]);
            }
            let head = String::from_utf8(head).unwrap();
            assert!(head.starts_with("HTTP/1.1 200 OK") && head.contains("Connection: keep-alive"), "{head}");
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("Content-Length: "))
                .and_then(|value| value.trim().parse().ok())
                .unwrap();
            let mut body = vec![0_u8; length];
            stream.read_exact(&mut body).unwrap();
        }
    }
}
