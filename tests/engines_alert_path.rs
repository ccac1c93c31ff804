//! The whole alert path once, for real: the demo fails, Prometheus (Debian's 2.42) evaluates the
//! generated burn-rate rules, the generated Alertmanager (0.25) configuration routes the alerts,
//! and stand-ins for PagerDuty's Events API v2, Slack's webhook and an SMTP server receive the
//! notifications — then the errors stop, successes dilute the error ratio, and every receiver is
//! told the alert resolved.
//!
//! The files are generated for this test with `obs_generate` and options that shorten
//! the `for:` durations and point the receivers at the stand-ins. The catalog is a replica of the
//! demo's three annotations, and the test first checks that with the demo's options it generates
//! exactly what `demo generate` writes, so the rules exercised here are the demo's.
//!
//! Alertmanager's `group_wait` and `group_interval` (30s and 5m in the generated file) have no
//! generator option yet, so the test rewrites those two lines of its copy to 1s and 2s.
//!
//! Nothing asserts on elapsed time: each wait has a generous deadline, and the timeline is printed.

#![allow(clippy::too_many_lines)] // one end-to-end scenario reads best as one function

use obs_generate::{Artifact, Options, artifacts, write_artifacts};
use obs_runtime::observed;
use obs_tests::alertmanager::{Alertmanager, check_config};
use obs_tests::demo::{Demo, generate};
use obs_tests::prometheus::Prometheus;
use obs_tests::receivers::{HttpRecorder, PAGERDUTY_ACCEPTED, Recorded, SLACK_OK};
use obs_tests::scratch::{ScratchDir, Timeline, poll_until};
use obs_tests::smtp_sink::{Mail, SmtpSink};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const SERVICE: &str = "demo";
const ROUTE: &str = "/users/{id}";
const ALERT: &str = "EndpointErrorBudgetBurn";
const WAIT: Duration = Duration::from_mins(3);
const POLL: Duration = Duration::from_millis(200);
/// What `examples/demo/main.rs` sets as its regenerate command.
const DEMO_REGENERATE: &str = "cargo run --example demo -- generate examples/demo/deploy";

// The demo's three annotations, verbatim: the catalog the generator reads. The bodies never matter.

/// Returns one user.
#[observed(endpoint = "/users/{id}", method = "GET", slo(success = "99.9%", latency = "250ms @ 99%"))]
fn get_user() -> Result<(), std::io::Error> {
    Ok(())
}

/// Places an order.
#[observed(endpoint = "/orders", method = "POST", slo(success = "99.5%"))]
fn create_order() -> Result<(), std::io::Error> {
    Ok(())
}

/// Liveness probe.
#[observed(endpoint = "/health")]
fn health() {}

fn file<'a>(files: &'a [Artifact], path: &str) -> &'a str {
    &files.iter().find(|file| file.path == path).unwrap_or_else(|| panic!("no {path} generated")).contents
}

/// The replica catalog generates, with the demo's options, byte for byte what the demo writes.
fn assert_replica_matches_the_demo() {
    let demo_dir = ScratchDir::new("alert-path-demo-generated");
    generate(demo_dir.path(), &[]);
    let mut options = Options::new(SERVICE);
    options.regenerate_command = Some(DEMO_REGENERATE.to_owned());
    let replica = artifacts(obs_runtime::catalog(), &options).expect("generate from the replica");
    for path in [
        format!("prometheus/{SERVICE}.rules.yml"),
        "alertmanager/alertmanager.yml".to_owned(),
        format!("alertmanager/templates/{SERVICE}.tmpl"),
    ] {
        let written = std::fs::read_to_string(demo_dir.join(&path)).unwrap_or_else(|error| panic!("{path}: {error}"));
        assert!(
            written == file(&replica, &path),
            "{path}: the test's replica of the demo's annotations no longer generates what `demo generate` writes; \
             update the replica in tests/engines_alert_path.rs"
        );
    }
}

/// Replaces the one line `from` (whole line, trimmed) by `to`, keeping its indentation.
fn rewrite_line(text: &str, from: &str, to: &str) -> String {
    let matches = text.lines().filter(|line| line.trim() == from).count();
    assert_eq!(matches, 1, "expected exactly one `{from}` line in:\n{text}");
    text.lines()
        .map(|line| if line.trim() == from { line.replace(from, to) } else { line.to_owned() })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Which receivers Alertmanager's own routing picks for `labels` (`amtool config routes test`).
fn routed_receivers(config: &std::path::Path, labels: &[&str]) -> Vec<String> {
    let output = Command::new("amtool")
        .args(["config", "routes", "test", "--config.file"])
        .arg(config)
        .args(labels)
        .output()
        .expect("run amtool config routes test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "amtool routes test {labels:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.trim().split(',').map(|receiver| receiver.trim().to_owned()).collect()
}

/// The receiver names of `config` with the kinds of integration each has (`pagerduty`, `slack`,
/// `email`): the generated file is regular (two-space indentation, one key per line), so the
/// `receivers:` section is read line by line.
fn receiver_kinds(config: &str) -> Vec<(String, Vec<String>)> {
    let mut receivers: Vec<(String, Vec<String>)> = Vec::new();
    let mut inside = false;
    for line in config.lines() {
        if !line.starts_with(' ') && !line.starts_with('-') {
            inside = line == "receivers:";
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(name) = line.strip_prefix("- name: ") {
            receivers.push((name.trim().trim_matches('\'').to_owned(), Vec::new()));
        } else if let Some(kind) = line.strip_prefix("  ").and_then(|key| key.strip_suffix("_configs:")) {
            receivers.last_mut().expect("a receiver before its configs").1.push(kind.to_owned());
        }
    }
    receivers
}

fn kinds_of(receivers: &[(String, Vec<String>)], routed: &[String]) -> Vec<String> {
    let mut kinds: Vec<String> = routed
        .iter()
        .flat_map(|name| {
            receivers
                .iter()
                .find(|(receiver, _)| receiver == name)
                .unwrap_or_else(|| panic!("no receiver {name}"))
                .1
                .clone()
        })
        .collect();
    kinds.sort();
    kinds
}

fn alert_labels(alert: &Value) -> (&str, &str, &str) {
    let labels = &alert["labels"];
    (
        labels["alertname"].as_str().unwrap_or_default(),
        labels["severity"].as_str().unwrap_or_default(),
        labels["http_route"].as_str().unwrap_or_default(),
    )
}

/// The `/users/{id}` error-budget alerts Prometheus holds in `state` with `severity`.
fn prometheus_alerts(prometheus: &Prometheus, severity: &str, state: &str) -> Vec<Value> {
    prometheus
        .alerts()
        .into_iter()
        .filter(|alert| alert_labels(alert) == (ALERT, severity, ROUTE) && alert["state"] == state)
        .collect()
}

fn pagerduty_events(pagerduty: &HttpRecorder, action: &str) -> Vec<Value> {
    pagerduty.requests().iter().map(Recorded::json).filter(|event| event["event_action"] == action).collect()
}

/// The Slack messages whose title starts with `[FIRING` or `[RESOLVED`.
fn slack_messages(slack: &HttpRecorder, status: &str) -> Vec<Value> {
    slack
        .requests()
        .iter()
        .map(Recorded::json)
        .filter(|message| {
            message["attachments"][0]["title"].as_str().is_some_and(|title| title.starts_with(&format!("[{status}")))
        })
        .collect()
}

fn mails_with_subject(smtp: &SmtpSink, prefix: &str) -> Vec<Mail> {
    smtp.mails()
        .into_iter()
        .filter(|mail| mail.header("Subject").is_some_and(|subject| subject.starts_with(prefix)))
        .collect()
}

/// Sends successful calls until `errors / (errors + successes)` reaches `target`.
fn dilute(demo: &Demo, errors: u64, successes: &mut u64, target: f64) {
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let needed = ((errors as f64 / target).ceil() as u64).saturating_sub(errors);
    if needed > *successes {
        demo.successes(needed - *successes, 4);
        *successes = needed;
    }
}

#[test]
fn a_burning_error_budget_pages_tickets_and_resolves_through_real_prometheus_and_alertmanager() {
    let _ = (get_user(), create_order());
    health();
    let mut timeline = Timeline::new("engines_alert_path");
    assert_replica_matches_the_demo();

    let demo = Demo::start();
    let pagerduty = HttpRecorder::start(PAGERDUTY_ACCEPTED);
    let slack = HttpRecorder::start(SLACK_OK);
    let smtp = SmtpSink::start();
    let secrets = ScratchDir::new("alert-path-secrets");
    let routing_key = "R0UT1NGKEY0123456789ABCDEF012345";
    let routing_key_file = secrets.write("pagerduty-routing-key", &format!("{routing_key}\n"));
    let slack_url_file = secrets.write("slack-webhook-url", &format!("{}\n", slack.url("/services/T0/B0/test")));
    timeline.mark("demo and stand-ins (PagerDuty, Slack, SMTP) up");

    // Alertmanager's listener must be known before prometheus.yml is generated: start it on the
    // generated config first (its routing does not depend on Prometheus).
    let mut options = Options::new(SERVICE);
    options.scrape_target = demo.metrics.to_string();
    options.scrape_interval = Duration::from_secs(1);
    options.evaluation_interval = Duration::from_secs(1);
    options.page_for = Duration::from_secs(1);
    options.ticket_for = Duration::from_secs(10);
    let receivers = &mut options.receivers;
    receivers.pagerduty_url = pagerduty.url("/v2/enqueue");
    receivers.pagerduty_routing_key_file = routing_key_file.display().to_string();
    receivers.slack_api_url_file = slack_url_file.display().to_string();
    receivers.smtp_smarthost = smtp.addr().to_string();
    receivers.smtp_auth_username = None;
    receivers.smtp_require_tls = false;
    let email_to = receivers.email_to.clone();
    let slack_channel = receivers.slack_channel.clone();

    let generated = ScratchDir::new("alert-path-generated");
    let files = artifacts(obs_runtime::catalog(), &options).expect("generate");
    write_artifacts(generated.path(), &files).expect("write the generated files");
    let am_path = generated.join("alertmanager/alertmanager.yml");
    let am_text = rewrite_line(
        &rewrite_line(file(&files, "alertmanager/alertmanager.yml"), "group_wait: 30s", "group_wait: 1s"),
        "group_interval: 5m",
        "group_interval: 2s",
    );
    std::fs::write(&am_path, &am_text).expect("write alertmanager.yml");
    check_config(&am_path).unwrap_or_else(|output| panic!("amtool check-config rejects the config:\n{output}"));

    // Routing per the generated routes, as Alertmanager itself resolves it.
    let receivers = receiver_kinds(&am_text);
    let page_kinds = kinds_of(&receivers, &routed_receivers(&am_path, &["service=demo", "severity=page"]));
    let ticket_kinds = kinds_of(&receivers, &routed_receivers(&am_path, &["service=demo", "severity=ticket"]));
    assert_eq!(page_kinds, ["email", "pagerduty"], "pages go to PagerDuty and email");
    assert_eq!(ticket_kinds, ["slack"], "tickets go to Slack");

    let alertmanager = Alertmanager::start(&am_path);
    timeline.mark(&format!("Alertmanager ready on {}", alertmanager.addr()));
    options.alertmanager_target = alertmanager.addr().to_string();
    let prometheus_yml = artifacts(obs_runtime::catalog(), &options).expect("generate prometheus.yml");
    let prometheus_path = generated.join("prometheus/prometheus.yml");
    std::fs::write(&prometheus_path, file(&prometheus_yml, "prometheus/prometheus.yml")).expect("write prometheus.yml");
    let prometheus = Prometheus::start(&prometheus_path, &[]);
    timeline.mark("Prometheus ready (generated prometheus.yml and rules)");
    prometheus.wait_for_target_up(SERVICE, WAIT);
    timeline.mark("demo target up");

    // Requests no #[observed] handler answers reach Prometheus too, through the request layer:
    // an unmatched path under its one bounded route value, an extractor's rejection under its route.
    demo.expect("GET", "/no-such-route", "", 404);
    demo.expect("GET", "/users/not-a-number", "", 400);
    poll_until(
        "the layer's unmatched and rejected series in Prometheus",
        WAIT,
        POLL,
        || {
            let seen = |selector: &str| {
                prometheus
                    .query(&format!("http_server_request_duration_seconds_count{{{selector}}}"))
                    .is_ok_and(|result| result.has_data())
            };
            (seen(r#"http_route="(unmatched)",http_response_status_code="404""#)
                && seen(r#"http_route="/users/{id}",http_response_status_code="400""#))
            .then_some(())
        },
        || prometheus.log_tail(),
    );
    timeline.mark("unmatched (404) and rejected (400) requests scraped");

    // 1. Errors: one call cut off by the demo's timeout layer (GET /users/998, answered 408 by
    //    the middleware, recorded as error_type="cancelled") per four successes, until the page
    //    fires: failures produced by middleware burn the budget.
    let mut errors = 0_u64;
    let mut successes = 0_u64;
    let page_firing = poll_until(
        "the page-severity burn alert to fire in Prometheus",
        WAIT,
        POLL,
        || {
            demo.expect("GET", "/users/998", "", 408);
            errors += 1;
            demo.successes(4, 1);
            successes += 4;
            let firing = prometheus_alerts(&prometheus, "page", "firing");
            (!firing.is_empty()).then_some(firing)
        },
        || format!("alerts: {:#?}\n{}", prometheus.alerts(), prometheus.log_tail()),
    );
    timeline.mark(&format!(
        "page firing in Prometheus ({} alert(s)); errors stop after {errors} errors and {successes} successes",
        page_firing.len()
    ));

    let trigger = poll_until(
        "PagerDuty to receive a trigger event",
        WAIT,
        POLL,
        || pagerduty_events(&pagerduty, "trigger").into_iter().next(),
        || format!("{}\nPagerDuty stand-in got: {:#?}", alertmanager.log_tail(), pagerduty.requests()),
    );
    timeline.mark("PagerDuty stand-in received the trigger event");
    let page_mail = poll_until(
        "the page's email",
        WAIT,
        POLL,
        || mails_with_subject(&smtp, "[FIRING").into_iter().next(),
        || format!("{}\nSMTP transcript: {:?}", alertmanager.log_tail(), smtp.transcript()),
    );
    timeline.mark("SMTP sink received the page's email");

    // What PagerDuty received: a v2 trigger naming the alert and the endpoint.
    assert_eq!(trigger["routing_key"], routing_key, "{trigger:#}");
    let summary = trigger["payload"]["summary"].as_str().unwrap_or_default();
    assert!(summary.starts_with("[FIRING:"), "{trigger:#}");
    assert!(summary.contains(&format!("{ALERT} {SERVICE} GET {ROUTE}")), "{trigger:#}");
    assert_eq!(trigger["payload"]["severity"], "critical", "{trigger:#}");
    assert_eq!(trigger["payload"]["custom_details"]["endpoint"], format!("GET {ROUTE}"), "{trigger:#}");
    let details = trigger["payload"]["custom_details"]["alerts"].as_str().unwrap_or_default();
    assert!(details.contains(&format!("[firing page] {ALERT} {SERVICE} GET {ROUTE}")), "{trigger:#}");
    let dedup_key = trigger["dedup_key"].as_str().expect("dedup_key").to_owned();

    // The email of the page: to the configured address, subject and body naming alert and endpoint.
    assert_eq!(page_mail.to, [email_to], "{page_mail:?}");
    let subject = page_mail.header("Subject").unwrap_or_default();
    assert!(subject.contains(&format!("{ALERT} {SERVICE} GET {ROUTE}")), "{subject}");
    assert!(page_mail.decoded().contains(&format!("[firing page] {ALERT} {SERVICE} GET {ROUTE}")), "{page_mail:?}");

    // 2. The ticket fires too, but the page inhibits it: Alertmanager holds it suppressed and
    //    Slack hears nothing while the page lasts.
    let ticket = poll_until(
        "the ticket alert to reach Alertmanager and be processed",
        WAIT,
        POLL,
        || {
            alertmanager.alerts().into_iter().find(|alert| {
                alert_labels(alert) == (ALERT, "ticket", ROUTE) && alert["status"]["state"] != "unprocessed"
            })
        },
        || format!("{:#?}\n{}", alertmanager.alerts(), alertmanager.log_tail()),
    );
    assert_eq!(ticket["status"]["state"], "suppressed", "the page should inhibit the ticket: {ticket:#}");
    assert!(ticket["status"]["inhibitedBy"].as_array().is_some_and(|by| !by.is_empty()), "{ticket:#}");
    assert!(slack.requests().is_empty(), "Slack notified while the page inhibits the ticket: {:#?}", slack.requests());
    timeline.mark("ticket firing, held back by the page (suppressed in Alertmanager, Slack silent)");

    // 3. Successes bring the error ratio under the page thresholds (14.4x and 6x the 0.1% budget)
    //    but above the ticket's (1x): the page resolves, the ticket goes out to Slack.
    dilute(&demo, errors, &mut successes, 0.0025);
    timeline.mark(&format!("{successes} successes in all: error ratio ~0.25%"));
    poll_until(
        "the page alerts to resolve in Prometheus",
        WAIT,
        POLL,
        || prometheus_alerts(&prometheus, "page", "firing").is_empty().then_some(()),
        || format!("alerts: {:#?}\n{}", prometheus.alerts(), prometheus.log_tail()),
    );
    timeline.mark("page resolved in Prometheus");
    let resolve = poll_until(
        "PagerDuty to receive the resolve event",
        WAIT,
        POLL,
        || pagerduty_events(&pagerduty, "resolve").into_iter().next(),
        || format!("{}\nPagerDuty stand-in got: {:#?}", alertmanager.log_tail(), pagerduty.requests()),
    );
    timeline.mark("PagerDuty stand-in received the resolve event");
    assert_eq!(resolve["dedup_key"], dedup_key.as_str(), "resolve must close the triggered incident: {resolve:#}");
    assert_eq!(resolve["routing_key"], routing_key, "{resolve:#}");
    let resolved_mail = poll_until(
        "the page's resolved email",
        WAIT,
        POLL,
        || mails_with_subject(&smtp, "[RESOLVED]").into_iter().next(),
        || format!("{}\nSMTP transcript: {:?}", alertmanager.log_tail(), smtp.transcript()),
    );
    timeline.mark("SMTP sink received the page's resolved email");
    assert!(resolved_mail.header("Subject").unwrap_or_default().contains(&format!("{ALERT} {SERVICE} GET {ROUTE}")));
    assert!(resolved_mail.decoded().contains(&format!("[resolved page] {ALERT} {SERVICE} GET {ROUTE}")));

    let ticket_message = poll_until(
        "Slack to receive the ticket",
        WAIT,
        POLL,
        || slack_messages(&slack, "FIRING").into_iter().next(),
        || format!("{}\nSlack stand-in got: {:#?}", alertmanager.log_tail(), slack.requests()),
    );
    timeline.mark("Slack stand-in received the ticket");
    assert_eq!(ticket_message["channel"], slack_channel.as_str(), "{ticket_message:#}");
    let attachment = &ticket_message["attachments"][0];
    let title = attachment["title"].as_str().unwrap_or_default();
    assert!(title.contains(&format!("{ALERT} {SERVICE} GET {ROUTE}")), "{ticket_message:#}");
    let text = attachment["text"].as_str().unwrap_or_default();
    assert!(text.contains(&format!("[firing ticket] {ALERT} {SERVICE} GET {ROUTE} (3d and 6h windows)")), "{text}");
    assert!(
        slack.requests().iter().all(|request| request.path == "/services/T0/B0/test" && request.method == "POST"),
        "Slack was called at the URL read from api_url_file"
    );

    // 4. Far more successes: under the ticket's threshold too, and Slack hears it resolved.
    dilute(&demo, errors, &mut successes, 0.0004);
    timeline.mark(&format!("{successes} successes in all: error ratio ~0.04%"));
    poll_until(
        "the ticket alert to resolve in Prometheus",
        WAIT,
        POLL,
        || prometheus_alerts(&prometheus, "ticket", "firing").is_empty().then_some(()),
        || format!("alerts: {:#?}\n{}", prometheus.alerts(), prometheus.log_tail()),
    );
    timeline.mark("ticket resolved in Prometheus");
    let resolved_message = poll_until(
        "Slack to receive the ticket's resolution",
        WAIT,
        POLL,
        || slack_messages(&slack, "RESOLVED").into_iter().next(),
        || format!("{}\nSlack stand-in got: {:#?}", alertmanager.log_tail(), slack.requests()),
    );
    timeline.mark("Slack stand-in received the resolution");
    let resolved_text = resolved_message["attachments"][0]["text"].as_str().unwrap_or_default();
    assert!(resolved_text.contains(&format!("[resolved ticket] {ALERT} {SERVICE} GET {ROUTE}")), "{resolved_text}");

    // Nothing went where the routes do not send it.
    assert!(
        pagerduty.requests().iter().all(|request| {
            let alerts = request.json()["payload"]["custom_details"]["alerts"].as_str().unwrap_or_default().to_owned();
            request.path == "/v2/enqueue" && alerts.contains(" page] ") && !alerts.contains(" ticket] ")
        }),
        "PagerDuty got something other than the page: {:#?}",
        pagerduty.requests()
    );
    assert!(
        smtp.mails().iter().all(|mail| !mail.decoded().contains("ticket]")),
        "a ticket was emailed, but tickets route to Slack only"
    );
    eprintln!("[engines_alert_path] timeline:\n{}", timeline.render());
}
