//! Assembles the tracing subscriber: OpenTelemetry spans (for trace ids and, later, export) and
//! the log output, each with its own filter so quieting logs never removes trace ids.

use crate::error::SetupError;
use crate::telemetry::config::{LogFormat, parse_filter};
use crate::telemetry::identity::ServiceIdentity;
use crate::telemetry::json::JsonLayer;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
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

/// The subscriber and the tracer provider that must be shut down with it.
pub struct BuiltSubscriber {
    pub subscriber: Box<dyn tracing::Subscriber + Send + Sync>,
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
    let spans = tracing_opentelemetry::layer().with_tracer(tracer).with_filter(trace_filter).boxed();
    let logs = match parts.log_format {
        LogFormat::Json => JsonLayer::new(parts.log_writer).with_filter(log_filter).boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(parts.log_writer)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .with_filter(log_filter)
            .boxed(),
    };
    let subscriber = Registry::default().with(vec![spans, logs]);
    Ok(BuiltSubscriber { subscriber: Box::new(subscriber), tracer_provider })
}
