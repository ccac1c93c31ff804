//! The OpenTelemetry spans of observed calls and of the request layer's requests, made by obs
//! rather than by `tracing-opentelemetry`.
//!
//! A call span is still a `tracing` span (`Span::current()` inside the function, the parent of
//! the user's spans, the span of the user's events); only its OpenTelemetry side is obs's: ids
//! and the sampling decision when it is created, its context made current while it is entered
//! (so `opentelemetry::Context::current()`, and through it `tracing-opentelemetry`, parents the
//! user's spans on it), and, when sampled and exported, its span data built once at close and
//! handed to the export queue. `tracing-opentelemetry` keeps every other span; it never sees a
//! call span. What it did per span (a `SpanBuilder` with a `String` per attribute, an SDK span
//! behind an `Arc<Mutex<_>>` started on the first enter, a clock read on every exit, the
//! registry looked up on every enter, exit and record) was more than half of an observed call.
//!
//! The exported span is what `tracing-opentelemetry` exported for the same span (attributes,
//! name, kind, status, events, links, limits; see `span_fields`), with two deliberate
//! differences: an attribute set again (a field recorded again, an error event's
//! `exception.*`) replaces the one with the same key rather than adding a second; and
//! `otel.name` or `otel.kind` recorded after the span was entered still apply.
//!
//! `tracing-opentelemetry` cannot see a call span: a span created with a call span as its
//! explicit `parent:` becomes a root there, and a `follows_from` between a call span and another
//! span adds no link. Spans created inside the call (the usual way, `.instrument(info_span!(..))`
//! included) are its children, through the current context. The context current inside a call
//! holds the call span's ids, not a recording span: OpenTelemetry's own API
//! (`get_active_span(|span| span.set_attribute(..))`) does not reach it; `SpanExt` does.

use crate::clock::Tick;
use crate::telemetry::span_fields::{EventFields, SpanFieldVisitor, SpanUpdates};
use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceFlags};
use opentelemetry::{Context, ContextGuard, InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{
    IdGenerator as _, RandomIdGenerator, Sampler, SamplingDecision, ShouldSample as _, SpanData, SpanEvents,
    SpanLimits, SpanLinks,
};
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;
use tracing::dispatcher::WeakDispatch;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event as TracingEvent, Metadata, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Filter, Layer};
use tracing_subscriber::registry::{Extensions, LookupSpan, Registry, SpanRef};

/// The field that marks a span as a call span: declared, never recorded, by the spans
/// `#[observed]` and `ObsLayer` make (the macro writes the same name).
pub(crate) const CALL_SPAN_FIELD: &str = "obs.call";

/// Whether `metadata` is a call span's.
pub(crate) fn is_call_span(metadata: &Metadata<'_>) -> bool {
    metadata.is_span() && metadata.fields().field(CALL_SPAN_FIELD).is_some()
}

/// Where the export queue for spans is, when spans are exported.
pub(crate) type SpanSink = Arc<dyn Fn(SpanData) + Send + Sync>;

/// The OpenTelemetry side of a call span, in its registry extensions until it closes.
#[derive(Debug)]
struct CallSpan {
    /// The parent's context with this span's: what is current while it is entered.
    context: Context,
    parent_span_id: SpanId,
    parent_is_remote: bool,
    /// Whether the sampler kept it (`RecordAndSample` or `RecordOnly`): only then is its data kept.
    recording: bool,
    name: Cow<'static, str>,
    kind: SpanKind,
    status: Status,
    attributes: Vec<KeyValue>,
    events: Vec<Event>,
    links: Vec<Link>,
    /// When it started, by the wall clock when its data is kept, and by the call clock.
    start_time: SystemTime,
    started: Tick,
    /// When it was last exited: its end.
    last_exit: Option<Tick>,
}

impl CallSpan {
    fn span_context(&self) -> SpanContext {
        self.context.span().span_context().clone()
    }

    /// Applies what fields or an event changed: the status only ever moves up (unset, error,
    /// ok), as the SDK's `set_status` does; a recorded attribute replaces one of the same key.
    fn update(&mut self, updates: SpanUpdates) {
        if let Some(name) = updates.name {
            self.name = name;
        }
        if let Some(kind) = updates.kind {
            self.kind = kind;
        }
        if let Some(status) = updates.status {
            self.raise_status(status);
        }
        for attribute in updates.attributes {
            match self.attributes.iter_mut().find(|existing| existing.key == attribute.key) {
                Some(existing) => *existing = attribute,
                None => self.attributes.push(attribute),
            }
        }
    }

    /// The span's source location and fields, as `tracing-opentelemetry` reads them at creation.
    fn read_fields(&mut self, attributes: &Attributes<'_>) {
        let metadata = attributes.metadata();
        let mut updates = SpanUpdates::default();
        attributes.record(&mut SpanFieldVisitor(&mut updates));
        self.attributes.reserve(3 + updates.attributes.len());
        push_location(&mut self.attributes, metadata);
        self.attributes.append(&mut updates.attributes);
        if let Some(name) = updates.name {
            self.name = name;
        }
        if let Some(kind) = updates.kind {
            self.kind = kind;
        }
        if let Some(status) = updates.status {
            self.status = status;
        }
    }

    fn raise_status(&mut self, status: Status) {
        if status > self.status {
            self.status = status;
        }
    }

    /// The span data the SDK would have exported, within the SDK's default limits.
    fn into_span_data(mut self, scope: &InstrumentationScope) -> SpanData {
        let limits = SpanLimits::default();
        let span_context = self.span_context();
        let dropped_attributes_count = truncate(&mut self.attributes, limits.max_attributes_per_span);
        let mut events = SpanEvents::default();
        events.dropped_count = truncate(&mut self.events, limits.max_events_per_span);
        for event in &mut self.events {
            event.dropped_attributes_count = truncate(&mut event.attributes, limits.max_attributes_per_event);
        }
        events.events = self.events;
        let mut links = SpanLinks::default();
        links.dropped_count = truncate(&mut self.links, limits.max_links_per_span);
        for link in &mut self.links {
            link.dropped_attributes_count = truncate(&mut link.attributes, limits.max_attributes_per_link);
        }
        links.links = self.links;
        let end_time = self.start_time + self.last_exit.unwrap_or_else(Tick::now).since(self.started);
        SpanData {
            span_context,
            parent_span_id: self.parent_span_id,
            parent_span_is_remote: self.parent_is_remote,
            span_kind: self.kind,
            name: self.name,
            start_time: self.start_time,
            end_time,
            attributes: self.attributes,
            dropped_attributes_count,
            events,
            links,
            status: self.status,
            instrumentation_scope: scope.clone(),
        }
    }
}

/// Where a span or event was written: file, module and line.
fn push_location(attributes: &mut Vec<KeyValue>, metadata: &'static Metadata<'static>) {
    if let Some(file) = metadata.file() {
        attributes.push(KeyValue::new("code.file.path", file));
    }
    if let Some(module) = metadata.module_path() {
        attributes.push(KeyValue::new("code.module.name", module));
    }
    if let Some(line) = metadata.line() {
        attributes.push(KeyValue::new("code.line.number", i64::from(line)));
    }
}

/// Keeps the first `limit` items; returns how many it dropped.
fn truncate<T>(items: &mut Vec<T>, limit: u32) -> u32 {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let dropped = items.len().saturating_sub(limit);
    items.truncate(limit);
    u32::try_from(dropped).unwrap_or(u32::MAX)
}

/// A span entered on this thread that one of the two layers exports.
struct Entered {
    id: Id,
    exporter: EnteredBy,
}

/// Which layer exports an entered span.
enum EnteredBy {
    /// This layer: a call span, its context current until the guard drops.
    Call {
        _current: ContextGuard,
        /// Whether its exit must be stamped: its data is kept.
        recording: bool,
    },
    /// `tracing-opentelemetry`.
    Other,
}

thread_local! {
    /// The exported spans entered on this thread, innermost last: the span a contextual event
    /// belongs to is the innermost, as `tracing-opentelemetry` picks it among its own. A span can
    /// be exited out of order (two futures polled alternately on one thread).
    static ENTERED: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
}

fn push_entered(entered: Entered) {
    // `try_with`: nothing to track while the thread's locals are being destroyed.
    let _ = ENTERED.try_with(|stack| stack.borrow_mut().push(entered));
}

fn pop_entered(id: &Id) -> Option<Entered> {
    ENTERED
        .try_with(|stack| {
            let mut stack = stack.borrow_mut();
            let position = stack.iter().rposition(|entered| entered.id == *id)?;
            Some(stack.remove(position))
        })
        .ok()
        .flatten()
}

/// What a call span's creation decided, handed back to the call that created it (see
/// [`forget_started`] and [`take_started`]), so that the call's own log line and its outcome
/// need not look the span up again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StartedCallSpan {
    /// As bytes: a `TraceId` (a `u128`) would align every call holding this to 16 bytes.
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: SpanId,
    /// Whether the ids are valid (not a span started while telemetry was suppressed).
    pub(crate) valid: bool,
    /// Whether recording the call's outcome on the span reaches anyone (see
    /// [`outcome_fields_wanted`]).
    pub(crate) outcome_wanted: bool,
}

thread_local! {
    /// What the call span this thread created last decided, valid while [`JUST_STARTED_ID`]
    /// holds its registry id.
    static JUST_STARTED: Cell<Option<StartedCallSpan>> = const { Cell::new(None) };
    /// The registry id of that span until its creator takes it; 0 (no span's) once taken or
    /// forgotten: forgetting writes one word, whatever a call without spans costs.
    static JUST_STARTED_ID: Cell<u64> = const { Cell::new(0) };
}

/// Forgets what the last call span started on this thread decided: called before creating a
/// span, so that [`take_started`] cannot hand over a span that another subscriber created.
pub(crate) fn forget_started() {
    let _ = JUST_STARTED_ID.try_with(|id| id.set(0));
}

/// What the creation of `span` decided, when this layer created it on this thread since the last
/// [`forget_started`].
pub(crate) fn take_started(span: &tracing::Span) -> Option<StartedCallSpan> {
    let id = span.id()?.into_u64();
    let started_id = JUST_STARTED_ID.try_with(|started| started.replace(0)).ok()?;
    if started_id == id { JUST_STARTED.try_with(Cell::get).ok().flatten() } else { None }
}

/// Which layer an event's span event belongs to.
enum EventOwner {
    /// This layer's call span `Id`.
    Call(Id),
    /// A span `tracing-opentelemetry` exports.
    Other,
}

/// The exported span an event belongs to, as `tracing-opentelemetry` chose it: its explicit
/// parent if that is exported (else none), or the innermost exported span entered on this thread.
/// Only an explicit parent needs the registry, through `dispatch`.
fn event_owner(event: &TracingEvent<'_>, dispatch: &OnceLock<WeakDispatch>) -> Option<EventOwner> {
    match event.parent() {
        Some(parent) => {
            let dispatch = dispatch.get().and_then(WeakDispatch::upgrade)?;
            let span = registry_span(parent, &dispatch)?;
            let extensions = span.extensions();
            if extensions.get::<CallSpan>().is_some() {
                Some(EventOwner::Call(parent.clone()))
            } else {
                extensions.get::<OtelSpan>().map(|_| EventOwner::Other)
            }
        }
        None if event.is_contextual() => ENTERED
            .try_with(|stack| {
                stack.borrow().last().map(|entered| match entered.exporter {
                    EnteredBy::Call { .. } => EventOwner::Call(entered.id.clone()),
                    EnteredBy::Other => EventOwner::Other,
                })
            })
            .ok()
            .flatten(),
        None => None,
    }
}

/// The layer that makes the OpenTelemetry side of call spans. Filter it with the trace filter,
/// and `tracing-opentelemetry` with [`OutsideCallSpans`].
pub(crate) struct CallSpans {
    sampler: Sampler,
    ids: RandomIdGenerator,
    export: Option<SpanSink>,
    scope: InstrumentationScope,
    dispatch: Arc<OnceLock<WeakDispatch>>,
    /// Whether a layer other than obs's may read the fields recorded on a call span.
    fields_read_elsewhere: bool,
}

impl CallSpans {
    /// Call spans sampled by `sampler`, their data handed to `export` when there is one.
    pub(crate) fn new(sampler: Sampler, export: Option<SpanSink>, scope: InstrumentationScope) -> Self {
        CallSpans {
            sampler,
            ids: RandomIdGenerator::default(),
            export,
            scope,
            dispatch: Arc::default(),
            fields_read_elsewhere: true,
        }
    }

    /// Says whether layers other than obs's may read the fields recorded on call spans (the
    /// default: they may). When none may, a call records its outcome on its span only when the
    /// span's data is kept ([`outcome_fields_wanted`]).
    pub(crate) fn fields_read_elsewhere(mut self, read: bool) -> Self {
        self.fields_read_elsewhere = read;
        self
    }

    /// The filter for `tracing-opentelemetry`'s layer that leaves call spans and their events to
    /// this one.
    pub(crate) fn outside_filter(&self) -> OutsideCallSpans {
        OutsideCallSpans { dispatch: Arc::clone(&self.dispatch) }
    }

    /// Decides the span's ids and whether it is sampled, as the SDK's tracer does (the built-in
    /// samplers decide on the parent and the trace id alone), and makes the context its children
    /// start in. Its fields are read only when its data is kept: sampled, and spans exported.
    fn start(&self, parent: &Context, attributes: &Attributes<'_>) -> CallSpan {
        let metadata = attributes.metadata();
        let started = Tick::now();
        let mut span = CallSpan {
            context: Context::new(),
            parent_span_id: SpanId::INVALID,
            parent_is_remote: false,
            recording: false,
            name: Cow::Borrowed(metadata.name()),
            kind: SpanKind::Internal,
            status: Status::Unset,
            attributes: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            start_time: SystemTime::UNIX_EPOCH,
            started,
            last_exit: None,
        };
        if parent.is_telemetry_suppressed() {
            span.context = parent.with_remote_span_context(SpanContext::empty_context());
            return span;
        }
        let parent_span = parent.span();
        let parent_context = Some(parent_span.span_context()).filter(|context| context.is_valid());
        let trace_id = parent_context.map_or_else(|| self.ids.new_trace_id(), SpanContext::trace_id);
        let span_id = self.ids.new_span_id();
        let sampling = self.sampler.should_sample(Some(parent), trace_id, &span.name, &span.kind, &[], &[]);
        let flags = parent_context.map_or_else(TraceFlags::default, SpanContext::trace_flags);
        let flags = match sampling.decision {
            SamplingDecision::RecordAndSample => flags.with_sampled(true),
            SamplingDecision::RecordOnly => flags.with_sampled(false),
            SamplingDecision::Drop => TraceFlags::default(),
        };
        if let Some(parent_context) = parent_context {
            span.parent_span_id = parent_context.span_id();
            span.parent_is_remote = parent_context.is_remote();
        }
        span.context =
            parent.with_remote_span_context(SpanContext::new(trace_id, span_id, flags, false, sampling.trace_state));
        span.recording = sampling.decision != SamplingDecision::Drop && self.export.is_some();
        if span.recording {
            // The wall clock only for spans whose times are exported.
            span.start_time = opentelemetry::time::now();
            span.read_fields(attributes);
            span.attributes.extend(sampling.attributes);
        }
        span
    }

    /// The context a new span's parent gives it: an explicit parent's, or the current one
    /// (context activation makes an entered span's context current: a call span's by this layer,
    /// another span's by `tracing-opentelemetry`).
    fn parent_context(&self, attributes: &Attributes<'_>) -> Context {
        match attributes.parent() {
            Some(parent) => {
                self.registry_dispatch().and_then(|dispatch| context_of(parent, &dispatch)).unwrap_or_default()
            }
            None if attributes.is_contextual() => Context::current(),
            None => Context::new(),
        }
    }

    /// Whether any call span's data can be kept: without export, no span's fields, events,
    /// links or end matter, and the callbacks that would read them need not look spans up.
    fn exports(&self) -> bool {
        self.export.is_some()
    }

    fn registry_dispatch(&self) -> Option<Dispatch> {
        self.dispatch.get().and_then(WeakDispatch::upgrade)
    }
}

/// The OpenTelemetry context of span `id`: a call span's own, or the one
/// `tracing-opentelemetry` keeps for any other span; `None` for a span neither exports.
pub(crate) fn context_of(id: &Id, dispatch: &Dispatch) -> Option<Context> {
    let call = registry_span(id, dispatch)
        .and_then(|span| span.extensions().get::<CallSpan>().map(|call| call.context.clone()));
    call.or_else(|| tracing_opentelemetry::get_otel_context(id, dispatch))
}

/// The span context (trace and span ids, sampled flag) of span `id`, as [`context_of`] finds it.
pub(crate) fn span_context_of(id: &Id, dispatch: &Dispatch) -> Option<SpanContext> {
    let call = registry_span(id, dispatch).and_then(|span| own_span_context(&span.extensions()));
    call.or_else(|| other_span_context(id, dispatch))
}

/// A call span's span context, from its extensions: for a caller that holds them already.
pub(crate) fn own_span_context(extensions: &Extensions<'_>) -> Option<SpanContext> {
    extensions.get::<CallSpan>().map(CallSpan::span_context)
}

/// The span context `tracing-opentelemetry` keeps for span `id`, when it is not a call span.
pub(crate) fn other_span_context(id: &Id, dispatch: &Dispatch) -> Option<SpanContext> {
    tracing_opentelemetry::get_otel_context(id, dispatch).map(|context| context.span().span_context().clone())
}

/// The OpenTelemetry context of `span` (see [`context_of`]); empty for a disabled span.
pub(crate) fn context_of_span(span: &tracing::Span) -> Context {
    span.with_subscriber(|(id, dispatch)| context_of(id, dispatch)).flatten().unwrap_or_default()
}

/// Sets an attribute on `span`'s OpenTelemetry span: a call span's own (when its data is
/// kept), or through `tracing-opentelemetry` for any other span.
pub(crate) fn set_attribute_of_span(span: &tracing::Span, attribute: KeyValue) {
    let attribute = span.with_subscriber(|(id, dispatch)| {
        let Some(span) = registry_span(id, dispatch) else { return Some(attribute) };
        let mut extensions = span.extensions_mut();
        let Some(call) = extensions.get_mut::<CallSpan>() else { return Some(attribute) };
        if call.recording {
            call.update(SpanUpdates { attributes: vec![attribute], ..SpanUpdates::default() });
        }
        None
    });
    if let Some(Some(attribute)) = attribute {
        tracing_opentelemetry::OpenTelemetrySpanExt::set_attribute(span, attribute.key, attribute.value);
    }
}

/// Whether recording a call's outcome on `span` reaches anyone: a layer other than obs's that
/// may read span fields, or the span's own exported data. Recording passes through every layer,
/// each looking the span up; a call whose span is neither sampled nor exported, under obs's
/// layers alone, skips it.
pub(crate) fn outcome_fields_wanted(span: &tracing::Span) -> bool {
    span.with_subscriber(|(id, dispatch)| match dispatch.downcast_ref::<CallSpans>() {
        Some(calls) if !calls.fields_read_elsewhere => {
            registry_span(id, dispatch).is_some_and(|span| keeps_data(&span))
        }
        _ => true,
    })
    .unwrap_or(false)
}

fn registry_span<'a>(id: &Id, dispatch: &'a Dispatch) -> Option<SpanRef<'a, Registry>> {
    dispatch.downcast_ref::<Registry>().and_then(|registry| registry.span(id))
}

/// Whether `span` is a call span whose data is kept (sampled, and spans exported): only then do
/// its fields, events and links matter.
fn keeps_data<S: for<'lookup> LookupSpan<'lookup>>(span: &SpanRef<'_, S>) -> bool {
    span.extensions().get::<CallSpan>().is_some_and(|call| call.recording)
}

/// Marks the spans `tracing-opentelemetry` exports, so an event can be given to the nearest
/// exported span, whichever layer exports it. Layered with `tracing-opentelemetry` under the
/// same filter.
pub(crate) struct OtelSpanMarker;

/// The mark [`OtelSpanMarker`] leaves.
struct OtelSpan;

impl<S> Layer<S> for OtelSpanMarker
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn on_new_span(&self, _: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(OtelSpan);
        }
    }

    fn on_enter(&self, id: &Id, _: LayerContext<'_, S>) {
        push_entered(Entered { id: id.clone(), exporter: EnteredBy::Other });
    }

    fn on_exit(&self, id: &Id, _: LayerContext<'_, S>) {
        drop(pop_entered(id));
    }
}

/// The filter that keeps call spans, and the events that belong to them, from
/// `tracing-opentelemetry`.
pub(crate) struct OutsideCallSpans {
    dispatch: Arc<OnceLock<WeakDispatch>>,
}

impl<S> Filter<S> for OutsideCallSpans {
    fn enabled(&self, metadata: &Metadata<'_>, _: &LayerContext<'_, S>) -> bool {
        !is_call_span(metadata)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if is_call_span(metadata) {
            Interest::never()
        } else if metadata.is_event() {
            // Decided per event (by its span), so the dispatcher must ask every time: with
            // `always`, `tracing-subscriber` skips the pass that `event_enabled` relies on.
            Interest::sometimes()
        } else {
            Interest::always()
        }
    }

    fn event_enabled(&self, event: &TracingEvent<'_>, _: &LayerContext<'_, S>) -> bool {
        !matches!(event_owner(event, &self.dispatch), Some(EventOwner::Call(_)))
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        crate::telemetry::subscriber::ANY_LEVEL
    }
}

impl<S> Layer<S> for CallSpans
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let call = self.start(&self.parent_context(attributes), attributes);
        let started = {
            let own_span = call.context.span();
            let span_context = own_span.span_context();
            StartedCallSpan {
                trace_id: span_context.trace_id().to_bytes(),
                span_id: span_context.span_id(),
                valid: span_context.is_valid(),
                outcome_wanted: call.recording || self.fields_read_elsewhere,
            }
        };
        let _ = JUST_STARTED.try_with(|just_started| just_started.set(Some(started)));
        let _ = JUST_STARTED_ID.try_with(|just_started| just_started.set(id.into_u64()));
        span.extensions_mut().insert(call);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        if !self.exports() {
            return;
        }
        let Some(span) = ctx.span(id).filter(keeps_data) else { return };
        // Read before the lock: a field's `Debug` may log, and that event reads this span.
        let mut updates = SpanUpdates::default();
        values.record(&mut SpanFieldVisitor(&mut updates));
        if let Some(call) = span.extensions_mut().get_mut::<CallSpan>() {
            call.update(updates);
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: LayerContext<'_, S>) {
        if !self.exports() {
            return;
        }
        let Some(span) = ctx.span(id).filter(keeps_data) else { return };
        let Some(dispatch) = self.registry_dispatch() else { return };
        let Some(follows) = span_context_of(follows, &dispatch) else { return };
        if let Some(call) = span.extensions_mut().get_mut::<CallSpan>() {
            call.links.push(Link::new(follows, Vec::new(), 0));
        }
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let entered = span.extensions().get::<CallSpan>().map(|call| (call.context.clone(), call.recording));
        if let Some((context, recording)) = entered {
            push_entered(Entered {
                id: id.clone(),
                exporter: EnteredBy::Call { _current: context.attach(), recording },
            });
        }
    }

    fn on_exit(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(entered) = pop_entered(id) else { return };
        let recording = matches!(entered.exporter, EnteredBy::Call { recording: true, .. });
        // Dropped outside the borrow: restoring the previous context drops this one's values.
        drop(entered);
        // A span ends at its last exit, as with `tracing-opentelemetry`: not when it closes,
        // which waits for every child (a task spawned with a child span) to close first.
        if let Some(span) = ctx.span(id).filter(|_| recording) {
            if let Some(call) = span.extensions_mut().get_mut::<CallSpan>() {
                call.last_exit = Some(Tick::now());
            }
        }
    }

    fn on_event(&self, event: &TracingEvent<'_>, ctx: LayerContext<'_, S>) {
        if !self.exports() {
            return;
        }
        let Some(EventOwner::Call(owner)) = event_owner(event, &self.dispatch) else { return };
        let Some(span) = ctx.span(&owner).filter(keeps_data) else { return };
        // Read before the lock: a field's `Debug` may log, and that event reads this span.
        let metadata = event.metadata();
        let mut fields = EventFields::new(*metadata.level(), metadata.target());
        event.record(&mut fields);
        if fields.name.is_empty() {
            fields.name = Cow::Borrowed(metadata.name());
        }
        push_location(&mut fields.attributes, metadata);
        let mut extensions = span.extensions_mut();
        let Some(call) = extensions.get_mut::<CallSpan>() else { return };
        if *metadata.level() == tracing::Level::ERROR {
            call.raise_status(Status::error(""));
        }
        if let Some(updates) = fields.span_updates {
            call.update(updates);
        }
        call.events.push(Event::new(fields.name, opentelemetry::time::now(), fields.attributes, 0));
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        // Without export nothing is built: the registry drops the extension with the span.
        let Some(export) = &self.export else { return };
        let Some(span) = ctx.span(&id) else { return };
        let Some(call) = span.extensions_mut().remove::<CallSpan>() else { return };
        if call.recording {
            export(call.into_span_data(&self.scope));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CallSpans, OtelSpanMarker, SpanSink};
    use crate::telemetry::directives::Directives;
    use opentelemetry::trace::{SpanId, TracerProvider as _};
    use opentelemetry::{Context, InstrumentationScope};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanProcessor};
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex, PoisonError};
    use tracing::Level;
    use tracing_subscriber::filter::FilterExt as _;
    use tracing_subscriber::layer::Filter;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::{Layer as _, Registry};

    /// Every ended span, from the SDK or from the call-span layer.
    #[derive(Debug, Clone, Default)]
    struct Ended(Arc<Mutex<Vec<SpanData>>>);

    impl Ended {
        fn push(&self, span: SpanData) {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).push(span);
        }

        fn take(&self) -> Vec<SpanData> {
            std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
        }
    }

    impl SpanProcessor for Ended {
        fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &Context) {}
        fn on_end(&self, span: SpanData) {
            self.push(span);
        }
        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }
        fn shutdown_with_timeout(&self, _: std::time::Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    fn provider(ended: &Ended, sampler: Sampler) -> SdkTracerProvider {
        SdkTracerProvider::builder().with_sampler(sampler).with_span_processor(ended.clone()).build()
    }

    fn otel_layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber::Layer<S>
    where
        S: tracing::Subscriber + for<'lookup> tracing_subscriber::registry::LookupSpan<'lookup>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("obs"))
            .with_tracked_inactivity(false)
            .with_threads(false)
            .with_target(false)
    }

    /// Spans as `tracing-opentelemetry` alone makes them: every span through the SDK.
    /// The trace filter of every comparison unless a test says otherwise.
    const TRACE_FILTER: &str = "trace";

    /// A layer that wants DEBUG spans and events, as a log output at `debug` would: spans the
    /// trace filter rejects still exist.
    fn debug_log_layer<S>() -> impl tracing_subscriber::Layer<S>
    where
        S: tracing::Subscriber + for<'lookup> tracing_subscriber::registry::LookupSpan<'lookup>,
    {
        tracing_subscriber::layer::Identity::new().with_filter(tracing_subscriber::filter::LevelFilter::DEBUG)
    }

    fn directives(trace_filter: &str) -> Directives {
        Directives::parse(trace_filter, "test").expect("valid directives")
    }

    /// Spans as `tracing-opentelemetry` alone makes them: every span through the SDK.
    fn through_tracing_opentelemetry(sampler: Sampler, trace_filter: &str, scenario: impl FnOnce()) -> Vec<SpanData> {
        let ended = Ended::default();
        let provider = provider(&ended, sampler);
        let subscriber = Registry::default()
            .with(otel_layer(&provider).with_filter(directives(trace_filter)))
            .with(debug_log_layer());
        tracing::subscriber::with_default(subscriber, scenario);
        ended.take()
    }

    /// Spans as obs makes them: call spans by [`CallSpans`], the others by `tracing-opentelemetry`,
    /// one trace filter shared by both, as `subscriber.rs` builds them.
    fn through_call_spans(sampler: Sampler, trace_filter: &str, scenario: impl FnOnce()) -> Vec<SpanData> {
        type Shared = Arc<dyn Filter<Registry> + Send + Sync>;
        let ended = Ended::default();
        let provider = provider(&ended, sampler.clone());
        let sink_ended = ended.clone();
        let sink: SpanSink = Arc::new(move |span| sink_ended.push(span));
        let call_spans = CallSpans::new(sampler, Some(sink), InstrumentationScope::builder("obs").build());
        let outside = call_spans.outside_filter();
        let trace_filter: Shared = Arc::new(directives(trace_filter));
        let call_spans =
            call_spans.with_filter(Arc::clone(&trace_filter).and(tracing_subscriber::filter::filter_fn(|metadata| {
                metadata.is_event() || super::is_call_span(metadata)
            })));
        let spans =
            otel_layer(&provider).and_then(OtelSpanMarker).with_filter(trace_filter.and(outside)).and_then(call_spans);
        let subscriber = Registry::default().with(spans).with(debug_log_layer());
        tracing::subscriber::with_default(subscriber, scenario);
        ended.take()
    }

    #[derive(Debug)]
    struct LookupError(std::io::Error);

    impl std::fmt::Display for LookupError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("lookup failed")
        }
    }

    impl std::error::Error for LookupError {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    /// An endpoint call span with an operation inside, the user's own span and events between
    /// them: what an observed handler makes.
    fn handler() {
        let endpoint = tracing::info_span!(
            "GET /users/{id}",
            otel.kind = "server",
            http.request.method = "GET",
            http.route = "/users/{id}",
            http.response.status_code = tracing::field::Empty,
            error.r#type = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            code.function = "get_user",
            code.namespace = "demo",
            obs.call = tracing::field::Empty,
        );
        endpoint.in_scope(|| {
            tracing::info!(user = 7_i64, cached = false, ratio = 0.5, big = u64::MAX, name = "ann", "looked up");
            let user_span = tracing::info_span!("render", template = "user.html");
            user_span.in_scope(|| tracing::warn!(bytes = 512_i64, "rendered"));
            let operation = tracing::info_span!(
                "load_user",
                otel.kind = "internal",
                error.r#type = tracing::field::Empty,
                otel.status_code = tracing::field::Empty,
                code.function = "load_user",
                code.namespace = "demo::store",
                obs.call = tracing::field::Empty,
            );
            operation.in_scope(|| {
                let error = LookupError(std::io::Error::other("disk gone"));
                tracing::error!(error = &error as &(dyn std::error::Error + 'static), "load failed");
                tracing::event!(Level::WARN, error = "retrying");
            });
            operation.record("error.type", tracing::field::display("LookupError"));
            operation.record("otel.status_code", "error");
            drop(operation);
            tracing::info!(debug = ?Some(3), "{} done", "lookup");
        });
        endpoint.record("http.response.status_code", 500_i64);
        endpoint.record("error.type", "ApiError");
        endpoint.record("otel.status_code", "error");
    }

    /// A span as the comparison sees it: everything but ids and times, with its parent by name.
    fn comparable(spans: &[SpanData]) -> BTreeMap<String, String> {
        let names: std::collections::HashMap<SpanId, &str> =
            spans.iter().map(|span| (span.span_context.span_id(), &*span.name)).collect();
        assert!(spans.iter().all(|span| span.span_context.trace_id() == spans[0].span_context.trace_id()), "one trace");
        spans
            .iter()
            .map(|span| {
                let events: Vec<_> = span
                    .events
                    .iter()
                    .map(|event| (event.name.clone(), event.attributes.clone(), event.dropped_attributes_count))
                    .collect();
                let described = format!(
                    "parent={:?} remote={} kind={:?} attributes={:?} dropped={} events={events:?} dropped_events={} links={} status={:?} scope={:?} flags={:?} state={:?}",
                    names.get(&span.parent_span_id),
                    span.parent_span_is_remote,
                    span.span_kind,
                    span.attributes,
                    span.dropped_attributes_count,
                    span.events.dropped_count,
                    span.links.len(),
                    span.status,
                    span.instrumentation_scope,
                    span.span_context.trace_flags(),
                    span.span_context.trace_state(),
                );
                (span.name.to_string(), described)
            })
            .collect()
    }

    fn assert_exported_alike(sampler: impl Fn() -> Sampler, scenario: fn()) -> Vec<SpanData> {
        assert_exported_alike_under(sampler, TRACE_FILTER, scenario)
    }

    fn assert_exported_alike_under(sampler: impl Fn() -> Sampler, trace_filter: &str, scenario: fn()) -> Vec<SpanData> {
        let expected = through_tracing_opentelemetry(sampler(), trace_filter, scenario);
        let actual = through_call_spans(sampler(), trace_filter, scenario);
        let (expected_spans, actual_spans) = (comparable(&expected), comparable(&actual));
        for (name, described) in &expected_spans {
            assert_eq!(actual_spans.get(name), Some(described), "{name}");
        }
        assert_eq!(actual_spans.len(), expected_spans.len(), "{actual_spans:#?}");
        actual
    }

    fn parent_based_always_on() -> Sampler {
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
    }

    #[test]
    fn call_spans_export_what_tracing_opentelemetry_exported() {
        let spans = assert_exported_alike(parent_based_always_on, handler);
        assert_eq!(spans.len(), 3, "{spans:#?}");
    }

    /// A background job's span around an observed operation: the user's span is the call's
    /// parent, and keeps none of the call's events.
    fn job() {
        let job = tracing::info_span!("nightly job", batch = 3_i64);
        job.in_scope(|| {
            tracing::info!("job started");
            handler();
        });
    }

    #[test]
    fn call_spans_nest_under_the_users_spans_as_before() {
        let spans = assert_exported_alike(parent_based_always_on, job);
        assert_eq!(spans.len(), 4, "{spans:#?}");
    }

    /// A request continuing a caller's sampled trace.
    fn continued() {
        use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceFlags, TraceId, TraceState};
        let caller = SpanContext::new(
            TraceId::from(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c_u128),
            SpanId::from(0xb7ad_6b71_6920_3331_u64),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let _attached = Context::new().with_remote_span_context(caller).attach();
        handler();
    }

    #[test]
    fn call_spans_continue_a_callers_trace_as_before() {
        let spans =
            assert_exported_alike(|| Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.0))), continued);
        assert_eq!(spans.len(), 3, "the caller's decision is kept: {spans:#?}");
        let endpoint = spans.iter().find(|span| span.name == "GET /users/{id}").expect("endpoint");
        assert_eq!(endpoint.span_context.trace_id().to_string(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(endpoint.parent_span_id.to_string(), "b7ad6b7169203331");
        assert!(endpoint.parent_span_is_remote);
    }

    #[test]
    fn unsampled_call_spans_export_nothing_but_keep_their_ids() {
        let spans = through_call_spans(Sampler::AlwaysOff, TRACE_FILTER, || {
            use opentelemetry::trace::TraceContextExt as _;
            let span = tracing::info_span!("GET /health", obs.call = tracing::field::Empty);
            let context = crate::span_ext::SpanExt::otel_context(&span);
            assert!(context.span().span_context().is_valid(), "ids for the log lines");
            assert!(!context.span().span_context().is_sampled());
        });
        assert!(spans.is_empty(), "{spans:#?}");
    }

    #[test]
    fn a_recorded_field_replaces_its_attribute_and_a_late_name_renames() {
        let spans = through_call_spans(parent_based_always_on(), TRACE_FILTER, || {
            let span = tracing::info_span!(
                "GET /users/{id}",
                otel.name = "GET /users/{id}",
                http.route = "/users/{id}",
                obs.call = tracing::field::Empty,
            );
            span.in_scope(|| {
                span.record("http.route", "/users/{user_id}");
                span.record("otel.name", "GET /users/{user_id}");
                crate::span_ext::SpanExt::set_otel_attribute(&span, "tenant", "acme");
                crate::span_ext::SpanExt::set_otel_attribute(&span, "tenant", "globex");
            });
        });
        let [span] = spans.as_slice() else { panic!("{spans:#?}") };
        assert_eq!(span.name, "GET /users/{user_id}");
        let value = |key: &str| {
            let values: Vec<_> = span.attributes.iter().filter(|kv| kv.key.as_str() == key).collect();
            assert_eq!(values.len(), 1, "{key} once: {:?}", span.attributes);
            values[0].value.to_string()
        };
        assert_eq!(value("http.route"), "/users/{user_id}");
        assert_eq!(value("tenant"), "globex");
    }

    /// A call span's own work, and a span created before it and entered inside it, that the
    /// trace filter rejects and a log output keeps: its event belongs to the call span.
    fn entered_inside() {
        let prepared = tracing::debug_span!("prepared");
        let call = tracing::info_span!("checkout", otel.kind = "server", obs.call = tracing::field::Empty);
        call.in_scope(|| prepared.in_scope(|| tracing::info!(step = 2_i64, "inside")));
    }

    #[test]
    fn events_in_spans_the_trace_filter_rejects_belong_to_the_nearest_entered_span_as_before() {
        let spans = assert_exported_alike_under(parent_based_always_on, "info", entered_inside);
        let [call] = spans.as_slice() else { panic!("{spans:#?}") };
        assert_eq!(call.events.len(), 1, "{call:#?}");
    }

    /// A span directive selecting the user's DEBUG span inside a call span.
    fn selected_inside() {
        let call = tracing::info_span!("checkout", otel.kind = "server", obs.call = tracing::field::Empty);
        call.in_scope(|| {
            tracing::debug_span!("db", rows = 3_i64).in_scope(|| tracing::debug!("queried"));
        });
    }

    #[test]
    fn span_directives_select_spans_inside_call_spans_as_before() {
        let spans = assert_exported_alike_under(parent_based_always_on, "info,[checkout]=debug", selected_inside);
        assert_eq!(spans.len(), 2, "checkout and db: {spans:#?}");
    }

    #[test]
    fn a_call_span_ends_at_its_last_exit_not_when_a_child_outliving_it_closes() {
        let spans = through_call_spans(parent_based_always_on(), TRACE_FILTER, || {
            let call = tracing::info_span!("GET /jobs", obs.call = tracing::field::Empty);
            let background = call.in_scope(|| tracing::info_span!("background"));
            drop(call);
            std::thread::sleep(std::time::Duration::from_millis(20));
            drop(background);
        });
        let end = |name: &str| spans.iter().find(|span| span.name == name).expect(name).end_time;
        assert!(end("GET /jobs") < end("background"), "{spans:#?}");
    }

    /// A field whose `Debug` logs, recorded on a call span and carried by an event inside it.
    struct Chatty;

    impl std::fmt::Debug for Chatty {
        fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            tracing::info!("formatting");
            formatter.write_str("chatty")
        }
    }

    #[test]
    fn a_field_whose_debug_logs_does_not_deadlock_the_span() {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let spans = through_call_spans(parent_based_always_on(), TRACE_FILTER, || {
                let call =
                    tracing::info_span!("GET /chatty", value = tracing::field::Empty, obs.call = tracing::field::Empty);
                call.in_scope(|| {
                    call.record("value", tracing::field::debug(&Chatty));
                    tracing::info!(value = ?Chatty, "with a chatty field");
                });
            });
            let _ = done.send(spans.len());
        });
        // A liveness check, not a timing one: the span lock is re-entered or it is not.
        let exported = finished.recv_timeout(std::time::Duration::from_secs(60)).expect("deadlocked");
        assert_eq!(exported, 1);
    }
}
