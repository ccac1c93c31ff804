//! # obs: observability from one annotation
//!
//! ```
//! use obs_runtime::observed;
//!
//! /// Loads one user.
//! #[observed(endpoint = "/users/{id}", method = "GET")]
//! async fn get_user(id: u64) -> Result<String, std::io::Error> {
//!     Ok(format!("user {id}"))
//! }
//! # let _ = get_user(1);
//! ```
//!
//! Every call of `get_user` then records, with no further code:
//! - `http_server_request_duration_seconds{http_request_method, http_route,
//!   http_response_status_code, error_type}` (histogram) and `http_server_active_requests`;
//! - a span `GET /users/{id}` with the OpenTelemetry HTTP semantic-convention attributes;
//! - one log event (method, route, status, duration, outcome, trace and span ids).
//!
//! Call [`builder`]`(...).`[`init`](ObsBuilder::init)`()` once at the start of `main` for the
//! log output, the `/metrics` listener and the process metrics.
//!
//! ## `#[observed]` arguments
//! - `endpoint = "/users/{id}"` (required, unless `operation`): the route template, the
//!   `http_route` label. Never the concrete path, so cardinality stays bounded.
//! - `operation = "db.load_user"` (instead of `endpoint`): an internal step such as a repository
//!   method. Each call records `operation_duration_seconds{operation, error_type}` (histogram), an
//!   internal child span named after the operation under the current span (the request's), and a
//!   DEBUG log event (ERROR on failure) with target [`OPERATION_LOG_TARGET`]. Names are lowercase
//!   letters, digits, `_`, `.` and `-`, at most 64 characters; `method` and `slo` are for endpoints.
//! - `method = "POST"` (default `GET`): the HTTP method, upper case.
//! - `buckets = [0.01, 0.1, 1.0]`: histogram bounds in seconds, replacing the defaults
//!   ([`DEFAULT_BUCKETS`]).
//! - `slo(success = "99.9%", latency = "250ms @ 99%")`: the endpoint's objectives, either or both;
//!   the latency threshold must be one of its bucket bounds. Endpoints without them get
//!   [`DEFAULT_SUCCESS_TARGET`] and a [`DEFAULT_LATENCY_THRESHOLD_SECONDS`] threshold at
//!   [`DEFAULT_LATENCY_TARGET`]; see [`Objectives`]. The generated alert rules and dashboards use them.
//!
//! The return value is classified by [`Outcome`]; misuse of the attribute is a compile error.
//!
//! In the OpenMetrics exposition, each bucket of the duration histograms carries an exemplar: the
//! trace and span ids of a recent sampled call that landed in it, so a latency spike links to a trace.

#![forbid(unsafe_code)]

mod call;
mod call_site;
mod clock;
mod error;
mod in_span;
pub mod layer;
pub mod metrics;
mod objectives;
mod outcome;
pub mod propagation;
mod request_scope;
/// Every metric, label and label-value name users query: see [`obs_schema`].
pub use obs_schema as schema;
mod setup;
mod span_ext;
pub mod telemetry;

pub use call::OPERATION_LOG_TARGET;
pub use call::REQUEST_LOG_TARGET;
pub use call_site::{CallSite, catalog};
pub use call_site::{CallSiteKind, duplicate_claims, endpoints, operations};
pub use error::{DuplicateClaim, SetupError};
pub use objectives::{DEFAULT_LATENCY_TARGET, DEFAULT_LATENCY_THRESHOLD_SECONDS, DEFAULT_SUCCESS_TARGET, Objectives};
pub use obs_macros::observed;
pub use outcome::{Classification, ErrorType, GrpcCode, Outcome};
pub use schema::DEFAULT_BUCKETS;
pub use setup::{LocalTelemetry, ObsBuilder, builder};
pub use span_ext::SpanExt;
pub use telemetry::otlp_config::OtlpProtocol;
pub use telemetry::{LogFormat, ObsGuard};

/// The OpenTelemetry crates obs is built on, re-exported so code that touches them (a custom
/// sampler, span attributes, the context) names the same versions: one `opentelemetry` in the
/// dependency tree. `tracing-opentelemetry` exports every span but those of `#[observed]` calls
/// and `ObsLayer` requests, which obs exports itself: reach those through [`SpanExt`].
///
/// ```
/// use obs_runtime::otel::opentelemetry::trace::TraceContextExt;
/// let context = obs_runtime::otel::opentelemetry::Context::current();
/// assert!(!context.span().span_context().is_valid());
/// ```
pub mod otel {
    pub use ::opentelemetry;
    pub use ::opentelemetry_sdk as sdk;
    pub use ::tracing_opentelemetry;
}

/// Paths for the code `#[observed]` generates; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::__obs_classify as classify;
    pub use crate::call::{Call, run_once};
    pub use crate::call_site::{CALL_SITES, CallSite, CallSiteInfo, Target};
    pub use crate::in_span::InSpan;
    pub use crate::outcome::probe;
    pub use ::linkme;
    pub use ::tracing;
}
