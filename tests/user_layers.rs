//! A service's own tracing layers beside obs's: added to obs's subscriber with `with_layer`, and
//! obs's layers put into a subscriber the service builds with `init_layers`. Its own test binary:
//! `init_layers` claims the process, as `init` does.

use obs_runtime::observed;
use obs_runtime::telemetry::tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use obs_runtime::telemetry::tracing_subscriber::registry::{LookupSpan, Registry};
use obs_tests::block_on;
use obs_tests::logs::CapturedLogs;
use std::sync::{Arc, Mutex, PoisonError};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};

/// One observed endpoint whose body logs an event of its own.
#[observed(endpoint = "/layers/{id}", method = "GET")]
async fn get_thing(id: u64) -> Result<(http::StatusCode, String), std::io::Error> {
    tracing::info!(target: "app::handler", id, "loading");
    Ok((http::StatusCode::OK, format!("thing {id}")))
}

/// What a user's layer saw: span names, fields recorded on spans and event targets, in order.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Seen {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(format!("span {}", attrs.metadata().name()));
    }

    fn on_record(&self, _id: &Id, values: &tracing::span::Record<'_>, _ctx: Context<'_, S>) {
        struct Names(Vec<&'static str>);
        impl tracing::field::Visit for Names {
            fn record_debug(&mut self, field: &tracing::field::Field, _: &dyn std::fmt::Debug) {
                self.0.push(field.name());
            }
        }
        let mut names = Names(Vec::new());
        values.record(&mut names);
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(format!("record {}", names.0.join(",")));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let parent = ctx.event_span(event).map(|span| span.name().to_owned()).unwrap_or_default();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!("event {} in {parent}", event.metadata().target()));
    }
}

/// The JSON lines of one call, with what differs between runs (time, ids, duration) blanked.
fn stable(lines: &[serde_json::Value]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .map(|line| {
            let mut line = line.clone();
            for key in ["timestamp", "trace_id", "span_id", "duration_ms"] {
                if let Some(value) = line.get_mut(key) {
                    assert!(!value.is_null(), "{key} is set");
                    *value = serde_json::Value::Null;
                }
            }
            if let Some(message) =
                line.get_mut("message").filter(|message| message.as_str().is_some_and(|m| m.contains(" ms")))
            {
                *message = serde_json::Value::Null;
            }
            line
        })
        .collect()
}

#[test]
fn a_user_layer_sees_the_observed_spans_and_events_and_obs_own_subscriber_is_reproducible_from_its_layers() {
    // 1. The builder adds the user's layer to obs's subscriber.
    let seen = Seen::default();
    let builder_logs = CapturedLogs::default();
    let writer = builder_logs.clone();
    let telemetry = obs_runtime::builder("layers", "1")
        .log_filter("info")
        .log_writer(move || writer.writer())
        .without_metrics_server()
        .with_layer(seen.clone())
        .build_local()
        .expect("valid settings");
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        block_on(get_thing(7)).expect("ok");
    });
    let seen = seen.all();
    assert_eq!(
        seen,
        [
            "span GET /layers/{id}",
            "event app::handler in GET /layers/{id}",
            "record http.response.status_code",
            "event obs::request in GET /layers/{id}"
        ],
        "the user's layer receives the observed span, the outcome recorded on it (obs skips that pass \
         only when no layer but its own could read it) and both events inside it"
    );
    let via_builder = builder_logs.json_lines();
    assert_eq!(via_builder.len(), 2, "{via_builder:#?}");

    // 2. obs's layers in a subscriber the service builds itself print the same lines.
    let own_logs = CapturedLogs::default();
    let writer = own_logs.clone();
    let (obs_layers, guard) = obs_runtime::builder("layers", "1")
        .log_filter("info")
        .log_writer(move || writer.writer())
        .without_metrics_server()
        .init_layers()
        .expect("valid settings");
    let beside = Seen::default();
    let subscriber = Registry::default().with(obs_layers).with(beside.clone());
    tracing::subscriber::with_default(subscriber, || {
        block_on(get_thing(7)).expect("ok");
    });
    let via_own = own_logs.json_lines();
    assert_eq!(stable(&via_own), stable(&via_builder), "the same JSON lines, trace ids included");
    for line in &via_own {
        assert_eq!(line["trace_id"].as_str().map(str::len), Some(32), "{line}");
    }
    assert_eq!(via_own[0]["trace_id"], via_own[1]["trace_id"], "one trace for the call");
    assert_eq!(beside.all(), seen, "the service's layer beside obs's sees the call too, its outcome recorded");
    drop(guard);

    // 3. A second claim on the process is refused, as a second init() is.
    let again = obs_runtime::builder("layers", "1").without_metrics_server().init_layers::<Registry>();
    assert!(matches!(again, Err(obs_runtime::SetupError::AlreadyInitialized)), "{:?}", again.err());
}

#[test]
fn layers_given_to_init_layers_are_an_error_not_a_silent_loss() {
    let result = obs_runtime::builder("layers", "1")
        .without_metrics_server()
        .with_layer(Seen::default())
        .init_layers::<Registry>();
    assert!(
        matches!(result, Err(obs_runtime::SetupError::LayersWithoutSubscriber { layers: 1 })),
        "{:?}",
        result.err()
    );
}
