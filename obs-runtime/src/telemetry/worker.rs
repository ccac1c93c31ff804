//! What the export queues and the log writer share: control messages that wait for room in a
//! bounded channel only until a deadline, and joining a worker thread only until one.

use std::sync::mpsc::{SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Sends `message`, retrying while the channel is full, until `deadline`; `false` when it could
/// not be sent.
pub(crate) fn send_before<M>(sender: &SyncSender<M>, mut message: M, deadline: Instant) -> bool {
    loop {
        match sender.try_send(message) {
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

/// Asks the worker behind `sender` to flush (`flush` wraps the reply channel in the worker's
/// message) and waits for its reply, all until `deadline`; `false` when it did not come in time.
pub(crate) fn flush_before<M>(
    sender: &SyncSender<M>,
    flush: impl FnOnce(SyncSender<()>) -> M,
    deadline: Instant,
) -> bool {
    let (done, finished) = std::sync::mpsc::sync_channel(1);
    send_before(sender, flush(done), deadline)
        && finished.recv_timeout(deadline.saturating_duration_since(Instant::now())).is_ok()
}

/// Joins `worker` if it finishes by `deadline`; otherwise leaves it (blocked in a write or an
/// export) for the process to exit under it.
pub(crate) fn join_before(worker: JoinHandle<()>, deadline: Instant) {
    while !worker.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    if worker.is_finished() {
        let _ = worker.join();
    }
}
