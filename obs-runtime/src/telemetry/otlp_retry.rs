//! What OTLP prescribes for a failed export, over either transport: which failures may be
//! retried, how long to wait (backoff with jitter, or what the collector asked for), how often,
//! all within the export timeout; and how much of a batch a collector's partial success accepted.

use crate::telemetry::export_queue::Accepted;
use crate::telemetry::otlp_wire::partial_success;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// At most this many attempts after the first: a batch waiting on retries holds the queue
/// behind it.
const MAX_RETRIES: u32 = 2;
/// The wait before the first retry, doubled before each next one (give or take a quarter, so
/// many instances do not retry in step).
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
/// The longest backoff between attempts; a collector's `Retry-After` may ask for longer, and is
/// waited for when the export timeout leaves time for it.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Whether OTLP allows another attempt after a failure.
pub(crate) enum Retry {
    Never,
    /// After the exporter's own backoff.
    AfterBackoff,
    /// After at least the wait the collector asked for (`Retry-After`).
    #[cfg_attr(not(feature = "otlp-http"), allow(dead_code, reason = "asked for by OTLP/HTTP's Retry-After"))]
    AtLeast(Duration),
}

/// Runs `attempt` (given the time left) until it succeeds, fails in a way that may not be
/// retried, has been retried `MAX_RETRIES` times, or the next wait would pass `timeout`.
pub(crate) fn with_retries(
    timeout: Duration,
    mut attempt: impl FnMut(Duration) -> Result<Accepted, (String, Retry)>,
) -> Result<Accepted, String> {
    let deadline = Instant::now() + timeout;
    let mut backoff = FIRST_RETRY_DELAY;
    let mut retries = 0;
    loop {
        let (failure, retry) = match attempt(deadline.saturating_duration_since(Instant::now())) {
            Ok(accepted) => return Ok(accepted),
            Err(failed) => failed,
        };
        let wait = match retry {
            Retry::Never => return Err(failure),
            Retry::AfterBackoff => jittered(backoff),
            Retry::AtLeast(asked) => asked.max(jittered(backoff)),
        };
        if retries == MAX_RETRIES || Instant::now() + wait >= deadline {
            return Err(failure);
        }
        std::thread::sleep(wait);
        retries += 1;
        backoff = (backoff * 2).min(MAX_RETRY_DELAY);
    }
}

/// What a collector's answer says was accepted: a partial success's rejections, or everything.
pub(crate) fn accepted(answer: &[u8]) -> Accepted {
    match partial_success(answer) {
        Some((rejected, reason)) if rejected > 0 => Accepted::AllBut { rejected, reason },
        _ => Accepted::All,
    }
}

/// `delay` give or take a quarter, from the clock's nanoseconds: enough to spread the retries of
/// many instances, without a random number generator.
fn jittered(delay: Duration) -> Duration {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.subsec_nanos());
    delay.mul_f64(0.75 + f64::from(nanos % 1000) / 2000.0)
}
