//! The bounded queue between the application and an OTLP exporter.
//!
//! A handler only ever does a `try_send` into a fixed-size channel: when the collector is down,
//! slow or refusing, the queue fills, further items are counted as dropped and the handler goes
//! on at full speed. One worker thread per signal batches and exports; its failures are counted
//! too, and reported by a rate-limited warning, never a flood.

use crate::telemetry::export_counters::{DropReason, counters};
use crate::telemetry::otlp_config::Signal;
use crate::telemetry::worker::{flush_before, join_before, send_before};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Items waiting for export, per signal; beyond this they are dropped and counted.
pub const QUEUE_CAPACITY: usize = 2048;
/// Items per export request.
pub const MAX_BATCH: usize = 512;
/// How long a partial batch waits for more items.
pub const BATCH_DELAY: Duration = Duration::from_secs(1);
/// How long the worker naps between looks at the queue while a batch gathers.
const GATHER_NAP: Duration = Duration::from_millis(5);
/// At most one warning about dropped telemetry per signal in this interval.
const WARNING_INTERVAL: Duration = Duration::from_secs(30);

pub use crate::telemetry::export_counters::EXPORT_LOG_TARGET;

/// How long a full queue is taken to stay full without trying it again (`push_with`).
const FULL_FOR_NANOS: u64 = 100_000_000;

/// Nanoseconds on a monotonic clock, for `full_since`.
fn fullness_clock() -> u64 {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    u64::try_from(ORIGIN.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// How many of an exported batch's items the collector accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// All of them.
    All,
    /// All but `rejected` of them (an OTLP partial success), for the collector's `reason`.
    AllBut { rejected: u64, reason: String },
}

/// Sends one batch; runs on the queue's worker thread only.
pub trait BatchExporter<T>: Send + 'static {
    /// Exports `batch`; an error is counted and the batch is dropped (exporters retry transient
    /// failures themselves within their timeout), as are the items a collector rejected.
    fn export(&mut self, batch: Vec<T>) -> Result<Accepted, String>;
    /// Releases the exporter's connections.
    fn shutdown(&mut self);
}

enum Message<T> {
    Item(T),
    Flush(SyncSender<()>),
    Shutdown,
}

/// The application's side of the queue.
#[derive(Debug)]
pub struct ExportQueue<T> {
    sender: SyncSender<Message<T>>,
    signal: Signal,
    /// When a push last found the queue full (`fullness_clock` nanoseconds, 0 for never or since
    /// cleared), cleared when the worker takes an item: for `FULL_FOR_NANOS` after it,
    /// `push_with` drops without preparing the item (a dead collector costs no encoding). Only
    /// that long: a push can find the queue full just before the worker empties it.
    full_since: Arc<AtomicU64>,
    /// `None` once shutdown has begun: a second shutdown has nothing left to do.
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl<T> std::fmt::Debug for Message<T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Message::Item(_) => "Item",
            Message::Flush(_) => "Flush",
            Message::Shutdown => "Shutdown",
        })
    }
}

impl<T: Send + 'static> ExportQueue<T> {
    /// Starts the worker thread of `signal`.
    ///
    /// # Errors
    /// When the operating system refuses a thread.
    pub fn start(signal: Signal, exporter: impl BatchExporter<T>) -> std::io::Result<Self> {
        let (sender, receiver) = sync_channel(QUEUE_CAPACITY);
        let full_since = Arc::new(AtomicU64::new(0));
        let worker = {
            let full_since = Arc::clone(&full_since);
            std::thread::Builder::new()
                .name(format!("obs-export-{}", signal.as_str()))
                .spawn(move || run_worker(signal, exporter, &receiver, &full_since))?
        };
        Ok(ExportQueue { sender, signal, full_since, worker: Mutex::new(Some(worker)) })
    }

    /// Queues `item` without ever blocking; counts it as dropped when the queue is full.
    pub fn push(&self, item: T) {
        match self.sender.try_send(Message::Item(item)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.full_since.store(fullness_clock().max(1), Ordering::Relaxed);
                counters(self.signal).add_dropped(DropReason::QueueFull, 1);
            }
            Err(TrySendError::Disconnected(_)) => counters(self.signal).add_dropped(DropReason::QueueFull, 1),
        }
    }

    /// Queues the item `make` prepares, as `push` does; while the queue was just found full the
    /// item is counted as dropped without being prepared.
    pub fn push_with(&self, make: impl FnOnce() -> T) {
        let full_since = self.full_since.load(Ordering::Relaxed);
        if full_since != 0 && fullness_clock().saturating_sub(full_since) < FULL_FOR_NANOS {
            counters(self.signal).add_dropped(DropReason::QueueFull, 1);
        } else {
            self.push(make());
        }
    }

    /// Exports what is queued, waiting at most `timeout`; `false` when the deadline passed.
    pub fn flush(&self, timeout: Duration) -> bool {
        flush_before(&self.sender, Message::Flush, Instant::now() + timeout)
    }

    /// Exports what is queued and stops the worker, waiting at most `timeout`: a dead collector
    /// cannot hold the process longer. Returns `false` when the deadline passed.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        let Some(worker) = self.worker.lock().unwrap_or_else(PoisonError::into_inner).take() else {
            return true;
        };
        let deadline = Instant::now() + timeout;
        let flushed = self.flush(timeout);
        let _ = send_before(&self.sender, Message::Shutdown, deadline);
        join_before(worker, deadline);
        flushed
    }
}

fn run_worker<T>(
    signal: Signal,
    mut exporter: impl BatchExporter<T>,
    receiver: &Receiver<Message<T>>,
    full_since: &AtomicU64,
) {
    let counters = counters(signal);
    let mut batch: Vec<T> = Vec::with_capacity(MAX_BATCH);
    let mut warnings = WarningLimiter::new(signal);
    let mut export = |batch: &mut Vec<T>, warnings: &mut WarningLimiter| {
        if batch.is_empty() {
            return;
        }
        let items = std::mem::replace(batch, Vec::with_capacity(MAX_BATCH));
        let count = items.len();
        match exporter.export(items) {
            Ok(Accepted::All) => {
                counters.add_exported(count);
            }
            Ok(Accepted::AllBut { rejected, reason }) => {
                let rejected = usize::try_from(rejected).unwrap_or(usize::MAX).min(count);
                counters.add_exported(count - rejected);
                counters.add_dropped(DropReason::ExportFailed, rejected);
                warnings.failed(&format!("the collector rejected {rejected} of {count}: {reason}"));
            }
            Err(error) => {
                counters.add_dropped(DropReason::ExportFailed, count);
                warnings.failed(&error);
            }
        }
        warnings.maybe_warn();
    };
    let mut oldest = Instant::now();
    loop {
        let message = if batch.is_empty() {
            // Idle: block until something arrives.
            receiver.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            match receiver.try_recv() {
                Ok(message) => Ok(message),
                Err(TryRecvError::Empty) if oldest.elapsed() >= BATCH_DELAY => Err(RecvTimeoutError::Timeout),
                Err(TryRecvError::Empty) => {
                    // Gathering: nap rather than wait on the channel, so the application's
                    // sends find no waiter to wake (a system call per item otherwise).
                    std::thread::sleep(GATHER_NAP.min(BATCH_DELAY.saturating_sub(oldest.elapsed())));
                    continue;
                }
                Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
            }
        };
        match message {
            Ok(Message::Item(item)) => {
                // Read first: the cache line is written only when it changes.
                if full_since.load(Ordering::Relaxed) != 0 {
                    full_since.store(0, Ordering::Relaxed);
                }
                if batch.is_empty() {
                    oldest = Instant::now();
                }
                batch.push(item);
                if batch.len() >= MAX_BATCH {
                    export(&mut batch, &mut warnings);
                }
            }
            Ok(Message::Flush(done)) => {
                // Everything sent before the flush request is already in `batch` or exported.
                export(&mut batch, &mut warnings);
                let _ = done.send(());
            }
            Err(RecvTimeoutError::Timeout) => export(&mut batch, &mut warnings),
            Ok(Message::Shutdown) | Err(RecvTimeoutError::Disconnected) => {
                export(&mut batch, &mut warnings);
                break;
            }
        }
    }
    exporter.shutdown();
}

/// One warning per interval with the counts since the last one, not one per failed batch.
struct WarningLimiter {
    signal: Signal,
    last_warning: Option<Instant>,
    reported_dropped: u64,
    last_error: Option<String>,
}

impl WarningLimiter {
    fn new(signal: Signal) -> Self {
        WarningLimiter { signal, last_warning: None, reported_dropped: 0, last_error: None }
    }

    fn failed(&mut self, error: &str) {
        self.last_error = Some(error.to_owned());
    }

    fn maybe_warn(&mut self) {
        let counters = counters(self.signal);
        let dropped: u64 = DropReason::ALL.iter().map(|reason| counters.dropped(*reason)).sum();
        if dropped == self.reported_dropped {
            return;
        }
        if self.last_warning.is_some_and(|at| at.elapsed() < WARNING_INTERVAL) {
            return;
        }
        tracing::warn!(
            target: EXPORT_LOG_TARGET,
            event = "telemetry_dropped",
            signal = self.signal.as_str(),
            dropped_since_last_warning = dropped - self.reported_dropped,
            dropped_total = dropped,
            error = self.last_error.as_deref(),
            "OTLP export is losing {}: {} dropped since the last warning (see {})",
            self.signal.as_str(),
            dropped - self.reported_dropped,
            crate::schema::OBS_TELEMETRY_DROPPED.name,
        );
        self.reported_dropped = dropped;
        self.last_warning = Some(Instant::now());
        self.last_error = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// Records batches, or fails, or blocks until released.
    struct TestExporter {
        batches: Arc<Mutex<Vec<Vec<u32>>>>,
        fail: bool,
        release: Option<Arc<AtomicBool>>,
    }

    impl BatchExporter<u32> for TestExporter {
        fn export(&mut self, batch: Vec<u32>) -> Result<Accepted, String> {
            if let Some(release) = &self.release {
                while !release.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            if self.fail {
                return Err("refused".into());
            }
            self.batches.lock().unwrap_or_else(PoisonError::into_inner).push(batch);
            Ok(Accepted::All)
        }

        fn shutdown(&mut self) {}
    }

    // Each test uses a different signal's global counters only through differences, so the tests
    // stay independent when they run in parallel.
    #[test]
    fn flush_exports_everything_in_order() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let queue = ExportQueue::start(
            Signal::Traces,
            TestExporter { batches: Arc::clone(&batches), fail: false, release: None },
        )
        .expect("thread");
        for item in 0..1500 {
            queue.push(item);
        }
        assert!(queue.flush(Duration::from_secs(60)));
        let exported: Vec<u32> = batches.lock().expect("lock").iter().flatten().copied().collect();
        assert_eq!(exported, (0..1500).collect::<Vec<_>>());
        assert!(batches.lock().expect("lock").iter().all(|batch| batch.len() <= MAX_BATCH));
        assert!(queue.shutdown(Duration::from_secs(60)));
    }

    #[test]
    fn a_stuck_exporter_never_blocks_push_and_drops_are_counted() {
        let release = Arc::new(AtomicBool::new(false));
        let exporter = TestExporter {
            batches: Arc::new(Mutex::new(Vec::new())),
            fail: false,
            release: Some(Arc::clone(&release)),
        };
        let queue = ExportQueue::start(Signal::Logs, exporter).expect("thread");
        let before = counters(Signal::Logs).dropped(DropReason::QueueFull);
        let pushed = QUEUE_CAPACITY * 3;
        for item in 0..pushed {
            queue.push(u32::try_from(item).expect("small"));
        }
        // The worker holds at most one batch; the channel at most its capacity: the rest dropped.
        let dropped = counters(Signal::Logs).dropped(DropReason::QueueFull) - before;
        let dropped = usize::try_from(dropped).expect("small");
        assert!(dropped >= pushed - QUEUE_CAPACITY - MAX_BATCH, "dropped {dropped} of {pushed}");
        // Just after a push found the queue full, items are dropped without being prepared.
        let before = counters(Signal::Logs).dropped(DropReason::QueueFull);
        queue.push(0);
        let mut prepared = 0;
        for _ in 0..100 {
            queue.push_with(|| {
                prepared += 1;
                0
            });
        }
        assert!(prepared < 100, "every item prepared for a full queue");
        assert!(counters(Signal::Logs).dropped(DropReason::QueueFull) - before >= 101);
        // A stuck exporter cannot hold shutdown past its deadline.
        assert!(!queue.shutdown(Duration::from_millis(200)));
        release.store(true, Ordering::Relaxed);
    }

    #[test]
    fn failed_exports_are_counted() {
        let exporter = TestExporter { batches: Arc::new(Mutex::new(Vec::new())), fail: true, release: None };
        let queue: ExportQueue<u32> = ExportQueue::start(Signal::Traces, exporter).expect("thread");
        let before = counters(Signal::Traces).dropped(DropReason::ExportFailed);
        for item in 0..10 {
            queue.push(item);
        }
        assert!(queue.flush(Duration::from_secs(60)));
        assert!(counters(Signal::Traces).dropped(DropReason::ExportFailed) - before >= 10);
        assert!(queue.shutdown(Duration::from_secs(60)));
    }

    /// Accepts every batch but its first three items, as a collector's partial success says.
    struct PartlyRejecting;

    impl BatchExporter<u32> for PartlyRejecting {
        fn export(&mut self, _: Vec<u32>) -> Result<Accepted, String> {
            Ok(Accepted::AllBut { rejected: 3, reason: "attribute too long".to_owned() })
        }

        fn shutdown(&mut self) {}
    }

    #[test]
    fn items_a_collector_rejects_are_counted_as_failed() {
        let queue: ExportQueue<u32> = ExportQueue::start(Signal::Metrics, PartlyRejecting).expect("thread");
        let before = counters(Signal::Metrics).dropped(DropReason::ExportFailed);
        for item in 0..10 {
            queue.push(item);
        }
        assert!(queue.flush(Duration::from_secs(60)));
        assert!(counters(Signal::Metrics).dropped(DropReason::ExportFailed) - before >= 3);
        assert!(queue.shutdown(Duration::from_secs(60)));
    }

    #[test]
    fn a_fullness_seen_just_before_the_worker_emptied_the_queue_passes() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let exporter = TestExporter { batches: Arc::clone(&batches), fail: false, release: None };
        let queue = ExportQueue::start(Signal::Traces, exporter).expect("thread");
        // As if a push had found the queue full and the worker had emptied it right after.
        queue.full_since.store(fullness_clock().max(1), Ordering::Relaxed);
        std::thread::sleep(Duration::from_nanos(FULL_FOR_NANOS) + Duration::from_millis(50));
        queue.push_with(|| 7);
        assert!(queue.flush(Duration::from_secs(60)));
        assert_eq!(*batches.lock().expect("lock"), vec![vec![7]], "prepared and exported again");
        assert!(queue.shutdown(Duration::from_secs(60)));
    }
}
