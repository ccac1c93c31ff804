//! [`ObsLayer`]: the tower layer a service adds once to its router, so that every HTTP request
//! produces exactly one server span, one observation in `http_server_request_duration_seconds`,
//! one log line and one in-flight count, whichever part of the stack answered it.
//!
//! ```
//! use axum::{Router, routing::get};
//!
//! #[obs_runtime::observed(endpoint = "/items/{id}")]
//! async fn get_item() -> &'static str {
//!     "item"
//! }
//!
//! let app: Router = Router::new().route("/items/{id}", get(get_item)).layer(obs_runtime::layer::ObsLayer::new());
//! ```
//!
//! - A request an `#[observed]` endpoint handles is recorded by the endpoint, as without the
//!   layer (its classification, its error type names); the layer adds nothing. The endpoint
//!   adopts the layer's span, so there is one server span, parented on the caller's
//!   `traceparent` (the layer extracts it, as [`TraceContextLayer`](crate::propagation::TraceContextLayer) does).
//! - A request answered before or instead of one (an extractor's rejection, a middleware's 401
//!   or 503, an unannotated handler, no route at all) is recorded by the layer with the response
//!   status: `http_route` is axum's `MatchedPath` (a template of the router, so bounded), or
//!   [`UNMATCHED_ROUTE`](crate::schema::UNMATCHED_ROUTE) when no route matched; an HTTP method
//!   outside RFC 9110 and PATCH is [`OTHER_METHOD`](crate::schema::OTHER_METHOD).
//! - An endpoint cut off by a layer inside this one (a timeout's 408, a caught panic's 500) is
//!   recorded once, by this layer, with the status the client got and `error_type` `cancelled`
//!   or `panic`: a failure of the service, as the SLO should count it.
//!
//! Add it outermost (last in axum's `.layer(..)` chain) so it sees every response.

use crate::call::{EventParent, REQUEST_LOG_TARGET, RequestFields, log_request_fields, record_observation};
use crate::clock::Tick;
use crate::metrics::site_metrics::{self, SeriesKey, SiteMetrics};
use crate::outcome::{Classification, ErrorType};
use crate::request_scope::{RequestScope, ScopeState};
use crate::schema;
use crate::telemetry::call_line::OfferedSpan;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::{Context as TaskContext, Poll};
use tracing::Span;

/// The layer: see the [module docs](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct ObsLayer;

impl ObsLayer {
    /// The layer.
    #[must_use]
    pub const fn new() -> Self {
        ObsLayer
    }
}

impl<S> tower_layer::Layer<S> for ObsLayer {
    type Service = ObsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ObsService { inner }
    }
}

/// The service [`ObsLayer`] wraps around the application.
#[derive(Debug, Clone)]
pub struct ObsService<S> {
    inner: S,
}

/// The HTTP methods recorded as themselves; any other is [`schema::OTHER_METHOD`].
const KNOWN_METHODS: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

fn bounded_method(method: &http::Method) -> &'static str {
    KNOWN_METHODS.iter().copied().find(|known| *known == method.as_str()).unwrap_or(schema::OTHER_METHOD)
}

/// The route template the router matched, when one did.
fn matched_path<B>(request: &http::Request<B>) -> Option<&str> {
    #[cfg(feature = "axum")]
    {
        request.extensions().get::<axum::extract::MatchedPath>().map(axum::extract::MatchedPath::as_str)
    }
    #[cfg(not(feature = "axum"))]
    {
        let _ = request;
        None
    }
}

/// What the layer needs about one method and route, worked out on its first request: the
/// router's templates are a fixed set, so this stays bounded, and later requests only look it up.
#[derive(Debug)]
struct RouteSeries {
    method: &'static str,
    /// `None` when no route matched.
    route: Option<&'static str>,
    /// The span name: `GET /users/{id}`, or the method alone when no route matched.
    name: &'static str,
    site: Arc<SiteMetrics>,
    /// Whether an `#[observed]` endpoint annotates this method and route.
    annotated: bool,
    /// Whether the missing annotation was already warned about.
    warned: AtomicBool,
}

/// Every method and route seen, by method then route (`UNMATCHED_ROUTE` for none).
static ROUTES: RwLock<BTreeMap<(&'static str, &'static str), Arc<RouteSeries>>> = RwLock::new(BTreeMap::new());

/// The series of `method` and `matched`, created on the first request to them.
fn route_series(method: &'static str, matched: Option<&str>) -> Arc<RouteSeries> {
    let key_route = matched.unwrap_or(schema::UNMATCHED_ROUTE);
    let known = ROUTES.read().unwrap_or_else(PoisonError::into_inner).get(&(method, key_route)).cloned();
    if let Some(known) = known {
        return known;
    }
    let mut routes = ROUTES.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = routes.get(&(method, key_route)) {
        return Arc::clone(known);
    }
    let route: Option<&'static str> = matched.map(|route| &*Box::leak(route.to_owned().into_boxed_str()));
    let name: &'static str = match route {
        Some(route) => Box::leak(format!("{method} {route}").into_boxed_str()),
        None => method,
    };
    let label = route.unwrap_or(schema::UNMATCHED_ROUTE);
    let series = Arc::new(RouteSeries {
        method,
        route,
        name,
        site: site_metrics::register(SeriesKey::Endpoint { method, route: label }, schema::DEFAULT_BUCKETS),
        annotated: crate::endpoints().any(|site| site.method() == method && site.route() == label),
        warned: AtomicBool::new(false),
    });
    routes.insert((method, label), Arc::clone(&series));
    series
}

impl<S, B, ResBody> tower_service::Service<http::Request<B>> for ObsService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ObsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let series = route_series(bounded_method(request.method()), matched_path(&request));
        // The caller's trace is current while the span is made: its parent.
        let caller = crate::propagation::extract(request.headers()).attach();
        crate::telemetry::call_span::forget_started();
        let span = tracing::info_span!(
            target: REQUEST_LOG_TARGET,
            "HTTP request",
            otel.name = series.name,
            otel.kind = "server",
            http.request.method = series.method,
            http.route = series.route,
            http.response.status_code = tracing::field::Empty,
            rpc.grpc.status_code = tracing::field::Empty,
            error.r#type = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            code.function = tracing::field::Empty,
            code.namespace = tracing::field::Empty,
            obs.call = tracing::field::Empty,
        );
        drop(caller);
        let offered_span =
            crate::telemetry::call_span::take_started(&span).map(|started| OfferedSpan { name: series.name, started });
        crate::telemetry::json::set_span_name(&span, std::borrow::Cow::Borrowed(series.name));
        series.site.started();
        let scope = Arc::new(RequestScope::new(
            span.clone(),
            series.method,
            series.route,
            Arc::clone(&series.site),
            offered_span,
        ));
        // axum may start work in `call`: an endpoint called right here claims the request too.
        let inner = span.in_scope(|| scope.enter(|| self.inner.call(request)));
        ObsFuture {
            inner: Some(Box::pin(inner)),
            record: Record { scope, span, series, started: Tick::now(), done: false },
        }
    }
}

/// The response future of [`ObsService`].
pub struct ObsFuture<F> {
    inner: Option<Pin<Box<F>>>,
    record: Record,
}

impl<F> std::fmt::Debug for ObsFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObsFuture")
            .field("method", &self.record.series.method)
            .field("route", &self.record.series.route)
            .finish_non_exhaustive()
    }
}

/// What the layer needs to record the request itself.
struct Record {
    scope: Arc<RequestScope>,
    span: Span,
    series: Arc<RouteSeries>,
    started: Tick,
    done: bool,
}

impl Record {
    /// Records the request unless an endpoint did: `status` is the response's, `None` when
    /// the service failed or the request was dropped.
    fn finish(&mut self, status: Option<u16>, failure: Option<ErrorType>) {
        self.done = true;
        let outcome = match (self.scope.state(), status) {
            (ScopeState::Claimed, _) => return,
            (ScopeState::Released(interruption), Some(code)) => {
                Classification::interrupted_with_status(interruption, code)
            }
            (ScopeState::Released(interruption), None) => Classification::interrupted(interruption),
            (ScopeState::Open, Some(code)) => Classification::status(code),
            (ScopeState::Open, None) => Classification::interrupted(failure.unwrap_or(ErrorType::Cancelled)),
        };
        let series = &self.series;
        let elapsed = record_observation(
            &series.site,
            &self.span,
            self.scope.offered_span().map(|span| span.started.outcome_wanted),
            self.started,
            outcome,
        );
        let fields =
            RequestFields::Layer { method: series.method, route: series.route.unwrap_or(schema::UNMATCHED_ROUTE) };
        crate::telemetry::call_line::not_offering(|| {
            log_request_fields(&fields, outcome, elapsed, &EventParent::of(&self.span));
        });
        // A 405 is the router refusing a method the route does not serve: nothing to annotate.
        if status != Some(405) {
            warn_if_unannotated(series);
        }
    }
}

/// A route the router serves that no `#[observed]` endpoint annotates: recorded by the layer,
/// but without the endpoint's objectives, alerts and dashboard rows. Said once per route.
fn warn_if_unannotated(series: &RouteSeries) {
    let Some(route) = series.route else { return };
    let method = series.method;
    if !series.annotated && !series.warned.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            target: crate::telemetry::guard::SYSTEM_LOG_TARGET,
            event = "route_not_observed",
            "http.request.method" = method,
            "http.route" = route,
            "{method} {route} is served but no #[observed(endpoint = \"{route}\", method = \"{method}\")] function handles it: \
             ObsLayer records its requests, but it has no objectives, alerts or dashboard row of its own",
        );
    }
}

/// Mismatches already warned about: (annotated route, method, matched route).
static MISMATCHES: Mutex<Vec<(&'static str, &'static str, &'static str)>> = Mutex::new(Vec::new());

/// Whether this mismatch is seen for the first time.
fn first_mismatch(annotated: &'static str, method: &'static str, matched: &'static str) -> bool {
    let mut seen = MISMATCHES.lock().unwrap_or_else(PoisonError::into_inner);
    if seen.contains(&(annotated, method, matched)) {
        return false;
    }
    seen.push((annotated, method, matched));
    true
}

/// An `#[observed]` endpoint handling a request the router matched under another template: its
/// annotation says one route, the router another (a typo on one side). Said once per pair.
pub(crate) fn warn_if_route_differs(scope: &RequestScope, site: &crate::CallSite) {
    let Some(matched) = scope.matched_route() else { return };
    if matched != site.route() && first_mismatch(site.route(), site.method(), matched) {
        tracing::warn!(
            target: crate::telemetry::guard::SYSTEM_LOG_TARGET,
            event = "route_mismatch",
            "http.route" = matched,
            "code.function" = site.function(),
            "{} is annotated as {} {} but the router serves it as {matched}: write the router's template in #[observed], \
             so the series, alerts and dashboards name the route requests use",
            site.function(),
            site.method(),
            site.route(),
        );
    }
}

impl<F, ResBody, E> Future for ObsFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else { return Poll::Pending };
        let record = &mut this.record;
        let polled = record.span.in_scope(|| record.scope.enter(|| inner.as_mut().poll(cx)));
        let Poll::Ready(output) = polled else { return Poll::Pending };
        match &output {
            Ok(response) => record.finish(Some(response.status().as_u16()), None),
            Err(_) => record.finish(None, Some(ErrorType::Named("ServiceError"))),
        }
        this.inner = None;
        Poll::Ready(output)
    }
}

impl<F> Drop for ObsFuture<F> {
    fn drop(&mut self) {
        // The handler first: an endpoint dropped mid-call releases the request to this record.
        drop(self.inner.take());
        if !self.record.done {
            self.record.finish(None, None);
        }
    }
}
