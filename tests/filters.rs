//! What the log and trace filters reject is never built: a disabled span or event costs one
//! cached interest check at its call site. Its own test binary, since call-site interest is
//! process-wide and other tests' subscribers would blur it.

use obs_runtime::OPERATION_LOG_TARGET;
use obs_tests::logs::CapturedLogs;
use std::sync::{Mutex, PoisonError};
use tracing::Level;
use tracing::level_filters::LevelFilter;

/// Held by each test: a call site's interest is cached across every live dispatcher, so a test
/// running beside another would see the union of both subscribers' filters.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn what_the_filters_reject_is_never_built() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    for (log_filter, trace_filter, most_verbose) in [
        ("off", "off", LevelFilter::OFF),
        ("info", "off", LevelFilter::INFO),
        ("off", "info", LevelFilter::INFO),
        ("info", "info", LevelFilter::INFO),
        ("warn", "debug", LevelFilter::DEBUG),
    ] {
        let telemetry = obs_runtime::builder("filters", "1")
            .log_filter(log_filter)
            .trace_filter(trace_filter)
            .log_writer(std::io::sink)
            .build_local()
            .expect("valid settings");
        tracing::dispatcher::with_default(telemetry.dispatch(), || {
            let quiet = log_filter == "off" && trace_filter == "off";
            let case = format!("log {log_filter}, trace {trace_filter}");
            // The dispatcher's hint: a level neither filter enables is rejected by a comparison
            // in the macro, before its call site's interest is asked.
            assert_eq!(LevelFilter::current(), most_verbose, "{case}: the levels the filters enable");
            assert_eq!(tracing::info_span!("probe").is_disabled(), quiet, "{case}: INFO span");
            assert_eq!(
                tracing::debug_span!("probe").is_disabled(),
                most_verbose < LevelFilter::DEBUG,
                "{case}: DEBUG span"
            );
            if most_verbose < LevelFilter::DEBUG {
                assert!(
                    !tracing::enabled!(target: OPERATION_LOG_TARGET, Level::DEBUG),
                    "{case}: the DEBUG operation event would be built"
                );
            }
        });
    }
}

#[test]
fn with_no_log_lines_and_a_sampler_that_keeps_nothing_no_span_is_built() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let settings = |sampler: &'static str| {
        obs_runtime::builder("filters", "1")
            .with_env(move |name| match name {
                "RUST_LOG" => Some("off".to_owned()),
                "OTEL_TRACES_SAMPLER" => Some(sampler.to_owned()),
                _ => None,
            })
            .build_local()
            .expect("valid settings")
    };
    let metrics_only = settings("always_off");
    tracing::dispatcher::with_default(metrics_only.dispatch(), || {
        assert!(tracing::info_span!("probe").is_disabled(), "metrics only: spans have no reader");
    });
    // A parent-based sampler keeps a caller's sampled trace: spans are still built for it.
    let parent_based = settings("parentbased_always_off");
    tracing::dispatcher::with_default(parent_based.dispatch(), || {
        assert!(!tracing::info_span!("probe").is_disabled(), "a sampled caller's trace goes on");
    });
}

#[test]
fn span_directives_select_the_events_inside_their_spans() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let telemetry = obs_runtime::builder("filters", "1")
        .log_filter("warn,[checkout]=debug")
        .log_writer(move || writer.writer())
        .build_local()
        .expect("valid settings");
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        tracing::debug!("outside");
        tracing::info_span!("checkout").in_scope(|| tracing::debug!("inside"));
        tracing::debug!("outside again");
    });
    let lines = logs.json_lines();
    let messages: Vec<&str> = lines.iter().filter_map(|line| line["message"].as_str()).collect();
    assert_eq!(messages, ["inside"], "{lines:#?}");
}

/// What a service's own layer saw: the levels of the events it was given.
#[derive(Clone, Default)]
struct SeenLevels(std::sync::Arc<Mutex<Vec<Level>>>);

impl<S: tracing::Subscriber> obs_runtime::telemetry::tracing_subscriber::Layer<S> for SeenLevels {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _: obs_runtime::telemetry::tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(*event.metadata().level());
    }
}

#[test]
fn every_layer_of_the_service_keeps_the_levels_its_filter_enables() {
    use obs_runtime::telemetry::tracing_subscriber::Layer as _;
    use obs_runtime::telemetry::tracing_subscriber::layer::Identity;
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    // A DEBUG layer, then a WARN one: the most verbose, not the last, bounds the levels built.
    let debug = SeenLevels::default();
    let telemetry = obs_runtime::builder("filters", "1")
        .log_filter("info")
        .trace_filter("off")
        .log_writer(std::io::sink)
        .with_layer(debug.clone().with_filter(LevelFilter::DEBUG))
        .with_layer(Identity::new().with_filter(LevelFilter::WARN))
        .build_local()
        .expect("valid settings");
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        assert_eq!(LevelFilter::current(), LevelFilter::DEBUG, "the levels some layer enables");
        tracing::debug!("for the DEBUG layer");
    });
    assert_eq!(*debug.0.lock().unwrap_or_else(PoisonError::into_inner), [Level::DEBUG]);
}
