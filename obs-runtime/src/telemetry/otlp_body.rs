//! The bodies of OTLP span and log exports, written straight from the SDK's records into one
//! buffer. The SDK's exporter first copies every record into owned protobuf structs (each
//! attribute key and string value allocated again, log records grouped through a hash map) and
//! then encodes those: on a 2-core machine its export threads took as much CPU as the request
//! handling they export. The bytes written here decode to the messages the SDK's transform
//! builds (tests compare the two), so a collector sees the same export.

use crate::telemetry::otlp_wire::{
    bytes, fixed32, fixed64, message as nested, present_bytes, present_double, present_varint, unsigned,
};
use crate::telemetry::timestamp::unix_nanos;
use opentelemetry::logs::{AnyValue as LogValue, Severity};
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLogRecord;
use opentelemetry_sdk::trace::SpanData;
use std::borrow::Cow;

/// What every request of one exporter starts its resource's entry with, encoded once.
#[derive(Debug, Clone, Default)]
pub(crate) struct EncodedResource {
    /// The `resource` field (1) of `ResourceSpans`/`ResourceLogs`.
    resource: Vec<u8>,
    /// The resource's schema URL, the entry's field 3.
    schema_url: String,
}

impl EncodedResource {
    pub(crate) fn new(resource: &Resource) -> Self {
        let mut encoded = Vec::new();
        nested(&mut encoded, 1, |out| {
            for (key, value) in resource {
                key_value(out, 1, key.as_str(), value);
            }
        });
        EncodedResource { resource: encoded, schema_url: resource.schema_url().unwrap_or_default().to_owned() }
    }
}

/// One span or log record, encoded on the thread that ended or emitted it (freed where it was
/// allocated, and a log record not copied for the queue), waiting in the queue for its batch.
#[derive(Debug)]
pub(crate) struct EncodedItem {
    scope: ScopeKey,
    /// The `Span` or `LogRecord` as a field 2 of its `ScopeSpans`/`ScopeLogs`: tag, length, bytes.
    message: Vec<u8>,
}

/// The instrumentation scope an item is exported under.
#[derive(Debug)]
struct ScopeKey {
    /// The exported name when it is not the scope's own: a log record's target.
    name: Option<Cow<'static, str>>,
    scope: InstrumentationScope,
}

impl ScopeKey {
    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.scope.name())
    }

    /// Whether two items go in one group: the same exported scope, as the SDK's exporter groups.
    fn same_group(&self, other: &ScopeKey) -> bool {
        self.name() == other.name()
            && self.scope.version() == other.scope.version()
            && self.scope.schema_url() == other.scope.schema_url()
            && self.scope.attributes().eq(other.scope.attributes())
    }
}

impl EncodedItem {
    /// An ended span, encoded.
    pub(crate) fn span(span: SpanData) -> Self {
        let mut message = Vec::with_capacity(512);
        nested(&mut message, 2, |out| span_fields(out, &span));
        EncodedItem { scope: ScopeKey { name: None, scope: span.instrumentation_scope }, message }
    }

    /// An emitted log record, encoded: exported under its target when it has one, as the SDK's
    /// exporter does, under its logger's scope otherwise.
    pub(crate) fn log(record: &SdkLogRecord, scope: &InstrumentationScope) -> Self {
        let mut message = Vec::with_capacity(384);
        nested(&mut message, 2, |out| log_record_fields(out, record));
        EncodedItem { scope: ScopeKey { name: record.target().cloned(), scope: scope.clone() }, message }
    }
}

/// An `ExportTraceServiceRequest` or `ExportLogsServiceRequest` (the two have the same shape and
/// field numbers) of `items`, grouped by exported scope in the order scopes first appear.
pub(crate) fn request(resource: &EncodedResource, items: &[EncodedItem]) -> Vec<u8> {
    let mut groups: Vec<(&ScopeKey, Vec<&[u8]>)> = Vec::new();
    for item in items {
        match groups.iter_mut().find(|(scope, _)| scope.same_group(&item.scope)) {
            Some((_, members)) => members.push(&item.message),
            None => groups.push((&item.scope, vec![&item.message])),
        }
    }
    let size: usize = items.iter().map(|item| item.message.len()).sum();
    let mut out = Vec::with_capacity(size + resource.resource.len() + 64 * groups.len() + 64);
    nested(&mut out, 1, |out| {
        out.extend_from_slice(&resource.resource);
        for (scope, members) in &groups {
            nested(out, 2, |out| {
                nested(out, 1, |out| scope_fields(out, scope.name(), &scope.scope));
                for message in members {
                    out.extend_from_slice(message);
                }
                bytes(out, 3, scope.scope.schema_url().unwrap_or_default().as_bytes());
            });
        }
        bytes(out, 3, resource.schema_url.as_bytes());
    });
    out
}

fn scope_fields(out: &mut Vec<u8>, name: &str, scope: &InstrumentationScope) {
    bytes(out, 1, name.as_bytes());
    bytes(out, 2, scope.version().unwrap_or_default().as_bytes());
    for attribute in scope.attributes() {
        key_value(out, 3, attribute.key.as_str(), &attribute.value);
    }
}

/// The `flags` of a span or link: the W3C trace flags, and whether the parent was remote.
fn span_flags(trace_flags: u8, parent_is_remote: bool) -> u32 {
    const CONTEXT_HAS_IS_REMOTE: u32 = 0x100;
    const CONTEXT_IS_REMOTE: u32 = 0x200;
    u32::from(trace_flags) | CONTEXT_HAS_IS_REMOTE | if parent_is_remote { CONTEXT_IS_REMOTE } else { 0 }
}

fn span_fields(out: &mut Vec<u8>, span: &SpanData) {
    let context = &span.span_context;
    bytes(out, 1, &context.trace_id().to_bytes());
    bytes(out, 2, &context.span_id().to_bytes());
    bytes(out, 3, context.trace_state().header().as_bytes());
    if span.parent_span_id != SpanId::INVALID {
        bytes(out, 4, &span.parent_span_id.to_bytes());
    }
    bytes(out, 5, span.name.as_bytes());
    unsigned(out, 6, span_kind(&span.span_kind));
    fixed64(out, 7, unix_nanos(span.start_time));
    fixed64(out, 8, unix_nanos(span.end_time));
    attributes(out, 9, &span.attributes);
    unsigned(out, 10, u64::from(span.dropped_attributes_count));
    for event in &span.events.events {
        nested(out, 11, |out| {
            fixed64(out, 1, unix_nanos(event.timestamp));
            bytes(out, 2, event.name.as_bytes());
            attributes(out, 3, &event.attributes);
            unsigned(out, 4, u64::from(event.dropped_attributes_count));
        });
    }
    unsigned(out, 12, u64::from(span.events.dropped_count));
    for link in &span.links.links {
        nested(out, 13, |out| {
            let context = &link.span_context;
            bytes(out, 1, &context.trace_id().to_bytes());
            bytes(out, 2, &context.span_id().to_bytes());
            bytes(out, 3, context.trace_state().header().as_bytes());
            attributes(out, 4, &link.attributes);
            unsigned(out, 5, u64::from(link.dropped_attributes_count));
            fixed32(out, 6, span_flags(context.trace_flags().to_u8(), context.is_remote()));
        });
    }
    unsigned(out, 14, u64::from(span.links.dropped_count));
    nested(out, 15, |out| match &span.status {
        Status::Unset => {}
        Status::Ok => unsigned(out, 3, 1),
        Status::Error { description } => {
            bytes(out, 2, description.as_bytes());
            unsigned(out, 3, 2);
        }
    });
    fixed32(out, 16, span_flags(context.trace_flags().to_u8(), span.parent_span_is_remote));
}

fn span_kind(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn attributes(out: &mut Vec<u8>, field: u32, attributes: &[KeyValue]) {
    for attribute in attributes {
        key_value(out, field, attribute.key.as_str(), &attribute.value);
    }
}

fn key_value(out: &mut Vec<u8>, field: u32, key: &str, value: &Value) {
    nested(out, field, |out| {
        bytes(out, 1, key.as_bytes());
        nested(out, 2, |out| any_value(out, value));
    });
}

/// The `AnyValue` fields of an attribute value.
fn any_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(value) => present_varint(out, 2, u64::from(*value)),
        Value::I64(value) => present_varint(out, 3, as_varint(*value)),
        Value::F64(value) => present_double(out, 4, *value),
        Value::String(value) => present_bytes(out, 1, value.as_str().as_bytes()),
        Value::Array(array) => nested(out, 5, |out| array_values(out, array)),
        // A kind of value newer than this encoder: as text, rather than lost.
        other => present_bytes(out, 1, other.to_string().as_bytes()),
    }
}

fn array_values(out: &mut Vec<u8>, array: &Array) {
    fn each<T>(out: &mut Vec<u8>, values: &[T], write: impl Fn(&mut Vec<u8>, &T)) {
        for value in values {
            nested(out, 1, |out| write(out, value));
        }
    }
    match array {
        Array::Bool(values) => each(out, values, |out, value| present_varint(out, 2, u64::from(*value))),
        Array::I64(values) => each(out, values, |out, value| present_varint(out, 3, as_varint(*value))),
        Array::F64(values) => each(out, values, |out, value| present_double(out, 4, *value)),
        Array::String(values) => {
            each(out, values, |out, value: &StringValue| present_bytes(out, 1, value.as_str().as_bytes()));
        }
        other => each(out, &[other.to_string()], |out, value| present_bytes(out, 1, value.as_bytes())),
    }
}

/// An `int64` as the wire carries it: its two's complement bits.
fn as_varint(value: i64) -> u64 {
    u64::from_ne_bytes(value.to_ne_bytes())
}

fn log_record_fields(out: &mut Vec<u8>, record: &SdkLogRecord) {
    fixed64(out, 1, record.timestamp().map_or(0, unix_nanos));
    unsigned(out, 2, record.severity_number().map_or(0, severity_number));
    bytes(out, 3, record.severity_text().unwrap_or_default().as_bytes());
    if let Some(body) = record.body() {
        nested(out, 5, |out| log_value(out, body));
    }
    for (key, value) in record.attributes_iter() {
        log_key_value(out, 6, key, value);
    }
    if let Some(context) = record.trace_context() {
        fixed32(out, 8, context.trace_flags.map_or(0, |flags| u32::from(flags.to_u8())));
        bytes(out, 9, &context.trace_id.to_bytes());
        bytes(out, 10, &context.span_id.to_bytes());
    }
    fixed64(out, 11, record.observed_timestamp().map_or(0, unix_nanos));
    bytes(out, 12, record.event_name().unwrap_or_default().as_bytes());
}

fn severity_number(severity: Severity) -> u64 {
    // The OTLP numbers are the severities' own, 1 (TRACE) to 24 (FATAL4).
    severity as u64
}

fn log_key_value(out: &mut Vec<u8>, field: u32, key: &Key, value: &LogValue) {
    nested(out, field, |out| {
        bytes(out, 1, key.as_str().as_bytes());
        nested(out, 2, |out| log_value(out, value));
    });
}

/// The `AnyValue` fields of a log body or attribute.
fn log_value(out: &mut Vec<u8>, value: &LogValue) {
    match value {
        LogValue::String(value) => present_bytes(out, 1, value.as_str().as_bytes()),
        LogValue::Boolean(value) => present_varint(out, 2, u64::from(*value)),
        LogValue::Int(value) => present_varint(out, 3, as_varint(*value)),
        LogValue::Double(value) => present_double(out, 4, *value),
        LogValue::ListAny(values) => nested(out, 5, |out| {
            for value in values.iter() {
                nested(out, 1, |out| log_value(out, value));
            }
        }),
        LogValue::Map(entries) => nested(out, 6, |out| {
            for (key, value) in entries.iter() {
                log_key_value(out, 1, key, value);
            }
        }),
        LogValue::Bytes(value) => present_bytes(out, 7, value),
        // A kind of value newer than this encoder: as its debug text, rather than lost.
        other => present_bytes(out, 1, format!("{other:?}").as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::{EncodedItem, EncodedResource, request};
    use opentelemetry::logs::{AnyValue as LogValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
    use opentelemetry::trace::{
        Event, Link, SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceFlags, TraceId, TraceState,
        Tracer as _, TracerProvider as _,
    };
    use opentelemetry::{Array, InstrumentationScope, Key, KeyValue, StringValue, Value};
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::logs::{LogBatch, LogProcessor, SdkLogRecord, SdkLoggerProvider};
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
    use prost::Message as _;
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    fn resource() -> Resource {
        Resource::builder_empty()
            .with_schema_url(
                [KeyValue::new("service.name", "users"), KeyValue::new("service.instance.id", "a1")],
                "https://opentelemetry.io/schemas/1.26.0",
            )
            .build()
    }

    /// Attribute values of every kind, edge values included.
    fn every_value() -> Vec<KeyValue> {
        vec![
            KeyValue::new("static", "GET"),
            KeyValue::new(Key::from(String::from("owned.key")), String::from("/users/{id} \"é\"")),
            KeyValue::new("empty", ""),
            KeyValue::new("zero", 0_i64),
            KeyValue::new("negative", -7_i64),
            KeyValue::new("max", i64::MAX),
            KeyValue::new("double", 0.25),
            KeyValue::new("double.zero", 0.0),
            KeyValue::new("yes", true),
            KeyValue::new("no", false),
            KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
            KeyValue::new("ints", Value::Array(Array::I64(vec![0, -1, 300]))),
            KeyValue::new("doubles", Value::Array(Array::F64(vec![1.5, 0.0]))),
            KeyValue::new("strings", Value::Array(Array::String(vec![StringValue::from("a"), StringValue::from("")]))),
            KeyValue::new("long", "x".repeat(300)),
        ]
    }

    fn context(trace: u128, span: u64, sampled: bool, remote: bool, state: &str) -> SpanContext {
        let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
        let state = state.parse::<TraceState>().unwrap_or_default();
        SpanContext::new(TraceId::from(trace), SpanId::from(span), flags, remote, state)
    }

    fn span(name: &'static str, parent: SpanId, remote_parent: bool, scope: &InstrumentationScope) -> SpanData {
        let start = UNIX_EPOCH + Duration::from_nanos(1_764_000_000_123_456_789);
        let mut events = SpanEvents::default();
        events.events = vec![
            Event::new("exception", start + Duration::from_micros(5), every_value(), 2),
            Event::new("", start, vec![], 0),
        ];
        events.dropped_count = 3;
        let mut links = SpanLinks::default();
        links.links =
            vec![Link::new(context(9, 10, true, true, "vendor=value"), vec![KeyValue::new("link.kind", "retry")], 1)];
        links.dropped_count = 1;
        SpanData {
            span_context: context(
                0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c,
                0xb7ad_6b71_6920_3331,
                true,
                false,
                "a=1,b=2",
            ),
            parent_span_id: parent,
            parent_span_is_remote: remote_parent,
            span_kind: SpanKind::Server,
            name: name.into(),
            start_time: start,
            end_time: start + Duration::from_millis(3),
            attributes: every_value(),
            dropped_attributes_count: 4,
            events,
            links,
            status: Status::Unset,
            instrumentation_scope: scope.clone(),
        }
    }

    #[test]
    fn span_bodies_decode_to_the_sdk_exporters_request() {
        let obs = InstrumentationScope::builder("obs").build();
        let other = InstrumentationScope::builder("library")
            .with_version("1.2.3")
            .with_schema_url("https://opentelemetry.io/schemas/1.21.0")
            .with_attributes([KeyValue::new("scope.attribute", 1_i64)])
            .build();
        let mut spans = Vec::new();
        for (index, kind) in
            [SpanKind::Server, SpanKind::Client, SpanKind::Internal, SpanKind::Producer, SpanKind::Consumer]
                .into_iter()
                .enumerate()
        {
            for (status, scope) in [
                (Status::Unset, &obs),
                (Status::Ok, &other),
                (Status::error("boom"), &obs),
                (Status::error(""), &other),
            ] {
                for (parent, remote) in [(SpanId::INVALID, false), (SpanId::from(5), false), (SpanId::from(6), true)] {
                    let mut span = span("GET /users/{id}", parent, remote, scope);
                    span.span_kind = kind.clone();
                    span.status = status.clone();
                    span.span_context = context(index as u128 + 1, 77, index % 2 == 0, false, "");
                    spans.push(span);
                }
            }
        }
        let mut bare = span("", SpanId::INVALID, false, &obs);
        bare.attributes.clear();
        bare.events = SpanEvents::default();
        bare.links = SpanLinks::default();
        bare.dropped_attributes_count = 0;
        spans.push(bare);

        let resource = resource();
        let items: Vec<EncodedItem> = spans.iter().cloned().map(EncodedItem::span).collect();
        let body = request(&EncodedResource::new(&resource), &items);
        let decoded = ExportTraceServiceRequest::decode(body.as_slice()).expect("a valid request");
        let expected = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(spans, &ResourceAttributesWithSchema::from(&resource)),
        };
        assert_eq!(decoded, expected);
    }

    #[derive(Clone, Debug, Default)]
    struct Captured(Arc<Mutex<Vec<(SdkLogRecord, InstrumentationScope)>>>);

    impl LogProcessor for Captured {
        fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).push((record.clone(), scope.clone()));
        }

        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }

        fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    #[test]
    fn log_bodies_decode_to_the_sdk_exporters_request() {
        let captured = Captured::default();
        let provider = SdkLoggerProvider::builder().with_log_processor(captured.clone()).build();
        let nameless = provider.logger("");
        let versioned = provider.logger_with_scope(
            InstrumentationScope::builder("library")
                .with_version("2.0")
                .with_attributes([KeyValue::new("scope.attribute", "x")])
                .build(),
        );
        let tracer = opentelemetry_sdk::trace::SdkTracerProvider::builder().build().tracer("test");
        let bodies = [
            None,
            Some(LogValue::from("GET /users/{id} 200 in 0.048 ms")),
            Some(LogValue::from("")),
            Some(LogValue::Int(0)),
            Some(LogValue::Double(-1.5)),
            Some(LogValue::Boolean(false)),
            Some(LogValue::Bytes(Box::new(vec![0, 1, 255]))),
            Some(LogValue::ListAny(Box::new(vec![LogValue::Int(1), LogValue::from("two")]))),
            Some(LogValue::Map(Box::new([(Key::from("nested"), LogValue::Boolean(true))].into_iter().collect()))),
        ];
        let severities = [Some(Severity::Info), Some(Severity::Error4), Some(Severity::Trace), None];
        for (index, body) in bodies.into_iter().enumerate() {
            for (severity_index, severity) in severities.into_iter().enumerate() {
                for target in [None, Some("obs::request"), Some("demo::users")] {
                    let logger = if severity_index % 2 == 0 { &nameless } else { &versioned };
                    let mut record = logger.create_log_record();
                    if let Some(target) = target {
                        record.set_target(target);
                    }
                    if index % 2 == 0 {
                        record.set_event_name("event src/call.rs:280");
                        record.set_timestamp(SystemTime::now());
                    }
                    if let Some(severity) = severity {
                        record.set_severity_number(severity);
                        record.set_severity_text(severity.name());
                    }
                    if let Some(body) = body.clone() {
                        record.set_body(body);
                    }
                    for attribute in every_value().into_iter().take(index + 2) {
                        record.add_attribute(attribute.key, LogValue::from(attribute.value.to_string()));
                    }
                    record.add_attribute("count", 3_i64);
                    if index % 3 == 0 {
                        let span = tracer.start("call");
                        let _active = opentelemetry::Context::current_with_span(span).attach();
                        logger.emit(record);
                    } else {
                        logger.emit(record);
                    }
                }
            }
        }
        let records = std::mem::take(&mut *captured.0.lock().unwrap_or_else(PoisonError::into_inner));
        assert!(records.iter().any(|(record, _)| record.trace_context().is_some()));

        let resource = resource();
        let items: Vec<EncodedItem> = records.iter().map(|(record, scope)| EncodedItem::log(record, scope)).collect();
        let body = request(&EncodedResource::new(&resource), &items);
        let mut decoded = ExportLogsServiceRequest::decode(body.as_slice()).expect("a valid request");
        let borrowed: Vec<(&SdkLogRecord, &InstrumentationScope)> =
            records.iter().map(|(record, scope)| (record, scope)).collect();
        let mut expected = ExportLogsServiceRequest {
            resource_logs: group_logs_by_resource_and_scope(
                &LogBatch::new(&borrowed),
                &ResourceAttributesWithSchema::from(&resource),
            ),
        };
        // The SDK groups scopes through a hash map: their order is arbitrary, the records' is not.
        for request in [&mut decoded, &mut expected] {
            for resource_logs in &mut request.resource_logs {
                resource_logs.scope_logs.sort_by(|a, b| format!("{:?}", a.scope).cmp(&format!("{:?}", b.scope)));
            }
        }
        assert_eq!(decoded.resource_logs.iter().map(|logs| logs.scope_logs.len()).sum::<usize>(), 6);
        assert_eq!(decoded, expected);
    }
}
