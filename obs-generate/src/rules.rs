//! `prometheus/<service>.rules.yml`: recording rules for the request rate, error ratio and
//! slow-call ratio of every endpoint over the alert windows, the endpoints' objectives as
//! constant series, and the alerting rules of [`alerts`](super::alerts): burn rates, availability,
//! and the toolkit's own telemetry drops.

use crate::alerts::{self, AlertRule};
use crate::model::{Endpoint, Model};
use crate::promql::{self, ENDPOINT_LABELS, Severity, WINDOWS, recorded};
use crate::text;
use crate::tree::{Node, NotFinite, map, object};
use obs_runtime::schema;

/// The file name of the rules, inside `prometheus/`.
pub(crate) fn file_name(model: &Model) -> String {
    format!("{}.rules.yml", model.service())
}

pub(crate) fn render(model: &Model) -> Result<String, NotFinite> {
    let mut header = model.header("Prometheus recording and alerting rules");
    header.extend([
        String::new(),
        format!("Recorded series (labels {}), one per window in {}:", ENDPOINT_LABELS.join(", "), WINDOWS.join(", ")),
        format!("  {}  calls per second", recorded::requests("<window>")),
        format!("  {}  share of failed calls ({} != \"\")", recorded::errors("<window>"), schema::ERROR_TYPE),
        format!("  {}  share of calls slower than the endpoint's latency threshold", recorded::slow("<window>")),
        format!(
            "and the constants {}, {}, {}.",
            recorded::ERROR_BUDGET,
            recorded::LATENCY_BUDGET,
            recorded::LATENCY_THRESHOLD
        ),
        "Alerts: multi-window multi-burn-rate (Google SRE workbook), factors for the objectives' period of".to_owned(),
        format!(
            "{}: page above {}, ticket above {} (long window; the short one must agree).",
            text::duration(model.options.slo_period),
            promql::factors_text(crate::alerts::period_hours(model), Severity::Page),
            promql::factors_text(crate::alerts::period_hours(model), Severity::Ticket)
        ),
        "Also: no traffic, instance down, target missing, and telemetry dropped on its way to the collector."
            .to_owned(),
    ]);
    let groups = vec![
        group(format!("{}.objectives", model.service()), objective_rules(model)),
        group(format!("{}.recording", model.service()), recording_rules(model)),
        group(
            format!("{}.slo-alerts", model.service()),
            alerts::alert_rules(model).iter().filter(|rule| rule.burn.is_some()).map(alert_node).collect(),
        ),
        group(
            format!("{}.availability", model.service()),
            alerts::availability_rules(model).iter().map(alert_node).collect(),
        ),
        group(
            format!("{}.telemetry", model.service()),
            alerts::telemetry_rules(model).iter().map(alert_node).collect(),
        ),
    ];
    map([("groups", Node::Seq(groups))]).to_yaml(&header)
}

fn group(name: String, rules: Vec<Node>) -> Node {
    map([("name", Node::Str(name)), ("rules", Node::Seq(rules))])
}

fn record(name: String, expr: String, labels: Option<Node>) -> Node {
    let mut rule = object([("record", Node::Str(name)), ("expr", Node::Str(expr))]);
    if let Some(labels) = labels {
        rule.push("labels", labels);
    }
    rule.into()
}

/// The labels of an endpoint's own series, set on its rules so no two rules share a name and
/// label set (promtool's lint), with the values the series carry anyway.
fn endpoint_labels(model: &Model, endpoint: &Endpoint) -> Node {
    map([
        ("job", model.service().into()),
        (schema::HTTP_REQUEST_METHOD, endpoint.method.as_str().into()),
        (schema::HTTP_ROUTE, endpoint.route.as_str().into()),
    ])
}

fn objective_rules(model: &Model) -> Vec<Node> {
    let mut rules = Vec::new();
    for endpoint in &model.endpoints {
        let labels = || endpoint_labels(model, endpoint);
        let objectives = &endpoint.objectives;
        let constants = [
            (recorded::ERROR_BUDGET, objectives.error_budget()),
            (recorded::LATENCY_BUDGET, objectives.latency_budget()),
            (recorded::LATENCY_THRESHOLD, objectives.latency_threshold_seconds()),
        ];
        for (name, value) in constants {
            rules.push(record(name.to_owned(), format!("vector({})", text::number(value)), Some(labels())));
        }
    }
    rules
}

fn recording_rules(model: &Model) -> Vec<Node> {
    let job = model.job();
    let mut rules = Vec::new();
    for window in WINDOWS {
        rules.push(record(recorded::requests(window), promql::request_rate(&job, window, &ENDPOINT_LABELS), None));
        rules.push(record(recorded::errors(window), promql::error_ratio(&job, window, &ENDPOINT_LABELS), None));
    }
    for endpoint in &model.endpoints {
        let selector = endpoint.selector(model.service());
        for window in WINDOWS {
            rules.push(record(
                recorded::slow(window),
                promql::slow_ratio(&selector, &endpoint.threshold_le(), window, &ENDPOINT_LABELS),
                Some(endpoint_labels(model, endpoint)),
            ));
        }
    }
    rules
}

fn alert_node(rule: &AlertRule) -> Node {
    map([
        ("alert", rule.name.into()),
        ("expr", rule.expr.as_str().into()),
        ("for", text::duration(rule.hold).into()),
        // Prometheus expands templates in alert labels too.
        ("labels", map(rule.labels.iter().map(|(name, value)| (*name, Node::Str(text::go_template_literal(value)))))),
        (
            "annotations",
            map([
                ("summary", rule.summary.to_go_template().into()),
                ("description", rule.description.to_go_template().into()),
                ("runbook_url", text::go_template_literal(&rule.runbook_url).into()),
                ("dashboard_url", text::go_template_literal(&rule.dashboard_url).into()),
            ]),
        ),
    ])
}
