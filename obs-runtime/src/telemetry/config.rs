//! The effective settings: code first, then the environment, then defaults.

use crate::error::SetupError;
use std::net::SocketAddr;

/// Where the `/metrics` listener binds unless told otherwise.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9464";
/// The log filter when neither code nor `RUST_LOG` sets one.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (the default): for collectors and Loki.
    Json,
    /// Human-readable lines with colours on a terminal: for development.
    Pretty,
}

impl LogFormat {
    /// `json` or `pretty`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            LogFormat::Json => "json",
            LogFormat::Pretty => "pretty",
        }
    }
}

/// Reads one environment variable; tests pass their own instead of mutating the process's. Names
/// are `'static` so an error can carry the name of whichever variable was bad.
pub type EnvReader = Box<dyn Fn(&'static str) -> Result<Option<String>, SetupError> + Send + Sync>;

/// Why this process looks containerised, for the loopback warning: `KUBERNETES_SERVICE_HOST` is
/// set (every Kubernetes pod has it), or Docker's `/.dockerenv` exists.
///
/// # Errors
/// A variable that is not UTF-8.
pub fn container_hint(env: &EnvReader) -> Result<Option<&'static str>, SetupError> {
    if env("KUBERNETES_SERVICE_HOST")?.is_some_and(|host| !host.is_empty()) {
        return Ok(Some("KUBERNETES_SERVICE_HOST is set"));
    }
    Ok(std::path::Path::new("/.dockerenv").exists().then_some("/.dockerenv exists"))
}

/// Reads the process environment; a value that is not UTF-8 is an error naming the variable.
pub fn process_env() -> EnvReader {
    Box::new(|name| match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(value)) => Err(SetupError::InvalidEnv {
            var: name,
            value: value.to_string_lossy().into_owned(),
            expected: "a UTF-8 value",
        }),
    })
}

/// `OBS_METRICS_ADDR`: `host:port`, or `off` to run no listener.
pub fn metrics_addr(env: &EnvReader) -> Result<Option<SocketAddr>, SetupError> {
    let value = env("OBS_METRICS_ADDR")?;
    let text = value.as_deref().map_or(DEFAULT_METRICS_ADDR, str::trim);
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| SetupError::InvalidEnv {
        var: "OBS_METRICS_ADDR",
        value: text.to_owned(),
        expected: "an IP address and port such as 127.0.0.1:9464, or `off`",
    })
}

/// `OBS_LOG_FORMAT`: `json` (default) or `pretty`.
pub fn log_format(env: &EnvReader) -> Result<LogFormat, SetupError> {
    match env("OBS_LOG_FORMAT")?.as_deref().map(str::trim) {
        None | Some("json") => Ok(LogFormat::Json),
        Some("pretty" | "text") => Ok(LogFormat::Pretty),
        Some(other) => Err(SetupError::InvalidEnv {
            var: "OBS_LOG_FORMAT",
            value: other.to_owned(),
            expected: "`json` or `pretty`",
        }),
    }
}

/// `OBS_LOG_BLOCKING`: `true` makes a logger wait for room in the line queue instead of
/// dropping (and counting) the line.
pub fn log_blocking(env: &EnvReader) -> Result<bool, SetupError> {
    match env("OBS_LOG_BLOCKING")?.as_deref().map(str::trim) {
        None | Some("" | "false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(SetupError::InvalidEnv {
            var: "OBS_LOG_BLOCKING",
            value: other.to_owned(),
            expected: "`true` (wait for the writer) or `false` (drop and count when full, the default)",
        }),
    }
}

/// `RUST_LOG`, or the default filter.
pub fn log_filter(env: &EnvReader) -> Result<(String, &'static str), SetupError> {
    Ok(match env("RUST_LOG")? {
        Some(value) if !value.trim().is_empty() => (value, "RUST_LOG"),
        _ => (DEFAULT_LOG_FILTER.to_owned(), "default"),
    })
}

#[cfg(test)]
mod tests {
    use super::{EnvReader, LogFormat, log_filter, log_format, metrics_addr};
    use crate::error::SetupError;
    use crate::telemetry::directives::Directives;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> EnvReader {
        Box::new(move |name| Ok(pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())))
    }

    #[test]
    fn metrics_addr_from_env() {
        assert_eq!(metrics_addr(&env(&[])).unwrap(), Some("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(
            metrics_addr(&env(&[("OBS_METRICS_ADDR", "0.0.0.0:1")])).unwrap(),
            Some("0.0.0.0:1".parse().unwrap())
        );
        assert_eq!(metrics_addr(&env(&[("OBS_METRICS_ADDR", "OFF")])).unwrap(), None);
        let error = metrics_addr(&env(&[("OBS_METRICS_ADDR", "localhost")])).unwrap_err();
        assert!(matches!(error, SetupError::InvalidEnv { var: "OBS_METRICS_ADDR", .. }));
        assert!(error.to_string().contains("OBS_METRICS_ADDR=\"localhost\""), "{error}");
    }

    #[test]
    fn log_format_from_env() {
        assert_eq!(log_format(&env(&[])).unwrap(), LogFormat::Json);
        assert_eq!(log_format(&env(&[("OBS_LOG_FORMAT", "pretty")])).unwrap(), LogFormat::Pretty);
        let error = log_format(&env(&[("OBS_LOG_FORMAT", "xml")])).unwrap_err();
        assert!(error.to_string().contains("OBS_LOG_FORMAT"), "{error}");
    }

    #[test]
    fn log_filter_from_env() {
        assert_eq!(log_filter(&env(&[])).unwrap(), ("info".to_owned(), "default"));
        assert_eq!(log_filter(&env(&[("RUST_LOG", "warn,demo=debug")])).unwrap().0, "warn,demo=debug");
        assert!(Directives::parse("warn,demo=debug", "RUST_LOG").is_ok());
        let error = Directives::parse("demo=loud", "RUST_LOG").unwrap_err();
        assert!(error.to_string().contains("RUST_LOG=\"demo=loud\""), "{error}");
    }
}
