//! A minimal SMTP server that accepts and records mail, for Alertmanager's email receiver:
//! greeting, EHLO/HELO, MAIL FROM, RCPT TO, DATA (dot-terminated, dot-unstuffed), RSET, NOOP,
//! QUIT. It offers no STARTTLS and no AUTH, so the sender must not require TLS.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// One accepted message.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    /// The `HELO`/`EHLO` name the client gave.
    pub helo: String,
    /// The reverse path of `MAIL FROM:<...>`.
    pub from: String,
    /// The forward paths of every `RCPT TO:<...>`.
    pub to: Vec<String>,
    /// The message as sent after `DATA` (headers and body), dot-unstuffed, CRLF line ends.
    pub data: String,
}

impl Mail {
    /// The first header called `name` (case-insensitive), unfolded.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = found.as_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((key, value)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                found = Some(value.trim().to_owned());
            }
        }
        found
    }

    /// The whole message with quoted-printable soft line breaks and `=XX` escapes decoded, for
    /// searching the text of the (HTML or plain) body.
    #[must_use]
    pub fn decoded(&self) -> String {
        decode_quoted_printable(&self.data)
    }
}

/// Decodes quoted-printable text (RFC 2045): `=\r\n` joins lines, `=XX` is a byte.
#[must_use]
pub fn decode_quoted_printable(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'=' {
            if bytes[index + 1..].starts_with(b"\r\n") {
                index += 3;
                continue;
            }
            if bytes[index + 1..].starts_with(b"\n") {
                index += 2;
                continue;
            }
            let hex = bytes.get(index + 1..index + 3).and_then(|pair| std::str::from_utf8(pair).ok());
            if let Some(byte) = hex.and_then(|pair| u8::from_str_radix(pair, 16).ok()) {
                out.push(byte);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A recording SMTP server on 127.0.0.1:0; stops accepting on drop.
pub struct SmtpSink {
    addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
    transcript: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SmtpSink {
    /// Starts listening.
    ///
    /// # Panics
    /// When it cannot bind.
    #[must_use]
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let addr = listener.local_addr().expect("local addr");
        let mails = Arc::new(Mutex::new(Vec::new()));
        let transcript = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (mails, transcript, stop) = (Arc::clone(&mails), Arc::clone(&transcript), Arc::clone(&stop));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (mails, transcript) = (Arc::clone(&mails), Arc::clone(&transcript));
                    std::thread::spawn(move || {
                        let _ = session(stream, &mails, &transcript);
                    });
                }
            })
        };
        SmtpSink { addr, mails, transcript, stop, thread: Some(thread) }
    }

    /// Where it listens (`host:port`, the form of Alertmanager's `smtp_smarthost`).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The messages accepted so far.
    #[must_use]
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Every command line received (not the message data), for failure messages.
    #[must_use]
    pub fn transcript(&self) -> Vec<String> {
        self.transcript.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The path inside `MAIL FROM:<path> ...` or `RCPT TO:<path>`.
fn angle_path(argument: &str) -> String {
    match (argument.find('<'), argument.find('>')) {
        (Some(open), Some(close)) if open < close => argument[open + 1..close].to_owned(),
        _ => argument.split_whitespace().next().unwrap_or_default().to_owned(),
    }
}

fn session(stream: TcpStream, mails: &Mutex<Vec<Mail>>, transcript: &Mutex<Vec<String>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut reply = |text: &str| writer.write_all(format!("{text}\r\n").as_bytes());
    reply("220 obs-smtp-sink ESMTP ready")?;
    let mut mail = Mail::default();
    let mut in_transaction = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        transcript.lock().unwrap_or_else(PoisonError::into_inner).push(line.clone());
        let (verb, argument) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                argument.trim().clone_into(&mut mail.helo);
                reply("250-obs-smtp-sink greets you")?;
                reply("250-8BITMIME")?;
                reply("250 SIZE 10485760")?;
            }
            "HELO" => {
                argument.trim().clone_into(&mut mail.helo);
                reply("250 obs-smtp-sink")?;
            }
            "MAIL" => {
                mail.from = angle_path(argument);
                mail.to.clear();
                in_transaction = true;
                reply("250 2.1.0 Ok")?;
            }
            "RCPT" => {
                if in_transaction {
                    mail.to.push(angle_path(argument));
                    reply("250 2.1.5 Ok")?;
                } else {
                    reply("503 5.5.1 Bad sequence of commands")?;
                }
            }
            "DATA" => {
                if mail.to.is_empty() {
                    reply("554 5.5.1 No valid recipients")?;
                    continue;
                }
                reply("354 End data with <CR><LF>.<CR><LF>")?;
                let mut data = String::new();
                loop {
                    let mut data_line = String::new();
                    if reader.read_line(&mut data_line)? == 0 {
                        return Ok(());
                    }
                    let content = data_line.trim_end_matches(['\r', '\n']);
                    if content == "." {
                        break;
                    }
                    data.push_str(content.strip_prefix('.').unwrap_or(content));
                    data.push_str("\r\n");
                }
                let accepted = Mail { data, ..mail.clone() };
                mails.lock().unwrap_or_else(PoisonError::into_inner).push(accepted);
                mail.from.clear();
                mail.to.clear();
                in_transaction = false;
                reply("250 2.0.0 Ok: queued")?;
            }
            "RSET" => {
                mail.from.clear();
                mail.to.clear();
                in_transaction = false;
                reply("250 2.0.0 Ok")?;
            }
            "NOOP" => reply("250 2.0.0 Ok")?,
            "QUIT" => {
                reply("221 2.0.0 Bye")?;
                return Ok(());
            }
            _ => reply("502 5.5.2 Command not recognized")?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn expect_reply(reader: &mut impl BufRead, code: &str) {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("reply");
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) == Some(&b' ') {
                return;
            }
        }
    }

    #[test]
    fn records_a_dot_stuffed_message_and_decodes_quoted_printable() {
        let sink = SmtpSink::start();
        let stream = TcpStream::connect(sink.addr()).expect("connect");
        let mut writer = stream.try_clone().expect("clone");
        let mut reader = BufReader::new(stream);
        expect_reply(&mut reader, "220");
        for (command, code) in [
            ("EHLO test.local", "250"),
            ("RCPT TO:<early@example.com>", "503"),
            ("MAIL FROM:<am@example.com> BODY=8BITMIME", "250"),
            ("RCPT TO:<oncall@example.com>", "250"),
            ("DATA", "354"),
        ] {
            writer.write_all(format!("{command}\r\n").as_bytes()).expect("send");
            expect_reply(&mut reader, code);
        }
        let data = "Subject: [FIRING:1] Alert\r\n  folded\r\n\r\n..leading dot\r\nsoft=\r\nbreak =3D ok\r\n.\r\n";
        writer.write_all(data.as_bytes()).expect("data");
        expect_reply(&mut reader, "250");
        writer.write_all(b"QUIT\r\n").expect("quit");
        expect_reply(&mut reader, "221");
        let mut rest = String::new();
        reader.read_to_string(&mut rest).expect("closed");

        let mails = sink.mails();
        assert_eq!(mails.len(), 1);
        let mail = &mails[0];
        assert_eq!((mail.helo.as_str(), mail.from.as_str()), ("test.local", "am@example.com"));
        assert_eq!(mail.to, ["oncall@example.com"]);
        assert_eq!(mail.header("subject").as_deref(), Some("[FIRING:1] Alert folded"));
        assert!(mail.data.contains("\r\n.leading dot\r\n"), "{:?}", mail.data);
        assert!(mail.decoded().contains("softbreak = ok"), "{:?}", mail.decoded());
    }
}
