//! The one call at the start of `main`: [`builder`] → [`ObsBuilder::init`] → [`ObsGuard`].

use crate::call_site::{DuplicateEndpoint, catalog, register_catalog};
use crate::error::SetupError;
use crate::metrics::MetricsServer;
use crate::telemetry::config::{self, EnvReader, LogFormat};
use crate::telemetry::guard::{ObsGuard, SYSTEM_LOG_TARGET};
use crate::telemetry::identity::ServiceIdentity;
use crate::telemetry::subscriber::{self, SubscriberParts};
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::net::SocketAddr;
use std::time::Instant;
use tracing::Dispatch;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// Starts configuring the toolkit for a service.
///
/// ```no_run
/// fn main() -> Result<(), obs_runtime::SetupError> {
///     let _guard = obs_runtime::builder(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")).init()?;
///     // ... run the service; metrics are on http://127.0.0.1:9464/metrics
///     Ok(())
/// }
/// ```
pub fn builder(service_name: impl Into<String>, service_version: impl Into<String>) -> ObsBuilder {
    ObsBuilder {
        identity: ServiceIdentity { name: service_name.into(), version: service_version.into() },
        metrics_listener: MetricsListener::FromEnv,
        log_format: None,
        log_filter: None,
        trace_filter: None,
        log_writer: None,
        env: config::process_env(),
    }
}

/// Settings for [`init`](Self::init). Each one set here wins over its environment variable;
/// unset ones come from the environment, then from the defaults.
pub struct ObsBuilder {
    identity: ServiceIdentity,
    metrics_listener: MetricsListener,
    log_format: Option<LogFormat>,
    log_filter: Option<String>,
    trace_filter: Option<String>,
    log_writer: Option<BoxMakeWriter>,
    env: EnvReader,
}

impl std::fmt::Debug for ObsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObsBuilder")
            .field("identity", &self.identity)
            .field("metrics_listener", &self.metrics_listener)
            .field("log_format", &self.log_format)
            .field("log_filter", &self.log_filter)
            .field("trace_filter", &self.trace_filter)
            .finish_non_exhaustive()
    }
}

/// Where the `/metrics` listener binds, as set in code.
#[derive(Debug, Clone, Copy)]
enum MetricsListener {
    /// `OBS_METRICS_ADDR`, or the default address.
    FromEnv,
    At(SocketAddr),
    Off,
}

/// The toolkit's subscriber built without installing it, for tests and benchmarks that run
/// several configurations in one process (`tracing::dispatcher::with_default`).
#[derive(Debug)]
pub struct LocalTelemetry {
    dispatch: Dispatch,
    tracer_provider: SdkTracerProvider,
}

impl LocalTelemetry {
    /// The dispatcher to scope with `tracing::dispatcher::with_default`.
    #[must_use]
    pub fn dispatch(&self) -> &Dispatch {
        &self.dispatch
    }
}

impl Drop for LocalTelemetry {
    fn drop(&mut self) {
        let _ = self.tracer_provider.shutdown();
    }
}

impl ObsBuilder {
    /// Serves `/metrics` on `addr` (default `127.0.0.1:9464`, env `OBS_METRICS_ADDR`).
    #[must_use]
    pub fn metrics_addr(mut self, addr: SocketAddr) -> Self {
        self.metrics_listener = MetricsListener::At(addr);
        self
    }

    /// Runs no `/metrics` listener, e.g. when the application serves
    /// [`metrics::render`](crate::metrics::render) from its own router.
    #[must_use]
    pub fn without_metrics_server(mut self) -> Self {
        self.metrics_listener = MetricsListener::Off;
        self
    }

    /// The log line format (default JSON, env `OBS_LOG_FORMAT=json|pretty`).
    #[must_use]
    pub fn log_format(mut self, format: LogFormat) -> Self {
        self.log_format = Some(format);
        self
    }

    /// Which events are logged, in `RUST_LOG` syntax (default `info`, env `RUST_LOG`).
    #[must_use]
    pub fn log_filter(mut self, directives: impl Into<String>) -> Self {
        self.log_filter = Some(directives.into());
        self
    }

    /// Which spans are traced, in `RUST_LOG` syntax (default `info`). Independent of the log
    /// filter, so log lines keep their trace ids however quiet the logs are.
    #[must_use]
    pub fn trace_filter(mut self, directives: impl Into<String>) -> Self {
        self.trace_filter = Some(directives.into());
        self
    }

    /// Where log lines go (default standard output).
    #[must_use]
    pub fn log_writer<W>(mut self, make_writer: W) -> Self
    where
        W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
    {
        self.log_writer = Some(BoxMakeWriter::new(make_writer));
        self
    }

    /// Reads settings through `env` instead of the process environment.
    #[doc(hidden)]
    #[must_use]
    pub fn with_env(mut self, env: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Box::new(move |name| Ok(env(name)));
        self
    }

    /// Sets the toolkit up: checks the catalog, binds the metrics listener, installs the global
    /// tracing subscriber and logs the start-up event.
    ///
    /// # Errors
    /// A [`SetupError`] naming what to fix; nothing is installed when it fails.
    pub fn init(self) -> Result<ObsGuard, SetupError> {
        register_catalog().map_err(|duplicate| duplicate_error(&duplicate))?;
        let metrics_addr = match self.metrics_listener {
            MetricsListener::At(addr) => Some(addr),
            MetricsListener::Off => None,
            MetricsListener::FromEnv => config::metrics_addr(&self.env)?,
        };
        let log_format = self.resolve_log_format()?;
        let (identity, built, filter) = self.build()?;
        let metrics_server = metrics_addr
            .map(|addr| MetricsServer::start(addr).map_err(|source| SetupError::MetricsBind { addr, source }))
            .transpose()?;
        tracing::dispatcher::set_global_default(built.dispatch).map_err(|_| SetupError::AlreadyInitialized)?;
        let _ = ServiceIdentity::set(identity.clone());
        let guard = ObsGuard { metrics_server, tracer_provider: Some(built.tracer_provider), started: Instant::now() };
        log_startup(&identity, &guard, log_format, &filter);
        Ok(guard)
    }

    /// Builds the subscriber without installing it or starting the listener.
    ///
    /// # Errors
    /// A [`SetupError`] for an invalid setting.
    pub fn build_local(self) -> Result<LocalTelemetry, SetupError> {
        let (_, built, _) = self.build()?;
        Ok(LocalTelemetry { dispatch: built.dispatch, tracer_provider: built.tracer_provider })
    }

    fn resolve_log_format(&self) -> Result<LogFormat, SetupError> {
        match self.log_format {
            Some(format) => Ok(format),
            None => config::log_format(&self.env),
        }
    }

    fn build(self) -> Result<(ServiceIdentity, subscriber::BuiltSubscriber, String), SetupError> {
        let log_format = self.resolve_log_format()?;
        let log_filter = match self.log_filter {
            Some(directives) => (directives, "log_filter"),
            None => config::log_filter(&self.env)?,
        };
        let trace_filter = (self.trace_filter.unwrap_or_else(|| config::DEFAULT_LOG_FILTER.to_owned()), "trace_filter");
        let filter_text = log_filter.0.clone();
        let built = subscriber::build(SubscriberParts {
            identity: self.identity.clone(),
            log_format,
            log_filter,
            trace_filter,
            log_writer: self.log_writer.unwrap_or_else(|| BoxMakeWriter::new(std::io::stdout)),
        })?;
        Ok((self.identity, built, filter_text))
    }
}

fn duplicate_error(duplicate: &DuplicateEndpoint) -> SetupError {
    let location = |site: &crate::CallSite| format!("{}:{}", site.file(), site.line());
    SetupError::DuplicateEndpoint {
        method: duplicate.first.method(),
        route: duplicate.first.route(),
        first: location(duplicate.first),
        second: location(duplicate.second),
    }
}

fn log_startup(identity: &ServiceIdentity, guard: &ObsGuard, log_format: LogFormat, log_filter: &str) {
    let metrics_addr = guard.metrics_addr().map_or_else(|| "off".to_owned(), |addr| addr.to_string());
    tracing::info!(
        target: SYSTEM_LOG_TARGET,
        event = "startup",
        "service.name" = identity.name.as_str(),
        "service.version" = identity.version.as_str(),
        "metrics.address" = metrics_addr.as_str(),
        "log.format" = log_format.as_str(),
        "log.filter" = log_filter,
        endpoints = catalog().len(),
        "obs started: {} {}, metrics on {}",
        identity.name,
        identity.version,
        metrics_addr,
    );
}
