//! What the OTLP export delivered and lost, per signal: the counters behind
//! `obs_telemetry_exported_total` and `obs_telemetry_dropped_total`, zero in a build without export.

use crate::telemetry::otlp_config::Signal;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where `obs::export` warnings go; excluded from the OTLP log export so it cannot feed itself.
pub const EXPORT_LOG_TARGET: &str = "obs::export";

/// Why telemetry was dropped: the `reason` label of `obs_telemetry_dropped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The queue was full: the collector did not keep up.
    QueueFull,
    /// The export request failed or timed out.
    ExportFailed,
    /// Still queued when the shutdown deadline passed.
    Shutdown,
}

impl DropReason {
    /// The label value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        let [queue_full, export_failed, shutdown] = crate::schema::DROP_REASONS;
        match self {
            DropReason::QueueFull => queue_full,
            DropReason::ExportFailed => export_failed,
            DropReason::Shutdown => shutdown,
        }
    }

    /// Every reason, in label order.
    pub const ALL: [DropReason; 3] = [DropReason::QueueFull, DropReason::ExportFailed, DropReason::Shutdown];
}

/// Counters of one signal, read by the metrics collector.
#[derive(Debug, Default)]
pub struct SignalCounters {
    exported: AtomicU64,
    queue_full: AtomicU64,
    export_failed: AtomicU64,
    shutdown: AtomicU64,
}

impl SignalCounters {
    /// Items exported successfully.
    pub fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }

    /// Items dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.counter(reason).load(Ordering::Relaxed)
    }

    fn counter(&self, reason: DropReason) -> &AtomicU64 {
        match reason {
            DropReason::QueueFull => &self.queue_full,
            DropReason::ExportFailed => &self.export_failed,
            DropReason::Shutdown => &self.shutdown,
        }
    }

    #[cfg_attr(not(feature = "_otlp"), allow(dead_code, reason = "only the export counts"))]
    pub(crate) fn add_exported(&self, count: usize) {
        self.exported.fetch_add(u64::try_from(count).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    #[cfg_attr(not(feature = "_otlp"), allow(dead_code, reason = "only the export counts"))]
    pub(crate) fn add_dropped(&self, reason: DropReason, count: usize) {
        self.counter(reason).fetch_add(u64::try_from(count).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

static TRACES: SignalCounters = SignalCounters {
    exported: AtomicU64::new(0),
    queue_full: AtomicU64::new(0),
    export_failed: AtomicU64::new(0),
    shutdown: AtomicU64::new(0),
};
static LOGS: SignalCounters = SignalCounters {
    exported: AtomicU64::new(0),
    queue_full: AtomicU64::new(0),
    export_failed: AtomicU64::new(0),
    shutdown: AtomicU64::new(0),
};
static METRICS: SignalCounters = SignalCounters {
    exported: AtomicU64::new(0),
    queue_full: AtomicU64::new(0),
    export_failed: AtomicU64::new(0),
    shutdown: AtomicU64::new(0),
};

/// The process-wide counters of `signal`.
#[must_use]
pub fn counters(signal: Signal) -> &'static SignalCounters {
    match signal {
        Signal::Traces => &TRACES,
        Signal::Logs => &LOGS,
        Signal::Metrics => &METRICS,
    }
}
