//! A lock-free duration histogram: one relaxed `fetch_add` for the bucket and one for the sum,
//! plus, for a sampled call, its trace in the bucket's exemplar slot.
//!
//! prometheus-client's own `Histogram` takes a mutex per observation; this one keeps the hot path
//! to two atomic additions and derives the count from the buckets, so a scrape never sees a count
//! that disagrees with them.

use crate::metrics::exemplar::{ExemplarSlot, ExemplarSnapshot, ExemplarSource};
use std::sync::atomic::{AtomicU64, Ordering};

/// Per-bucket counts (not cumulative), the sum of all observations in nanoseconds, and one
/// exemplar slot per bucket.
#[derive(Debug)]
pub struct AtomicHistogram {
    counts: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
    exemplars: Box<[ExemplarSlot]>,
}

/// A consistent-enough copy for encoding: `buckets` pairs each upper bound (the last is +Inf)
/// with its own count, as prometheus-client's encoder expects; `exemplars` has one entry per
/// bucket.
#[derive(Debug, PartialEq)]
pub struct HistogramSnapshot {
    pub sum_seconds: f64,
    pub count: u64,
    pub buckets: Vec<(f64, u64)>,
    pub exemplars: Vec<Option<ExemplarSnapshot>>,
}

impl AtomicHistogram {
    /// A histogram with `bucket_count` finite buckets plus the +Inf bucket.
    pub fn new(bucket_count: usize) -> Self {
        AtomicHistogram {
            counts: (0..=bucket_count).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
            exemplars: (0..=bucket_count).map(|_| ExemplarSlot::default()).collect(),
        }
    }

    /// Records one duration; `bounds_nanos` are the finite upper bounds, ascending. A traced call
    /// is offered as the exemplar of its bucket.
    #[inline]
    pub fn observe(&self, bounds_nanos: &[u64], nanos: u64, exemplar: Option<&impl ExemplarSource>) {
        let index = bounds_nanos.iter().position(|bound| nanos <= *bound).unwrap_or(bounds_nanos.len());
        self.counts[index].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        if let Some(source) = exemplar {
            self.exemplars[index].offer(source, nanos);
        }
    }

    /// The number of observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|count| count.load(Ordering::Relaxed)).sum()
    }

    /// A copy for encoding, with `bounds_seconds` as the finite upper bounds.
    pub fn snapshot(&self, bounds_seconds: &[f64]) -> HistogramSnapshot {
        let buckets: Vec<(f64, u64)> = bounds_seconds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.counts.iter().map(|count| count.load(Ordering::Relaxed)))
            .collect();
        #[allow(clippy::cast_precision_loss)]
        // sums beyond 2^53 ns (104 days of latency) lose sub-µs digits only
        let sum_seconds = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let exemplars = self.exemplars.iter().map(ExemplarSlot::read).collect();
        HistogramSnapshot { sum_seconds, count: buckets.iter().map(|(_, count)| count).sum(), buckets, exemplars }
    }
}

/// Converts bucket bounds in seconds to whole nanoseconds, rounding to the nearest nanosecond.
pub fn bounds_to_nanos(bounds_seconds: &[f64]) -> Box<[u64]> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    // bounds are validated finite and positive
    bounds_seconds.iter().map(|bound| (bound * 1e9).round() as u64).collect()
}

#[cfg(test)]
mod tests {
    use super::{AtomicHistogram, bounds_to_nanos};
    use crate::metrics::exemplar::{ExemplarSource, SampledCall};

    /// A sampled call that ended at 1 ns.
    struct Sampled(SampledCall);

    impl ExemplarSource for Sampled {
        fn ended(&self) -> u64 {
            1
        }

        fn sampled(&self) -> Option<SampledCall> {
            Some(self.0)
        }
    }

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let bounds = [0.005, 0.01, 1.0];
        let nanos = bounds_to_nanos(&bounds);
        assert_eq!(&*nanos, &[5_000_000, 10_000_000, 1_000_000_000]);
        let histogram = AtomicHistogram::new(bounds.len());
        for observation in [0, 5_000_000, 5_000_001, 2_000_000_000] {
            histogram.observe(&nanos, observation, None::<&Sampled>);
        }
        let snapshot = histogram.snapshot(&bounds);
        assert_eq!(snapshot.count, 4);
        assert_eq!(snapshot.buckets, vec![(0.005, 2), (0.01, 1), (1.0, 0), (f64::INFINITY, 1)]);
        assert!((snapshot.sum_seconds - 2.010_000_001).abs() < 1e-12);
        assert_eq!(histogram.count(), 4);
        assert_eq!(snapshot.exemplars, vec![None; 4], "no sampled call, no exemplar");
    }

    #[test]
    fn a_sampled_call_is_the_exemplar_of_its_own_bucket() {
        let bounds = [0.005, 0.01];
        let nanos = bounds_to_nanos(&bounds);
        let histogram = AtomicHistogram::new(bounds.len());
        let call = SampledCall { trace_id: 7, span_id: 8, unix_nanos: 9 };
        histogram.observe(&nanos, 7_000_000, Some(&Sampled(call)));
        histogram.observe(&nanos, 1_000, None::<&Sampled>);
        let exemplars = histogram.snapshot(&bounds).exemplars;
        assert_eq!(exemplars[0], None);
        assert_eq!(exemplars[1].map(|exemplar| (exemplar.call, exemplar.nanos)), Some((call, 7_000_000)));
        assert_eq!(exemplars[2], None);
    }
}
