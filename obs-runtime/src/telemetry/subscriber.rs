//! Assembles the tracing subscriber: OpenTelemetry spans (trace ids, and OTLP export when an
//! endpoint is set), the log output, and the OTLP log bridge, each with its own filter so
//! quieting logs never removes trace ids.

use crate::call::{OPERATION_LOG_TARGET, REQUEST_LOG_TARGET};
use crate::error::SetupError;
use crate::telemetry::call_record::LogExport;
use crate::telemetry::call_span::{CallSpans, OtelSpanMarker, is_call_span};
use crate::telemetry::config::LogFormat;
use crate::telemetry::directives::Directives;
use crate::telemetry::export_counters::EXPORT_LOG_TARGET;
use crate::telemetry::identity::ServiceIdentity;
use crate::telemetry::json::JsonLayer;
use crate::telemetry::line_writer::LineQueue;
use crate::telemetry::otlp_config::OtlpSettings;
use crate::telemetry::providers::Providers;
use crate::telemetry::resource;
use opentelemetry::InstrumentationScope;
use opentelemetry::trace::TracerProvider as _;
use std::sync::Arc;
use tracing::{Dispatch, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, LevelFilter, filter_fn};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::Filter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::{LookupSpan, Registry};

/// What the subscriber is built from.
pub struct SubscriberParts {
    pub identity: ServiceIdentity,
    pub otlp: OtlpSettings,
    pub log_format: LogFormat,
    pub log_filter: (String, &'static str),
    pub trace_filter: (String, &'static str),
    /// Where log lines go; `None` for standard output, through the writer thread.
    pub log_writer: Option<BoxMakeWriter>,
    /// `OBS_LOG_BLOCKING`: whether a full line queue makes the logger wait instead of dropping.
    pub log_blocking: bool,
}

/// The subscriber, as a dispatcher, and the providers that must be shut down with it.
pub struct BuiltSubscriber {
    pub dispatch: Dispatch,
    pub providers: Providers,
}

/// Targets whose events are the export's own plumbing: exporting them would export the export
/// (thousands of TRACE records from hyper and h2 per real one) or loop on its own warnings.
const PLUMBING_TARGETS: &[&str] =
    &["hyper", "h2", "tonic", "tower", "reqwest", "rustls", "want", "mio", "opentelemetry", EXPORT_LOG_TARGET];

/// Lets through what is not the export's plumbing, judging a record bridged from the `log`
/// facade by its real target (its metadata says `log`).
struct NotPlumbing;

impl<S> tracing_subscriber::layer::Filter<S> for NotPlumbing {
    fn enabled(&self, metadata: &Metadata<'_>, _: &tracing_subscriber::layer::Context<'_, S>) -> bool {
        !is_plumbing(metadata.target())
    }

    fn event_enabled(&self, event: &tracing::Event<'_>, _: &tracing_subscriber::layer::Context<'_, S>) -> bool {
        use tracing_log::NormalizeEvent as _;
        event.normalized_metadata().is_none_or(|metadata| !is_plumbing(metadata.target()))
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        ANY_LEVEL
    }
}

/// The level hint of a filter that selects by target or kind, not by level: any level. Said
/// rather than left unsaid, because a filter without a hint makes every filter it is combined
/// with hintless, and the dispatcher's maximum level `TRACE` however quiet the directives: every
/// disabled `debug!` then costs a callsite-interest check instead of a level comparison, and a
/// call whose log event no filter would enable still prepares it.
pub(crate) const ANY_LEVEL: Option<LevelFilter> = Some(LevelFilter::TRACE);

/// A filter of `predicate` on metadata alone, hinted [`ANY_LEVEL`].
fn level_blind(
    predicate: impl Fn(&Metadata<'_>) -> bool,
) -> tracing_subscriber::filter::FilterFn<impl Fn(&Metadata<'_>) -> bool> {
    filter_fn(predicate).with_max_level_hint(LevelFilter::TRACE)
}

fn is_plumbing(target: &str) -> bool {
    PLUMBING_TARGETS.iter().any(|plumbing| {
        target
            .strip_prefix(plumbing)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::") || rest.starts_with('_'))
    })
}

/// The per-call event repeats the span's own attributes: copying it into a span event would
/// double the cost of every traced call for no information.
fn not_the_call_event(metadata: &Metadata<'_>) -> bool {
    !(metadata.is_event() && matches!(metadata.target(), REQUEST_LOG_TARGET | OPERATION_LOG_TARGET))
}

/// The filter of obs's outermost layer, saying the level hint of the whole subscriber: obs's
/// layers and the service's own added under them.
///
/// `tracing-subscriber` takes the hint of layers joined with `and_then` over a `Registry` from
/// the outer one alone (it mistakes the inner layer for the registry): without this, logs at
/// `info` under traces `off` would be hinted `OFF`, and no span or event built for them; and of
/// two layers of the service's, a DEBUG one added before a WARN one would get no DEBUG event. A
/// hint is an upper bound, so raising the outer filter's to the stack's is always sound; where
/// obs cannot know the stack (`init_layers`), it claims none.
struct StackHint<F> {
    filter: F,
    hint: Option<LevelFilter>,
}

impl<S, F: Filter<S>> Filter<S> for StackHint<F> {
    fn enabled(&self, metadata: &Metadata<'_>, context: &tracing_subscriber::layer::Context<'_, S>) -> bool {
        self.filter.enabled(metadata, context)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        self.filter.callsite_enabled(metadata)
    }

    fn event_enabled(&self, event: &tracing::Event<'_>, context: &tracing_subscriber::layer::Context<'_, S>) -> bool {
        self.filter.event_enabled(event, context)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.hint
    }

    fn on_new_span(
        &self,
        attributes: &tracing::span::Attributes<'_>,
        id: &tracing::Id,
        context: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.filter.on_new_span(attributes, id, context);
    }

    fn on_record(
        &self,
        id: &tracing::Id,
        values: &tracing::span::Record<'_>,
        context: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.filter.on_record(id, values, context);
    }

    fn on_enter(&self, id: &tracing::Id, context: tracing_subscriber::layer::Context<'_, S>) {
        self.filter.on_enter(id, context);
    }

    fn on_exit(&self, id: &tracing::Id, context: tracing_subscriber::layer::Context<'_, S>) {
        self.filter.on_exit(id, context);
    }

    fn on_close(&self, id: tracing::Id, context: tracing_subscriber::layer::Context<'_, S>) {
        self.filter.on_close(id, context);
    }
}

/// A layer of the service's own, added under obs's (see `ObsBuilder::with_layer`).
pub type UserLayer = Box<dyn Layer<Registry> + Send + Sync + 'static>;

/// obs's layers, the providers they feed, and the user's layers below them, as one dispatcher.
pub fn build(parts: SubscriberParts, user_layers: Vec<UserLayer>) -> Result<BuiltSubscriber, SetupError> {
    // Chained, not a `Vec`, which passes on neither the dispatcher to its layers nor, when empty,
    // a faithful interest; without user layers the stack has none at all.
    // Each layer's own hint, combined here: the chain would report its last layer's alone (see
    // `StackHint`).
    let hint =
        user_layers.iter().try_fold(LevelFilter::OFF, |most, layer| layer.max_level_hint().map(|hint| most.max(hint)));
    let chained: Option<UserLayer> = user_layers.into_iter().reduce(|first, next| Box::new(first.and_then(next)));
    match chained {
        None => {
            let (layers, providers) = obs_layers(parts, OtherLayers::None)?;
            Ok(BuiltSubscriber { dispatch: Dispatch::new(Registry::default().with(layers)), providers })
        }
        Some(user) => {
            let (layers, providers) = obs_layers(parts, OtherLayers::Added { hint })?;
            Ok(BuiltSubscriber { dispatch: Dispatch::new(Registry::default().with(user).with(layers)), providers })
        }
    }
}

/// The layers of the subscriber besides obs's: they may read the fields recorded on call spans,
/// and their level hints are part of the subscriber's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtherLayers {
    /// None: obs's layers are the whole subscriber.
    None,
    /// The service's own, added under obs's, with the most verbose level any of them enables
    /// (`None`: one of them does not say).
    Added { hint: Option<LevelFilter> },
    /// Unknown: obs's layers go into a subscriber the service builds.
    Unknown,
}

/// obs's layers over any registry-backed subscriber `S`: the spans, the log output and the log
/// export, each with its own filter, and the providers that must be shut down with them.
pub fn obs_layers<S>(
    parts: SubscriberParts,
    others: OtherLayers,
) -> Result<(impl Layer<S> + Send + Sync + 'static, Providers), SetupError>
where
    S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync + 'static,
{
    let log_filter = Directives::parse(&parts.log_filter.0, parts.log_filter.1)?;
    // One filter behind both span layers: span directives (`[checkout]=debug`) follow the spans
    // entered, whichever layer exports them.
    let trace_directives = Directives::parse(&parts.trace_filter.0, parts.trace_filter.1)?;
    let trace_filter_selects_spans = trace_directives.selects_spans();
    let trace_filter: Arc<dyn Filter<S> + Send + Sync> = Arc::new(trace_directives);
    let resource = resource::build(&parts.identity, &resource::new_instance_id(), &parts.otlp.resource_attributes);
    let mut providers = Providers::start(&parts.otlp, &resource)?;
    let tracer = providers.tracer.tracer("obs");
    let logger_provider = providers.logger.clone();
    if logger_provider.is_some() {
        crate::telemetry::set_logs_exported();
    }

    #[cfg(feature = "_otlp")]
    let call_span_export = providers.span_export.as_ref().map(crate::telemetry::otlp::QueuedSpanProcessor::sink);
    #[cfg(not(feature = "_otlp"))]
    let call_span_export = None;
    // The human-readable format prints the fields of the spans around each line.
    // A filter with span directives may match the fields recorded on a span
    // (`[{http.response.status_code=404}]=warn`).
    let fields_read_elsewhere = others != OtherLayers::None
        || parts.log_format != LogFormat::Json
        || log_filter.selects_spans()
        || trace_filter_selects_spans;
    let call_spans = CallSpans::new(
        parts.otlp.sampler.sdk_sampler(),
        call_span_export,
        InstrumentationScope::builder("obs").build(),
    )
    .fields_read_elsewhere(fields_read_elsewhere);
    // Busy/idle time and thread ids cost on every enter and exit and answer no question the
    // duration histogram does not; source location stays, it links a span to its code.
    let other_spans = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_target(false)
        .and_then(OtelSpanMarker)
        .with_filter(Arc::clone(&trace_filter).and(level_blind(not_the_call_event)).and(call_spans.outside_filter()));
    // The most verbose level either filter enables: this outermost layer must say it for the
    // whole stack (see `StackHint`).
    let obs_hint = Filter::<S>::max_level_hint(&log_filter).zip(trace_filter.max_level_hint()).map(|(a, b)| a.max(b));
    let stack_hint = match others {
        OtherLayers::None => obs_hint,
        OtherLayers::Added { hint } => obs_hint.zip(hint).map(|(a, b)| a.max(b)),
        // The service's own composition may have the same flaw: obs claims no bound there.
        OtherLayers::Unknown => None,
    };
    let call_spans = call_spans.with_filter(StackHint {
        filter: trace_filter
            .and(level_blind(not_the_call_event))
            .and(level_blind(|metadata| metadata.is_event() || is_call_span(metadata))),
        hint: stack_hint,
    });
    let spans = other_spans.and_then(call_spans);
    // Boxed, not an `Option` of each: a box passes on the dispatcher the JSON layer needs.
    let log_output: Box<dyn Layer<S> + Send + Sync> = match (parts.log_format, parts.log_writer) {
        (LogFormat::Json, Some(writer)) => Box::new(JsonLayer::new(writer)),
        (LogFormat::Json, None) => {
            let queue = LineQueue::start(BoxMakeWriter::new(std::io::stdout), parts.log_blocking)
                .map_err(|error| SetupError::ExportSetup { signal: "logs", reason: error.to_string() })?;
            let queue = std::sync::Arc::new(queue);
            providers.lines = Some(std::sync::Arc::clone(&queue));
            Box::new(JsonLayer::<BoxMakeWriter>::queued(queue))
        }
        (LogFormat::Pretty, writer) => Box::new(
            tracing_subscriber::fmt::layer()
                .with_writer(writer.unwrap_or_else(|| BoxMakeWriter::new(std::io::stdout)))
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())),
        ),
    };
    // Exported log records are exactly the printed lines, minus the exporter's own plumbing.
    // Without a logs endpoint there is no export layer at all (boxed with the output, which
    // passes on the dispatcher): a `None` layer would enable every span and event at every
    // level, and one filtered to nothing still looks up every span on every enter and exit.
    let logs: Box<dyn Layer<S> + Send + Sync> = match logger_provider.as_ref() {
        Some(logger_provider) => {
            let export_filter = Directives::parse(&parts.log_filter.0, parts.log_filter.1)?;
            Box::new(
                log_output
                    .with_filter(log_filter)
                    .and_then(LogExport::new(logger_provider).with_filter(export_filter.and(NotPlumbing))),
            )
        }
        None => Box::new(log_output.with_filter(log_filter)),
    };
    // The log layers outermost: with the span layers (two filtered layers) outside one boxed
    // filtered log layer, `tracing-subscriber` lost per-layer interest and disabled spans only
    // the trace filter enables (`tests/filters.rs`).
    let layers = logs.and_then(spans);
    Ok((layers, providers))
}

#[cfg(test)]
mod tests {
    use super::is_plumbing;

    #[test]
    fn plumbing_is_matched_by_crate_not_by_prefix() {
        for target in ["hyper", "hyper::proto::h1", "h2::codec", "tonic::transport", "opentelemetry_sdk", "obs::export"]
        {
            assert!(is_plumbing(target), "{target}");
        }
        for target in ["hyperloop", "h2o", "demo", "obs::request", "obs::system", "my_app::tower_defense"] {
            assert!(!is_plumbing(target), "{target}");
        }
    }
}
