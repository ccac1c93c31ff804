//! The one call at the start of `main`: [`builder`] → [`ObsBuilder::init`] → [`ObsGuard`].

use crate::call_site::{endpoints, operations, register_catalog};
use crate::error::SetupError;
use crate::metrics::MetricsServer;
use crate::telemetry::config::{self, EnvReader, LogFormat};
use crate::telemetry::guard::{ObsGuard, SHUTDOWN_DEADLINE, SYSTEM_LOG_TARGET};
use crate::telemetry::identity::ServiceIdentity;
use crate::telemetry::otlp_config::{self, OtlpOverrides, OtlpProtocol, OtlpSettings, SamplerSetting, SignalExport};
use crate::telemetry::providers::Providers;
use crate::telemetry::subscriber::{self, SubscriberParts, UserLayer};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::registry::{LookupSpan, Registry};

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
        otlp: OtlpOverrides::default(),
        shutdown_timeout: SHUTDOWN_DEADLINE,
        user_layers: Vec::new(),
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
    otlp: OtlpOverrides,
    shutdown_timeout: Duration,
    user_layers: Vec<UserLayer>,
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
            .field("otlp", &self.otlp)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("user_layers", &self.user_layers.len())
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
    providers: Option<Providers>,
    shutdown_timeout: Duration,
}

impl LocalTelemetry {
    /// The dispatcher to scope with `tracing::dispatcher::with_default`.
    #[must_use]
    pub fn dispatch(&self) -> &Dispatch {
        &self.dispatch
    }
}

impl LocalTelemetry {
    /// Exports what is queued now, waiting at most the shutdown timeout; `false` when some of
    /// it could not be delivered in time.
    #[must_use]
    pub fn flush(&self) -> bool {
        self.providers.as_ref().is_none_or(Providers::flush)
    }
}

impl Drop for LocalTelemetry {
    fn drop(&mut self) {
        if let Some(providers) = self.providers.take() {
            let _ = providers.shutdown(self.shutdown_timeout);
        }
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

    /// Exports traces and logs over OTLP to `endpoint` (e.g. `http://127.0.0.1:4318`), overriding
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` and the per-signal variables. For OTLP/HTTP the signal paths
    /// (`/v1/traces`, `/v1/logs`) are appended.
    #[must_use]
    pub fn otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.otlp.endpoint = Some(endpoint.into());
        self
    }

    /// The OTLP wire protocol, overriding `OTEL_EXPORTER_OTLP_PROTOCOL` (default HTTP/protobuf).
    #[must_use]
    pub fn otlp_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.otlp.protocol = Some(protocol);
        self
    }

    /// How long shutdown may spend flushing telemetry (default [`SHUTDOWN_DEADLINE`]); a dead or
    /// silent collector cannot hold the process longer.
    #[must_use]
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Adds a layer of the service's own (Sentry's, tokio-console's, a metrics or audit layer) to
    /// the subscriber [`init`](Self::init) installs. It sees every span and event obs's layers
    /// see, `#[observed]` spans and per-call events included, and whatever else it enables
    /// itself: give it its own filter (`layer.with_filter(...)`) so it does not turn on every
    /// `debug!` and `trace!` in the process. Layers run in the order added, before obs's own.
    ///
    /// ```no_run
    /// use obs_runtime::telemetry::tracing_subscriber::{Layer as _, filter::LevelFilter, fmt};
    ///
    /// # fn main() -> Result<(), obs_runtime::SetupError> {
    /// let stderr_warnings = fmt::layer().with_writer(std::io::stderr).with_filter(LevelFilter::WARN);
    /// let _guard = obs_runtime::builder("checkout", "1.4.2").with_layer(stderr_warnings).init()?;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn with_layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<Registry> + Send + Sync + 'static,
    {
        self.user_layers.push(Box::new(layer));
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
    pub fn init(mut self) -> Result<ObsGuard, SetupError> {
        let user_layers = std::mem::take(&mut self.user_layers);
        let mut settings = self.settle()?;
        let subscriber = subscriber::build(settings.subscriber_parts(), user_layers)?;
        let started = Started::claim(&settings)?;
        tracing::dispatcher::set_global_default(subscriber.dispatch).map_err(|_| SetupError::AlreadyInitialized)?;
        let guard = started.finish(&settings, subscriber.providers);
        log_startup(&settings, &guard);
        Ok(guard)
    }

    /// Sets the toolkit up like [`init`](Self::init), but installs no subscriber: returns obs's
    /// tracing layers (spans and trace ids, the log lines, the OTLP export, each with its own
    /// filter) for a subscriber the service builds and installs itself, beside its own layers.
    /// The log lines and exported records are the same as under `init`; the start-up event is
    /// not logged, as no subscriber is installed yet when this returns. Layers added with
    /// [`with_layer`](Self::with_layer) belong to `init`'s subscriber: here add them to your own.
    /// Add obs's layers as they are, not inside an `Option` or a `Vec`, which do not pass on the
    /// dispatcher the JSON layer finds trace ids through.
    ///
    /// ```no_run
    /// use obs_runtime::telemetry::tracing_subscriber::{self, filter::LevelFilter, fmt, prelude::*};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (obs_layers, _guard) = obs_runtime::builder("checkout", "1.4.2").init_layers()?;
    /// tracing_subscriber::registry()
    ///     .with(obs_layers)
    ///     .with(fmt::layer().with_writer(std::io::stderr).with_filter(LevelFilter::WARN))
    ///     .try_init()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// A [`SetupError`] naming what to fix; nothing is started when it fails.
    pub fn init_layers<S>(self) -> Result<(impl Layer<S> + Send + Sync + 'static, ObsGuard), SetupError>
    where
        S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync + 'static,
    {
        if !self.user_layers.is_empty() {
            return Err(SetupError::LayersWithoutSubscriber { layers: self.user_layers.len() });
        }
        let mut settings = self.settle()?;
        let (layers, providers) =
            subscriber::obs_layers::<S>(settings.subscriber_parts(), subscriber::OtherLayers::Unknown)?;
        let started = Started::claim(&settings)?;
        Ok((layers, started.finish(&settings, providers)))
    }

    /// Builds the subscriber without installing it or starting the listener.
    ///
    /// # Errors
    /// A [`SetupError`] for an invalid setting.
    pub fn build_local(mut self) -> Result<LocalTelemetry, SetupError> {
        let user_layers = std::mem::take(&mut self.user_layers);
        let mut settings = self.settle()?;
        let subscriber = subscriber::build(settings.subscriber_parts(), user_layers)?;
        Ok(LocalTelemetry {
            dispatch: subscriber.dispatch,
            providers: Some(subscriber.providers),
            shutdown_timeout: settings.shutdown_timeout,
        })
    }

    /// Reads every setting, from code, then the environment, then the defaults.
    fn settle(self) -> Result<Settings, SetupError> {
        // reqwest is built with TLS but no crypto provider of its own (`rustls-no-provider`, to
        // leave out aws-lc): ring becomes the process default unless one is installed, so the
        // service's reqwest clients built from here on work too.
        #[cfg(all(feature = "tls", any(feature = "otlp-http", feature = "reqwest")))]
        let _ = rustls::crypto::ring::default_provider().install_default();
        register_catalog().map_err(|duplicates| SetupError::DuplicateCallSites { duplicates })?;
        // Calibrates the call clock now, not on the first request.
        let _ = crate::clock::Tick::now();
        let metrics_addr = match self.metrics_listener {
            MetricsListener::At(addr) => Some(addr),
            MetricsListener::Off => None,
            MetricsListener::FromEnv => config::metrics_addr(&self.env)?,
        };
        let container = config::container_hint(&self.env)?;
        let log_format = match self.log_format {
            Some(format) => format,
            None => config::log_format(&self.env)?,
        };
        let log_filter = match self.log_filter {
            Some(directives) => (directives, "log_filter"),
            None => config::log_filter(&self.env)?,
        };
        let otlp = otlp_config::otlp_settings(&self.env, &self.otlp)?;
        // OTEL_SERVICE_NAME, then a service.name in OTEL_RESOURCE_ATTRIBUTES, rename the service
        // at deployment; the name given in code is the default.
        let mut identity = self.identity;
        if let Some(name) = otlp.service_name.clone().or_else(|| {
            otlp.resource_attributes.iter().find(|(key, _)| key == "service.name").map(|(_, value)| value.clone())
        }) {
            identity.name = name;
        }
        // With no log line to carry a trace id and a sampler that keeps no trace, a span has no
        // reader: metrics only, so none is built (unless code asks for a trace filter).
        let metrics_only = otlp.sampler == SamplerSetting::AlwaysOff && log_filter.0.trim() == "off";
        let default_trace_filter = if metrics_only { "off" } else { config::DEFAULT_LOG_FILTER };
        let trace_filter = (self.trace_filter.unwrap_or_else(|| default_trace_filter.to_owned()), "trace_filter");
        Ok(Settings {
            identity,
            metrics_addr,
            container,
            log_format,
            log_filter,
            trace_filter,
            log_writer: self.log_writer,
            log_blocking: config::log_blocking(&self.env)?,
            otlp,
            shutdown_timeout: self.shutdown_timeout,
        })
    }
}

/// Every setting, decided.
struct Settings {
    identity: ServiceIdentity,
    metrics_addr: Option<SocketAddr>,
    container: Option<&'static str>,
    log_format: LogFormat,
    log_filter: (String, &'static str),
    trace_filter: (String, &'static str),
    /// Taken by the one subscriber built from these settings.
    log_writer: Option<BoxMakeWriter>,
    log_blocking: bool,
    otlp: OtlpSettings,
    shutdown_timeout: Duration,
}

impl Settings {
    fn subscriber_parts(&mut self) -> SubscriberParts {
        let writer = self.log_writer.take();
        SubscriberParts {
            identity: self.identity.clone(),
            otlp: self.otlp.clone(),
            log_format: self.log_format,
            log_filter: self.log_filter.clone(),
            trace_filter: self.trace_filter.clone(),
            log_writer: writer,
            log_blocking: self.log_blocking,
        }
    }
}

/// The process-wide part of setting up: claimed once, with the metrics listener bound.
struct Started {
    metrics_server: Option<MetricsServer>,
}

impl Started {
    /// Claims the process for the toolkit and binds the metrics listener.
    fn claim(settings: &Settings) -> Result<Self, SetupError> {
        // Before binding anything: a second init() in the same process (a test suite calling it
        // per test) is told exactly that, not that its own port is taken.
        // (`tracing::dispatcher::has_been_set` cannot tell: a scoped default sets it too.)
        if INITIALIZED.swap(true, Ordering::AcqRel) {
            return Err(SetupError::AlreadyInitialized);
        }
        let metrics_server = settings
            .metrics_addr
            .map(|addr| MetricsServer::start(addr).map_err(|source| SetupError::MetricsBind { addr, source }))
            .transpose()
            .inspect_err(|_| INITIALIZED.store(false, Ordering::Release))?;
        Ok(Started { metrics_server })
    }

    fn finish(self, settings: &Settings, providers: Providers) -> ObsGuard {
        let _ = ServiceIdentity::set(settings.identity.clone());
        ObsGuard {
            metrics_server: self.metrics_server,
            providers: Some(providers),
            shutdown_timeout: settings.shutdown_timeout,
            started: Instant::now(),
            log_bridge: tracing_log::LogTracer::init().is_ok(),
            #[cfg(feature = "metrics")]
            metrics_facade: crate::metrics::facade::install_global(),
        }
    }
}

/// Whether `init()` has installed the toolkit in this process; it can only once.
static INITIALIZED: AtomicBool = AtomicBool::new(false);

fn log_startup(settings: &Settings, guard: &ObsGuard) {
    let Settings { identity, log_format, log_filter, otlp, container, .. } = settings;
    let metrics_addr = guard.metrics_addr().map_or_else(|| "off".to_owned(), |addr| addr.to_string());
    let export = |signal: Option<&SignalExport>| {
        signal.map_or_else(|| "off".to_owned(), |signal| format!("{} {}", signal.protocol.as_str(), signal.endpoint))
    };
    tracing::info!(
        target: SYSTEM_LOG_TARGET,
        event = "startup",
        "service.name" = identity.name.as_str(),
        "service.version" = identity.version.as_str(),
        "metrics.address" = metrics_addr.as_str(),
        "log.format" = log_format.as_str(),
        "log.filter" = log_filter.0.as_str(),
        "otlp.traces" = export(otlp.traces.as_ref()),
        "otlp.logs" = export(otlp.logs.as_ref()),
        "otlp.sampler" = ?otlp.sampler,
        endpoints = endpoints().count(),
        operations = operations().count(),
        "obs started: {} {}, metrics on {}",
        identity.name,
        identity.version,
        metrics_addr,
    );
    // Crates that log through the `log` facade become tracing events: JSON lines and exported
    // log records, under the same filters. A logger installed before keeps the facade.
    if !guard.log_bridge {
        tracing::warn!(
            target: SYSTEM_LOG_TARGET,
            event = "log_bridge_off",
            "another logger is installed for the `log` facade: records logged through `log` do not reach obs",
        );
    }
    #[cfg(feature = "metrics")]
    if !guard.metrics_facade {
        tracing::warn!(
            target: SYSTEM_LOG_TARGET,
            event = "metrics_facade_off",
            "another recorder is installed for the `metrics` facade: metrics recorded through `metrics` are not on obs's /metrics",
        );
    }
    if let (Some(addr), Some(hint)) = (guard.metrics_addr().filter(|addr| addr.ip().is_loopback()), container) {
        tracing::warn!(
            target: SYSTEM_LOG_TARGET,
            event = "metrics_on_loopback",
            "metrics.address" = %addr,
            container = hint,
            "the /metrics listener is on loopback ({addr}) but this process runs in a container ({hint}): \
             Prometheus in another container or pod cannot reach it; set OBS_METRICS_ADDR=0.0.0.0:{}",
            addr.port(),
        );
    }
}
