//! The metric state of one endpoint (method + route): its in-flight gauge and its duration
//! histograms, one per outcome.

use crate::call_site::CallSite;
use crate::metrics::outcome_series::OutcomeSeries;
use crate::outcome::Classification;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Metrics of one method + route.
#[derive(Debug)]
pub struct EndpointMetrics {
    pub method: &'static str,
    pub route: &'static str,
    pub active: AtomicI64,
    pub outcomes: OutcomeSeries,
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
    let metrics = Arc::new(EndpointMetrics {
        method: site.method(),
        route: site.route(),
        active: AtomicI64::new(0),
        outcomes: OutcomeSeries::new(site.buckets()),
    });
    // The zero series makes request-rate queries return 0, not nothing, before the first call.
    metrics.outcomes.series_for(Classification::success());
    endpoints.push(Arc::clone(&metrics));
    metrics
}

/// A copy of the list of registered endpoints, for encoding.
pub fn registered() -> Vec<Arc<EndpointMetrics>> {
    ENDPOINTS.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

impl EndpointMetrics {
    /// Calls completed so far, across all outcomes.
    pub fn calls(&self) -> u64 {
        self.outcomes.calls()
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> i64 {
        self.active.load(Ordering::Relaxed)
    }
}
