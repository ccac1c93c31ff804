//! The metric state of one endpoint (method + route): its in-flight gauge and one duration
//! histogram per outcome, with the hot outcomes cached in lock-free slots.

use crate::call_site::CallSite;
use crate::metrics::histogram::{AtomicHistogram, bounds_to_nanos};
use crate::outcome::Classification;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Distinct outcomes served without a lock; an endpoint rarely has more (200, 404, 500, ...).
const CACHED_OUTCOMES: usize = 8;

/// One label set of `http_server_request_duration_seconds`.
#[derive(Debug)]
pub struct Series {
    pub outcome: Classification,
    pub histogram: AtomicHistogram,
}

/// Metrics of one method + route.
#[derive(Debug)]
pub struct EndpointMetrics {
    pub method: &'static str,
    pub route: &'static str,
    pub bounds_seconds: &'static [f64],
    bounds_nanos: Box<[u64]>,
    pub active: AtomicI64,
    cached: [OnceLock<Arc<Series>>; CACHED_OUTCOMES],
    all: Mutex<Vec<Arc<Series>>>,
}

/// Every endpoint with metric state, in registration order.
static ENDPOINTS: Mutex<Vec<Arc<EndpointMetrics>>> = Mutex::new(Vec::new());

/// The state for `site`'s method and route, created with a zero series on first use. Two call
/// sites with the same method and route share one state (the setup reports them as an error).
pub fn register(site: &'static CallSite) -> Arc<EndpointMetrics> {
    let mut endpoints = ENDPOINTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(existing) = endpoints.iter().find(|e| e.method == site.method() && e.route == site.route()) {
        return Arc::clone(existing);
    }
    let metrics = Arc::new(EndpointMetrics::new(site.method(), site.route(), site.buckets()));
    // The zero series makes request-rate queries return 0, not nothing, before the first call.
    metrics.series_for(Classification::success());
    endpoints.push(Arc::clone(&metrics));
    metrics
}

/// A copy of the list of registered endpoints, for encoding.
pub fn registered() -> Vec<Arc<EndpointMetrics>> {
    ENDPOINTS.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

impl EndpointMetrics {
    fn new(method: &'static str, route: &'static str, bounds_seconds: &'static [f64]) -> Self {
        EndpointMetrics {
            method,
            route,
            bounds_seconds,
            bounds_nanos: bounds_to_nanos(bounds_seconds),
            active: AtomicI64::new(0),
            cached: std::array::from_fn(|_| OnceLock::new()),
            all: Mutex::new(Vec::new()),
        }
    }

    /// Records one finished call.
    #[inline]
    pub fn observe(&self, outcome: Classification, nanos: u64) {
        for slot in &self.cached {
            match slot.get() {
                Some(series) if series.outcome == outcome => {
                    series.histogram.observe(&self.bounds_nanos, nanos);
                    return;
                }
                Some(_) => {}
                None => break,
            }
        }
        self.series_for(outcome).histogram.observe(&self.bounds_nanos, nanos);
    }

    /// The series for `outcome`, created (and cached when a slot is free) on first use.
    fn series_for(&self, outcome: Classification) -> Arc<Series> {
        let series = {
            let mut all = self.all.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(existing) = all.iter().find(|series| series.outcome == outcome) {
                Arc::clone(existing)
            } else {
                let created = Arc::new(Series { outcome, histogram: AtomicHistogram::new(self.bounds_seconds.len()) });
                all.push(Arc::clone(&created));
                created
            }
        };
        for slot in &self.cached {
            let cached = slot.get_or_init(|| Arc::clone(&series));
            if cached.outcome == outcome {
                break;
            }
        }
        series
    }

    /// Every series of this endpoint, in creation order.
    pub fn series(&self) -> Vec<Arc<Series>> {
        self.all.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Calls completed so far, across all outcomes.
    pub fn calls(&self) -> u64 {
        self.series().iter().map(|series| series.histogram.count()).sum()
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> i64 {
        self.active.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::EndpointMetrics;
    use crate::outcome::Classification;

    #[test]
    fn outcomes_beyond_the_cache_are_still_counted() {
        let metrics = EndpointMetrics::new("GET", "/cache-test", &[0.1, 1.0]);
        for code in 200..230_u16 {
            for _ in 0..3 {
                metrics.observe(Classification::status(code), 1_000);
            }
        }
        let series = metrics.series();
        assert_eq!(series.len(), 30);
        assert!(series.iter().all(|series| series.histogram.count() == 3));
        assert_eq!(metrics.calls(), 90);
    }
}
