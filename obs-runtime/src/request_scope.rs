//! The link between [`ObsLayer`](crate::layer::ObsLayer) and an `#[observed]` endpoint it
//! reaches: the layer opens a scope for each request; the endpoint's call claims it, adopts its
//! server span and records the request itself; a request no endpoint claimed (an extractor
//! rejection, a middleware's response, an unannotated handler) is recorded by the layer. A
//! claimed call that is cut off (a timeout layer dropped it, a panic was caught) releases the
//! scope, and the layer records the response the client actually got. One request, one record.

use crate::metrics::site_metrics::SiteMetrics;
use crate::outcome::ErrorType;
use crate::telemetry::call_line::OfferedSpan;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tracing::Span;

/// Who records the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScopeState {
    /// Nobody claimed it yet: the layer records it.
    Open,
    /// An `#[observed]` endpoint records it.
    Claimed,
    /// An endpoint claimed it and was cut off with this: the layer records the response.
    Released(ErrorType),
}

/// One request going through the layer.
#[derive(Debug)]
pub(crate) struct RequestScope {
    state: Mutex<ScopeState>,
    span: Span,
    method: &'static str,
    /// The route template the router matched, when one did.
    matched_route: Option<&'static str>,
    /// The layer's own series for the request, counted in flight while the layer records it.
    layer_site: Arc<SiteMetrics>,
    /// The span as obs made it and names it in log lines, when obs made it.
    offered_span: Option<OfferedSpan>,
}

/// Requests in a scope right now, across threads: while none is, an endpoint call does not look
/// for one (a service without `ObsLayer` pays one atomic load, not a thread-local access).
static OPEN_SCOPES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The scope of the request whose future this thread is polling.
    static CURRENT: RefCell<Option<Arc<RequestScope>>> = const { RefCell::new(None) };
}

impl RequestScope {
    pub(crate) fn new(
        span: Span,
        method: &'static str,
        matched_route: Option<&'static str>,
        layer_site: Arc<SiteMetrics>,
        offered_span: Option<OfferedSpan>,
    ) -> Self {
        OPEN_SCOPES.fetch_add(1, Ordering::Relaxed);
        RequestScope { state: Mutex::new(ScopeState::Open), span, method, matched_route, layer_site, offered_span }
    }

    /// The request's span as obs made it, named as its log lines name it, when obs made it.
    pub(crate) fn offered_span(&self) -> Option<OfferedSpan> {
        self.offered_span
    }

    /// The request's method, as the layer's series names it.
    pub(crate) fn method(&self) -> &'static str {
        self.method
    }

    /// The route template the router matched, when one did.
    pub(crate) fn matched_route(&self) -> Option<&'static str> {
        self.matched_route
    }

    /// The request's server span.
    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    pub(crate) fn state(&self) -> ScopeState {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A claimed call was cut off: the layer records the request after all, counted in flight
    /// again until the response.
    pub(crate) fn release(&self, interruption: ErrorType) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if *state == ScopeState::Claimed {
            *state = ScopeState::Released(interruption);
            self.layer_site.started();
        }
    }

    /// Runs `poll` with this scope current on this thread, restoring the previous one after.
    pub(crate) fn enter<R>(self: &Arc<Self>, poll: impl FnOnce() -> R) -> R {
        let previous = CURRENT.with(|current| current.replace(Some(Arc::clone(self))));
        let result = poll();
        CURRENT.with(|current| *current.borrow_mut() = previous);
        result
    }
}

impl Drop for RequestScope {
    fn drop(&mut self) {
        OPEN_SCOPES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Claims the current request for an `#[observed]` endpoint starting on this thread: the scope,
/// when there is one that nobody claimed yet. The layer stops counting it in flight.
#[inline]
pub(crate) fn claim_current() -> Option<Arc<RequestScope>> {
    // Relaxed suffices: a scope entered on this thread was counted on this thread first.
    if OPEN_SCOPES.load(Ordering::Relaxed) == 0 {
        return None;
    }
    claim_entered()
}

fn claim_entered() -> Option<Arc<RequestScope>> {
    let scope = CURRENT.with(|current| current.borrow().clone())?;
    {
        let mut state = scope.state.lock().unwrap_or_else(PoisonError::into_inner);
        if *state != ScopeState::Open {
            return None;
        }
        *state = ScopeState::Claimed;
    }
    scope.layer_site.abandoned();
    Some(scope)
}

#[cfg(test)]
mod tests {
    use super::{RequestScope, ScopeState, claim_current};
    use crate::metrics::site_metrics::{SeriesKey, register};
    use crate::outcome::ErrorType;
    use std::sync::Arc;

    #[test]
    fn a_scope_is_claimed_once_and_released_back_to_the_layer() {
        let site = register(SeriesKey::Endpoint { method: "GET", route: "/scope-test" }, &[1.0]);
        site.started();
        let scope = Arc::new(RequestScope::new(tracing::Span::none(), "GET", None, Arc::clone(&site), None));
        assert!(claim_current().is_none(), "no scope outside the layer's poll");
        let claimed = scope.enter(claim_current).expect("claimed inside");
        assert_eq!((scope.state(), site.in_flight()), (ScopeState::Claimed, 0), "the endpoint counts it now");
        assert!(scope.enter(claim_current).is_none(), "claimed only once");
        claimed.release(ErrorType::Cancelled);
        assert_eq!((scope.state(), site.in_flight()), (ScopeState::Released(ErrorType::Cancelled), 1));
    }
}
