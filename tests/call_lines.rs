//! An observed call's JSON line is written from the call itself; an event a service's layer emits
//! to the same target while the call's event is dispatched keeps its own message and fields. Its
//! own test binary: it installs the global dispatcher, the only one through which an event emitted
//! inside another event's dispatch is dispatched at all.

use obs_runtime::telemetry::tracing_subscriber::layer::{Context, Layer};
use obs_runtime::{OPERATION_LOG_TARGET, REQUEST_LOG_TARGET, observed};
use obs_tests::logs::CapturedLogs;
use tracing::{Event, Subscriber};

#[observed(operation = "db.load")]
fn load(id: u64) -> Result<u64, std::io::Error> {
    Ok(id + 1)
}

/// A service's layer that, seeing an operation's event, logs one of its own to `obs::request`.
struct Reemit;

impl<S: Subscriber> Layer<S> for Reemit {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == OPERATION_LOG_TARGET {
            tracing::warn!(target: REQUEST_LOG_TARGET, user = "mine", "a user event on obs's target");
        }
    }
}

#[test]
fn an_event_emitted_during_the_calls_own_is_printed_from_its_own_fields() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let telemetry = obs_runtime::builder("call-lines", "1")
        .log_filter("info,obs::operation=debug")
        .log_writer(move || writer.writer())
        .without_metrics_server()
        .with_layer(Reemit)
        .build_local()
        .expect("valid settings");
    tracing::dispatcher::set_global_default(telemetry.dispatch().clone()).expect("the first global dispatcher");
    assert_eq!(load(7).expect("loaded"), 8);
    let lines = logs.json_lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let user = lines.iter().find(|line| line["target"] == REQUEST_LOG_TARGET).expect("the user's line");
    assert_eq!(user["message"], "a user event on obs's target", "{user}");
    assert_eq!(user["user"], "mine", "{user}");
    assert!(user.get("operation").is_none(), "{user}");
    let call = lines.iter().find(|line| line["target"] == OPERATION_LOG_TARGET).expect("the call's line");
    assert_eq!(call["operation"], "db.load", "{call}");
    assert_eq!(call["outcome"], "success", "{call}");
    assert!(call["message"].as_str().is_some_and(|message| message.starts_with("db.load ok in ")), "{call}");
}
