//! The duration histograms of one call site, one per outcome (label set), with the hot outcomes
//! cached in lock-free slots: shared by endpoints and operations.

use crate::metrics::exemplar::ExemplarSource;
use crate::metrics::histogram::{AtomicHistogram, bounds_to_nanos};
use crate::outcome::Classification;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Distinct outcomes served without a lock; a call site rarely has more (200, 404, 500, ...).
const CACHED_OUTCOMES: usize = 8;

/// One label set's histogram.
#[derive(Debug)]
pub struct Series {
    pub outcome: Classification,
    pub histogram: AtomicHistogram,
}

/// Every outcome's histogram, all with the same buckets.
#[derive(Debug)]
pub struct OutcomeSeries {
    pub bounds_seconds: &'static [f64],
    bounds_nanos: Box<[u64]>,
    cached: [OnceLock<Arc<Series>>; CACHED_OUTCOMES],
    all: Mutex<Vec<Arc<Series>>>,
}

impl OutcomeSeries {
    /// No series yet; each is created on its outcome's first use.
    pub fn new(bounds_seconds: &'static [f64]) -> Self {
        OutcomeSeries {
            bounds_seconds,
            bounds_nanos: bounds_to_nanos(bounds_seconds),
            cached: std::array::from_fn(|_| OnceLock::new()),
            all: Mutex::new(Vec::new()),
        }
    }

    /// Records one finished call; a traced one is offered as its bucket's exemplar.
    #[inline]
    pub fn observe(&self, outcome: Classification, nanos: u64, exemplar: Option<&impl ExemplarSource>) {
        for slot in &self.cached {
            match slot.get() {
                Some(series) if series.outcome == outcome => {
                    series.histogram.observe(&self.bounds_nanos, nanos, exemplar);
                    return;
                }
                Some(_) => {}
                None => break,
            }
        }
        self.series_for(outcome).histogram.observe(&self.bounds_nanos, nanos, exemplar);
    }

    /// The series for `outcome`, created (and cached when a slot is free) on first use.
    pub fn series_for(&self, outcome: Classification) -> Arc<Series> {
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

    /// Every series, in creation order.
    pub fn series(&self) -> Vec<Arc<Series>> {
        self.all.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Calls completed so far, across all outcomes.
    pub fn calls(&self) -> u64 {
        self.series().iter().map(|series| series.histogram.count()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::OutcomeSeries;
    use crate::metrics::exemplar::SpanSource;
    use crate::outcome::Classification;

    #[test]
    fn outcomes_beyond_the_cache_are_still_counted() {
        let outcomes = OutcomeSeries::new(&[0.1, 1.0]);
        for code in 200..230_u16 {
            for _ in 0..3 {
                outcomes.observe(Classification::status(code), 1_000, None::<&SpanSource<'_>>);
            }
        }
        let series = outcomes.series();
        assert_eq!(series.len(), 30);
        assert!(series.iter().all(|series| series.histogram.count() == 3));
        assert_eq!(outcomes.calls(), 90);
    }
}
