//! Stand-ins for the HTTP APIs Alertmanager notifies: a tiny HTTP/1.1 server on 127.0.0.1:0 that
//! records every request and answers as the real service does — Slack's incoming webhook (`200 ok`)
//! and PagerDuty's Events API v2 (`202` with a JSON status).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The request target, e.g. `/v2/enqueue`.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Recorded {
    /// The body parsed as JSON (`Null` when it is not JSON).
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// The reply a stand-in sends to every request.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: &'static str,
    /// The `Content-Type` of `body`.
    pub content_type: &'static str,
    /// The body.
    pub body: &'static str,
}

/// Slack's incoming-webhook answer to an accepted message.
pub const SLACK_OK: Reply = Reply { status: 200, reason: "OK", content_type: "text/html", body: "ok" };

/// PagerDuty Events API v2's answer to an accepted event.
pub const PAGERDUTY_ACCEPTED: Reply = Reply {
    status: 202,
    reason: "Accepted",
    content_type: "application/json",
    body: r#"{"status":"success","message":"Event processed","dedup_key":"recorded-by-test"}"#,
};

/// A recording HTTP server; stops accepting on drop.
pub struct HttpRecorder {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpRecorder {
    /// Listens on 127.0.0.1 (port 0) and answers every request with `reply`.
    ///
    /// # Panics
    /// When it cannot bind.
    #[must_use]
    pub fn start(reply: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a stand-in receiver");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (Arc::clone(&requests), Arc::clone(&stop));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let requests = Arc::clone(&requests);
                    std::thread::spawn(move || serve(stream, reply, &requests));
                }
            })
        };
        HttpRecorder { addr, requests, stop, thread: Some(thread) }
    }

    /// Where it listens.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port><path>`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request received so far, in arrival order.
    #[must_use]
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for HttpRecorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves requests on one connection (keep-alive honoured) until the client closes it.
fn serve(stream: TcpStream, reply: Reply, requests: &Mutex<Vec<Recorded>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    while let Some(recorded) = read_request(&mut reader) {
        let close =
            recorded.headers.iter().any(|(name, value)| name == "connection" && value.eq_ignore_ascii_case("close"));
        requests.lock().unwrap_or_else(PoisonError::into_inner).push(recorded);
        let head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}\r\n",
            reply.status,
            reply.reason,
            reply.content_type,
            reply.body.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        if writer.write_all(head.as_bytes()).and_then(|()| writer.write_all(reply.body.as_bytes())).is_err() || close {
            return;
        }
    }
}

fn read_request(reader: &mut impl BufRead) -> Option<Recorded> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let header = |wanted: &str| headers.iter().find(|(name, _)| name == wanted).map(|(_, value)| value.as_str());
    let body = if header("transfer-encoding").is_some_and(|value| value.contains("chunked")) {
        read_chunked(reader)?
    } else {
        let length: usize = header("content-length").map_or(Some(0), |value| value.parse().ok())?;
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        body
    };
    Some(Recorded { method, path, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

fn read_chunked(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).ok()?;
        let size = usize::from_str_radix(size_line.trim().split(';').next()?, 16).ok()?;
        if size == 0 {
            // The empty trailer section ends with one blank line.
            let mut trailer = String::new();
            reader.read_line(&mut trailer).ok()?;
            return Some(body);
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        body.extend_from_slice(&chunk[..size]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_client::request;

    #[test]
    fn records_requests_and_answers_like_the_real_api() {
        let pagerduty = HttpRecorder::start(PAGERDUTY_ACCEPTED);
        let response =
            request(pagerduty.addr(), "POST", "/v2/enqueue", &[("Content-Type", "application/json")], r#"{"a":1}"#)
                .expect("post");
        assert_eq!(response.status, 202);
        assert!(response.body.contains("\"success\""));
        let recorded = pagerduty.requests();
        assert_eq!(recorded.len(), 1);
        assert_eq!((recorded[0].method.as_str(), recorded[0].path.as_str()), ("POST", "/v2/enqueue"));
        assert_eq!(recorded[0].json()["a"], 1);
    }
}
