//! The service's own metrics (orders created, queue depth, a custom `Collector`), registered with
//! prometheus-client and rendered on obs's `/metrics` after obs's families, in both formats, under
//! the one `# EOF`.

use crate::error::SetupError;
use prometheus_client::registry::Registry;
use std::sync::{Mutex, PoisonError};

/// Every registry the service added, in order, with the family names it declares. Held while a
/// scrape renders them (user collectors run under it), so nothing a call records takes it.
static USER_REGISTRIES: Mutex<Vec<(Registry, Vec<String>)>> = Mutex::new(Vec::new());

/// Every family name exposed: obs's own, the service's registrations' and the `metrics`
/// facade's. A name is checked and claimed under this one lock, so two claims of one name cannot
/// both pass. It is taken inside the facade's families' lock (never the other way round), and
/// never while a scrape renders.
static TAKEN_NAMES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Claims `names` for one registration or facade family: all of them, or, when one would write
/// samples named like a taken family, none, with the clash.
pub(crate) fn claim_names(names: &[String]) -> Result<(), SetupError> {
    let mut taken = TAKEN_NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if taken.is_empty() {
        taken.extend(crate::metrics::own_family_names().iter().cloned());
    }
    for name in names {
        if let Some(existing) = taken.iter().find(|existing| collide(name, existing)) {
            return Err(SetupError::MetricNameClash { name: name.clone(), existing: existing.clone() });
        }
    }
    taken.extend(names.iter().cloned());
    Ok(())
}

/// Suffixes a family's samples add to its name: a name that is another's plus one of these
/// would make their samples collide.
const SAMPLE_SUFFIXES: [&str; 6] = ["_total", "_created", "_count", "_sum", "_bucket", "_info"];

/// The family names an OpenMetrics exposition declares (`# TYPE name type`).
pub(crate) fn family_names(exposition: &str) -> Vec<String> {
    exposition.lines().filter_map(|line| line.strip_prefix("# TYPE ")?.split(' ').next().map(str::to_owned)).collect()
}

/// Whether families named `a` and `b` would write the same sample name.
pub(crate) fn collide(a: &str, b: &str) -> bool {
    let stems = |name: &str| {
        std::iter::once(name.to_owned())
            .chain(SAMPLE_SUFFIXES.iter().filter_map(|suffix| name.strip_suffix(suffix).map(str::to_owned)))
            .collect::<Vec<_>>()
    };
    a == b || stems(a).contains(&b.to_owned()) || stems(b).contains(&a.to_owned())
}

/// Adds the families `build` registers to obs's `/metrics`; see [`crate::metrics::register`].
pub(crate) fn register(build: impl FnOnce(&mut Registry)) -> Result<(), SetupError> {
    let mut registry = Registry::default();
    build(&mut registry);
    let mut text = String::new();
    // Writing into a String cannot fail, and collectors only fail when their writer does.
    let _ = prometheus_client::encoding::text::encode_registry(&mut text, &registry);
    let mut names = family_names(&text);
    names.dedup();
    claim_names(&names)?;
    USER_REGISTRIES.lock().unwrap_or_else(PoisonError::into_inner).push((registry, names));
    Ok(())
}

/// Adds the `metrics` facade's collector, whose families come and go with use: its names are
/// checked as each family appears.
#[cfg(feature = "metrics")]
pub(crate) fn register_facade(collector: Box<dyn prometheus_client::collector::Collector>) {
    let mut registry = Registry::default();
    registry.register_collector(collector);
    USER_REGISTRIES.lock().unwrap_or_else(PoisonError::into_inner).push((registry, Vec::new()));
}

/// Appends every added registry in the OpenMetrics format (without `# EOF`).
pub(crate) fn write_openmetrics(text: &mut String) {
    for (registry, _) in USER_REGISTRIES.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        let _ = prometheus_client::encoding::text::encode_registry(text, registry);
    }
}

/// Appends every added registry in the Prometheus text format 0.0.4.
pub(crate) fn write_prometheus_text(text: &mut String) {
    for (registry, _) in USER_REGISTRIES.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        let _ = prometheus_client::encoding::prometheus_text::encode(text, registry);
    }
}

#[cfg(test)]
mod tests {
    use super::collide;
    use crate::SetupError;
    use crate::metrics::{ExpositionFormat, register, render};
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;

    #[test]
    fn a_clash_with_obs_or_an_earlier_registration_is_a_typed_error_and_adds_nothing() {
        let clash =
            register(|registry| registry.register("http_server_active_requests", "mine", Gauge::<i64>::default()));
        assert!(
            matches!(&clash, Err(SetupError::MetricNameClash { name, existing }) if name == "http_server_active_requests" && existing == name),
            "{clash:?}"
        );
        let jobs = Family::<Vec<(String, String)>, Counter>::default();
        jobs.get_or_create(&vec![("queue".to_owned(), "mail".to_owned())]).inc_by(3);
        register(|registry| registry.register("test_jobs_done", "Jobs done.", jobs.clone())).expect("a new name");
        let again = register(|registry| registry.register("test_jobs_done", "Again.", Counter::<u64>::default()));
        assert!(matches!(again, Err(SetupError::MetricNameClash { .. })), "{again:?}");
        let openmetrics = render(ExpositionFormat::OpenMetrics);
        assert!(openmetrics.contains("test_jobs_done_total{queue=\"mail\"} 3\n"), "{openmetrics}");
        assert_eq!(openmetrics.matches("# EOF").count(), 1);
        assert!(openmetrics.ends_with("# EOF\n"));
        assert!(!openmetrics.contains("mine"), "the clashing registration added nothing");
        let text = render(ExpositionFormat::PrometheusText);
        assert!(text.contains("test_jobs_done_total{queue=\"mail\"} 3\n") && !text.contains("# EOF"), "{text}");
    }

    #[test]
    fn names_collide_when_their_samples_would() {
        assert!(collide("process_cpu_seconds", "process_cpu_seconds"));
        assert!(collide("http_server_request_duration_seconds_count", "http_server_request_duration_seconds"));
        assert!(collide("jobs", "jobs_total"));
        assert!(!collide("jobs", "jobs_done"));
        assert!(collide("orders_created", "orders"), "a counter `orders` writes `orders_created`");
        assert!(!collide("orders_placed", "orders"));
    }
}
