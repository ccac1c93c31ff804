//! One JSON object per line for every event: timestamp, level, target, message, the event's
//! fields, the enclosing span's name, and the OpenTelemetry trace and span ids that link the line
//! to its trace.

use crate::telemetry::call_span;
use crate::telemetry::line_writer::LineQueue;
use crate::telemetry::timestamp::{push_digits, write_rfc3339};
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::OnceLock;
use std::time::SystemTime;
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, Registry};

/// The JSON-lines layer; `W` is where lines go (stdout by default).
#[derive(Debug)]
pub struct JsonLayer<W> {
    output: LineOutput<W>,
    /// The dispatcher this layer ends up in, to look up OpenTelemetry ids: `get_default` cannot
    /// be used (inside a scoped dispatcher's callback it answers with the no-op dispatcher).
    /// Filled when the dispatcher is created; the layer must not sit inside an `Option`, which
    /// does not pass that on.
    dispatch: OnceLock<WeakDispatch>,
}

impl<W> JsonLayer<W> {
    /// A layer writing one line per event to `make_writer`, on the logging thread.
    pub fn new(make_writer: W) -> Self {
        JsonLayer { output: LineOutput::Direct(make_writer), dispatch: OnceLock::new() }
    }

    /// A layer handing each line to `queue`'s writer thread.
    pub(crate) fn queued(queue: std::sync::Arc<LineQueue>) -> Self {
        JsonLayer { output: LineOutput::Queued(queue), dispatch: OnceLock::new() }
    }
}

/// How long an ERROR line waits for the writer thread to write it (and what was queued before).
const ERROR_FLUSH_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Where a finished line goes.
#[derive(Debug)]
enum LineOutput<W> {
    /// Written by the logging thread.
    Direct(W),
    /// Handed to a writer thread.
    Queued(std::sync::Arc<LineQueue>),
}

impl<S, W> Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    W: for<'writer> MakeWriter<'writer> + 'static,
{
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        // A record bridged from the `log` facade names its real target in its `log.*` fields.
        let normalized = event.normalized_metadata();
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut line = String::with_capacity(512);
        line.push_str("{\"timestamp\":\"");
        write_rfc3339(&mut line, SystemTime::now());
        line.push_str("\",\"level\":\"");
        line.push_str(metadata.level().as_str());
        line.push_str("\",\"target\":");
        push_json_string(&mut line, metadata.target());
        let offered = crate::telemetry::call_line::offer_for(metadata);
        match &offered {
            Some(call) => crate::telemetry::call_line::write_fields(&mut line, call),
            None => event.record(&mut FieldWriter { line: &mut line, skip_log_fields: normalized.is_some() }),
        }
        match offered.and_then(|_| crate::telemetry::call_line::offered_span()) {
            // The call's own span, as obs made it: no lookup.
            Some(span) => write_offered_span(&mut line, &span),
            None => {
                if let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) {
                    write_span_context(&mut line, event, &dispatch);
                }
            }
        }
        line.push_str("}\n");
        match &self.output {
            // A log line that cannot be written is dropped: logging must never fail the request.
            LineOutput::Direct(make_writer) => {
                let _ = make_writer.make_writer_for(event.metadata()).write_all(line.as_bytes());
            }
            LineOutput::Queued(queue) => {
                queue.push(line);
                // An error is often the last thing a process says before it exits: written
                // before the logger goes on, not left in the queue.
                if *metadata.level() == tracing::Level::ERROR {
                    let _ = queue.flush(ERROR_FLUSH_WAIT);
                }
            }
        }
    }
}

/// A span's name decided after it was created (the request layer's span, named by the route or
/// by the endpoint that adopts it): what the `span` field of its lines says.
#[derive(Clone, Debug)]
struct SpanName(std::borrow::Cow<'static, str>);

/// Names `span` in the log lines as `name` (its exported name is set with `otel.name`).
pub(crate) fn set_span_name(span: &tracing::Span, name: std::borrow::Cow<'static, str>) {
    span.with_subscriber(|(id, dispatch)| {
        if let Some(span) = dispatch.downcast_ref::<Registry>().and_then(|registry| registry.span(id)) {
            span.extensions_mut().replace(SpanName(name));
        }
    });
}

/// Appends the enclosing span's name and OpenTelemetry ids. The span is looked up in the
/// registry rather than through the layer's context, which hides spans this layer's filter
/// rejected: a WARN line inside an INFO span still names the span and its trace.
fn write_span_context(line: &mut String, event: &Event<'_>, dispatch: &Dispatch) {
    let id = match event.parent() {
        Some(parent) => Some(parent.clone()),
        None if event.is_contextual() => dispatch.current_span().id().cloned(),
        None => None,
    };
    let Some(id) = id else { return };
    // One lookup for the name and, for a call span, the ids.
    let own_span_context =
        dispatch.downcast_ref::<Registry>().and_then(|registry| registry.span(&id)).and_then(|span| {
            let extensions = span.extensions();
            line.push_str(",\"span\":");
            match extensions.get::<SpanName>() {
                Some(SpanName(name)) => push_json_string(line, name),
                None => push_json_string(line, span.name()),
            }
            call_span::own_span_context(&extensions)
        });
    let span_context = own_span_context.or_else(|| call_span::other_span_context(&id, dispatch));
    if let Some(span_context) = span_context.filter(opentelemetry::trace::SpanContext::is_valid) {
        push_ids(line, &span_context.trace_id().to_bytes(), span_context.span_id());
    }
}

/// Appends an offered call span's name and ids, as [`write_span_context`] finds them.
fn write_offered_span(line: &mut String, span: &crate::telemetry::call_line::OfferedSpan) {
    line.push_str(",\"span\":");
    push_json_string(line, span.name);
    if span.started.valid {
        push_ids(line, &span.started.trace_id, span.started.span_id);
    }
}

fn push_ids(line: &mut String, trace_id: &[u8; 16], span_id: opentelemetry::trace::SpanId) {
    line.push_str(",\"trace_id\":\"");
    push_hex(line, trace_id);
    line.push_str("\",\"span_id\":\"");
    push_hex(line, &span_id.to_bytes());
    line.push('"');
}

/// Appends `value` as JSON: as `{value}` prints it, a string for a non-finite value (which JSON
/// cannot hold as a number).
pub(crate) fn push_f64(line: &mut String, value: f64) {
    if !value.is_finite() {
        push_json_string(line, &value.to_string());
    } else if !push_micros_decimal(line, value) {
        let _ = write!(line, "{value}");
    }
}

/// Appends `value` in decimal, without `fmt`'s machinery.
pub(crate) fn push_integer(line: &mut String, mut value: u64) {
    let mut digits = [0_u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for digit in &digits[start..] {
        line.push(char::from(*digit));
    }
}

/// Appends `value` when it is a whole number of millionths (as durations in milliseconds with
/// nanosecond resolution are) below 2^53 of them: exactly what `{value}` prints, shortest digits
/// that read back as `value`, without the general float formatting. `false`, having appended
/// nothing, for any other value.
fn push_micros_decimal(line: &mut String, value: f64) -> bool {
    const SCALE: f64 = 1e6;
    let scaled = (value.abs() * SCALE).round();
    if scaled >= 9_007_199_254_740_992.0 || (scaled / SCALE).to_bits() != value.abs().to_bits() {
        return false;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "checked: a whole number below 2^53")]
    let millionths = scaled as u64;
    if value.is_sign_negative() && millionths != 0 {
        line.push('-');
    }
    push_integer(line, millionths / 1_000_000);
    let mut fraction = millionths % 1_000_000;
    if fraction != 0 {
        let mut width = 6;
        while fraction % 10 == 0 {
            fraction /= 10;
            width -= 1;
        }
        line.push('.');
        push_digits(line, fraction, width);
    }
    true
}

/// Appends `bytes` as lower-case hex, as W3C trace context writes ids (without `fmt`'s
/// machinery, which costs more than the rest of the id lookup).
fn push_hex(line: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // Ids are 8 or 16 bytes: written on the stack and appended once.
    let mut text = [0_u8; 32];
    for (pair, byte) in text.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
    let written = 2 * bytes.len().min(16);
    line.push_str(std::str::from_utf8(&text[..written]).unwrap_or_default());
}

/// Appends each field as `,"name":value`; the `message` field is the formatted message.
struct FieldWriter<'a> {
    line: &'a mut String,
    /// The `log.target`, `log.module_path`, ... of a bridged `log` record, already written.
    skip_log_fields: bool,
}

impl FieldWriter<'_> {
    fn skips(&self, field: &Field) -> bool {
        self.skip_log_fields && field.name().starts_with("log.")
    }

    fn key(&mut self, field: &Field) {
        self.line.push(',');
        push_json_string(self.line, field.name());
        self.line.push(':');
    }
}

impl Visit for FieldWriter<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if self.skips(field) {
            return;
        }
        self.key(field);
        push_f64(self.line, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.skips(field) {
            return;
        }
        self.key(field);
        if value < 0 {
            self.line.push('-');
        }
        push_integer(self.line, value.unsigned_abs());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.skips(field) {
            return;
        }
        self.key(field);
        push_integer(self.line, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.skips(field) {
            return;
        }
        self.key(field);
        self.line.push_str(if value { "true" } else { "false" });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.skips(field) {
            return;
        }
        self.key(field);
        push_json_string(self.line, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.key(field);
        push_json_string(self.line, &value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.skips(field) {
            return;
        }
        self.key(field);
        // Formatted straight into the line, escaped on the way: no string of its own.
        self.line.push('"');
        let _ = write!(Escaping(self.line), "{value:?}");
        self.line.push('"');
    }
}

/// Escapes what is written through it into a JSON string's contents.
pub(crate) struct Escaping<'a>(pub(crate) &'a mut String);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        push_escaped(self.0, text);
        Ok(())
    }
}

/// Appends `text` as a JSON string literal, escaped per RFC 8259.
pub(crate) fn push_json_string(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    push_escaped(out, text);
    out.push('"');
}

/// Appends `text` escaped as the contents of a JSON string.
pub(crate) fn push_escaped(out: &mut String, text: &str) {
    // Runs of bytes that need no escape are copied whole: almost every string of a log line is
    // one such run. Every byte that needs one is ASCII, so the runs end on character boundaries.
    let bytes = text.as_bytes();
    let mut run_start = 0;
    while let Some(offset) = first_to_escape(&bytes[run_start..]) {
        let index = run_start + offset;
        out.push_str(&text[run_start..index]);
        match bytes[index] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            control => {
                out.push_str("\\u00");
                push_hex(out, &[control]);
            }
        }
        run_start = index + 1;
    }
    out.push_str(&text[run_start..]);
}

/// Whether JSON needs `byte` escaped in a string: a quote, a backslash or a control character.
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// The index of the first byte of `bytes` that needs an escape, looking at eight bytes per step
/// (a byte loop was an eighth of a traced call's time).
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Non-zero exactly when some byte of `word` is below `limit` (at most 0x80).
    let any_below = |word: u64, limit: u8| word.wrapping_sub(ONES * u64::from(limit)) & !word & HIGH_BITS != 0;
    let any_equal = |word: u64, byte: u8| any_below(word ^ (ONES * u64::from(byte)), 1);
    let mut chunks = bytes.chunks_exact(8);
    let mut start = 0;
    for chunk in &mut chunks {
        let mut word_bytes = [0_u8; 8];
        word_bytes.copy_from_slice(chunk);
        let word = u64::from_ne_bytes(word_bytes);
        if any_below(word, 0x20) || any_equal(word, b'"') || any_equal(word, b'\\') {
            return chunk.iter().position(|&byte| needs_escape(byte)).map(|offset| start + offset);
        }
        start += 8;
    }
    chunks.remainder().iter().position(|&byte| needs_escape(byte)).map(|offset| start + offset)
}

#[cfg(test)]
mod tests {
    use super::{push_escaped, push_hex, push_integer, push_json_string, push_micros_decimal};
    use std::fmt::Write as _;

    #[test]
    fn ids_print_as_w3c_hex() {
        for trace_id in [0_u128, 1, 0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c, u128::MAX] {
            let mut out = String::from("x");
            push_hex(&mut out, &trace_id.to_be_bytes());
            assert_eq!(out, format!("x{trace_id:032x}"));
        }
        let mut out = String::new();
        push_hex(&mut out, &0xb7ad_6b71_6920_3331_u64.to_be_bytes());
        assert_eq!(out, "b7ad6b7169203331");
    }

    #[test]
    fn numbers_print_as_fmt_prints_them() {
        for value in [0.047_863, 0.000_001, 1500.0, 250.000_001, 0.0, -3.5, 12.25, 0.1, 123_456.789_012] {
            let mut out = String::new();
            assert!(push_micros_decimal(&mut out, value), "{value}");
            assert_eq!(out, value.to_string());
        }
        for value in [0.123_456_7, 1e300, 1.0 / 3.0] {
            let mut out = String::new();
            assert!(!push_micros_decimal(&mut out, value) && out.is_empty(), "{value}");
        }
        for value in [0, 7, 10, 404, u64::MAX] {
            let mut out = String::new();
            push_integer(&mut out, value);
            assert_eq!(out, value.to_string());
        }
    }

    #[test]
    fn escapes_json_strings() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
        out.clear();
        push_json_string(&mut out, "plain /users/{id} ✓\t");
        assert_eq!(out, r#""plain /users/{id} ✓\t""#);
    }

    #[test]
    fn escapes_every_byte_at_every_position_as_serde_would() {
        // Each ASCII byte at each offset of a string longer than two scanned words, against the
        // byte-by-byte definition.
        for byte in 0_u8..0x80 {
            for position in 0..20 {
                let mut text = "abcdefghijklmnopqrst".to_owned().into_bytes();
                text[position] = byte;
                let text = String::from_utf8(text).unwrap();
                let mut out = String::new();
                push_json_string(&mut out, &text);
                let mut expected = String::from("\"");
                for character in text.chars() {
                    match character {
                        '"' => expected.push_str("\\\""),
                        '\\' => expected.push_str("\\\\"),
                        '\n' => expected.push_str("\\n"),
                        '\r' => expected.push_str("\\r"),
                        '\t' => expected.push_str("\\t"),
                        control if u32::from(control) < 0x20 => {
                            let _ = write!(expected, "\\u{:04x}", u32::from(control));
                        }
                        other => expected.push(other),
                    }
                }
                expected.push('"');
                assert_eq!(out, expected, "byte {byte:#x} at {position}");
            }
        }
        // Bytes of multi-byte characters never look like an escape, around one or alone.
        for position in 0..12 {
            let mut text: Vec<char> = "é✓é✓é✓é✓é✓é✓".chars().collect();
            let mut plain = String::new();
            push_escaped(&mut plain, &text.iter().collect::<String>());
            assert_eq!(plain, "é✓é✓é✓é✓é✓é✓");
            text[position] = '"';
            let mut out = String::new();
            push_escaped(&mut out, &text.iter().collect::<String>());
            assert_eq!(out, text.iter().collect::<String>().replace('"', "\\\""));
        }
    }
}
