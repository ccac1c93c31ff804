//! Exemplars: per histogram bucket, the trace of a recent sampled call that landed in it, so a
//! latency spike on a dashboard links to a trace.
//!
//! Each bucket has one [`ExemplarSlot`], a sequence lock over plain atomics: a writer claims the
//! slot with one compare-and-swap and skips when another writer holds it (last writer wins, a
//! contended write is dropped, never waited for); a reader (the scrape) retries a few times and
//! gives up on a slot that keeps changing. No lock, no allocation on the hot path.
//!
//! Looking up a call's trace ids costs more than the rest of the metrics put together (a span
//! lookup in the subscriber's registry), so a bucket asks for them at most once per
//! [`REFRESH_INTERVAL`]: under load the lookup is paid a few times per second per bucket, and an
//! exemplar is never older than the interval while sampled calls keep landing in its bucket.

use crate::clock::Tick;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often a bucket looks for a new exemplar.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(100);

/// Where an observation's exemplar comes from: the moment the call ended, and its trace ids,
/// looked up only when a bucket wants a new exemplar.
pub trait ExemplarSource {
    /// When the call ended, in nanoseconds on a monotonic clock; never 0.
    fn ended(&self) -> u64;
    /// The call's trace, when it is sampled.
    fn sampled(&self) -> Option<SampledCall>;
}

/// The exemplar source of a traced call: its span and the instant it ended.
#[derive(Debug)]
pub struct SpanSource<'a> {
    pub span: &'a tracing::Span,
    pub ended: Tick,
}

impl ExemplarSource for SpanSource<'_> {
    fn ended(&self) -> u64 {
        let since_anchor = self.ended.since(anchor()).as_nanos();
        u64::try_from(since_anchor).unwrap_or(u64::MAX).saturating_add(1)
    }

    fn sampled(&self) -> Option<SampledCall> {
        sampled_call(self.span, self.ended)
    }
}

/// The trace and span of one sampled call, and when it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampledCall {
    /// The OpenTelemetry trace id; never zero (zero is the invalid id).
    pub trace_id: u128,
    /// The OpenTelemetry span id of the call's own span.
    pub span_id: u64,
    /// When the call ended, in nanoseconds since the Unix epoch.
    pub unix_nanos: u64,
}

/// An exemplar as read back for encoding: the sampled call and the observed duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExemplarSnapshot {
    pub call: SampledCall,
    pub nanos: u64,
}

impl ExemplarSnapshot {
    /// The OpenMetrics exemplar suffix of a bucket line, without the leading space:
    /// `# {trace_id="…",span_id="…"} 0.0123 1764063000.123`.
    pub fn write_openmetrics(&self, out: &mut String) {
        // The label set is 63 characters, well within OpenMetrics' limit of 128.
        let _ = write!(out, "# {{trace_id=\"{:032x}\",span_id=\"{:016x}\"}} ", self.call.trace_id, self.call.span_id);
        out.push_str(dtoa::Buffer::new().format(nanos_to_seconds(self.nanos)));
        let seconds = self.call.unix_nanos / 1_000_000_000;
        let millis = (self.call.unix_nanos % 1_000_000_000) / 1_000_000;
        let _ = write!(out, " {seconds}.{millis:03}");
    }
}

#[allow(clippy::cast_precision_loss)] // durations beyond 2^53 ns (104 days) lose sub-µs digits only
fn nanos_to_seconds(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

/// One bucket's exemplar. `sequence` is even when the slot is stable and odd while written;
/// `looked` is when the bucket last looked for an exemplar (an [`ExemplarSource::ended`], 0 for
/// never).
#[derive(Debug, Default)]
pub struct ExemplarSlot {
    looked: AtomicU64,
    sequence: AtomicU64,
    trace_high: AtomicU64,
    trace_low: AtomicU64,
    span_id: AtomicU64,
    nanos: AtomicU64,
    unix_nanos: AtomicU64,
}

/// A reader gives up on a slot rewritten this many times while it reads.
const READ_ATTEMPTS: usize = 4;

impl ExemplarSlot {
    /// Makes the call of `source` the exemplar when it is sampled, unless this bucket looked for
    /// one less than [`REFRESH_INTERVAL`] ago (or another call is looking right now).
    #[inline]
    pub fn offer(&self, source: &impl ExemplarSource, nanos: u64) {
        let now = source.ended();
        let looked = self.looked.load(Ordering::Relaxed);
        #[allow(clippy::cast_possible_truncation)] // 100 ms in nanoseconds
        let fresh = looked != 0 && now.saturating_sub(looked) < REFRESH_INTERVAL.as_nanos() as u64;
        if fresh || self.looked.compare_exchange(looked, now, Ordering::Relaxed, Ordering::Relaxed).is_err() {
            return;
        }
        if let Some(call) = source.sampled() {
            self.record(&call, nanos);
        }
    }

    /// Stores `call` with its duration, unless another call is storing into this slot right now.
    #[inline]
    pub fn record(&self, call: &SampledCall, nanos: u64) {
        let sequence = self.sequence.load(Ordering::Relaxed);
        if sequence & 1 == 1
            || self.sequence.compare_exchange(sequence, sequence + 1, Ordering::Acquire, Ordering::Relaxed).is_err()
        {
            return;
        }
        // Orders the odd sequence before the data: a reader that sees any of the new data then
        // sees the sequence change and retries.
        fence(Ordering::Release);
        #[allow(clippy::cast_possible_truncation)] // the two halves of the 128-bit id, on purpose
        {
            self.trace_high.store((call.trace_id >> 64) as u64, Ordering::Relaxed);
            self.trace_low.store(call.trace_id as u64, Ordering::Relaxed);
        }
        self.span_id.store(call.span_id, Ordering::Relaxed);
        self.nanos.store(nanos, Ordering::Relaxed);
        self.unix_nanos.store(call.unix_nanos, Ordering::Relaxed);
        self.sequence.store(sequence + 2, Ordering::Release);
    }

    /// A consistent copy of the slot; `None` when it is empty or kept changing while read.
    pub fn read(&self) -> Option<ExemplarSnapshot> {
        for _ in 0..READ_ATTEMPTS {
            let before = self.sequence.load(Ordering::Acquire);
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let trace_id = u128::from(self.trace_high.load(Ordering::Relaxed)) << 64
                | u128::from(self.trace_low.load(Ordering::Relaxed));
            let span_id = self.span_id.load(Ordering::Relaxed);
            let nanos = self.nanos.load(Ordering::Relaxed);
            let unix_nanos = self.unix_nanos.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if self.sequence.load(Ordering::Relaxed) == before {
                return (trace_id != 0)
                    .then_some(ExemplarSnapshot { call: SampledCall { trace_id, span_id, unix_nanos }, nanos });
            }
        }
        None
    }
}

/// The call's trace and span ids when its span is recorded by OpenTelemetry and sampled; `None`
/// otherwise (no OpenTelemetry layer, the span filtered out, or the sampler said no).
///
/// `ended` is the instant the call ended, from the clock read that timed it: the wall-clock time
/// is derived from it, so recording an exemplar reads no clock.
fn sampled_call(span: &tracing::Span, ended: Tick) -> Option<SampledCall> {
    let span_context =
        span.with_subscriber(|(id, dispatch)| crate::telemetry::call_span::span_context_of(id, dispatch))??;
    if !span_context.is_sampled() || !span_context.is_valid() {
        return None;
    }
    Some(SampledCall {
        trace_id: u128::from_be_bytes(span_context.trace_id().to_bytes()),
        span_id: u64::from_be_bytes(span_context.span_id().to_bytes()),
        unix_nanos: unix_nanos_at(ended),
    })
}

/// The origin of `ended()`, taken on first use: a fixed one, so those times compare.
fn anchor() -> Tick {
    static ANCHOR: OnceLock<Tick> = OnceLock::new();
    *ANCHOR.get_or_init(Tick::now)
}

/// How long one pairing of the call clock with the wall clock is used for exemplar times.
const PAIRING_LIFETIME: Duration = Duration::from_secs(60);

/// The wall-clock time of `tick`, in nanoseconds since the Unix epoch: from a pairing of the call
/// clock with the wall clock renewed every minute, so neither the counter's calibration nor the
/// wall clock's adjustments can take exemplar times far from the wall clock over a long uptime.
fn unix_nanos_at(tick: Tick) -> u64 {
    static PAIRING: Mutex<Option<(Tick, u128)>> = Mutex::new(None);
    let (paired_tick, paired_unix) = {
        let mut pairing = PAIRING.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Tick::now();
        match *pairing {
            Some((at, unix)) if now.since(at) < PAIRING_LIFETIME => (at, unix),
            _ => {
                let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_nanos());
                *pairing = Some((now, unix));
                (now, unix)
            }
        }
    };
    let unix = if tick >= paired_tick {
        paired_unix + tick.since(paired_tick).as_nanos()
    } else {
        paired_unix.saturating_sub(paired_tick.since(tick).as_nanos())
    };
    u64::try_from(unix).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::{ExemplarSlot, ExemplarSource, REFRESH_INTERVAL, SampledCall, unix_nanos_at};
    use crate::clock::Tick;
    use std::cell::Cell;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    const CALL: SampledCall = SampledCall {
        trace_id: 0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c,
        span_id: 0xb7ad_6b71_6920_3331,
        unix_nanos: 1_764_063_000_123_456_789,
    };

    /// A call that ended at `ended` ns, sampled or not, counting the trace lookups.
    struct Fake {
        ended: u64,
        sampled: bool,
        lookups: Cell<u32>,
    }

    impl Fake {
        fn new(ended: u64, sampled: bool) -> Self {
            Fake { ended, sampled, lookups: Cell::new(0) }
        }
    }

    impl ExemplarSource for Fake {
        fn ended(&self) -> u64 {
            self.ended
        }

        fn sampled(&self) -> Option<SampledCall> {
            self.lookups.set(self.lookups.get() + 1);
            self.sampled.then_some(SampledCall { trace_id: u128::from(self.ended), span_id: 1, unix_nanos: 2 })
        }
    }

    #[test]
    fn a_bucket_looks_up_traces_at_most_once_per_interval() {
        let interval = u64::try_from(REFRESH_INTERVAL.as_nanos()).unwrap();
        let slot = ExemplarSlot::default();
        let trace = |slot: &ExemplarSlot| slot.read().map(|exemplar| exemplar.call.trace_id);
        let unsampled = Fake::new(1_000, false);
        slot.offer(&unsampled, 5);
        assert_eq!((unsampled.lookups.get(), trace(&slot)), (1, None), "the first call is looked up");
        let soon = Fake::new(1_000 + interval - 1, true);
        slot.offer(&soon, 5);
        assert_eq!((soon.lookups.get(), trace(&slot)), (0, None), "within the interval, no lookup");
        let later = Fake::new(1_000 + interval, true);
        slot.offer(&later, 5);
        assert_eq!((later.lookups.get(), trace(&slot)), (1, Some(u128::from(1_000 + interval))));
        let earlier = Fake::new(500, true);
        slot.offer(&earlier, 5);
        assert_eq!(earlier.lookups.get(), 0, "a call that ended before the last look is not newer");
    }

    #[test]
    fn an_empty_slot_has_no_exemplar() {
        assert_eq!(ExemplarSlot::default().read(), None);
    }

    #[test]
    fn the_last_write_wins_and_encodes_as_openmetrics() {
        let slot = ExemplarSlot::default();
        slot.record(&SampledCall { trace_id: 1, span_id: 2, unix_nanos: 3 }, 4);
        slot.record(&CALL, 12_300_000);
        let exemplar = slot.read().expect("recorded");
        assert_eq!(exemplar.call, CALL);
        assert_eq!(exemplar.nanos, 12_300_000);
        let mut text = String::new();
        exemplar.write_openmetrics(&mut text);
        assert_eq!(
            text,
            "# {trace_id=\"0af7651916cd43dd8448eb211c80319c\",span_id=\"b7ad6b7169203331\"} 0.0123 1764063000.123"
        );
    }

    #[test]
    fn a_slot_held_by_a_writer_is_skipped_not_waited_for() {
        let slot = ExemplarSlot::default();
        slot.sequence.store(1, std::sync::atomic::Ordering::Relaxed);
        slot.record(&CALL, 5);
        assert_eq!(slot.read(), None, "a reader gives up on a slot being written");
        slot.sequence.store(2, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(slot.read(), None, "the skipped write left the slot empty");
    }

    #[test]
    fn concurrent_writers_never_produce_a_torn_exemplar() {
        let slot = ExemplarSlot::default();
        std::thread::scope(|scope| {
            for writer in 1..=4_u64 {
                let slot = &slot;
                scope.spawn(move || {
                    for _ in 0..20_000 {
                        let id = u128::from(writer) * 0x0001_0001_0001_0001_0001_0001_0001_0001;
                        slot.record(&SampledCall { trace_id: id, span_id: writer, unix_nanos: writer }, writer);
                    }
                });
            }
            for _ in 0..20_000 {
                if let Some(exemplar) = slot.read() {
                    let writer = exemplar.call.span_id;
                    assert_eq!(exemplar.call.trace_id, u128::from(writer) * 0x0001_0001_0001_0001_0001_0001_0001_0001);
                    assert_eq!((exemplar.call.unix_nanos, exemplar.nanos), (writer, writer));
                }
            }
        });
    }

    #[test]
    fn wall_clock_times_follow_the_call_clock() {
        let now = Tick::now();
        let unix = unix_nanos_at(now);
        let system = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let system = u64::try_from(system).unwrap();
        assert!(unix.abs_diff(system) < 60_000_000_000, "{unix} vs {system}");
        std::thread::sleep(Duration::from_millis(20));
        let later = Tick::now();
        let elapsed = u64::try_from(later.since(now).as_nanos()).unwrap();
        assert!(elapsed >= 19_000_000, "{elapsed}");
        // Each tick is scaled from the anchor on its own: a nanosecond of rounding either way.
        assert!((unix_nanos_at(later) - unix).abs_diff(elapsed) <= 1, "{} vs {elapsed}", unix_nanos_at(later) - unix);
    }
}
