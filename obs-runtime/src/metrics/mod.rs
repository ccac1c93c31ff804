//! The metrics registry, its text expositions, and the `/metrics` listener.
//!
//! Everything is global: the `#[observed]` call sites record into it whether or not the
//! process called [`init`](crate::ObsBuilder::init), and [`render`] encodes it on demand.

pub(crate) mod build_info;
pub(crate) mod call_families;
pub(crate) mod durations;
pub(crate) mod exemplar;
pub(crate) mod export_health;
#[cfg(feature = "metrics")]
pub(crate) mod facade;
pub(crate) mod histogram;
#[cfg(feature = "_otlp")]
pub(crate) mod otlp_encode;
pub(crate) mod outcome_series;
pub(crate) mod process;
pub(crate) mod request_head;
pub(crate) mod server;
pub(crate) mod site_metrics;
pub(crate) mod user_metrics;

use prometheus_client::registry::Registry;
use std::sync::OnceLock;

#[cfg(feature = "metrics")]
pub use facade::{FacadeRecorder, MAX_SERIES_PER_FAMILY, recorder};
/// The prometheus-client obs is built on, for the service's own metrics: the same version, so
/// its metric types register with [`register`].
pub use prometheus_client;
pub use server::MetricsServer;

/// The two text formats Prometheus scrapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpositionFormat {
    /// OpenMetrics 1.0 text, with `# UNIT` lines and `# EOF`.
    OpenMetrics,
    /// The Prometheus text format 0.0.4.
    PrometheusText,
}

impl ExpositionFormat {
    /// The `Content-Type` of a response in this format.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            ExpositionFormat::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ExpositionFormat::PrometheusText => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        }
    }

    /// The format to answer a request with this `Accept` header in: OpenMetrics when the scraper
    /// lists it (as Prometheus does), the 0.0.4 text otherwise.
    ///
    /// ```
    /// use obs_runtime::metrics::ExpositionFormat;
    ///
    /// let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// assert_eq!(ExpositionFormat::negotiate(Some(prometheus)), ExpositionFormat::OpenMetrics);
    /// assert_eq!(ExpositionFormat::negotiate(Some("*/*")), ExpositionFormat::PrometheusText);
    /// assert_eq!(ExpositionFormat::negotiate(None), ExpositionFormat::PrometheusText);
    /// ```
    #[must_use]
    pub fn negotiate(accept: Option<&str>) -> Self {
        let wants_openmetrics = accept.is_some_and(|accept| {
            accept.split(',').any(|range| {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next().unwrap_or_default();
                let refused = parts.any(|param| param.replace(' ', "") == "q=0");
                media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
            })
        });
        if wants_openmetrics { ExpositionFormat::OpenMetrics } else { ExpositionFormat::PrometheusText }
    }
}

/// Everything but the duration histograms, which come first and are written by
/// [`durations`] in either format.
fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(call_families::ActiveRequestsCollector));
        registry.register_collector(Box::new(process::ProcessCollector));
        registry.register_collector(Box::new(build_info::BuildInfoCollector));
        registry.register_collector(Box::new(export_health::ExportHealthCollector));
        registry
    })
}

/// Encodes every metric of this process in `format`.
///
/// Use it to serve metrics from your own router instead of the toolkit's listener:
///
/// ```
/// use obs_runtime::metrics::{ExpositionFormat, render};
///
/// let text = render(ExpositionFormat::OpenMetrics);
/// assert!(text.contains("# TYPE process_cpu_seconds counter"));
/// assert!(text.ends_with("# EOF\n"));
/// ```
#[must_use]
pub fn render(format: ExpositionFormat) -> String {
    let mut text = render_own(format);
    match format {
        ExpositionFormat::OpenMetrics => {
            user_metrics::write_openmetrics(&mut text);
            let _ = prometheus_client::encoding::text::encode_eof(&mut text);
        }
        ExpositionFormat::PrometheusText => user_metrics::write_prometheus_text(&mut text),
    }
    text
}

/// Adds the service's own metrics to obs's `/metrics`: `build` registers them (counters,
/// gauges, histograms, families with their own labels, a custom `Collector`) in a
/// prometheus-client [`Registry`], and every scrape renders them after obs's families, in both
/// formats, under the one `# EOF`. Call it once per set, typically at start-up.
///
/// ```
/// use obs_runtime::metrics::prometheus_client::metrics::counter::Counter;
/// use obs_runtime::metrics::{ExpositionFormat, register, render};
///
/// let orders = Counter::<u64>::default();
/// register(|registry| registry.register("shop_orders_created", "Orders created.", orders.clone()))?;
/// orders.inc();
/// assert!(render(ExpositionFormat::OpenMetrics).contains("shop_orders_created_total 1\n# EOF\n"));
/// # Ok::<(), obs_runtime::SetupError>(())
/// ```
///
/// # Errors
/// [`SetupError::MetricNameClash`](crate::SetupError::MetricNameClash) when a family would write samples named like obs's own (or
/// an earlier registration's): nothing is added then.
pub fn register(build: impl FnOnce(&mut Registry)) -> Result<(), crate::SetupError> {
    user_metrics::register(build)
}

/// The names of obs's own families: fixed once the program is linked (its call sites are).
pub(crate) fn own_family_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| user_metrics::family_names(&render_own(ExpositionFormat::OpenMetrics)))
}

/// obs's own families, without `# EOF`.
fn render_own(format: ExpositionFormat) -> String {
    // Endpoints are listed from the first scrape on, even those not yet called. Duplicate
    // endpoints share their series; `init` reports them as an error.
    let _ = crate::call_site::register_catalog();
    let mut text = String::with_capacity(16 * 1024);
    // Writing into a String cannot fail, and the collectors only fail when their writer does.
    let _ = match format {
        ExpositionFormat::OpenMetrics => {
            durations::write_openmetrics(&mut text, &call_families::duration_families());
            prometheus_client::encoding::text::encode_registry(&mut text, registry())
        }
        ExpositionFormat::PrometheusText => {
            durations::write_prometheus_text(&mut text, &call_families::duration_families());
            prometheus_client::encoding::prometheus_text::encode(&mut text, registry())
        }
    };
    text
}
