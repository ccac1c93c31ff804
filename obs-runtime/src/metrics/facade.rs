//! The `metrics` facade's recorder: `metrics::counter!`, `gauge!` and `histogram!` from the
//! service or any library it uses land on obs's `/metrics`, after obs's families, in both
//! formats. Histograms get obs's default buckets; labels are kept as given.
//!
//! The facade cannot fail a call, so what obs cannot expose is dropped with one warning per
//! family: a name that clashes with one of obs's families or a registered one, a name used for
//! two kinds of metric, and series beyond [`MAX_SERIES_PER_FAMILY`] (an unbounded label).

use crate::metrics::user_metrics;
use crate::telemetry::SYSTEM_LOG_TARGET;
use metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, SharedString, Unit};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

/// Label sets one facade family may have; beyond, new series are dropped (and warned about once).
pub const MAX_SERIES_PER_FAMILY: usize = 2000;

/// obs's recorder for the `metrics` facade. [`init`](crate::ObsBuilder::init) installs it as
/// the global recorder; use [`recorder`] to install it yourself (e.g. under a fan-out recorder).
#[derive(Clone, Copy, Debug, Default)]
pub struct FacadeRecorder;

/// The recorder, ready to install with `metrics::set_global_recorder` or
/// `metrics::with_local_recorder`.
///
/// ```
/// use obs_runtime::metrics::{ExpositionFormat, render};
///
/// metrics::with_local_recorder(&obs_runtime::metrics::recorder(), || {
///     metrics::counter!("doc_jobs_done_total", "queue" => "mail").increment(2);
/// });
/// assert!(render(ExpositionFormat::OpenMetrics).contains("doc_jobs_done_total{queue=\"mail\"} 2\n"));
/// ```
#[must_use]
pub fn recorder() -> FacadeRecorder {
    state();
    FacadeRecorder
}

/// Installs [`recorder`] as the process's `metrics` recorder; `false` when another one was
/// installed first (which keeps the facade).
pub(crate) fn install_global() -> bool {
    metrics::set_global_recorder(recorder()).is_ok()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    const fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

#[derive(Debug, Default)]
struct AtomicCounter(AtomicU64);

impl CounterFn for AtomicCounter {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }

    fn absolute(&self, value: u64) {
        self.0.fetch_max(value, Ordering::Relaxed);
    }
}

/// An `f64` in an atomic, as its bits.
#[derive(Debug, Default)]
struct AtomicGauge(AtomicU64);

impl AtomicGauge {
    fn update(&self, change: impl Fn(f64) -> f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some(change(f64::from_bits(bits)).to_bits()));
    }

    fn value(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

impl GaugeFn for AtomicGauge {
    fn increment(&self, value: f64) {
        self.update(|current| current + value);
    }

    fn decrement(&self, value: f64) {
        self.update(|current| current - value);
    }

    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct BucketHistogram(prometheus_client::metrics::histogram::Histogram);

impl HistogramFn for BucketHistogram {
    fn record(&self, value: f64) {
        self.0.observe(value);
    }
}

#[derive(Clone, Debug)]
enum Series {
    Counter(Arc<AtomicCounter>),
    Gauge(Arc<AtomicGauge>),
    Histogram(Arc<BucketHistogram>),
}

/// One family as exposed: its name in `# TYPE` lines, its kind and its series by label set.
#[derive(Debug)]
struct Family {
    kind: Kind,
    series: BTreeMap<Vec<(String, String)>, Series>,
}

/// A `describe_*` call's unit and text.
type Description = (Option<Unit>, String);

#[derive(Debug, Default)]
struct State {
    /// Every key exposed, with its kind, to its series: the path of every facade call. A key
    /// refused is not kept, so an unbounded label cannot grow this.
    handles: RwLock<HashMap<(Kind, Key), Series>>,
    /// Families by exposed name, for rendering.
    families: Mutex<BTreeMap<String, Family>>,
    /// `describe_*` units and texts by the family they describe: its exposed name and kind.
    descriptions: Mutex<HashMap<(String, Kind), Description>>,
    /// Families refused, by name and kind: a new key of one is refused at once, without a
    /// second warning.
    refused: Mutex<HashSet<(String, Kind)>>,
}

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| {
        // Rendered as one of the service's registries: after obs's families, in both formats.
        user_metrics::register_facade(Box::new(FacadeCollector));
        State::default()
    })
}

/// A name Prometheus accepts: `[a-zA-Z_:][a-zA-Z0-9_:]*` (label names without `:`), every
/// other character replaced by `_`, as `metrics-exporter-prometheus` does.
fn sanitize(name: &str, colons: bool) -> String {
    let mut sanitized: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':') { c } else { '_' })
        .collect();
    if sanitized.is_empty() || sanitized.starts_with(|c: char| c.is_ascii_digit()) {
        sanitized.insert(0, '_');
    }
    sanitized
}

/// The name of `key`'s family in `# TYPE` lines: a counter's without its `_total`.
fn family_name(key: &Key, kind: Kind) -> String {
    let name = sanitize(key.name(), true);
    match kind {
        Kind::Counter => {
            name.strip_suffix("_total").filter(|stem| !stem.is_empty()).map_or(name.clone(), str::to_owned)
        }
        Kind::Gauge | Kind::Histogram => name,
    }
}

fn labels(key: &Key) -> Vec<(String, String)> {
    key.labels().map(|label| (sanitize(label.key(), false), label.value().to_owned())).collect()
}

impl State {
    fn series(&self, key: &Key, kind: Kind) -> Option<Series> {
        let handle = (kind, key.clone());
        if let Some(found) = self.handles.read().unwrap_or_else(PoisonError::into_inner).get(&handle) {
            return Some(found.clone());
        }
        let series = self.create(key, kind)?;
        Some(self.handles.write().unwrap_or_else(PoisonError::into_inner).entry(handle).or_insert(series).clone())
    }

    fn create(&self, key: &Key, kind: Kind) -> Option<Series> {
        let name = family_name(key, kind);
        if self.refused.lock().unwrap_or_else(PoisonError::into_inner).contains(&(name.clone(), kind)) {
            return None;
        }
        let mut families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        // A new family's name is claimed under the families' lock (the one order of the two):
        // no other call can create it meanwhile.
        if !families.contains_key(&name) {
            if let Err(crate::SetupError::MetricNameClash { existing, .. }) =
                user_metrics::claim_names(std::slice::from_ref(&name))
            {
                drop(families);
                self.refuse(
                    &name,
                    kind,
                    &format!("its samples would be named like {existing:?}, which is already exposed"),
                );
                return None;
            }
        }
        let family = families.entry(name.clone()).or_insert_with(|| Family { kind, series: BTreeMap::new() });
        if family.kind != kind {
            let reason = format!("it is a {}, and was first used as a {}", kind.as_str(), family.kind.as_str());
            drop(families);
            self.refuse(&name, kind, &reason);
            return None;
        }
        let labels = labels(key);
        if let Some(series) = family.series.get(&labels) {
            return Some(series.clone());
        }
        if family.series.len() >= MAX_SERIES_PER_FAMILY {
            let reason = format!("it already has {MAX_SERIES_PER_FAMILY} label sets: a label is unbounded");
            drop(families);
            self.refuse(&name, kind, &reason);
            return None;
        }
        let series = match kind {
            Kind::Counter => Series::Counter(Arc::default()),
            Kind::Gauge => Series::Gauge(Arc::default()),
            Kind::Histogram => Series::Histogram(Arc::new(BucketHistogram(
                prometheus_client::metrics::histogram::Histogram::new(crate::schema::DEFAULT_BUCKETS.iter().copied()),
            ))),
        };
        family.series.insert(labels, series.clone());
        Some(series)
    }

    /// Refuses every new key of `family` as `kind` from now on, with one warning.
    fn refuse(&self, family: &str, kind: Kind, reason: &str) {
        if self.refused.lock().unwrap_or_else(PoisonError::into_inner).insert((family.to_owned(), kind)) {
            tracing::warn!(
                target: SYSTEM_LOG_TARGET,
                event = "metric_dropped",
                metric = family,
                "the `metrics` facade's {family:?} is not exposed on /metrics: {reason}",
            );
        }
    }

    fn describe(&self, key: KeyName, kind: Kind, unit: Option<Unit>, description: &SharedString) {
        let family = family_name(&Key::from_name(key), kind);
        self.descriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((family, kind), (unit, description.to_string()));
    }
}

impl metrics::Recorder for FacadeRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        state().describe(key, Kind::Counter, unit, &description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        state().describe(key, Kind::Gauge, unit, &description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        state().describe(key, Kind::Histogram, unit, &description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        match state().series(key, Kind::Counter) {
            Some(Series::Counter(counter)) => Counter::from_arc(counter),
            _ => Counter::noop(),
        }
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        match state().series(key, Kind::Gauge) {
            Some(Series::Gauge(gauge)) => Gauge::from_arc(gauge),
            _ => Gauge::noop(),
        }
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        match state().series(key, Kind::Histogram) {
            Some(Series::Histogram(histogram)) => Histogram::from_arc(histogram),
            _ => Histogram::noop(),
        }
    }
}

/// Encodes the facade's families for `/metrics`.
#[derive(Debug)]
struct FacadeCollector;

impl Collector for FacadeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let state = state();
        let families = state.families.lock().unwrap_or_else(PoisonError::into_inner);
        let descriptions = state.descriptions.lock().unwrap_or_else(PoisonError::into_inner);
        for (name, family) in families.iter() {
            let described = descriptions.get(&(name.clone(), family.kind));
            let help = described.map_or("Recorded through the `metrics` facade.", |(_, help)| help.as_str());
            // A unit is declared only when the name already ends in it: the facade's name stays the name.
            let unit = described
                .and_then(|(unit, _)| *unit)
                .map(|unit| unit.as_str())
                .filter(|unit| name.strip_suffix(unit).is_some_and(|rest| rest.len() > 1 && rest.ends_with('_')));
            let stem = unit.map_or(name.as_str(), |unit| &name[..name.len() - unit.len() - 1]);
            let unit = unit.map(|unit| prometheus_client::registry::Unit::Other(unit.to_owned()));
            let metric_type = match family.kind {
                Kind::Counter => MetricType::Counter,
                Kind::Gauge => MetricType::Gauge,
                Kind::Histogram => MetricType::Histogram,
            };
            let mut metric = encoder.encode_descriptor(stem, help, unit.as_ref(), metric_type)?;
            for (labels, series) in &family.series {
                let sample = metric.encode_family(labels)?;
                match series {
                    Series::Counter(counter) => ConstCounter::new(counter.0.load(Ordering::Relaxed)).encode(sample)?,
                    Series::Gauge(gauge) => ConstGauge::new(gauge.value()).encode(sample)?,
                    Series::Histogram(histogram) => histogram.0.encode(sample)?,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_SERIES_PER_FAMILY, recorder, sanitize};
    use crate::metrics::{ExpositionFormat, render};

    #[test]
    fn refused_keys_are_not_kept_and_a_key_reused_as_another_kind_is_refused() {
        metrics::with_local_recorder(&recorder(), || {
            metrics::counter!("facade_test_reused", "queue" => "a").increment(4);
            metrics::gauge!("facade_test_reused", "queue" => "a").set(9.0);
            for id in 0..3 * MAX_SERIES_PER_FAMILY {
                metrics::counter!("facade_test_many_total", "id" => id.to_string()).increment(1);
            }
        });
        let kept = super::state()
            .handles
            .read()
            .unwrap()
            .keys()
            .filter(|(_, key)| key.name() == "facade_test_many_total")
            .count();
        assert_eq!(kept, MAX_SERIES_PER_FAMILY, "refused keys cost no memory");
        let openmetrics = render(ExpositionFormat::OpenMetrics);
        assert!(openmetrics.contains("facade_test_reused_total{queue=\"a\"} 4\n"), "{openmetrics}");
        assert!(!openmetrics.contains("# TYPE facade_test_reused gauge"), "{openmetrics}");
    }

    /// A collector of the service's that records through the facade while a scrape renders it.
    #[derive(Debug)]
    struct RecordingCollector;

    impl prometheus_client::collector::Collector for RecordingCollector {
        fn encode(&self, _encoder: prometheus_client::encoding::DescriptorEncoder) -> Result<(), std::fmt::Error> {
            metrics::with_local_recorder(&recorder(), || metrics::counter!("facade_test_scrapes_total").increment(1));
            Ok(())
        }
    }

    #[test]
    fn a_collector_recording_through_the_facade_during_a_scrape_does_not_deadlock() {
        crate::metrics::register(|registry| registry.register_collector(Box::new(RecordingCollector)))
            .expect("registered");
        let _first = render(ExpositionFormat::OpenMetrics);
        assert!(render(ExpositionFormat::OpenMetrics).contains("facade_test_scrapes_total "));
    }

    #[test]
    fn names_become_prometheus_names() {
        assert_eq!(sanitize("http.client.requests", true), "http_client_requests");
        assert_eq!(sanitize("9lives", true), "_9lives");
        assert_eq!(sanitize("ns:metric", true), "ns:metric");
        assert_eq!(sanitize("ns:label", false), "ns_label");
    }

    #[test]
    fn counters_gauges_and_histograms_render_in_both_formats_and_clashes_are_dropped() {
        metrics::with_local_recorder(&recorder(), || {
            metrics::describe_histogram!("facade_test_job_seconds", metrics::Unit::Seconds, "Job durations.");
            metrics::counter!("facade_test_jobs_total", "queue" => "mail").increment(3);
            metrics::counter!("facade.test.retries").absolute(7);
            metrics::gauge!("facade_test_depth").set(2.5);
            metrics::gauge!("facade_test_depth").decrement(1.0);
            metrics::histogram!("facade_test_job_seconds").record(0.3);
            // Dropped: obs's own family, and a counter's name reused for a gauge.
            metrics::gauge!("http_server_active_requests").set(99.0);
            metrics::gauge!("facade_test_jobs_total").set(1.0);
            for id in 0..=MAX_SERIES_PER_FAMILY {
                metrics::counter!("facade_test_unbounded_total", "id" => id.to_string()).increment(1);
            }
        });
        let openmetrics = render(ExpositionFormat::OpenMetrics);
        for expected in [
            "# TYPE facade_test_jobs counter\n",
            "facade_test_jobs_total{queue=\"mail\"} 3\n",
            "facade_test_retries_total 7\n",
            "# TYPE facade_test_depth gauge\n",
            "facade_test_depth 1.5\n",
            "# HELP facade_test_job_seconds Job durations.\n# TYPE facade_test_job_seconds histogram\n# UNIT facade_test_job_seconds seconds\n",
            "facade_test_job_seconds_bucket{le=\"0.5\"} 1\n",
            "facade_test_job_seconds_count 1\n",
        ] {
            assert!(openmetrics.contains(expected), "{expected}\n{openmetrics}");
        }
        assert!(!openmetrics.contains("http_server_active_requests 99"), "a clash with obs's family is dropped");
        assert!(!openmetrics.contains("facade_test_jobs_total "), "a gauge whose samples a counter writes is dropped");
        assert_eq!(openmetrics.matches("facade_test_unbounded_total{").count(), MAX_SERIES_PER_FAMILY);
        assert_eq!(openmetrics.matches("# EOF").count(), 1);
        let text = render(ExpositionFormat::PrometheusText);
        assert!(text.contains("facade_test_jobs_total{queue=\"mail\"} 3\n"), "{text}");
        assert!(text.contains("facade_test_job_seconds_bucket{le=\"0.5\"} 1\n"), "{text}");
    }
}
