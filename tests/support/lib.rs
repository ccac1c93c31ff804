//! Test support shared by the integration and end-to-end tests: reading samples out of an
//! exposition, a minimal executor, captured logs, a blocking HTTP client and child processes
//! that are always killed.

pub mod alertmanager;
pub mod demo;
pub mod exposition;
pub mod http_client;
pub mod logs;
pub mod otlp;
pub mod pki;
pub mod process;
pub mod prometheus;
pub mod queries;
pub mod receivers;
pub mod scratch;
pub mod smtp_sink;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on the current thread (the tests need no async runtime).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

/// A future that is pending on its first poll and ready on the second: an `.await` point.
#[derive(Debug, Default)]
pub struct YieldOnce {
    yielded: bool,
}

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            context.waker().wake_by_ref();
            Poll::Pending
        }
    }
}
