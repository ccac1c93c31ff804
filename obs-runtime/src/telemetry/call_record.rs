//! The exported log record of an `#[observed]` call's own event, built from what the call knows
//! instead of from the event's fields: the bridge copies every string field into a fresh
//! allocation and formats the message through `fmt`, which made the log export the costliest
//! thing an exported call did on its own thread. Method, route, function and module are the call
//! site's `'static` strings, shared, not copied.
//!
//! Every other event goes through the `tracing` bridge unchanged; a call's record carries exactly
//! what the bridge would have given it (a test compares the two).

use crate::call::{StatusText, push_milliseconds, whole_nanoseconds_as_millis};
use crate::outcome::GrpcCode;
use crate::telemetry::call_line::{OfferedCall, offer_for};
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::{Key, StringValue};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use std::fmt::Write as _;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The log export: calls' records built from the call, every other event bridged.
pub(crate) struct LogExport {
    bridge: OpenTelemetryTracingBridge<SdkLoggerProvider, SdkLogger>,
    /// The bridge's own logger, in the same (nameless) instrumentation scope.
    logger: SdkLogger,
}

impl LogExport {
    pub(crate) fn new(provider: &SdkLoggerProvider) -> Self {
        LogExport { bridge: OpenTelemetryTracingBridge::new(provider), logger: provider.logger("") }
    }

    fn export_call(&self, metadata: &'static Metadata<'static>, call: &OfferedCall) {
        let level = metadata.level();
        let severity = severity_of(*level);
        if !self.logger.event_enabled(severity, metadata.target(), Some(metadata.name())) {
            return;
        }
        let mut record = self.logger.create_log_record();
        record.set_target(metadata.target());
        record.set_event_name(metadata.name());
        record.set_severity_number(severity);
        record.set_severity_text(level.as_str());
        record.set_body(AnyValue::from(message(call)));
        // The fields in the order `call.rs` emits them, as the bridge would add them.
        let (site, outcome) = (call.site, call.outcome);
        match site.operation() {
            None => {
                record.add_attribute(Key::from_static_str("http.request.method"), shared(site.method()));
                record.add_attribute(Key::from_static_str("http.route"), shared(site.route()));
                if let Some(code) = outcome.status_code() {
                    record.add_attribute(Key::from_static_str("http.response.status_code"), i64::from(code));
                }
                if let Some(code) = outcome.grpc_status_code().map(GrpcCode::value) {
                    record.add_attribute(Key::from_static_str("rpc.grpc.status_code"), i64::from(code));
                }
            }
            Some(operation) => record.add_attribute(Key::from_static_str(crate::schema::OPERATION), shared(operation)),
        }
        if let Some(error) = outcome.error_type() {
            record.add_attribute(Key::from_static_str("error.type"), AnyValue::from(error.to_string()));
        }
        record.add_attribute(Key::from_static_str("outcome"), shared(outcome.outcome_name()));
        record.add_attribute(Key::from_static_str("duration_ms"), whole_nanoseconds_as_millis(call.elapsed()));
        record.add_attribute(Key::from_static_str("code.function"), shared(site.function()));
        record.add_attribute(Key::from_static_str("code.namespace"), shared(site.module_path()));
        self.logger.emit(record);
    }
}

impl<S> Layer<S> for LogExport
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        match offer_for(event.metadata()) {
            Some(call) => self.export_call(event.metadata(), &call),
            None => self.bridge.on_event(event, ctx),
        }
    }
}

/// A `'static` string as an attribute value, without copying it.
fn shared(text: &'static str) -> AnyValue {
    AnyValue::String(StringValue::from(text))
}

/// The event's message, as `call.rs` formats it.
fn message(call: &OfferedCall) -> String {
    let site = call.site;
    let mut text = String::with_capacity(64);
    match site.operation() {
        None => {
            text.push_str(site.method());
            text.push(' ');
            text.push_str(site.route());
        }
        Some(operation) => text.push_str(operation),
    }
    let _ = write!(text, " {} in ", StatusText(call.outcome));
    push_milliseconds(&mut text, call.elapsed());
    text.push_str(" ms");
    text
}

/// The severity the bridge gives a level.
const fn severity_of(level: Level) -> Severity {
    match level {
        Level::TRACE => Severity::Trace,
        Level::DEBUG => Severity::Debug,
        Level::INFO => Severity::Info,
        Level::WARN => Severity::Warn,
        Level::ERROR => Severity::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::LogExport;
    use opentelemetry::InstrumentationScope;
    use opentelemetry::logs::AnyValue;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord, SdkLoggerProvider};
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Duration;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[derive(Clone, Debug, Default)]
    struct Captured(Arc<Mutex<Vec<SdkLogRecord>>>);

    impl LogProcessor for Captured {
        fn emit(&self, record: &mut SdkLogRecord, _: &InstrumentationScope) {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).push(record.clone());
        }

        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }

        fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    /// A value as the wire sees it: a string is a string, shared or copied.
    fn wire(value: &AnyValue) -> String {
        match value {
            AnyValue::String(text) => format!("string {:?}", text.as_str()),
            other => format!("{other:?}"),
        }
    }

    /// Everything a record exports but its timestamps, taken from `captured`.
    fn exported(captured: &Captured) -> Vec<String> {
        std::mem::take(&mut *captured.0.lock().unwrap_or_else(PoisonError::into_inner))
            .iter()
            .map(|record| {
                let attributes: Vec<String> =
                    record.attributes_iter().map(|(key, value)| format!("{}={}", key.as_str(), wire(value))).collect();
                format!(
                    "{:?} {:?} {:?} {:?} body={:?} trace={:?} {attributes:?}",
                    record.event_name(),
                    record.target(),
                    record.severity_number(),
                    record.severity_text(),
                    record.body().map(wire),
                    record.trace_context().map(|context| (context.trace_id, context.span_id, context.trace_flags)),
                )
            })
            .collect()
    }

    #[test]
    fn call_records_are_the_records_the_bridge_makes() {
        let captured = Captured::default();
        let logs = SdkLoggerProvider::builder().with_log_processor(captured.clone()).build();
        let traces = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(traces.tracer("test")))
            .with(LogExport::new(&logs))
            .with(tracing_subscriber::filter::LevelFilter::TRACE);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("GET /users/{id}");
            crate::telemetry::call_line::every_call::are_written_alike(&span, None, || exported(&captured));
        });
    }
}
