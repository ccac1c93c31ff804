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
use std::io::Write as _;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Mutex, PoisonError};
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
        let worker = std::thread::Builder::new()
            .name("obs-log-writer".to_owned())
            .spawn(move || write_lines(&make_writer, &receiver))?;
        Ok(LineQueue { sender, blocking, worker: Mutex::new(Some(worker)) })
    }

    /// Queues one finished line (with its newline).
    pub fn push(&self, line: String) {
        if self.blocking {
            let _ = self.sender.send(Message::Line(line));
        } else if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.sender.try_send(Message::Line(line))
        {
            counters(Signal::Logs).add_dropped(DropReason::QueueFull, 1);
        }
    }

    /// Writes what is queued now, waiting at most `timeout`; `false` when the deadline passed.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (done, finished) = sync_channel(1);
        let deadline = Instant::now() + timeout;
        if !self.send_before(Message::Flush(done), deadline) {
            return false;
        }
        finished.recv_timeout(deadline.saturating_duration_since(Instant::now())).is_ok()
    }

    /// Writes what is queued and stops the writer, within `timeout`.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        let Some(worker) = self.worker.lock().unwrap_or_else(PoisonError::into_inner).take() else { return true };
        let deadline = Instant::now() + timeout;
        let written = self.flush(timeout);
        let _ = self.send_before(Message::Shutdown, deadline);
        while !worker.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if worker.is_finished() {
            let _ = worker.join();
        }
        written
    }

    fn send_before(&self, mut message: Message, deadline: Instant) -> bool {
        loop {
            match self.sender.try_send(message) {
                Ok(()) => return true,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(returned)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    message = returned;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
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
        // Idle: wait for the next line. Busy: take what has gathered since the last batch.
        let Ok(first) = receiver.recv() else { break };
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
    write(&mut batch);
}
