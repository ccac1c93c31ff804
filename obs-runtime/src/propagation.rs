//! Trace context across services: W3C `traceparent`/`tracestate` and `baggage` read from incoming
//! requests, so the `#[observed]` span joins the caller's trace, and written into outgoing ones.
//!
//! For an axum or hyper service, add [`TraceContextLayer`] around the router:
//!
//! ```no_run
//! # async fn run() {
//! let app = axum::Router::new()
//!     .route("/health", axum::routing::get(|| async { "ok" }))
//!     .layer(obs_runtime::propagation::TraceContextLayer::new());
//! # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! # axum::serve(listener, app).await.unwrap();
//! # }
//! ```
//!
//! and before calling another service, [`inject`] the current trace into the request's headers
//! (or use `inject_reqwest` with the `reqwest` feature).

use opentelemetry::Context;
use opentelemetry::context::{FutureExt as _, WithContext};
use opentelemetry::propagation::{Extractor, Injector, TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use std::sync::OnceLock;
use std::task::{Context as TaskContext, Poll};

fn propagator() -> &'static TextMapCompositePropagator {
    static PROPAGATOR: OnceLock<TextMapCompositePropagator> = OnceLock::new();
    PROPAGATOR.get_or_init(|| {
        TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ])
    })
}

struct HeaderReader<'a>(&'a http::HeaderMap);

impl Extractor for HeaderReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderWriter<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderWriter<'_> {
    fn set(&mut self, key: &str, value: String) {
        // Propagator output is always a valid header; a value that is not is skipped, not sent broken.
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(key.as_bytes()), http::HeaderValue::from_str(&value))
        {
            self.0.insert(name, value);
        }
    }
}

/// The caller's trace context (and baggage) from `headers`; an empty context when they carry
/// none or a malformed one.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
/// let context = obs_runtime::propagation::extract(&headers);
/// use opentelemetry::trace::TraceContextExt;
/// assert_eq!(context.span().span_context().trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// ```
#[must_use]
pub fn extract(headers: &http::HeaderMap) -> Context {
    propagator().extract(&HeaderReader(headers))
}

/// Runs `future` as a continuation of the trace in `headers`: `#[observed]` spans started in it
/// (with no other span around them) become children of the caller's span. For handlers that get
/// the headers themselves; with axum or hyper, [`TraceContextLayer`] does this for every request.
///
/// ```
/// # async fn get_user(id: u64) -> u64 { id }
/// # async fn handler(headers: http::HeaderMap) -> u64 {
/// obs_runtime::propagation::continue_trace(&headers, get_user(7)).await
/// # }
/// ```
pub fn continue_trace<F: Future>(headers: &http::HeaderMap, future: F) -> WithContext<F> {
    future.with_context(extract(headers))
}

/// Writes the current span's trace context (and baggage) into `headers`, for an outgoing call.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// obs_runtime::propagation::inject(&mut headers);
/// // Outside any span nothing is written: there is no trace to continue.
/// assert!(headers.get("traceparent").is_none());
/// ```
pub fn inject(headers: &mut http::HeaderMap) {
    let context = crate::telemetry::call_span::context_of_span(&tracing::Span::current());
    propagator().inject_context(&context, &mut HeaderWriter(headers));
}

/// Writes the current trace context into an outgoing `http::Request`.
pub fn inject_request<B>(request: &mut http::Request<B>) {
    inject(request.headers_mut());
}

/// Adds the current trace context to a `reqwest` request.
#[cfg(feature = "reqwest")]
pub fn inject_reqwest(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let mut headers = http::HeaderMap::new();
    inject(&mut headers);
    request.headers(headers)
}

/// A tower layer that continues the caller's trace for every request: see the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextLayer;

impl TraceContextLayer {
    /// The layer.
    #[must_use]
    pub const fn new() -> Self {
        TraceContextLayer
    }
}

impl<S> tower_layer::Layer<S> for TraceContextLayer {
    type Service = TraceContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceContextService { inner }
    }
}

/// The service [`TraceContextLayer`] wraps around the application.
#[derive(Debug, Clone)]
pub struct TraceContextService<S> {
    inner: S,
}

impl<S, B> tower_service::Service<http::Request<B>> for TraceContextService<S>
where
    S: tower_service::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = WithContext<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let caller = extract(request.headers());
        // Attached while the handler future is created too: axum may start work in `call`.
        let _attached = caller.clone().attach();
        self.inner.call(request).with_context(caller)
    }
}
