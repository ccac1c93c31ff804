//! `prometheus/<service>.rules.test.yml`: `promtool test rules` unit tests of the rule file.
//!
//! Each endpoint gets synthetic series with constant rates, and the tests assert exactly which
//! alerts fire (labels and annotations included) for: healthy traffic (none), every call failing
//! (pages and ticket, and nothing before `for` has passed), a slow error burn between the ticket
//! and the page rates (ticket only), every call slow (latency pages and ticket), traffic that
//! stops after hours of steady calls (no-traffic ticket) and a service that never had traffic
//! (none). The service gets an instance-down and a target-missing case, and two telemetry-drop
//! cases: steady drops of one signal (a ticket for that signal and reason only) and one burst of
//! drops (none).

use crate::alerts::{self, AlertRule, Slo};
use crate::model::{Endpoint, Model};
use crate::promql::{BUCKET, COUNT, Selector, TELEMETRY_DROPPED};
use crate::text::{self, minutes_ceil};
use crate::tree::{Node, NotFinite, map, strings};
use obs_runtime::schema;

/// Minutes of steady traffic before the no-traffic case stops it: more than the 6h the alert
/// looks back at.
const STEADY_MINUTES: u64 = 420;

/// The file name of the tests, inside `prometheus/`.
pub(crate) fn file_name(model: &Model) -> String {
    format!("{}.rules.test.yml", model.service())
}

pub(crate) fn render(model: &Model) -> Result<String, NotFinite> {
    let mut header = model.header("promtool unit tests of the rules");
    header.push("Run: promtool test rules <this file>".to_owned());
    let rules = alerts::alert_rules(model);
    let cases = Cases { model, rules: &rules };
    let mut tests = Vec::new();
    for (index, endpoint) in model.endpoints.iter().enumerate() {
        tests.push(cases.healthy(endpoint));
        tests.push(cases.burn(index, endpoint, Slo::Errors, 1.0, "every call fails: pages and ticket"));
        tests.push(cases.slow_error_burn(index, endpoint));
        tests.push(cases.burn(index, endpoint, Slo::Latency, 1.0, "every call is slow: pages and ticket"));
        if let Some(min_per_minute) = model.options.no_traffic_min_requests_per_minute {
            tests.push(cases.no_traffic(index, endpoint, min_per_minute));
            tests.push(cases.never_called(endpoint));
        }
    }
    tests.push(cases.instance_down());
    tests.push(cases.target_missing());
    tests.push(cases.telemetry_dropped_steadily());
    // A burst stays in the rate's window for its length: only a longer `for` outlasts it.
    if model.options.ticket_for > alerts::TELEMETRY_DROP_WINDOW {
        tests.push(cases.telemetry_dropped_once());
    }
    map([
        ("rule_files", strings([crate::rules::file_name(model)])),
        ("evaluation_interval", "1m".into()),
        ("tests", Node::Seq(tests)),
    ])
    .to_yaml(&header)
}

/// Constant traffic of one endpoint over consecutive phases.
#[derive(Clone, Copy)]
struct Traffic {
    error_ratio: f64,
    slow_ratio: f64,
}

struct Cases<'a> {
    model: &'a Model<'a>,
    rules: &'a [AlertRule],
}

/// The values of a counter that grows by `per_minute` for `minutes`, phase after phase, in
/// promtool's expanding notation (`a+bxn` is n+1 samples).
fn counter(phases: &[(u64, f64)]) -> String {
    let mut parts = Vec::new();
    let mut value = 0.0;
    for (index, (minutes, per_minute)) in phases.iter().enumerate() {
        if index == 0 {
            parts.push(format!("0+{}x{minutes}", text::number(*per_minute)));
        } else {
            parts.push(format!(
                "{}+{}x{}",
                text::number(value + per_minute),
                text::number(*per_minute),
                minutes.saturating_sub(1)
            ));
        }
        #[allow(clippy::cast_precision_loss)] // test lengths are a few hundred minutes
        let grown = *minutes as f64 * per_minute;
        value += grown;
    }
    parts.join(" ")
}

fn series(name: String, values: String) -> Node {
    map([("series", Node::Str(name)), ("values", Node::Str(values))])
}

fn minutes(value: u64) -> Node {
    Node::Str(format!("{value}m"))
}

fn expect(eval_minute: u64, alertname: &str, alerts: Vec<Node>) -> Node {
    map([("eval_time", minutes(eval_minute)), ("alertname", alertname.into()), ("exp_alerts", Node::Seq(alerts))])
}

fn test_case(name: String, input: Vec<Node>, checks: Vec<Node>) -> Node {
    map([
        ("name", Node::Str(name)),
        ("interval", "1m".into()),
        ("input_series", Node::Seq(input)),
        ("alert_rule_test", Node::Seq(checks)),
    ])
}

impl Cases<'_> {
    fn service(&self) -> &str {
        self.model.service()
    }

    fn instance(&self) -> &str {
        &self.model.options.scrape_target
    }

    /// Minutes after which every alert whose condition holds from the first minute fires.
    fn settled(&self) -> u64 {
        minutes_ceil(self.model.options.page_for.max(self.model.options.ticket_for)) + 5
    }

    fn up(&self, values: String) -> Node {
        series(Selector::job(self.service()).eq("instance", self.instance()).on("up"), values)
    }

    /// The count and bucket series of `endpoint` carrying `traffic` over `phases` of
    /// (minutes, calls per minute).
    fn endpoint_series(&self, endpoint: &Endpoint, traffic: Traffic, phases: &[(u64, f64)]) -> Vec<Node> {
        let base = endpoint.selector(self.service()).eq("instance", self.instance());
        let ok = base.clone().eq(schema::HTTP_RESPONSE_STATUS_CODE, "200");
        // A failure without a status code, as a plain `Result` records it: only error_type says it failed.
        let failed = base.eq(schema::ERROR_TYPE, "Error");
        let scaled = |share: f64| -> Vec<(u64, f64)> {
            phases.iter().map(|(minutes, per_minute)| (*minutes, per_minute * share)).collect()
        };
        let within = 1.0 - traffic.slow_ratio;
        let threshold = endpoint.threshold_le();
        let mut out = Vec::new();
        for (selector, share) in [(ok, 1.0 - traffic.error_ratio), (failed, traffic.error_ratio)] {
            out.push(series(selector.on(COUNT), counter(&scaled(share))));
            out.push(series(selector.clone().eq(schema::LE, &threshold).on(BUCKET), counter(&scaled(share * within))));
            out.push(series(selector.eq(schema::LE, "+Inf").on(BUCKET), counter(&scaled(share))));
        }
        out
    }

    fn endpoint_labels(&self, endpoint: &Endpoint) -> Vec<(&'static str, String)> {
        vec![
            ("job", self.service().to_owned()),
            (schema::HTTP_REQUEST_METHOD, endpoint.method.clone()),
            (schema::HTTP_ROUTE, endpoint.route.clone()),
        ]
    }

    fn expected_alert(&self, rule: &AlertRule, series_labels: &[(&'static str, String)], value: f64) -> Node {
        let labels = rule.alert_labels(series_labels);
        let instance = self.instance();
        map([
            ("exp_labels", map(labels.into_iter().map(|(name, value)| (name, Node::Str(value))))),
            (
                "exp_annotations",
                map([
                    ("summary", rule.summary.expand(value, instance).into()),
                    ("description", rule.description.expand(value, instance).into()),
                    ("runbook_url", rule.runbook_url.as_str().into()),
                    ("dashboard_url", rule.dashboard_url.as_str().into()),
                ]),
            ),
        ])
    }

    /// The burn alerts of `endpoint` that fire when the `slo` ratio is `ratio` on every window.
    fn expected_burns(&self, index: usize, endpoint: &Endpoint, slo: Slo, ratio: f64) -> Vec<Node> {
        let period = alerts::period_hours(self.model);
        self.rules
            .iter()
            .filter(|rule| {
                rule.burn.is_some_and(|(at, watched, window)| {
                    let budget = match watched {
                        Slo::Errors => endpoint.objectives.error_budget(),
                        Slo::Latency => endpoint.objectives.latency_budget(),
                    };
                    at == index && watched == slo && ratio > window.factor(period) * budget
                })
            })
            .map(|rule| self.expected_alert(rule, &self.endpoint_labels(endpoint), ratio))
            .collect()
    }

    fn healthy(&self, endpoint: &Endpoint) -> Node {
        let settled = self.settled();
        let mut input = vec![self.up(format!("1+0x{}", settled + 5))];
        input.extend(self.endpoint_series(
            endpoint,
            Traffic { error_ratio: 0.0, slow_ratio: 0.0 },
            &[(settled + 5, 60.0)],
        ));
        let checks = alerts::ALERT_NAMES.iter().map(|name| expect(settled, name, vec![])).collect();
        test_case(format!("{}: healthy traffic: no alert", endpoint.title()), input, checks)
    }

    /// Every window sees the `slo` ratio at `ratio`.
    fn burn(&self, index: usize, endpoint: &Endpoint, slo: Slo, ratio: f64, what: &str) -> Node {
        let settled = self.settled();
        let traffic = match slo {
            Slo::Errors => Traffic { error_ratio: ratio, slow_ratio: 0.0 },
            Slo::Latency => Traffic { error_ratio: 0.0, slow_ratio: ratio },
        };
        let (watched, other) = match slo {
            Slo::Errors => (alerts::ERROR_BURN, alerts::LATENCY_BURN),
            Slo::Latency => (alerts::LATENCY_BURN, alerts::ERROR_BURN),
        };
        let mut input = vec![self.up(format!("1+0x{}", settled + 5))];
        input.extend(self.endpoint_series(endpoint, traffic, &[(settled + 5, 100.0)]));
        let mut checks = Vec::new();
        let options = &self.model.options;
        if !options.page_for.is_zero() && !options.ticket_for.is_zero() {
            // The ratios exist from the first minute: the alerts are pending, not firing, yet.
            checks.push(expect(1, watched, vec![]));
        }
        checks.push(expect(settled, watched, self.expected_burns(index, endpoint, slo, ratio)));
        checks.push(expect(settled, other, vec![]));
        test_case(format!("{}: {what}", endpoint.title()), input, checks)
    }

    /// An error ratio halfway between the ticket's burn rate and the slower page's.
    fn slow_error_burn(&self, index: usize, endpoint: &Endpoint) -> Node {
        let period = alerts::period_hours(self.model);
        let factors: Vec<f64> = crate::promql::BURN_WINDOWS.iter().map(|window| window.factor(period)).collect();
        let slowest_page = factors[..2].iter().copied().fold(f64::INFINITY, f64::min);
        let midway = f64::midpoint(factors[2], slowest_page);
        let ratio = (midway * endpoint.objectives.error_budget()).min(1.0);
        // Round to 4 significant digits so the expected `humanizePercentage` text is unambiguous.
        let ratio: f64 = format!("{ratio:.3e}").parse().unwrap_or(ratio);
        self.burn(index, endpoint, Slo::Errors, ratio, "errors burn the budget slowly: ticket only")
    }

    fn no_traffic(&self, index: usize, endpoint: &Endpoint, min_per_minute: f64) -> Node {
        let hold = minutes_ceil(self.model.options.ticket_for);
        let quiet_from = STEADY_MINUTES + 30;
        let fired_at = quiet_from + hold + 2;
        let length = fired_at + 5;
        let steady = (min_per_minute * 10.0).max(60.0);
        let mut input = vec![self.up(format!("1+0x{length}"))];
        input.extend(self.endpoint_series(
            endpoint,
            Traffic { error_ratio: 0.0, slow_ratio: 0.0 },
            &[(STEADY_MINUTES, steady), (length - STEADY_MINUTES, 0.0)],
        ));
        let rule = self.rules.iter().find(|rule| rule.name == alerts::NO_TRAFFIC && rule.endpoint == Some(index));
        let expected = rule.map(|rule| self.expected_alert(rule, &self.endpoint_labels(endpoint), 0.0));
        let checks = vec![
            expect(STEADY_MINUTES + 10, alerts::NO_TRAFFIC, vec![]),
            expect(fired_at, alerts::NO_TRAFFIC, expected.into_iter().collect()),
        ];
        test_case(format!("{}: traffic stops after hours of steady calls: ticket", endpoint.title()), input, checks)
    }

    fn never_called(&self, endpoint: &Endpoint) -> Node {
        let length = STEADY_MINUTES + 60;
        let mut input = vec![self.up(format!("1+0x{length}"))];
        input.extend(self.endpoint_series(endpoint, Traffic { error_ratio: 0.0, slow_ratio: 0.0 }, &[(length, 0.0)]));
        let checks = vec![expect(length, alerts::NO_TRAFFIC, vec![])];
        test_case(format!("{}: never called since start: no no-traffic alert", endpoint.title()), input, checks)
    }

    fn instance_down(&self) -> Node {
        let hold = minutes_ceil(self.model.options.page_for);
        let down_from = 6;
        let fired_at = down_from + hold + 2;
        let input = vec![self.up(format!("1+0x5 0+0x{}", fired_at + 5))];
        let rule = self.rules.iter().find(|rule| rule.name == alerts::INSTANCE_DOWN);
        let labels = vec![("job", self.service().to_owned()), ("instance", self.instance().to_owned())];
        let expected = rule.map(|rule| self.expected_alert(rule, &labels, 0.0));
        let checks = vec![
            expect(fired_at, alerts::INSTANCE_DOWN, expected.into_iter().collect()),
            expect(fired_at, alerts::TARGET_MISSING, vec![]),
        ];
        test_case(format!("{}: the instance stops answering scrapes: page", self.service()), input, checks)
    }

    fn dropped(&self, signal: &str, reason: &str, values: String) -> Node {
        let selector = Selector::job(self.service())
            .eq("instance", self.instance())
            .eq(schema::SIGNAL, signal)
            .eq(schema::REASON, reason);
        series(selector.on(TELEMETRY_DROPPED), values)
    }

    /// Spans dropped every minute while logs get through: a ticket for `traces` and `queue_full` only.
    fn telemetry_dropped_steadily(&self) -> Node {
        let settled = self.settled();
        let length = settled + 5;
        let [traces, logs, _] = schema::SIGNALS;
        let [queue_full, export_failed, _] = schema::DROP_REASONS;
        let input = vec![
            self.up(format!("1+0x{length}")),
            self.dropped(traces, queue_full, format!("0+30x{length}")),
            self.dropped(logs, queue_full, format!("0+0x{length}")),
            self.dropped(traces, export_failed, format!("0+0x{length}")),
        ];
        let rule = self.rules.iter().find(|rule| rule.name == alerts::TELEMETRY_DROPPED);
        let labels = vec![
            ("job", self.service().to_owned()),
            ("instance", self.instance().to_owned()),
            (schema::SIGNAL, traces.to_owned()),
            (schema::REASON, queue_full.to_owned()),
        ];
        let expected = rule.map(|rule| self.expected_alert(rule, &labels, 0.5));
        let mut checks = Vec::new();
        if !self.model.options.ticket_for.is_zero() {
            // The rate exists from the second sample: the alert is pending, not firing, yet.
            checks.push(expect(1, alerts::TELEMETRY_DROPPED, vec![]));
        }
        checks.push(expect(settled, alerts::TELEMETRY_DROPPED, expected.into_iter().collect()));
        test_case(format!("{}: spans dropped every minute: ticket", self.service()), input, checks)
    }

    /// One burst of dropped log records, then none: shorter than `for`, so no alert.
    fn telemetry_dropped_once(&self) -> Node {
        let hold = minutes_ceil(self.model.options.ticket_for);
        let burst_at = 5;
        let length = burst_at + hold + 15;
        let input = vec![
            self.up(format!("1+0x{length}")),
            self.dropped("logs", "export_failed", format!("0+0x{} 40+0x{}", burst_at - 1, length - burst_at)),
        ];
        let checks = [burst_at + 2, burst_at + hold + 2, length]
            .into_iter()
            .map(|minute| expect(minute, alerts::TELEMETRY_DROPPED, vec![]))
            .collect();
        test_case(format!("{}: one burst of dropped log records: no alert", self.service()), input, checks)
    }

    fn target_missing(&self) -> Node {
        let fired_at = minutes_ceil(self.model.options.ticket_for) + 2;
        let other = Selector::job(&format!("not-{}", self.service())).eq("instance", "elsewhere:9100");
        let input = vec![series(other.on("up"), format!("1+0x{}", fired_at + 5))];
        let rule = self.rules.iter().find(|rule| rule.name == alerts::TARGET_MISSING);
        let expected = rule.map(|rule| self.expected_alert(rule, &[("job", self.service().to_owned())], 0.0));
        let checks = vec![
            expect(fired_at, alerts::TARGET_MISSING, expected.into_iter().collect()),
            expect(fired_at, alerts::INSTANCE_DOWN, vec![]),
        ];
        test_case(format!("{}: Prometheus has no target for the job: ticket", self.service()), input, checks)
    }
}

#[cfg(test)]
mod tests {
    use super::counter;

    #[test]
    fn counters_continue_across_phases() {
        assert_eq!(counter(&[(10, 2.0)]), "0+2x10");
        // 0..=10 grow by 2 (reaching 20), then 5 more samples: the first grows by 1.5, then 4 more.
        assert_eq!(counter(&[(10, 2.0), (5, 1.5)]), "0+2x10 21.5+1.5x4");
        assert_eq!(counter(&[(3, 60.0), (4, 0.0)]), "0+60x3 180+0x3");
    }
}
