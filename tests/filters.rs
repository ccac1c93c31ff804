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
