//! The demo's `/metrics` listener keeps answering real scrapes while idle and slowloris
//! connections pile up (more than its connection cap), keeps Prometheus's connection alive, and
//! serves gzip that Python's `prometheus_client` parses; the process's thread count stays flat.

use obs_tests::demo::Demo;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const IDLE_CONNECTIONS: usize = 200;
const SLOWLORIS_CONNECTIONS: usize = 20;
const SCRAPES: usize = 50;
/// Beyond the listener's cap of 256 open connections, with the 220 above.
const MORE_IDLE_CONNECTIONS: usize = 100;
/// Only to notice a hang: the claim is that every scrape is answered, not how fast.
const HANG: Duration = Duration::from_secs(20);
const OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0";

/// A field of `/proc/<pid>/status`, such as `Threads` or `VmRSS` (in kB).
fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {status}"))
}

/// One request on a fresh connection: the status code and the raw body.
fn exchange(demo: &Demo, headers: &str) -> (u16, Vec<u8>, String) {
    let mut stream = TcpStream::connect_timeout(&demo.metrics, HANG).expect("connect");
    stream.set_read_timeout(Some(HANG)).expect("timeout");
    let request = format!("GET /metrics HTTP/1.1\r\nHost: obs\r\nConnection: close\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("the scrape is answered");
    let split = response.windows(4).position(|window| window == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status code");
    (status, response[split + 4..].to_vec(), head)
}

#[test]
fn scrapes_are_answered_while_idle_and_slow_connections_pile_up() {
    let demo = Demo::start();
    let threads_before = proc_status(demo.pid(), "Threads");
    let memory_before = proc_status(demo.pid(), "VmRSS");

    let idle: Vec<TcpStream> =
        (0..IDLE_CONNECTIONS).map(|_| TcpStream::connect(demo.metrics).expect("idle connection")).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let slowloris: Vec<_> = (0..SLOWLORIS_CONNECTIONS)
        .map(|_| {
            let (addr, stop) = (demo.metrics, Arc::clone(&stop));
            std::thread::spawn(move || {
                let Ok(mut stream) = TcpStream::connect(addr) else { return };
                // One byte of a never-ending header a second, until told to stop or cut off.
                for byte in b"GET /metrics HTTP/1.1\r\nX-Slow: ".iter().chain(std::iter::repeat(&b'a')).take(60) {
                    if stop.load(Ordering::Relaxed) || stream.write_all(&[*byte]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
        })
        .collect();

    let mut threads_during = 0;
    for scrape in 0..SCRAPES {
        let (status, body, head) = exchange(&demo, &format!("Accept: {OPENMETRICS}\r\n"));
        assert_eq!(status, 200, "scrape {scrape}: {head}");
        assert!(body.ends_with(b"# EOF\n"), "scrape {scrape} is a whole exposition");
        threads_during = threads_during.max(proc_status(demo.pid(), "Threads"));
        // Spread over longer than the head timeout, so the slowloris connections are cut off.
        std::thread::sleep(Duration::from_millis(150));
    }
    let more_idle: Vec<TcpStream> =
        (0..MORE_IDLE_CONNECTIONS).map(|_| TcpStream::connect(demo.metrics).expect("more idle connections")).collect();
    let (status, _, head) = exchange(&demo, "");
    assert_eq!(status, 200, "past the connection cap the idle ones make room: {head}");
    let memory_during = proc_status(demo.pid(), "VmRSS");

    stop.store(true, Ordering::Relaxed);
    for thread in slowloris {
        thread.join().expect("slowloris thread");
    }
    drop((idle, more_idle));
    assert!(
        threads_during <= threads_before + 2,
        "connections cost no threads: {threads_before} before, {threads_during} under load"
    );
    assert!(
        memory_during < memory_before + 64 * 1024,
        "memory stays bounded: {memory_before} kB before, {memory_during} kB under load"
    );
    demo.stop(Duration::from_mins(1));
}

#[test]
fn a_gzip_scrape_is_a_valid_gzip_exposition() {
    let demo = Demo::start();
    let (status, body, head) = exchange(&demo, &format!("Accept: {OPENMETRICS}\r\nAccept-Encoding: gzip\r\n"));
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("\r\nContent-Encoding: gzip"), "{head}");
    assert!(body.starts_with(&[0x1f, 0x8b]), "a gzip stream");
    let script = "import gzip, sys\n\
from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
text = gzip.decompress(sys.stdin.buffer.read()).decode()\n\
families = list(text_string_to_metric_families(text))\n\
print(len(families), sorted(f.name for f in families)[0])\n";
    let mut python = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    python.stdin.take().expect("stdin").write_all(&body).expect("pipe the gzip body");
    let output = python.wait_with_output().expect("python finishes");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "prometheus_client rejects it: {}", String::from_utf8_lossy(&output.stderr));
    let families: usize = stdout.split_whitespace().next().and_then(|count| count.parse().ok()).expect("a count");
    assert!(families >= 10, "the whole exposition: {stdout}");
    demo.stop(Duration::from_mins(1));
}

#[test]
fn a_loopback_listener_in_a_container_is_warned_about() {
    let demo = Demo::start_with(&[("KUBERNETES_SERVICE_HOST", "10.96.0.1")]);
    let port = demo.metrics.port();
    let lines = demo.stop(Duration::from_mins(1));
    let warning = lines
        .iter()
        .find(|line| line["event"] == "metrics_on_loopback")
        .unwrap_or_else(|| panic!("no loopback warning: {lines:#?}"));
    assert_eq!(warning["level"], "WARN");
    assert_eq!(warning["target"], "obs::system");
    assert_eq!(warning["container"], "KUBERNETES_SERVICE_HOST is set");
    let message = warning["message"].as_str().expect("message");
    assert!(message.contains(&format!("set OBS_METRICS_ADDR=0.0.0.0:{port}")), "{message}");
}
