//! A live OTLP/HTTP receiver that keeps nothing: it reads each export request and answers 200,
//! so the benchmarks measure the exporting side's cost with a real connection, not a mock.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

/// Starts the sink on a thread, on a free port of 127.0.0.1; it runs until the process ends.
///
/// # Panics
/// When no port can be bound.
#[must_use]
pub fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the OTLP sink");
    let addr = listener.local_addr().expect("the sink's address");
    std::thread::spawn(move || serve(&listener));
    addr
}

/// Answers every request on `listener`, one thread per connection.
pub fn serve(listener: &TcpListener) {
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || drain(stream));
    }
}

fn drain(stream: TcpStream) {
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0_usize;
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err()
            || writer
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
                .is_err()
        {
            return;
        }
    }
}
