//! Tracing and logging: settings, the subscriber, the JSON line format, and the guard.

pub(crate) mod call_line;
pub(crate) mod call_record;
pub(crate) mod call_span;
pub(crate) mod config;
pub(crate) mod directives;
pub(crate) mod export_counters;
#[cfg(feature = "_otlp")]
pub(crate) mod export_queue;
pub(crate) mod guard;
pub(crate) mod identity;
pub(crate) mod json;
pub(crate) mod line_writer;
#[cfg(feature = "_otlp")]
pub(crate) mod metrics_push;
#[cfg(feature = "_otlp")]
pub(crate) mod otlp;
#[cfg(feature = "_otlp")]
pub(crate) mod otlp_body;
pub(crate) mod otlp_config;
#[cfg(feature = "otlp-grpc")]
pub(crate) mod otlp_grpc;
#[cfg(feature = "otlp-http")]
pub(crate) mod otlp_http;
#[cfg(feature = "_otlp")]
pub(crate) mod otlp_retry;
#[cfg(all(feature = "tls", feature = "_otlp"))]
pub(crate) mod otlp_tls;
#[cfg(feature = "_otlp")]
pub(crate) mod otlp_wire;
pub(crate) mod providers;
pub(crate) mod resource;
pub(crate) mod span_fields;
pub(crate) mod subscriber;
pub(crate) mod timestamp;
pub(crate) mod worker;

/// The tracing-subscriber obs is built on, for the service's own layers and subscriber: the
/// same version, so they combine with obs's (see `ObsBuilder::with_layer` and
/// `ObsBuilder::init_layers`).
pub use ::tracing_subscriber;
pub use config::{DEFAULT_LOG_FILTER, DEFAULT_METRICS_ADDR, LogFormat};
pub use guard::{ObsGuard, SHUTDOWN_DEADLINE, SYSTEM_LOG_TARGET};
pub use identity::ServiceIdentity;
pub use json::JsonLayer;

/// Whether some subscriber built in this process exports log records over OTLP: their trace ids
/// come from the entered span's OpenTelemetry context, so per-call events are emitted inside
/// their span then, and merely name it otherwise.
static LOGS_EXPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(crate) fn logs_exported() -> bool {
    LOGS_EXPORTED.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn set_logs_exported() {
    LOGS_EXPORTED.store(true, std::sync::atomic::Ordering::Relaxed);
}
