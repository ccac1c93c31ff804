//! The OpenTelemetry providers the subscriber feeds, and their shutdown within one deadline.

use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::{Duration, Instant};

/// What must be flushed and stopped when the toolkit shuts down.
#[derive(Debug)]
pub struct Providers {
    /// Spans: always present, since trace ids come from it even without export.
    pub tracer: SdkTracerProvider,
    /// Log records, when logs are exported.
    pub logger: Option<SdkLoggerProvider>,
    /// The toolkit's own runtime, when a signal is exported over gRPC.
    pub runtime: Option<tokio::runtime::Runtime>,
}

impl Providers {
    /// Flushes and stops everything, all within `deadline`; returns what failed to flush.
    pub fn shutdown(self, deadline: Duration) -> Vec<String> {
        let until = Instant::now() + deadline;
        let mut failures = Vec::new();
        if let Err(error) = self.tracer.shutdown_with_timeout(deadline) {
            failures.push(format!("traces: {error}"));
        }
        if let Some(logger) = self.logger {
            if let Err(error) = logger.shutdown_with_timeout(until.saturating_duration_since(Instant::now())) {
                failures.push(format!("logs: {error}"));
            }
        }
        // Not `drop`: dropping a runtime blocks, which panics inside the application's runtime.
        if let Some(runtime) = self.runtime {
            runtime.shutdown_background();
        }
        failures
    }
}
