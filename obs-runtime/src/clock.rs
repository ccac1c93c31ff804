//! The clock that times every observed call and request: the CPU's time-stamp counter, calibrated
//! against the monotonic clock by `quanta`, where the counter is invariant across cores; the
//! operating system's monotonic clock otherwise. Two OS clock reads were most of a metrics-only
//! call (about 45 of 75 ns); two counter reads cost a few. The calibration (a short busy loop)
//! runs at `init` or the first scrape, whichever comes first; in a process with neither, the
//! first observed call pays it.

use std::sync::OnceLock;
use std::time::Duration;

/// A point in time on the call clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Tick(u64);

fn clock() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

impl Tick {
    /// Now.
    #[inline]
    pub(crate) fn now() -> Self {
        Tick(clock().raw())
    }

    /// The time from `earlier` to this tick; zero when `earlier` is not earlier.
    #[inline]
    pub(crate) fn since(self, earlier: Tick) -> Duration {
        clock().delta(earlier.0, self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Tick;
    use std::time::{Duration, Instant};

    #[test]
    fn ticks_measure_what_the_monotonic_clock_measures() {
        // The ticks are read inside the instants, so they measure at least the sleep and at most
        // what the monotonic clock measured around them (give or take the calibration's error).
        let started = Instant::now();
        let tick = Tick::now();
        std::thread::sleep(Duration::from_millis(30));
        let tick_elapsed = Tick::now().since(tick);
        let elapsed = started.elapsed();
        assert!(tick_elapsed >= Duration::from_millis(29), "{tick_elapsed:?}");
        assert!(tick_elapsed <= elapsed + Duration::from_millis(1), "{tick_elapsed:?} vs {elapsed:?}");
        assert_eq!(tick.since(Tick::now()), Duration::ZERO, "never negative");
    }
}
