//! The JSON line of an `#[observed]` call's own event, written from what the call knows instead
//! of from the event's fields: the static parts (method, route, function, module) escaped once per
//! call site, the rest (status, error type, duration) written directly. Visiting ten fields,
//! escaping each key and formatting the message through `fmt` cost more than the rest of the line.
//!
//! The event itself is still emitted with all its fields, for every other layer (a service's own
//! layers); obs's JSON layer and its log export read the call from here instead, and write exactly
//! what they would have written from the fields (tests compare the two).

use crate::call::{
    CALL_EVENTS_MODULE, OPERATION_LOG_TARGET, REQUEST_LOG_TARGET, push_milliseconds, push_status_text,
    whole_nanoseconds_as_millis,
};
use crate::call_site::CallSite;
use crate::outcome::{Classification, GrpcCode};
use crate::telemetry::json::{Escaping, push_escaped, push_f64, push_integer, push_json_string};
use std::cell::Cell;
use std::time::Duration;

/// What a call's event says, offered to obs's layers while the event is dispatched.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OfferedCall {
    pub site: &'static CallSite,
    pub outcome: Classification,
    /// How long the call took, in nanoseconds: whole words, which the offer copies without
    /// stalling on a `Duration`'s half-word.
    pub elapsed_nanos: u64,
}

impl OfferedCall {
    pub(crate) fn new(site: &'static CallSite, outcome: Classification, elapsed: Duration) -> Self {
        OfferedCall { site, outcome, elapsed_nanos: u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX) }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_nanos)
    }
}

/// The span of an offered call: its name and what obs decided when it created it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OfferedSpan {
    pub name: &'static str,
    pub started: crate::telemetry::call_span::StartedCallSpan,
}

/// What is offered on this thread right now, as bits: the offer itself is written only when
/// made and read only while these say it stands, so withdrawing one is one byte, not a copy.
/// An offer is being dispatched (possibly of no call: see [`not_offering`]).
const OFFERING: u8 = 1;
/// ... of a call.
const CALL: u8 = 2;
/// ... of a call with its span.
const SPAN: u8 = 4;

thread_local! {
    static STATE: Cell<u8> = const { Cell::new(0) };
    static OFFERED: Cell<Option<OfferedCall>> = const { Cell::new(None) };
    /// The offered call's span, when obs made it for the call: its line names it without a
    /// lookup.
    static OFFERED_SPAN: Cell<Option<OfferedSpan>> = const { Cell::new(None) };
}

/// Withdraws the offer when the event has been dispatched, even if a layer panicked, and puts
/// back the one it replaced, if any: a call observed inside a layer's handling of another call's
/// event must leave that event's offer as it found it.
struct Withdraw(Option<(u8, Option<OfferedCall>, Option<OfferedSpan>)>);

impl Drop for Withdraw {
    fn drop(&mut self) {
        match self.0.take() {
            None => STATE.set(0),
            Some((state, call, span)) => {
                OFFERED.set(call);
                OFFERED_SPAN.set(span);
                STATE.set(state);
            }
        }
    }
}

/// Makes `call` and `span` the offer until the returned guard drops.
fn offer(call: Option<OfferedCall>, span: Option<OfferedSpan>) -> Withdraw {
    let state = STATE.get();
    // Within another offer (rare): kept aside to be put back.
    let outer = (state & OFFERING != 0).then(|| (state, OFFERED.get(), OFFERED_SPAN.get()));
    let mut offered = OFFERING;
    if call.is_some() {
        OFFERED.set(call);
        offered |= CALL;
    }
    if span.is_some() {
        OFFERED_SPAN.set(span);
        offered |= SPAN;
    }
    STATE.set(offered);
    Withdraw(outer)
}

/// Runs `emit`, which emits `call`'s event, with `call` and its `span` offered to obs's layers.
#[inline]
pub(crate) fn offering(call: OfferedCall, span: Option<OfferedSpan>, emit: impl FnOnce()) {
    let _withdraw = offer(Some(call), span);
    emit();
}

/// The span of the call [`offer_for`] found, when its offer has one.
pub(crate) fn offered_span() -> Option<OfferedSpan> {
    if STATE.get() & SPAN != 0 { OFFERED_SPAN.get() } else { None }
}

/// Runs `emit`, which emits a per-call event no call offers (the request layer's), with no offer
/// visible: one made for an event being dispatched around it is not this event's.
#[inline]
pub(crate) fn not_offering(emit: impl FnOnce()) {
    let _withdraw = offer(None, None);
    emit();
}

/// The call offered for the event of `metadata`: only a per-call event (emitted by `call.rs` to a
/// per-call target) can read it. An event a service's layer emits to the same target while the
/// call's event is dispatched is written from its own fields. Read, not taken: the JSON layer and
/// the log export both write from it.
#[inline]
pub(crate) fn offer_for(metadata: &tracing::Metadata<'_>) -> Option<OfferedCall> {
    let target = metadata.target();
    let per_call = (target == REQUEST_LOG_TARGET || target == OPERATION_LOG_TARGET)
        && metadata.module_path() == Some(CALL_EVENTS_MODULE);
    if per_call && STATE.get() & CALL != 0 { OFFERED.get() } else { None }
}

/// A call site's line parts that never change, escaped once.
#[derive(Debug)]
pub(crate) struct LinePieces {
    /// `"message":"GET /users/{id} `: the message up to its status.
    message_head: String,
    /// `","http.request.method":"GET","http.route":"/users/{id}"`: the message's end and the
    /// fields before the outcome's (`","operation":"db.load"` for an operation).
    after_message: String,
    /// `,"code.function":"get_user","code.namespace":"demo"`.
    tail: String,
}

impl LinePieces {
    pub(crate) fn of(site: &CallSite) -> Self {
        let mut message_head = String::from("\"message\":\"");
        let mut after_message = String::from("\"");
        match site.operation() {
            None => {
                push_escaped(&mut message_head, site.method());
                message_head.push(' ');
                push_escaped(&mut message_head, site.route());
                after_message.push_str(",\"http.request.method\":");
                push_json_string(&mut after_message, site.method());
                after_message.push_str(",\"http.route\":");
                push_json_string(&mut after_message, site.route());
            }
            Some(operation) => {
                push_escaped(&mut message_head, operation);
                after_message.push_str(",\"operation\":");
                push_json_string(&mut after_message, operation);
            }
        }
        message_head.push(' ');
        let mut tail = String::from(",\"code.function\":");
        push_json_string(&mut tail, site.function());
        tail.push_str(",\"code.namespace\":");
        push_json_string(&mut tail, site.module_path());
        LinePieces { message_head, after_message, tail }
    }
}

/// Appends the event's fields as the JSON layer writes them, from `,"message"` to the last field.
pub(crate) fn write_fields(line: &mut String, call: &OfferedCall) {
    let pieces = call.site.line_pieces();
    let outcome = call.outcome;
    line.push(',');
    line.push_str(&pieces.message_head);
    push_status_text(line, outcome);
    line.push_str(" in ");
    push_milliseconds(line, call.elapsed());
    line.push_str(" ms");
    line.push_str(&pieces.after_message);
    if call.site.operation().is_none() {
        if let Some(code) = outcome.status_code() {
            line.push_str(",\"http.response.status_code\":");
            push_integer(line, u64::from(code));
        }
        if let Some(code) = outcome.grpc_status_code().map(GrpcCode::value) {
            line.push_str(",\"rpc.grpc.status_code\":");
            push_integer(line, u64::from(code));
        }
    }
    if let Some(error) = outcome.error_type() {
        line.push_str(",\"error.type\":\"");
        push_status_error(line, error);
        line.push('"');
    }
    line.push_str(",\"outcome\":\"");
    line.push_str(outcome.outcome_name());
    line.push('"');
    line.push_str(",\"duration_ms\":");
    push_f64(line, whole_nanoseconds_as_millis(call.elapsed()));
    line.push_str(&pieces.tail);
}

/// An error type as its `Display` prints it, escaped.
fn push_status_error(line: &mut String, error: crate::outcome::ErrorType) {
    use crate::outcome::ErrorType;
    match error {
        ErrorType::Status(code) => push_integer(line, u64::from(code)),
        other => {
            use std::fmt::Write as _;
            let _ = write!(Escaping(line), "{other}");
        }
    }
}

/// Every kind of call a per-call event describes, for the tests of obs's layers that write from
/// the call instead of from the event's fields.
#[cfg(test)]
pub(crate) mod every_call {
    use crate::call::{EventParent, log_call, log_call_fields};
    use crate::call_site::{CallSite, CallSiteInfo, Target};
    use crate::outcome::{Classification, ErrorType};
    use std::time::Duration;

    fn site(target: Target) -> &'static CallSite {
        // Leaked: a call site is static, as the macro makes it.
        Box::leak(Box::new(CallSite::new(CallSiteInfo {
            target,
            function: "get_user",
            function_path: || "demo::get_user::__marker",
            module_path: "demo",
            file: "src/main.rs",
            line: 7,
            doc: "",
            buckets: None,
        })))
    }

    /// Emits every call (an endpoint whose route needs escaping and an operation; statuses, 5xx,
    /// named errors, gRPC codes, panics and cancellations; three durations; the event named to
    /// `span` and inside it) once from its fields and once offered, and asserts that `written`,
    /// which takes what the layer under test wrote since it was last called, is alike.
    /// `offered` is what the call offers of its span, as `Call` does when obs made the span.
    pub(crate) fn are_written_alike(
        span: &tracing::Span,
        offered: Option<super::OfferedSpan>,
        mut written: impl FnMut() -> Vec<String>,
    ) {
        let elapsed = [Duration::ZERO, Duration::from_nanos(47_863), Duration::from_nanos(1_500_000_001)];
        each(|site, outcome| {
            for elapsed in elapsed {
                for parent in [EventParent::Named(span), EventParent::Entered(span)] {
                    log_call_fields(site, outcome, elapsed, &parent);
                    let from_fields = written();
                    log_call(site, outcome, elapsed, offered, &parent);
                    let from_call = written();
                    assert_eq!(from_fields.len(), 1, "{from_fields:?}");
                    assert_eq!(from_call, from_fields);
                }
            }
        });
    }

    /// Calls `check` with every kind of call site (an endpoint whose route needs escaping, an
    /// operation) and outcome (statuses, 5xx, named errors, gRPC codes, panics, cancellations).
    pub(crate) fn each(mut check: impl FnMut(&'static CallSite, Classification)) {
        let endpoint = site(Target::Endpoint {
            method: "GET",
            route: "/users/{id}/\"quoted\"",
            success_objective: None,
            latency_objective: None,
        });
        let operation = site(Target::Operation { name: "db.load_user" });
        let outcomes = [
            Classification::success(),
            Classification::status(200),
            Classification::status(404),
            Classification::status(503),
            Classification::error("Timeout"),
            Classification::from_err::<std::io::Error>(Classification::status(500)),
            Classification::grpc(0),
            Classification::grpc(14),
            Classification::interrupted(ErrorType::Panic),
            Classification::interrupted(ErrorType::Cancelled),
        ];
        for site in [endpoint, operation] {
            for outcome in outcomes {
                check(site, outcome);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::telemetry::json::JsonLayer;
    use std::sync::{Arc, Mutex, PoisonError};
    use tracing_subscriber::layer::SubscriberExt as _;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines printed, each without its timestamp (the one part that differs by when).
    fn printed(lines: &Lines) -> Vec<String> {
        let bytes = std::mem::take(&mut *lines.0.lock().unwrap_or_else(PoisonError::into_inner));
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|line| {
                let after_timestamp = line.find("\",\"level\"").expect("a timestamp");
                line[after_timestamp..].to_owned()
            })
            .collect()
    }

    #[test]
    fn call_lines_are_the_lines_their_fields_print() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::registry()
            .with(JsonLayer::new(move || writer.clone()))
            .with(tracing_subscriber::filter::LevelFilter::TRACE);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("GET /users/{id}");
            super::every_call::are_written_alike(&span, None, || printed(&lines));
        });
    }

    #[test]
    fn call_lines_name_the_span_obs_made_as_a_lookup_would() {
        use crate::telemetry::call_span::{self, CallSpans};
        let lines = Lines::default();
        let writer = lines.clone();
        let call_spans = CallSpans::new(
            opentelemetry_sdk::trace::Sampler::AlwaysOn,
            None,
            opentelemetry::InstrumentationScope::builder("obs").build(),
        );
        let subscriber = tracing_subscriber::registry()
            .with(JsonLayer::new(move || writer.clone()))
            .with(call_spans)
            .with(tracing_subscriber::filter::LevelFilter::TRACE);
        tracing::subscriber::with_default(subscriber, || {
            call_span::forget_started();
            let span = tracing::info_span!("GET /users/{id}", obs.call = tracing::field::Empty);
            let started = call_span::take_started(&span).expect("obs made the span");
            assert!(started.valid, "with ids");
            let offered = super::OfferedSpan { name: "GET /users/{id}", started };
            super::every_call::are_written_alike(&span, Some(offered), || {
                let printed = printed(&lines);
                assert!(printed.iter().all(|line| line.contains("\"trace_id\":\"")), "{printed:?}");
                printed
            });
        });
    }

    #[test]
    fn only_the_offered_event_is_printed_from_the_call() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::registry().with(JsonLayer::new(move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            // An event on the per-call target that no call offered prints its own fields.
            tracing::info!(target: crate::call::REQUEST_LOG_TARGET, route = "/other", "not a call");
        });
        let printed = printed(&lines);
        assert_eq!(printed.len(), 1);
        assert!(printed[0].contains(r#""message":"not a call","route":"/other""#), "{}", printed[0]);
    }
}
