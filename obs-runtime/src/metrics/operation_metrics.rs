//! The metric state of one internal operation (`#[observed(operation = "db.load_user")]`): its
//! duration histograms, one per `error_type`.

use crate::call_site::CallSite;
use crate::metrics::exemplar::ExemplarSource;
use crate::metrics::outcome_series::OutcomeSeries;
use crate::outcome::Classification;
use std::sync::{Arc, Mutex, PoisonError};

/// Metrics of one operation.
#[derive(Debug)]
pub struct OperationMetrics {
    pub operation: &'static str,
    pub outcomes: OutcomeSeries,
}

/// Every operation with metric state, in registration order.
static OPERATIONS: Mutex<Vec<Arc<OperationMetrics>>> = Mutex::new(Vec::new());

/// The state for `site`'s operation, created with a zero series on first use. Two call sites
/// with the same operation name share one state (the setup reports them as an error).
pub fn register(site: &'static CallSite) -> Arc<OperationMetrics> {
    let operation = site.operation().unwrap_or_default();
    let mut operations = OPERATIONS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(existing) = operations.iter().find(|existing| existing.operation == operation) {
        return Arc::clone(existing);
    }
    let metrics = Arc::new(OperationMetrics { operation, outcomes: OutcomeSeries::new(site.buckets()) });
    // The zero series makes rate queries return 0, not nothing, before the first call.
    metrics.outcomes.series_for(Classification::success());
    operations.push(Arc::clone(&metrics));
    metrics
}

/// A copy of the list of registered operations, for encoding.
pub fn registered() -> Vec<Arc<OperationMetrics>> {
    OPERATIONS.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

impl OperationMetrics {
    /// Records one finished call. Operations are labelled by `error_type` only, so the outcome
    /// is keyed without its status code: a 200 and a status-less success are one series.
    #[inline]
    pub fn observe(&self, outcome: Classification, nanos: u64, exemplar: Option<&impl ExemplarSource>) {
        self.outcomes.observe(outcome.without_status_code(), nanos, exemplar);
    }
}

#[cfg(test)]
mod tests {
    use super::OperationMetrics;
    use crate::metrics::exemplar::SpanSource;
    use crate::metrics::outcome_series::OutcomeSeries;
    use crate::outcome::{Classification, ErrorType};

    #[test]
    fn status_codes_do_not_split_an_operation_series() {
        let metrics = OperationMetrics { operation: "test.op", outcomes: OutcomeSeries::new(&[1.0]) };
        for outcome in [Classification::success(), Classification::status(200), Classification::status(404)] {
            metrics.observe(outcome, 10, None::<&SpanSource<'_>>);
        }
        metrics.observe(Classification::status(503), 10, None::<&SpanSource<'_>>);
        let series = metrics.outcomes.series();
        assert_eq!(series.len(), 2, "{series:?}");
        assert_eq!(series[0].histogram.count(), 3);
        assert_eq!(series[1].outcome.error_type(), Some(ErrorType::Status(503)));
        assert_eq!(series[1].outcome.status_code(), None);
    }
}
