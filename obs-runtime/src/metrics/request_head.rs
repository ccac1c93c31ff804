//! The HTTP/1.x request head, parsed from the bytes received so far: what the `/metrics`
//! listener looks at (method, path, `Accept`, `Accept-Encoding`, whether to keep the connection).

/// Longest request head accepted; a scrape request is a few hundred bytes.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The parts of a request head the listener uses.
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    /// The target without its query string.
    pub path: String,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: String,
    pub accept: Option<String>,
    pub accept_encoding: Option<String>,
    pub connection: Option<String>,
}

/// Why the bytes are not a request head.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadError {
    /// Longer than [`MAX_HEAD_BYTES`] without its blank line.
    TooLarge,
    /// Not `METHOD TARGET HTTP/1.x` with `Name: value` headers.
    Malformed,
}

impl Head {
    /// HTTP/1.1 keeps the connection unless asked to close; HTTP/1.0 only when asked to keep it.
    #[must_use]
    pub fn keep_alive(&self) -> bool {
        let asked = |token: &str| {
            self.connection
                .as_deref()
                .is_some_and(|value| value.split(',').any(|item| item.trim().eq_ignore_ascii_case(token)))
        };
        if self.version == "HTTP/1.0" { asked("keep-alive") } else { !asked("close") }
    }

    /// Whether `Accept-Encoding` lists gzip without refusing it (`q=0`).
    #[must_use]
    pub fn accepts_gzip(&self) -> bool {
        self.accept_encoding.as_deref().is_some_and(|value| {
            value.split(',').any(|item| {
                let mut parts = item.split(';').map(str::trim);
                let coding = parts.next().unwrap_or_default();
                let refused = parts.any(|param| param.replace(' ', "") == "q=0");
                (coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip")) && !refused
            })
        })
    }
}

/// The head at the start of `bytes` and its length, `None` while its blank line has not arrived.
///
/// # Errors
/// [`HeadError`] when the bytes cannot become a request head.
pub fn parse(bytes: &[u8]) -> Result<Option<(Head, usize)>, HeadError> {
    let Some(end) = bytes.windows(4).position(|window| window == b"\r\n\r\n") else {
        return if bytes.len() > MAX_HEAD_BYTES { Err(HeadError::TooLarge) } else { Ok(None) };
    };
    if end > MAX_HEAD_BYTES {
        return Err(HeadError::TooLarge);
    }
    let text = std::str::from_utf8(&bytes[..end]).map_err(|_| HeadError::Malformed)?;
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (request_line.next(), request_line.next(), request_line.next(), request_line.next())
    else {
        return Err(HeadError::Malformed);
    };
    let valid_method = !method.is_empty() && method.bytes().all(|byte| byte.is_ascii_uppercase());
    if !valid_method || !target.starts_with('/') || !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return Err(HeadError::Malformed);
    }
    let mut head = Head {
        method: method.to_owned(),
        path: target.split('?').next().unwrap_or_default().to_owned(),
        version: version.to_owned(),
        accept: None,
        accept_encoding: None,
        connection: None,
    };
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(HeadError::Malformed)?;
        let value = Some(value.trim().to_owned());
        match name.trim().to_ascii_lowercase().as_str() {
            "accept" => head.accept = value,
            "accept-encoding" => head.accept_encoding = value,
            "connection" => head.connection = value,
            _ => {}
        }
    }
    Ok(Some((head, end + 4)))
}

#[cfg(test)]
mod tests {
    use super::{HeadError, MAX_HEAD_BYTES, parse};

    #[test]
    fn parses_heads_and_keeps_what_follows() {
        let raw = b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nACCEPT: application/openmetrics-text\r\nAccept-Encoding: gzip, br\r\n\r\nGET";
        let (head, used) = parse(raw).unwrap().unwrap();
        assert_eq!((head.method.as_str(), head.path.as_str()), ("GET", "/metrics"));
        assert_eq!(head.accept.as_deref(), Some("application/openmetrics-text"));
        assert!(head.accepts_gzip() && head.keep_alive());
        assert_eq!(&raw[used..], b"GET");
    }

    #[test]
    fn waits_for_the_blank_line_and_refuses_the_rest() {
        assert_eq!(parse(b"GET /metrics HTTP/1.1\r\nHost: a\r\n"), Ok(None));
        assert_eq!(parse(&vec![b'a'; MAX_HEAD_BYTES + 1]), Err(HeadError::TooLarge));
        for bad in [
            "garbage\r\n\r\n",
            "GET metrics HTTP/1.1\r\n\r\n",
            "get /metrics HTTP/1.1\r\n\r\n",
            "GET / HTTP/2\r\n\r\n",
            "GET / HTTP/1.1\r\nno colon\r\n\r\n",
        ] {
            assert_eq!(parse(bad.as_bytes()), Err(HeadError::Malformed), "{bad}");
        }
    }

    #[test]
    fn connection_and_encoding_rules() {
        let head = |extra: &str, version: &str| {
            parse(format!("GET / {version}\r\n{extra}\r\n").as_bytes()).unwrap().unwrap().0
        };
        assert!(!head("Connection: close\r\n", "HTTP/1.1").keep_alive());
        assert!(!head("", "HTTP/1.0").keep_alive());
        assert!(head("Connection: Keep-Alive\r\n", "HTTP/1.0").keep_alive());
        assert!(!head("Accept-Encoding: gzip;q=0, identity\r\n", "HTTP/1.1").accepts_gzip());
        assert!(!head("Accept-Encoding: br\r\n", "HTTP/1.1").accepts_gzip());
    }
}
