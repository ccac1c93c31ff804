//! Log lines written off the request path: the logging thread hands each finished line to a
//! bounded queue and goes on; a writer thread of obs's own writes what has gathered in one
//! `write` per batch. When the queue is full a line is dropped and counted in
//! `obs_telemetry_dropped_total{signal="logs", reason="queue_full"}`, unless `OBS_LOG_BLOCKING=true`
//! asks for back-pressure instead. What is queued is written at shutdown, within the deadline.
//!
//! Used for standard output, the default; a writer given in code is called on the logging
//! thread, as given.

use crate::telemetry::export_counters::{DropReason, counters};
use crate::telemetry::otlp_config::Signal;
use crate::telemetry::worker::{flush_before, join_before, send_before};
use std::io::Write as _;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// Lines waiting to be written; beyond this they are dropped (or the logger waits, when blocking).
pub const LINE_QUEUE_CAPACITY: usize = 8192;
/// A batch is written once it holds this many bytes, or when the queue runs dry.
const BATCH_BYTES: usize = 64 * 1024;
/// How long the writer naps between batches while lines keep coming.
const GATHER_NAP: Duration = Duration::from_millis(2);

enum Message {
    Line(String),
    Flush(SyncSender<()>),
    Shutdown,
}

/// The logging side of the queue.
#[derive(Debug)]
pub struct LineQueue {
    sender: SyncSender<Message>,
    /// Also the writer thread's: lines logged after it stopped are written here directly.
    make_writer: Arc<BoxMakeWriter>,
    blocking: bool,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Message::Line(_) => "Line",
            Message::Flush(_) => "Flush",
            Message::Shutdown => "Shutdown",
        })
    }
}

impl LineQueue {
    /// Starts the writer thread, writing to `make_writer`.
    ///
    /// # Errors
    /// When the operating system refuses a thread.
    pub fn start(make_writer: BoxMakeWriter, blocking: bool) -> std::io::Result<Self> {
        let (sender, receiver) = sync_channel(LINE_QUEUE_CAPACITY);
        let make_writer = Arc::new(make_writer);
        let worker = {
            let make_writer = Arc::clone(&make_writer);
            std::thread::Builder::new()
                .name("obs-log-writer".to_owned())
                .spawn(move || write_lines(&make_writer, &receiver))?
        };
        Ok(LineQueue { sender, make_writer, blocking, worker: Mutex::new(Some(worker)) })
    }

    /// Queues one finished line (with its newline); once the writer has stopped (after
    /// shutdown), writes it directly.
    pub fn push(&self, line: String) {
        let sent = if self.blocking {
            self.sender.send(Message::Line(line)).map_err(|returned| TrySendError::Disconnected(returned.0))
        } else {
            self.sender.try_send(Message::Line(line))
        };
        match sent {
            Err(TrySendError::Full(_)) => counters(Signal::Logs).add_dropped(DropReason::QueueFull, 1),
            Err(TrySendError::Disconnected(Message::Line(line))) => {
                let _ = self.make_writer.make_writer().write_all(line.as_bytes());
            }
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Writes what is queued now, waiting at most `timeout`; `false` when the deadline passed.
    pub fn flush(&self, timeout: Duration) -> bool {
        flush_before(&self.sender, Message::Flush, Instant::now() + timeout)
    }

    /// Writes what is queued and stops the writer, within `timeout`.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        let Some(worker) = self.worker.lock().unwrap_or_else(PoisonError::into_inner).take() else { return true };
        let deadline = Instant::now() + timeout;
        let written = self.flush(timeout);
        let _ = send_before(&self.sender, Message::Shutdown, deadline);
        join_before(worker, deadline);
        written
    }
}

impl Drop for LineQueue {
    fn drop(&mut self) {
        let _ = self.shutdown(crate::telemetry::SHUTDOWN_DEADLINE);
    }
}

fn write_lines(make_writer: &BoxMakeWriter, receiver: &Receiver<Message>) {
    let mut batch = Vec::with_capacity(BATCH_BYTES);
    let write = |batch: &mut Vec<u8>| {
        if !batch.is_empty() {
            // A batch that cannot be written is dropped: logging must never stop the service.
            let _ = make_writer.make_writer().write_all(batch);
            batch.clear();
        }
    };
    loop {
        // Idle (the batch is written): wait for the next line. Busy: take what has gathered.
        let Ok(first) = receiver.recv() else { return };
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Line(line) => {
                    batch.extend_from_slice(line.as_bytes());
                    if batch.len() >= BATCH_BYTES {
                        write(&mut batch);
                    }
                }
                Message::Flush(done) => {
                    write(&mut batch);
                    let _ = done.send(());
                }
                Message::Shutdown => {
                    write(&mut batch);
                    return;
                }
            }
            next = match receiver.try_recv() {
                Ok(message) => Some(message),
                Err(TryRecvError::Empty) => {
                    write(&mut batch);
                    // Lines keep coming while this nap lasts; the loggers find no waiter to wake.
                    std::thread::sleep(GATHER_NAP);
                    receiver.try_recv().ok()
                }
                Err(TryRecvError::Disconnected) => {
                    write(&mut batch);
                    return;
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{LINE_QUEUE_CAPACITY, LineQueue};
    use crate::telemetry::export_counters::{DropReason, counters};
    use crate::telemetry::otlp_config::Signal;
    use std::io::Write;
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::Duration;
    use tracing_subscriber::fmt::writer::BoxMakeWriter;

    /// Records what is written, as one entry per `write` call; holds every write while closed.
    #[derive(Clone, Default)]
    struct Recorder {
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
        gate: Arc<(Mutex<bool>, Condvar)>,
    }

    impl Recorder {
        fn closed() -> Self {
            let recorder = Recorder::default();
            *recorder.gate.0.lock().unwrap() = true;
            recorder
        }

        fn open(&self) {
            *self.gate.0.lock().unwrap() = false;
            self.gate.1.notify_all();
        }

        fn text(&self) -> String {
            String::from_utf8(self.writes.lock().unwrap().concat()).unwrap()
        }
    }

    impl Write for Recorder {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let (closed, opened) = &*self.gate;
            let _open = opened.wait_while(closed.lock().unwrap(), |closed| *closed).unwrap();
            self.writes.lock().unwrap().push(bytes.to_vec());
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn queue(recorder: &Recorder, blocking: bool) -> LineQueue {
        let writer = recorder.clone();
        LineQueue::start(BoxMakeWriter::new(move || writer.clone()), blocking).expect("writer thread")
    }

    #[test]
    fn lines_are_written_in_order_in_few_writes_and_all_of_them_by_shutdown() {
        let recorder = Recorder::default();
        let lines = queue(&recorder, false);
        for index in 0..2000 {
            lines.push(format!("{{\"line\":{index}}}\n"));
        }
        assert!(lines.shutdown(Duration::from_secs(10)), "everything written within the deadline");
        let expected = (0..2000).map(|index| format!("{{\"line\":{index}}}\n")).collect::<Vec<_>>().concat();
        assert_eq!(recorder.text(), expected);
        let writes = recorder.writes.lock().unwrap().len();
        assert!(writes < 2000, "lines are batched: {writes} writes for 2000 lines");
        lines.push("{\"late\":true}\n".to_owned());
        assert!(recorder.text().ends_with("{\"late\":true}\n"), "a line after shutdown is written directly");
    }

    #[test]
    fn a_full_queue_drops_and_counts_unless_blocking() {
        let recorder = Recorder::closed();
        let lines = queue(&recorder, false);
        let dropped_before = counters(Signal::Logs).dropped(DropReason::QueueFull);
        // The writer holds at most one batch (64 KiB: ~650 of these lines) in its blocked write and
        // the queue its capacity; the rest is dropped.
        let line = |index: usize| format!("{index:0>99}\n");
        let pushed = LINE_QUEUE_CAPACITY * 2;
        for index in 0..pushed {
            lines.push(line(index));
        }
        let dropped = counters(Signal::Logs).dropped(DropReason::QueueFull) - dropped_before;
        assert!(dropped >= u64::try_from(LINE_QUEUE_CAPACITY - 700).unwrap(), "{dropped} dropped");
        recorder.open();
        assert!(lines.flush(Duration::from_secs(10)));
        let written = recorder.text().lines().count();
        assert_eq!(
            u64::try_from(written).unwrap() + dropped,
            u64::try_from(pushed).unwrap(),
            "each line written or counted"
        );

        let recorder = Recorder::closed();
        let lines = Arc::new(queue(&recorder, true));
        let logger = {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for index in 0..pushed {
                    lines.push(line(index));
                }
            })
        };
        // Once the queue is full (a probe finds no room), the logger, with lines left to push,
        // must be waiting: more lines than the queue and one batch hold.
        while lines.sender.try_send(super::Message::Flush(std::sync::mpsc::sync_channel(1).0)).is_ok() {
            std::thread::yield_now();
        }
        assert!(!logger.is_finished(), "a blocking logger waits for room");
        recorder.open();
        logger.join().unwrap();
        assert!(lines.flush(Duration::from_secs(10)));
        let written: Vec<String> = recorder.text().lines().map(str::to_owned).collect();
        assert_eq!(written.len(), pushed, "nothing dropped when blocking");
        assert!(written.iter().enumerate().all(|(index, text)| *text == line(index).trim_end()), "in order");
    }
}
