//! Assembles the tracing subscriber: OpenTelemetry spans (for trace ids and, later, export) and
//! the log output, each with its own filter so quieting logs never removes trace ids.

use crate::call::REQUEST_LOG_TARGET;
use crate::error::SetupError;
use crate::telemetry::config::{LogFormat, parse_filter};
use crate::telemetry::identity::ServiceIdentity;
use crate::telemetry::json::JsonLayer;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::{Arc, OnceLock};
use tracing::{Dispatch, Metadata};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::Registry;

/// What the subscriber is built from.
pub struct SubscriberParts {
    pub identity: ServiceIdentity,
    pub log_format: LogFormat,
    pub log_filter: (String, &'static str),
    pub trace_filter: (String, &'static str),
    pub log_writer: BoxMakeWriter,
}

/// The subscriber, as a dispatcher, and the tracer provider that must be shut down with it.
pub struct BuiltSubscriber {
    pub dispatch: Dispatch,
    pub tracer_provider: SdkTracerProvider,
}

pub fn build(parts: SubscriberParts) -> Result<BuiltSubscriber, SetupError> {
    let log_filter = parse_filter(&parts.log_filter.0, parts.log_filter.1)?;
    let trace_filter = parse_filter(&parts.trace_filter.0, parts.trace_filter.1)?;
    let resource = Resource::builder()
        .with_service_name(parts.identity.name.clone())
        .with_attribute(opentelemetry::KeyValue::new("service.version", parts.identity.version.clone()))
        .build();
    let tracer_provider = SdkTracerProvider::builder().with_resource(resource).build();
    let tracer = tracer_provider.tracer("obs");
    // The per-call event repeats the span's own attributes: copying it into a span event would
    // double the cost of every traced call for no information.
    let not_the_call_event =
        filter_fn(|metadata: &Metadata<'_>| !(metadata.is_event() && metadata.target() == REQUEST_LOG_TARGET));
    let spans = tracing_opentelemetry::layer().with_tracer(tracer).with_filter(trace_filter.and(not_the_call_event));
    let dispatch_cell = Arc::new(OnceLock::new());
    let (json, pretty) = match parts.log_format {
        LogFormat::Json => (Some(JsonLayer::new(parts.log_writer, Arc::clone(&dispatch_cell))), None),
        LogFormat::Pretty => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(parts.log_writer)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())),
            ),
        ),
    };
    let subscriber = Registry::default().with(spans).with(Layer::and_then(json, pretty).with_filter(log_filter));
    // A concrete type, not a boxed one, so the OpenTelemetry layer can downcast the dispatcher.
    let dispatch = Dispatch::new(subscriber);
    let _ = dispatch_cell.set(dispatch.downgrade());
    Ok(BuiltSubscriber { dispatch, tracer_provider })
}
