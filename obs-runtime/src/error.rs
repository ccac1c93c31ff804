//! The errors of setting the toolkit up. Recording never fails: only setup can.

use std::fmt;
use std::net::SocketAddr;

/// Why [`ObsBuilder::init`](crate::ObsBuilder::init) could not set the toolkit up. Nothing was
/// installed when it returns one of these.
#[derive(Debug)]
#[non_exhaustive]
pub enum SetupError {
    /// An environment variable holds a value the toolkit cannot use.
    InvalidEnv {
        /// The variable, e.g. `OBS_METRICS_ADDR`.
        var: &'static str,
        /// Its value.
        value: String,
        /// What it should look like.
        expected: &'static str,
    },
    /// A log or trace filter directive does not parse.
    InvalidFilter {
        /// Where it came from: `RUST_LOG`, `log_filter` or `trace_filter`.
        origin: &'static str,
        /// The directive.
        value: String,
        /// The parser's explanation.
        reason: String,
    },
    /// The metrics listener could not bind its address.
    MetricsBind {
        /// The address.
        addr: SocketAddr,
        /// The bind error.
        source: std::io::Error,
    },
    /// Several `#[observed]` functions claim the same endpoint (method and route) or the same
    /// operation name, so their series would merge. Every such claim is listed, not only the first.
    DuplicateCallSites {
        /// Each endpoint or operation claimed more than once.
        duplicates: Vec<DuplicateClaim>,
    },
    /// A metric the service registered would write samples named like one of obs's own (or of
    /// an earlier registration): the exposition would be corrupt, so nothing was added.
    MetricNameClash {
        /// The family the service registered.
        name: String,
        /// The family it collides with.
        existing: String,
    },
    /// [`ObsBuilder::with_layer`](crate::ObsBuilder::with_layer) layers were given to
    /// [`ObsBuilder::init_layers`](crate::ObsBuilder::init_layers), which builds no subscriber
    /// to add them to.
    LayersWithoutSubscriber {
        /// How many layers were given.
        layers: usize,
    },
    /// The settings ask for something this build of obs-runtime does not compile in.
    NotCompiled {
        /// What was asked for, e.g. `grpc export of traces to http://collector:4317`.
        what: String,
        /// The obs-runtime feature that provides it.
        feature: &'static str,
    },
    /// A certificate or key file named by an `OTEL_EXPORTER_OTLP_*` variable cannot be read or
    /// used.
    TlsFile {
        /// The variable, e.g. `OTEL_EXPORTER_OTLP_CERTIFICATE`.
        var: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A global tracing subscriber or the toolkit itself was already set up in this process.
    AlreadyInitialized,
    /// An OTLP exporter could not be built from valid settings (e.g. no thread could be started).
    ExportSetup {
        /// `traces` or `logs`.
        signal: &'static str,
        /// What failed.
        reason: String,
    },
}

/// One endpoint or operation claimed by more than one `#[observed]` function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateClaim {
    /// What is claimed: `GET /users/{id}`, or `operation "db.load_user"`.
    pub claimed: String,
    /// `file:line` of every function claiming it, sorted.
    pub locations: Vec<String>,
}

impl fmt::Display for DuplicateClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is annotated {} times, at {}", self.claimed, self.locations.len(), self.locations.join(" and "))
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::InvalidEnv { var, value, expected } => {
                write!(f, "environment variable {var}={value:?} is invalid: expected {expected}")
            }
            SetupError::InvalidFilter { origin, value, reason } => {
                write!(f, "filter {origin}={value:?} is invalid ({reason}): expected directives such as `info,my_crate=debug`")
            }
            SetupError::MetricsBind { addr, source } => write!(
                f,
                "cannot serve metrics on {addr}: {source}; set OBS_METRICS_ADDR to a free address, or `off`"
            ),
            SetupError::DuplicateCallSites { duplicates } => {
                for (index, duplicate) in duplicates.iter().enumerate() {
                    if index > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{duplicate}")?;
                }
                f.write_str(": give each function its own endpoint (method and route) or operation name")
            }
            SetupError::ExportSetup { signal, reason } => {
                write!(f, "cannot set up OTLP export of {signal}: {reason}")
            }
            SetupError::MetricNameClash { name, existing } => write!(
                f,
                "metric {name:?} would write samples named like {existing:?}, which is already exposed: give it another name"
            ),
            SetupError::LayersWithoutSubscriber { layers } => write!(
                f,
                "{layers} layer(s) were added with with_layer, but init_layers installs no subscriber: \
                 add them to the subscriber you build, beside obs's layers"
            ),
            SetupError::NotCompiled { what, feature } => write!(
                f,
                "{what} needs obs-runtime's `{feature}` feature, which this build leaves out: enable it in Cargo.toml"
            ),
            SetupError::TlsFile { var, path, reason } => write!(
                f,
                "{var}={}: {reason}; name a readable PEM file (certificates, or for a client key a PKCS#8, PKCS#1 or SEC1 private key)",
                path.display()
            ),
            SetupError::AlreadyInitialized => f.write_str(
                "a global tracing subscriber is already installed: call obs_runtime init once, and do not install another subscriber",
            ),
        }
    }
}

impl std::error::Error for SetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SetupError::MetricsBind { source, .. } => Some(source),
            _ => None,
        }
    }
}
