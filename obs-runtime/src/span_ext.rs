//! The OpenTelemetry side of any `tracing` span, whichever exports it.
//!
//! The spans of `#[observed]` calls and of [`ObsLayer`](crate::layer::ObsLayer) requests are
//! exported by obs itself, not by `tracing-opentelemetry`, whose [`OpenTelemetrySpanExt`] sees
//! nothing of them (its `context()` is empty, its `set_attribute` does nothing). [`SpanExt`]
//! answers for both kinds of span.
//!
//! [`OpenTelemetrySpanExt`]: tracing_opentelemetry::OpenTelemetrySpanExt

use opentelemetry::{Context, Key, KeyValue, Value};

/// OpenTelemetry access to a `tracing` span, an observed call's or any other.
///
/// ```
/// use obs_runtime::SpanExt as _;
/// use obs_runtime::otel::opentelemetry::trace::TraceContextExt as _;
///
/// #[obs_runtime::observed(operation = "billing.charge")]
/// fn charge(cents: u64) -> u64 {
///     let span = tracing::Span::current();
///     span.set_otel_attribute("billing.cents", i64::try_from(cents).unwrap_or(i64::MAX));
///     // Without a subscriber there is no trace: the context carries no valid span.
///     assert!(!span.otel_context().span().span_context().is_valid());
///     cents
/// }
/// assert_eq!(charge(250), 250);
/// ```
pub trait SpanExt {
    /// The span's OpenTelemetry context (trace and span ids, sampled flag, baggage), for
    /// propagation or OpenTelemetry APIs; empty when the span is not exported.
    fn otel_context(&self) -> Context;

    /// Adds an attribute to the exported span (on an observed call's span, replacing the one with
    /// the same key); nothing when the span is not exported or not sampled.
    fn set_otel_attribute(&self, key: impl Into<Key>, value: impl Into<Value>);
}

impl SpanExt for tracing::Span {
    fn otel_context(&self) -> Context {
        crate::telemetry::call_span::context_of_span(self)
    }

    fn set_otel_attribute(&self, key: impl Into<Key>, value: impl Into<Value>) {
        crate::telemetry::call_span::set_attribute_of_span(self, KeyValue::new(key, value));
    }
}
