//! An observed async body, polled inside its call's span.
//!
//! `tracing::Instrument` would do, at a price paid on every call: it owns a clone of the span
//! (a registry reference taken and released) and enters the span once more when dropped, to drop
//! the body inside it. This borrows the call's span, and enters it on drop only when the body was
//! not run to completion: only then does dropping it run the body's own code (its locals' `Drop`).

use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tracing::Span;

pin_project! {
    /// `inner` polled, and dropped unfinished, inside `span`.
    #[doc(hidden)]
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct InSpan<'span, F> {
        // Declared first, so it is dropped first: while `exit` still holds the span entered.
        #[pin]
        inner: F,
        finished: bool,
        exit: ExitOnDrop<'span>,
    }

    impl<'span, F> PinnedDrop for InSpan<'span, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if !*this.finished {
                this.exit.enter();
            }
        }
    }
}

impl<'span, F: Future> InSpan<'span, F> {
    /// `future`, to be polled inside `span`.
    #[inline]
    pub fn new(future: F, span: &'span Span) -> Self {
        InSpan { inner: future, finished: false, exit: ExitOnDrop { span, entered: false } }
    }
}

impl<F: Future> Future for InSpan<'_, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let polled = {
            let _entered = this.exit.span.enter();
            this.inner.poll(context)
        };
        if polled.is_ready() {
            *this.finished = true;
        }
        polled
    }
}

/// Exits the span when dropped, if `enter` entered it. Not a `span::Entered` guard, which is not
/// `Send` and would make every observed future unsendable.
#[derive(Debug)]
struct ExitOnDrop<'span> {
    span: &'span Span,
    entered: bool,
}

impl ExitOnDrop<'_> {
    fn enter(&mut self) {
        self.entered = self.span.with_subscriber(|(id, dispatch)| dispatch.enter(id)).is_some();
    }
}

impl Drop for ExitOnDrop<'_> {
    fn drop(&mut self) {
        if self.entered {
            self.span.with_subscriber(|(id, dispatch)| dispatch.exit(id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InSpan;
    use std::future::Future;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex, PoisonError};
    use std::task::{Context, Poll, Waker};
    use tracing_subscriber::layer::SubscriberExt as _;

    /// Counts entries into spans.
    #[derive(Clone, Default)]
    struct Enters(Arc<AtomicUsize>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Enters {
        fn on_enter(&self, _: &tracing::span::Id, _: tracing_subscriber::layer::Context<'_, S>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records the current span's id when dropped.
    struct NotesCurrentSpanOnDrop(Arc<Mutex<Vec<Option<tracing::Id>>>>);

    impl Drop for NotesCurrentSpanOnDrop {
        fn drop(&mut self) {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).push(tracing::Span::current().id());
        }
    }

    fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn polls_inside_the_span_and_drops_an_unfinished_body_inside_it() {
        let enters = Enters::default();
        let subscriber = tracing_subscriber::registry().with(enters.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("call");
            // Run to completion: entered once per poll, not again when dropped.
            let mut finished = Box::pin(InSpan::new(async { tracing::Span::current().id() }, &span));
            assert_eq!(poll_once(finished.as_mut()), Poll::Ready(span.id()));
            assert_eq!(enters.0.load(Ordering::Relaxed), 1);
            drop(finished);
            assert_eq!(enters.0.load(Ordering::Relaxed), 1, "a finished body is dropped without entering");

            // Dropped while pending: its locals are dropped inside the span.
            let seen = Arc::new(Mutex::new(Vec::new()));
            let local = NotesCurrentSpanOnDrop(Arc::clone(&seen));
            let pending = InSpan::new(
                async move {
                    let _local = local;
                    std::future::pending::<()>().await;
                },
                &span,
            );
            assert_send(&pending);
            let mut pending = Box::pin(pending);
            assert_eq!(poll_once(pending.as_mut()), Poll::Pending);
            drop(pending);
            assert_eq!(*seen.lock().unwrap_or_else(PoisonError::into_inner), [span.id()]);
            assert_eq!(tracing::Span::current().id(), None, "the span is exited after the drop");
        });
    }
}
