//! How `tracing` fields become OpenTelemetry span data, for the spans obs exports itself (see
//! `call_span`): the same reading `tracing-opentelemetry` gives every other span, so a span's
//! attributes, name, kind, status and events do not depend on which of the two exported it.
//!
//! - A span's fields become attributes, except `otel.name`, `otel.kind`, `otel.status_code` and
//!   `otel.status_description`, which set what they name. Integers above `i64` and every other
//!   `Debug` value are strings.
//! - An event becomes a span event named by its message, with `level`, `target`, its fields and
//!   its source location as attributes. A field named `error` on an event without a message
//!   names the event `exception` and sets the span's status to that error.
//! - A `std::error::Error` field adds its message and source chain (`exception.message`,
//!   `exception.stacktrace`), on the event and on the span.

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};
use std::borrow::Cow;
use std::fmt;
use tracing::field::{Field, Visit};

const NAME_FIELD: &str = "otel.name";
const KIND_FIELD: &str = "otel.kind";
const STATUS_CODE_FIELD: &str = "otel.status_code";
const STATUS_DESCRIPTION_FIELD: &str = "otel.status_description";
const EXCEPTION_EVENT_NAME: &str = "exception";
const EXCEPTION_MESSAGE: &str = "exception.message";
const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";

/// What a span's fields, or an event's, change on the span.
#[derive(Debug, Default)]
pub(crate) struct SpanUpdates {
    pub(crate) name: Option<Cow<'static, str>>,
    pub(crate) kind: Option<SpanKind>,
    pub(crate) status: Option<Status>,
    pub(crate) attributes: Vec<KeyValue>,
}

/// Reads a span's fields (at creation or when recorded) into [`SpanUpdates`].
pub(crate) struct SpanFieldVisitor<'a>(pub(crate) &'a mut SpanUpdates);

impl Visit for SpanFieldVisitor<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.special_or_attribute(field, Cow::Borrowed(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.special_or_attribute(field, Cow::Owned(format!("{value:?}")));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let (message, chain) = error_message_and_chain(value);
        push_exception(&mut self.0.attributes, &message, &chain);
        push_error_field(&mut self.0.attributes, field, message, chain);
    }
}

impl SpanFieldVisitor<'_> {
    fn special_or_attribute(&mut self, field: &Field, value: Cow<'_, str>) {
        match field.name() {
            NAME_FIELD => self.0.name = Some(Cow::Owned(value.into_owned())),
            KIND_FIELD => self.0.kind = span_kind(&value),
            STATUS_CODE_FIELD => self.0.status = Some(status(&value)),
            STATUS_DESCRIPTION_FIELD => self.0.status = Some(Status::error(value.into_owned())),
            name => self.0.attributes.push(KeyValue::new(name, value.into_owned())),
        }
    }
}

/// `otel.kind`'s value, in any case; `None` for anything else (the kind is then unset).
fn span_kind(value: &str) -> Option<SpanKind> {
    [
        ("server", SpanKind::Server),
        ("client", SpanKind::Client),
        ("producer", SpanKind::Producer),
        ("consumer", SpanKind::Consumer),
        ("internal", SpanKind::Internal),
    ]
    .into_iter()
    .find_map(|(name, kind)| value.eq_ignore_ascii_case(name).then_some(kind))
}

/// `otel.status_code`'s value: `ok` or `error` in any case; unset for anything else.
fn status(value: &str) -> Status {
    if value.eq_ignore_ascii_case("ok") {
        Status::Ok
    } else if value.eq_ignore_ascii_case("error") {
        Status::error("")
    } else {
        Status::Unset
    }
}

fn error_message_and_chain(error: &(dyn std::error::Error + 'static)) -> (String, Vec<StringValue>) {
    let chain = std::iter::successors(error.source(), |source| source.source())
        .map(|source| StringValue::from(source.to_string()))
        .collect();
    (error.to_string(), chain)
}

/// An error's message and source chain as the exception attributes.
fn push_exception(attributes: &mut Vec<KeyValue>, message: &str, chain: &[StringValue]) {
    attributes.push(KeyValue::new(EXCEPTION_MESSAGE, message.to_owned()));
    attributes.push(KeyValue::new(EXCEPTION_STACKTRACE, Value::Array(Array::String(chain.to_vec()))));
}

/// The error field itself, and its source chain under `<field>.chain`.
fn push_error_field(attributes: &mut Vec<KeyValue>, field: &Field, message: String, chain: Vec<StringValue>) {
    attributes.push(KeyValue::new(field.name(), message));
    attributes.push(KeyValue::new(Key::from(format!("{}.chain", field.name())), Value::Array(Array::String(chain))));
}

/// A span event being read from a `tracing` event.
#[derive(Debug)]
pub(crate) struct EventFields {
    pub(crate) name: Cow<'static, str>,
    pub(crate) attributes: Vec<KeyValue>,
    /// What the event changes on its span: an `error` field's status, an error's exception.
    pub(crate) span_updates: Option<SpanUpdates>,
}

impl EventFields {
    /// An event with the level and target attributes every event carries first.
    pub(crate) fn new(level: tracing::Level, target: &'static str) -> Self {
        EventFields {
            name: Cow::Borrowed(""),
            attributes: vec![KeyValue::new("level", level.as_str()), KeyValue::new("target", target)],
            span_updates: None,
        }
    }
}

impl Visit for EventFields {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.message_or_attribute(field, Value::Bool(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.message_or_attribute(field, Value::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.message_or_attribute(field, Value::I64(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.name = Cow::Owned(value.to_owned()),
            "error" if self.name.is_empty() => self.error_event(&format!("{value:?}")),
            name => self.attributes.push(KeyValue::new(name, value.to_owned())),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.name = Cow::Owned(format!("{value:?}")),
            "error" if self.name.is_empty() => self.error_event(&format!("{value:?}")),
            name => self.attributes.push(KeyValue::new(name, format!("{value:?}"))),
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let (message, chain) = error_message_and_chain(value);
        push_exception(&mut self.attributes, &message, &chain);
        push_exception(&mut self.span_updates.get_or_insert_with(SpanUpdates::default).attributes, &message, &chain);
        push_error_field(&mut self.attributes, field, message, chain);
    }
}

impl EventFields {
    /// A number or a flag: the event's name when it is the message, else an attribute.
    fn message_or_attribute(&mut self, field: &Field, value: Value) {
        match field.name() {
            "message" => self.name = Cow::Owned(value.to_string()),
            name => self.attributes.push(KeyValue::new(name, value)),
        }
    }

    /// An `error` field on an event with no message yet: the event is the exception, and the
    /// span's status that error.
    fn error_event(&mut self, printed: &str) {
        self.span_updates.get_or_insert_with(SpanUpdates::default).status = Some(Status::error(printed.to_owned()));
        self.name = Cow::Borrowed(EXCEPTION_EVENT_NAME);
        self.attributes.push(KeyValue::new(EXCEPTION_MESSAGE, printed.to_owned()));
    }
}
