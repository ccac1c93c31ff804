//! The guard `init` returns: it owns the listener and the tracer provider, and on drop logs the
//! shutdown event, flushes telemetry with a deadline and stops the listener.

use crate::metrics::MetricsServer;
use crate::metrics::site_metrics;
use crate::telemetry::identity::ServiceIdentity;
use crate::telemetry::providers::Providers;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Where system events (start-up, shutdown, setup problems) go.
pub const SYSTEM_LOG_TARGET: &str = "obs::system";

/// Pending telemetry gets this long to flush at shutdown; a dead collector cannot hold it longer.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// Keeps the toolkit running; drop it at the end of `main` to shut down cleanly.
#[must_use = "dropping the guard shuts the toolkit down: keep it alive for the whole of main"]
#[derive(Debug)]
pub struct ObsGuard {
    pub(crate) metrics_server: Option<MetricsServer>,
    pub(crate) providers: Option<Providers>,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) started: Instant,
    /// Whether records of the `log` facade reach obs (no other logger was installed first).
    pub(crate) log_bridge: bool,
    /// Whether obs's recorder serves the `metrics` facade (no other recorder was installed first).
    #[cfg(feature = "metrics")]
    pub(crate) metrics_facade: bool,
}

impl ObsGuard {
    /// The address the `/metrics` listener bound, when it runs.
    #[must_use]
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(MetricsServer::local_addr)
    }
}

/// Calls completed so far across every endpoint.
pub(crate) fn calls_served() -> u64 {
    site_metrics::registered().iter().filter(|site| site.is_endpoint()).map(|site| site.calls()).sum()
}

impl Drop for ObsGuard {
    fn drop(&mut self) {
        let identity = ServiceIdentity::get();
        tracing::info!(
            target: SYSTEM_LOG_TARGET,
            event = "shutdown",
            "service.name" = identity.map(|identity| identity.name.as_str()),
            "service.version" = identity.map(|identity| identity.version.as_str()),
            uptime_seconds = self.started.elapsed().as_secs_f64(),
            calls_served = calls_served(),
            "obs shutting down"
        );
        if let Some(providers) = self.providers.take() {
            let failures = providers.shutdown(self.shutdown_timeout);
            if !failures.is_empty() {
                // Printed, not logged: the subscriber's exporters are already stopped.
                eprintln!("obs: telemetry did not flush within {:?}: {}", self.shutdown_timeout, failures.join("; "));
            }
        }
        self.metrics_server.take();
    }
}
