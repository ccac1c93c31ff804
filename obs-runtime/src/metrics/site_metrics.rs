//! The metric state of every observed endpoint and operation, in one registry: each identity's
//! duration histograms (one per outcome) and, for an endpoint, its in-flight gauge. A leaf: it
//! knows series keys and bucket bounds, not call sites.

use crate::metrics::exemplar::ExemplarSource;
use crate::metrics::outcome_series::OutcomeSeries;
use crate::outcome::Classification;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// What a call is counted under: the labels that identify its series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeriesKey {
    /// An endpoint: `http_server_request_duration_seconds{http_request_method, http_route}`.
    Endpoint { method: &'static str, route: &'static str },
    /// An operation: `operation_duration_seconds{operation}`.
    Operation { name: &'static str },
}

/// The metric state of one endpoint or operation.
#[derive(Debug)]
pub struct SiteMetrics {
    pub key: SeriesKey,
    active: AtomicI64,
    pub outcomes: OutcomeSeries,
}

/// Every endpoint and operation with metric state, in registration order.
static SITES: Mutex<Vec<Arc<SiteMetrics>>> = Mutex::new(Vec::new());

/// The state for `key`, created with a zero series on first use. Call sites with the same key
/// share one state (the setup reports them as an error).
pub fn register(key: SeriesKey, bounds: &'static [f64]) -> Arc<SiteMetrics> {
    let mut sites = SITES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(existing) = sites.iter().find(|existing| existing.key == key) {
        return Arc::clone(existing);
    }
    let metrics = Arc::new(SiteMetrics { key, active: AtomicI64::new(0), outcomes: OutcomeSeries::new(bounds) });
    // The zero series makes rate queries return 0, not nothing, before the first call.
    metrics.outcomes.series_for(Classification::success());
    sites.push(Arc::clone(&metrics));
    metrics
}

/// A copy of the registry, for encoding.
pub fn registered() -> Vec<Arc<SiteMetrics>> {
    SITES.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

impl SiteMetrics {
    /// Whether this is an endpoint's state (with an in-flight gauge).
    pub const fn is_endpoint(&self) -> bool {
        matches!(self.key, SeriesKey::Endpoint { .. })
    }

    /// A call started: an endpoint counts it in flight.
    #[inline]
    pub fn started(&self) {
        if self.is_endpoint() {
            self.active.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A call counted in flight ends unrecorded here: another record covers it.
    #[inline]
    pub fn abandoned(&self) {
        if self.is_endpoint() {
            self.active.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// A call ended with `outcome` after `nanos`. An operation is labelled by `error_type` only,
    /// so its outcome is keyed without status codes: a 200 and a status-less success are one
    /// series.
    #[inline]
    pub fn finished(&self, outcome: Classification, nanos: u64, exemplar: Option<&impl ExemplarSource>) {
        if self.is_endpoint() {
            self.outcomes.observe(outcome, nanos, exemplar);
            self.active.fetch_sub(1, Ordering::Relaxed);
        } else {
            self.outcomes.observe(outcome.without_status_code(), nanos, exemplar);
        }
    }

    /// Calls in flight now (always 0 for an operation).
    pub fn in_flight(&self) -> i64 {
        self.active.load(Ordering::Relaxed)
    }

    /// Calls completed so far, across all outcomes.
    pub fn calls(&self) -> u64 {
        self.outcomes.calls()
    }
}

#[cfg(test)]
mod tests {
    use super::{SeriesKey, SiteMetrics};
    use crate::metrics::exemplar::SpanSource;
    use crate::metrics::outcome_series::OutcomeSeries;
    use crate::outcome::{Classification, ErrorType};
    use std::sync::atomic::AtomicI64;

    #[test]
    fn status_codes_do_not_split_an_operation_series() {
        let metrics = SiteMetrics {
            key: SeriesKey::Operation { name: "test.op" },
            active: AtomicI64::new(0),
            outcomes: OutcomeSeries::new(&[1.0]),
        };
        for outcome in [Classification::success(), Classification::status(200), Classification::status(404)] {
            metrics.started();
            metrics.finished(outcome, 10, None::<&SpanSource<'_>>);
        }
        metrics.finished(Classification::status(503), 10, None::<&SpanSource<'_>>);
        let series = metrics.outcomes.series();
        assert_eq!(series.len(), 2, "{series:?}");
        assert_eq!(series[0].histogram.count(), 3);
        assert_eq!(series[1].outcome.error_type(), Some(ErrorType::Status(503)));
        assert_eq!(series[1].outcome.status_code(), None);
        assert_eq!(metrics.in_flight(), 0, "an operation has no in-flight gauge");
    }

    #[test]
    fn an_endpoint_counts_calls_in_flight() {
        let metrics = SiteMetrics {
            key: SeriesKey::Endpoint { method: "GET", route: "/x" },
            active: AtomicI64::new(0),
            outcomes: OutcomeSeries::new(&[1.0]),
        };
        metrics.started();
        assert_eq!(metrics.in_flight(), 1);
        metrics.finished(Classification::status(404), 10, None::<&SpanSource<'_>>);
        assert_eq!((metrics.in_flight(), metrics.calls()), (0, 1));
        assert_eq!(metrics.outcomes.series()[0].outcome.status_code(), Some(404), "an endpoint keeps its status");
    }
}
