//! One observed call: started by the generated code, finished with the classified return value,
//! or dropped unfinished by a panic or a cancellation.

use crate::call_site::CallSite;
use crate::clock::Tick;
use crate::metrics::exemplar::SpanSource;
use crate::metrics::site_metrics::SiteMetrics;
use crate::outcome::{Classification, ErrorType, GrpcCode};
use crate::request_scope::{self, RequestScope};
use crate::telemetry::call_line::OfferedSpan;
use crate::telemetry::call_span::{self, StartedCallSpan};
use std::sync::Arc;
use std::time::Duration;
use tracing::{Level, Span};

/// Where per-call log events of endpoints go; filter them with e.g.
/// `RUST_LOG=info,obs::request=warn`.
pub const REQUEST_LOG_TARGET: &str = "obs::request";

/// Where per-call log events of operations go: DEBUG on success or a client error, so INFO logs
/// are not flooded by every database call; ERROR on failure. Show them with
/// `RUST_LOG=info,obs::operation=debug`.
pub const OPERATION_LOG_TARGET: &str = "obs::operation";

/// The module every per-call event is emitted from: what tells it from another event to the same
/// target.
pub(crate) const CALL_EVENTS_MODULE: &str = module_path!();

/// Runs a sync function's body. The bound is `FnOnce`, so a body returning a borrow of a `&mut`
/// argument (`&mut self.items`, `map.entry(k).or_default()`) compiles: the borrow checker sees
/// the closure consumed by its one call, not an `FnMut` whose captures must outlive it.
#[doc(hidden)]
#[inline]
pub fn run_once<R>(body: impl FnOnce() -> R) -> R {
    body()
}

/// An observed call in progress.
#[doc(hidden)]
#[derive(Debug)]
pub struct Call {
    site: &'static CallSite,
    metrics: &'static SiteMetrics,
    span: Span,
    /// What obs decided when it made the span, when it did and the call keeps its name.
    started_span: Option<StartedCallSpan>,
    started: Tick,
    finished: bool,
    /// The layer's request this endpoint call claimed, if it runs under `ObsLayer`.
    scope: Option<Arc<RequestScope>>,
}

impl Call {
    /// Counts the call as in flight and starts its clock. An endpoint under `ObsLayer` claims the
    /// layer's request and adopts its server span; otherwise `make_span` makes the call's own.
    #[inline]
    #[must_use]
    pub fn start(site: &'static CallSite, make_span: impl FnOnce() -> Span) -> Self {
        let metrics = site.metrics();
        let scope = if metrics.is_endpoint() { request_scope::claim_current() } else { None };
        let (span, started_span) = if let Some(scope) = &scope {
            crate::layer::warn_if_route_differs(scope, site);
            adopt(scope, site)
        } else {
            call_span::forget_started();
            let span = make_span();
            let started_span = call_span::take_started(&span);
            (span, started_span)
        };
        metrics.started();
        Call { site, metrics, span, started_span, started: Tick::now(), finished: false, scope }
    }

    /// The call's span, to enter while the body runs.
    #[inline]
    #[must_use]
    pub fn span(this: &Self) -> &Span {
        &this.span
    }

    /// Records the call's outcome: histogram, gauge, span fields and the log event.
    #[inline]
    pub fn finish(mut this: Self, outcome: Classification) {
        this.finished = true;
        this.record(outcome);
    }

    fn record(&self, outcome: Classification) {
        let outcome_wanted = self.started_span.map(|started| started.outcome_wanted);
        let elapsed = record_observation(self.metrics, &self.span, outcome_wanted, self.started, outcome);
        let span = self.started_span.map(|started| OfferedSpan { name: self.span_name(), started });
        log_call(self.site, outcome, elapsed, span, &EventParent::of(&self.span));
    }

    /// The span's name in log lines: the layer's, when the call adopted its span.
    fn span_name(&self) -> &'static str {
        match &self.scope {
            Some(scope) => scope.offered_span().map_or("", |offered| offered.name),
            None => self.span.metadata().map_or("", tracing::Metadata::name),
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.finished {
            let interruption = if std::thread::panicking() { ErrorType::Panic } else { ErrorType::Cancelled };
            match &self.scope {
                // The layer sees the response this produced (a caught panic's 500, a timeout's
                // 408) and records that, once.
                Some(scope) => {
                    self.metrics.abandoned();
                    scope.release(interruption);
                }
                None => self.record(Classification::interrupted(interruption)),
            }
        }
    }
}

/// The layer's server span, taken over by the endpoint: named and attributed as its own would be.
/// Offered to the call's log line as the layer made it unless the endpoint renames it.
fn adopt(scope: &RequestScope, site: &CallSite) -> (Span, Option<StartedCallSpan>) {
    let span = scope.span();
    let offered = scope.offered_span();
    if span.is_disabled() {
        return (span.clone(), None);
    }
    // Recorded together (each `record` is a pass through every layer), and only when anyone
    // reads them.
    let wanted =
        offered.map_or_else(|| call_span::outcome_fields_wanted(span), |offered| offered.started.outcome_wanted);
    let (function, namespace) = (site.function(), site.module_path());
    // The layer already named it so unless the router's method or route differ.
    if scope.method() != site.method() || scope.matched_route() != Some(site.route()) {
        let name = site.span_name();
        if wanted {
            tracing::record_all!(
                span,
                otel.name = name.as_str(),
                http.route = site.route(),
                code.function = function,
                code.namespace = namespace
            );
        }
        crate::telemetry::json::set_span_name(span, std::borrow::Cow::Owned(name));
        (span.clone(), None)
    } else {
        if wanted {
            tracing::record_all!(span, code.function = function, code.namespace = namespace);
        }
        (span.clone(), offered.map(|offered| offered.started))
    }
}

/// Emits a call's event, its JSON line written from the call rather than from the event's fields.
pub(crate) fn log_call(
    site: &'static CallSite,
    outcome: Classification,
    elapsed: Duration,
    span: Option<OfferedSpan>,
    parent: &EventParent<'_>,
) {
    // What the event macro checks first, checked before the offer is made: with logs and traces
    // off (metrics only) nothing is copied for an event no one would see.
    if call_event_level(site, outcome) > tracing::level_filters::LevelFilter::current() {
        return;
    }
    crate::telemetry::call_line::offering(
        crate::telemetry::call_line::OfferedCall::new(site, outcome, elapsed),
        span,
        || {
            log_call_fields(site, outcome, elapsed, parent);
        },
    );
}

/// The level of a call's event: see [`log_request_fields`] and [`log_operation`].
fn call_event_level(site: &CallSite, outcome: Classification) -> Level {
    match (site.operation(), outcome.is_failure(), outcome.is_client_error()) {
        (_, true, _) => Level::ERROR,
        (None, false, true) => Level::WARN,
        (None, false, false) => Level::INFO,
        (Some(_), false, _) => Level::DEBUG,
    }
}

/// Emits a call's event, every JSON line written from its fields.
pub(crate) fn log_call_fields(site: &CallSite, outcome: Classification, elapsed: Duration, parent: &EventParent<'_>) {
    if site.operation().is_none() {
        log_request_fields(&RequestFields::Site(site), outcome, elapsed, parent);
    } else {
        log_operation(site, outcome, elapsed, parent);
    }
}

/// Records a call or request that started at `started` and ended now with `outcome`: its
/// histogram observation (with the span as exemplar when traced), its in-flight count, and the
/// outcome's fields on the span when that reaches anyone (`outcome_wanted`, when the caller
/// knows it). Returns how long it took, for the log event. The one recording shared by
/// `#[observed]` calls and the request layer.
#[inline]
pub(crate) fn record_observation(
    metrics: &SiteMetrics,
    span: &Span,
    outcome_wanted: Option<bool>,
    started: Tick,
    outcome: Classification,
) -> Duration {
    let ended = Tick::now();
    let elapsed = ended.since(started);
    let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
    let traced = !span.is_disabled();
    // Only a span someone records can be sampled: no exemplar is offered otherwise.
    let exemplar = traced.then_some(SpanSource { span, ended });
    metrics.finished(outcome, nanos, exemplar.as_ref());
    if traced && outcome_wanted.unwrap_or_else(|| call_span::outcome_fields_wanted(span)) {
        record_on_span(span, outcome, metrics.is_endpoint());
    }
    elapsed
}

fn record_on_span(span: &Span, outcome: Classification, with_status: bool) {
    if let Some(code) = outcome.status_code().filter(|_| with_status) {
        // As an integer, as the semantic conventions type it (u64 fields arrive as strings).
        span.record("http.response.status_code", i64::from(code));
    }
    if let Some(code) = outcome.grpc_status_code().filter(|_| with_status) {
        span.record("rpc.grpc.status_code", i64::from(code.value()));
    }
    if let Some(error) = outcome.error_type() {
        span.record("error.type", tracing::field::display(error));
        span.record("otel.status_code", "error");
    }
}

/// Where a request went, as its log event says: read only when the event is enabled, so a
/// filtered-out log line costs nothing.
pub(crate) enum RequestFields<'a> {
    /// An `#[observed]` endpoint handled it.
    Site(&'a CallSite),
    /// The request layer recorded it.
    Layer { method: &'a str, route: &'a str },
}

impl RequestFields<'_> {
    fn method(&self) -> &str {
        match self {
            RequestFields::Site(site) => site.method(),
            RequestFields::Layer { method, .. } => method,
        }
    }

    fn route(&self) -> &str {
        match self {
            RequestFields::Site(site) => site.route(),
            RequestFields::Layer { route, .. } => route,
        }
    }

    fn function(&self) -> Option<&str> {
        match self {
            RequestFields::Site(site) => Some(site.function()),
            RequestFields::Layer { .. } => None,
        }
    }

    fn namespace(&self) -> Option<&str> {
        match self {
            RequestFields::Site(site) => Some(site.module_path()),
            RequestFields::Layer { .. } => None,
        }
    }
}

/// How a per-call event finds its span.
pub(crate) enum EventParent<'a> {
    /// Inside the span, entered: the exported log record reads the active OpenTelemetry context.
    Entered(&'a Span),
    /// Named as the event's parent, without entering the span (an enter and an exit saved).
    Named(&'a Span),
}

impl<'a> EventParent<'a> {
    /// Names `span` unless log records are exported (their trace ids come from the entered
    /// span's context) or `span` is disabled (the event then belongs to the current span).
    pub(crate) fn of(span: &'a Span) -> Self {
        if span.is_disabled() || crate::telemetry::logs_exported() {
            EventParent::Entered(span)
        } else {
            EventParent::Named(span)
        }
    }
}

/// Emits an event with `$parent` as its span, by the `EventParent` variant.
macro_rules! event_in {
    ($parent:expr, target: $target:expr, $($event:tt)*) => {
        match $parent {
            EventParent::Entered(span) => span.in_scope(|| tracing::event!(target: $target, $($event)*)),
            EventParent::Named(span) => tracing::event!(target: $target, parent: *span, $($event)*),
        }
    };
}

/// Emits the per-request event: INFO on success, WARN on a 4xx, ERROR on a failure.
pub(crate) fn log_request_fields(
    site: &RequestFields<'_>,
    outcome: Classification,
    elapsed: Duration,
    parent: &EventParent<'_>,
) {
    macro_rules! completed {
        ($level:expr) => {
            event_in!(
                parent,
                target: REQUEST_LOG_TARGET,
                $level,
                "http.request.method" = site.method(),
                "http.route" = site.route(),
                "http.response.status_code" = outcome.status_code(),
                "rpc.grpc.status_code" = outcome.grpc_status_code().map(GrpcCode::value),
                "error.type" = outcome.error_type().map(tracing::field::display),
                outcome = outcome.outcome_name(),
                duration_ms = whole_nanoseconds_as_millis(elapsed),
                "code.function" = site.function(),
                "code.namespace" = site.namespace(),
                "{} {} {} in {} ms",
                site.method(),
                site.route(),
                StatusText(outcome),
                Milliseconds(elapsed),
            )
        };
    }
    if outcome.is_failure() {
        completed!(Level::ERROR);
    } else if outcome.is_client_error() {
        completed!(Level::WARN);
    } else {
        completed!(Level::INFO);
    }
}

/// Emits the per-call event of an operation: DEBUG unless it failed, then ERROR.
fn log_operation(site: &CallSite, outcome: Classification, elapsed: Duration, parent: &EventParent<'_>) {
    let operation = site.operation().unwrap_or_default();
    macro_rules! completed {
        ($level:expr) => {
            event_in!(
                parent,
                target: OPERATION_LOG_TARGET,
                $level,
                operation,
                "error.type" = outcome.error_type().map(tracing::field::display),
                outcome = outcome.outcome_name(),
                duration_ms = whole_nanoseconds_as_millis(elapsed),
                "code.function" = site.function(),
                "code.namespace" = site.module_path(),
                "{} {} in {} ms",
                operation,
                StatusText(outcome),
                Milliseconds(elapsed),
            )
        };
    }
    if outcome.is_failure() {
        completed!(Level::ERROR);
    } else {
        completed!(Level::DEBUG);
    }
}

/// Milliseconds with nanosecond resolution that print as short decimals (`0.047863`, not
/// `0.047862999999999996`): whole nanoseconds divided once, so the result is the double nearest
/// the exact decimal.
pub(crate) fn whole_nanoseconds_as_millis(elapsed: Duration) -> f64 {
    // The nanoseconds as a double are exact below 2^53 (104 days), and need no `round` call.
    #[allow(clippy::cast_precision_loss, reason = "exact below 2^53 nanoseconds")]
    let nanos = elapsed.as_nanos() as f64;
    nanos / 1e6
}

/// A duration as milliseconds with three decimals (`0.048`, `1500.000`), rounded to the nearest
/// microsecond in integers: float formatting with a precision costs more than the log line's
/// other fields together.
struct Milliseconds(Duration);

impl std::fmt::Display for Milliseconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (whole, thousandths) = milliseconds_and_thousandths(self.0);
        write!(f, "{whole}.{thousandths:03}")
    }
}

/// `elapsed` rounded to the nearest microsecond, as whole milliseconds and thousandths of one.
fn milliseconds_and_thousandths(elapsed: Duration) -> (u64, u64) {
    let micros = (elapsed.as_nanos() + 500) / 1000;
    (u64::try_from(micros / 1000).unwrap_or(u64::MAX), u64::try_from(micros % 1000).unwrap_or(0))
}

/// Appends `elapsed` as [`Milliseconds`] prints it.
pub(crate) fn push_milliseconds(line: &mut String, elapsed: Duration) {
    let (whole, thousandths) = milliseconds_and_thousandths(elapsed);
    crate::telemetry::json::push_integer(line, whole);
    line.push('.');
    crate::telemetry::timestamp::push_digits(line, thousandths, 3);
}

/// Appends `outcome` as [`StatusText`] prints it, escaped for a JSON string: the common cases
/// (a status code, `ok`) without `fmt`.
pub(crate) fn push_status_text(line: &mut String, outcome: Classification) {
    match (outcome.grpc_status_code(), outcome.status_code(), outcome.error_type()) {
        (None, Some(code), None | Some(ErrorType::Status(_))) => {
            crate::telemetry::json::push_integer(line, u64::from(code));
        }
        (None, None, None) => line.push_str("ok"),
        _ => {
            use std::fmt::Write as _;
            let _ = write!(crate::telemetry::json::Escaping(line), "{}", StatusText(outcome));
        }
    }
}

/// `200`, `500 (ApiError)` or `failed (panic)`, for the human-readable message.
pub(crate) struct StatusText(pub(crate) Classification);

impl std::fmt::Display for StatusText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(code) = self.0.grpc_status_code() {
            return f.write_str(code.name());
        }
        match (self.0.status_code(), self.0.error_type()) {
            (Some(code), Some(ErrorType::Status(_)) | None) => write!(f, "{code}"),
            (Some(code), Some(error)) => write!(f, "{code} ({error})"),
            (None, Some(error)) => write!(f, "failed ({error})"),
            (None, None) => f.write_str("ok"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Milliseconds, whole_nanoseconds_as_millis};
    use std::time::Duration;

    /// The level of the last event seen.
    #[derive(Clone, Default)]
    struct LastLevel(std::sync::Arc<std::sync::Mutex<Option<tracing::Level>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LastLevel {
        fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(*event.metadata().level());
        }
    }

    #[test]
    fn the_level_checked_before_the_offer_is_the_events_own() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let last = LastLevel::default();
        let subscriber = tracing_subscriber::registry().with(last.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::Span::none();
            crate::telemetry::call_line::every_call::each(|site, outcome| {
                super::log_call_fields(site, outcome, Duration::ZERO, &super::EventParent::Named(&span));
                let emitted = last.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
                assert_eq!(emitted, Some(super::call_event_level(site, outcome)), "{outcome:?}");
            });
        });
    }

    #[test]
    fn messages_print_milliseconds_with_three_decimals() {
        for (nanos, printed) in [(47_863, "0.048"), (499, "0.000"), (1_500_000_000, "1500.000"), (999_500, "1.000")] {
            assert_eq!(Milliseconds(Duration::from_nanos(nanos)).to_string(), printed);
        }
    }

    #[test]
    fn durations_print_as_short_decimals() {
        for (nanos, printed) in
            [(47_863, "0.047863"), (1, "0.000001"), (1_500_000_000, "1500"), (250_000_001, "250.000001")]
        {
            assert_eq!(whole_nanoseconds_as_millis(Duration::from_nanos(nanos)).to_string(), printed);
        }
    }
}
