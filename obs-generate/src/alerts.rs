//! The alerts, defined once: the rule file writes them, the rule tests predict them, the runbook
//! explains them.
//!
//! | alert | severity | per endpoint | `for` |
//! |---|---|---|---|
//! | `EndpointErrorBudgetBurn` | page (1h & 5m at 14.4x, 6h & 30m at 6x), ticket (3d & 6h at 1x) | yes | `page_for` / `ticket_for` |
//! | `EndpointLatencyBudgetBurn` | same windows, on the slow-call ratio | yes | same |
//! | `EndpointNoTraffic` | ticket | yes | `ticket_for` |
//! | `InstanceDown` | page | no | `page_for` |
//! | `TargetMissing` | ticket | no | `ticket_for` |
//! | `TelemetryDropped` | ticket | no (per instance, signal and reason) | `ticket_for` |

use crate::model::{Endpoint, Model};
use crate::promql::{self, BURN_WINDOWS, BurnWindow, Selector, Severity, recorded};
use crate::text::{self, go_template_literal, url_component};
use obs_runtime::schema;
use std::time::Duration;

pub(crate) const ERROR_BURN: &str = "EndpointErrorBudgetBurn";
pub(crate) const LATENCY_BURN: &str = "EndpointLatencyBudgetBurn";
pub(crate) const NO_TRAFFIC: &str = "EndpointNoTraffic";
pub(crate) const INSTANCE_DOWN: &str = "InstanceDown";
pub(crate) const TARGET_MISSING: &str = "TargetMissing";
pub(crate) const TELEMETRY_DROPPED: &str = "TelemetryDropped";

/// Every alert name, in the order the runbook lists them.
pub(crate) const ALERT_NAMES: [&str; 6] =
    [ERROR_BURN, LATENCY_BURN, NO_TRAFFIC, INSTANCE_DOWN, TARGET_MISSING, TELEMETRY_DROPPED];

/// The window of the telemetry-drop rate: the alert fires when every such window of `ticket_for`
/// lost something, so a single burst (a collector restart) does not open a ticket.
pub(crate) const TELEMETRY_DROP_WINDOW: Duration = Duration::from_secs(5 * 60);
/// The labels of a telemetry-drop alert's series.
pub(crate) const TELEMETRY_DROP_LABELS: [&str; 4] = ["job", "instance", schema::SIGNAL, schema::REASON];

/// The quiet window of the no-traffic alert, and the window before it that must have had traffic.
pub(crate) const NO_TRAFFIC_QUIET: &str = "30m";
pub(crate) const NO_TRAFFIC_BEFORE: &str = "6h";

/// A piece of annotation text.
#[derive(Clone, Debug)]
pub(crate) enum Part {
    Literal(String),
    /// The alert's value as a percentage: `{{ $value | humanizePercentage }}`.
    ValuePercent,
    /// `{{ $labels.instance }}`.
    Instance,
}

/// Annotation text: literal pieces and the template values Prometheus fills in.
#[derive(Clone, Debug, Default)]
pub(crate) struct Template(pub Vec<Part>);

impl Template {
    fn literal(text: impl Into<String>) -> Self {
        Template(vec![Part::Literal(text.into())])
    }

    fn then(mut self, part: Part) -> Self {
        self.0.push(part);
        self
    }

    fn text(self, text: impl Into<String>) -> Self {
        self.then(Part::Literal(text.into()))
    }

    /// The Go template Prometheus expands; literal text stays literal.
    pub fn to_go_template(&self) -> String {
        self.0
            .iter()
            .map(|part| match part {
                Part::Literal(text) => go_template_literal(text),
                Part::ValuePercent => "{{ $value | humanizePercentage }}".to_owned(),
                Part::Instance => "{{ $labels.instance }}".to_owned(),
            })
            .collect()
    }

    /// What Prometheus prints for an alert whose value is `value` on instance `instance`.
    pub fn expand(&self, value: f64, instance: &str) -> String {
        self.0
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.clone(),
                Part::ValuePercent => text::humanize_percentage(value),
                Part::Instance => instance.to_owned(),
            })
            .collect()
    }

    /// The text with template values described, for the runbook.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.clone(),
                Part::ValuePercent => "<value %>".to_owned(),
                Part::Instance => "<instance>".to_owned(),
            })
            .collect()
    }
}

/// Which objective a burn-rate alert watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slo {
    Errors,
    Latency,
}

/// One alerting rule.
#[derive(Clone, Debug)]
pub(crate) struct AlertRule {
    pub name: &'static str,
    pub expr: String,
    pub hold: Duration,
    /// Labels the rule sets; per-endpoint rules repeat the endpoint's method and route, which
    /// the series carry anyway, so that no two rules share a name and label set.
    pub labels: Vec<(&'static str, String)>,
    pub summary: Template,
    pub description: Template,
    pub runbook_url: String,
    pub dashboard_url: String,
    /// The endpoint index and burn window, for per-endpoint burn alerts.
    pub burn: Option<(usize, Slo, BurnWindow)>,
    /// The endpoint index, for every per-endpoint alert.
    pub endpoint: Option<usize>,
}

impl AlertRule {
    pub fn severity(&self) -> &str {
        self.labels.iter().find(|(name, _)| *name == "severity").map_or("", |(_, value)| value.as_str())
    }

    /// Every label of a firing alert: the series' labels from `expr`, then the rule's.
    pub fn alert_labels(&self, series: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
        let mut labels: Vec<(&'static str, String)> = series.to_vec();
        for (name, value) in &self.labels {
            labels.retain(|(existing, _)| existing != name);
            labels.push((name, value.clone()));
        }
        labels.sort_by(|a, b| a.0.cmp(b.0));
        labels
    }
}

/// The URL of the runbook section of `alert`.
pub(crate) fn runbook_url(model: &Model, alert: &str) -> String {
    format!("{}#{}", model.options.runbook_url, alert.to_ascii_lowercase())
}

/// Grafana's URL without a trailing slash.
fn grafana<'a>(model: &Model<'a>) -> &'a str {
    model.options.grafana_url.trim_end_matches('/')
}

/// The drill-down dashboard of one endpoint.
pub(crate) fn endpoint_dashboard_url(model: &Model, endpoint: &Endpoint) -> String {
    let uid = crate::grafana::dashboard_uid(model, "endpoint");
    format!(
        "{}/d/{uid}/{uid}?var-route={}&var-method={}",
        grafana(model),
        url_component(&endpoint.route),
        url_component(&endpoint.method)
    )
}

/// The overview dashboard of the service.
pub(crate) fn overview_dashboard_url(model: &Model) -> String {
    let uid = crate::grafana::dashboard_uid(model, "overview");
    format!("{}/d/{uid}/{uid}", grafana(model))
}

/// The process dashboard of the service.
pub(crate) fn system_dashboard_url(model: &Model) -> String {
    let uid = crate::grafana::dashboard_uid(model, "system");
    format!("{}/d/{uid}/{uid}", grafana(model))
}

fn hold_for(model: &Model, severity: Severity) -> Duration {
    match severity {
        Severity::Page => model.options.page_for,
        Severity::Ticket => model.options.ticket_for,
    }
}

/// The period of the objectives in hours.
pub(crate) fn period_hours(model: &Model) -> f64 {
    model.options.slo_period.as_secs_f64() / 3600.0
}

/// Every alerting rule, in the order the rule file lists them.
pub(crate) fn alert_rules(model: &Model) -> Vec<AlertRule> {
    let mut rules = Vec::new();
    for (index, endpoint) in model.endpoints.iter().enumerate() {
        for slo in [Slo::Errors, Slo::Latency] {
            for window in BURN_WINDOWS {
                rules.push(burn_rule(model, index, endpoint, slo, window));
            }
        }
    }
    rules.extend(availability_rules(model));
    rules.extend(telemetry_rules(model));
    rules
}

/// The alerting rules on the toolkit's own health: telemetry lost on the way to the collector.
pub(crate) fn telemetry_rules(model: &Model) -> Vec<AlertRule> {
    let service = model.service();
    let hold = model.options.ticket_for;
    let window = text::duration(TELEMETRY_DROP_WINDOW);
    vec![AlertRule {
        name: TELEMETRY_DROPPED,
        expr: format!(
            "{} > 0",
            promql::telemetry_dropped_rate(&model.job(), &window, &TELEMETRY_DROP_LABELS)
        ),
        hold,
        labels: vec![("severity", "ticket".to_owned()), ("service", service.to_owned())],
        summary: Template::literal(format!("{service} instance ")).then(Part::Instance).text(" drops telemetry"),
        description: Template::literal(format!("{service} instance "))
            .then(Part::Instance)
            .text(format!(
                " lost spans or log records in every {window} window for {}: the alert's signal and reason labels say which and why (queue_full: the collector does not keep up; export_failed: it is unreachable or refuses the data; shutdown: items left when the process stopped). Traces and logs have gaps while this lasts; the metrics are unaffected.",
                text::duration(hold)
            )),
        runbook_url: runbook_url(model, TELEMETRY_DROPPED),
        dashboard_url: overview_dashboard_url(model),
        burn: None,
        endpoint: None,
    }]
}

/// The alerting rules that are not burn rates: no traffic, instance down, target missing.
pub(crate) fn availability_rules(model: &Model) -> Vec<AlertRule> {
    let service = model.service();
    let mut rules = Vec::new();
    if let Some(min_per_minute) = model.options.no_traffic_min_requests_per_minute {
        for (index, endpoint) in model.endpoints.iter().enumerate() {
            rules.push(no_traffic_rule(model, index, endpoint, min_per_minute));
        }
    }
    let up = model.job().on("up");
    rules.push(AlertRule {
        name: INSTANCE_DOWN,
        expr: format!("{up} == 0"),
        hold: model.options.page_for,
        labels: vec![("severity", "page".to_owned()), ("service", service.to_owned())],
        summary: Template::literal(format!("{service} instance ")).then(Part::Instance).text(" is down"),
        description: Template::literal("Prometheus cannot scrape ")
            .then(Part::Instance)
            .text(format!(" (job {service}): the process is down or its metrics listener is unreachable. Every other alert of this instance is blind while this lasts.")),
        runbook_url: runbook_url(model, INSTANCE_DOWN),
        dashboard_url: system_dashboard_url(model),
        burn: None,
        endpoint: None,
    });
    rules.push(AlertRule {
        name: TARGET_MISSING,
        expr: format!("absent({up})"),
        hold: model.options.ticket_for,
        labels: vec![("severity", "ticket".to_owned()), ("service", service.to_owned())],
        summary: Template::literal(format!("{service} has no scrape target")),
        description: Template::literal(format!(
            "Prometheus has no target for job {service}: service discovery lost it or the scrape configuration does not list it. No other alert of {service} can fire while this lasts."
        )),
        runbook_url: runbook_url(model, TARGET_MISSING),
        dashboard_url: system_dashboard_url(model),
        burn: None,
        endpoint: None,
    });
    rules
}

fn burn_rule(model: &Model, index: usize, endpoint: &Endpoint, slo: Slo, window: BurnWindow) -> AlertRule {
    let service = model.service();
    let objectives = &endpoint.objectives;
    let factor = window.factor(period_hours(model));
    let selector: Selector = endpoint.selector(service);
    let (name, series, budget) = match slo {
        Slo::Errors => (ERROR_BURN, recorded::errors as fn(&str) -> String, objectives.error_budget()),
        Slo::Latency => (LATENCY_BURN, recorded::slow as fn(&str) -> String, objectives.latency_budget()),
    };
    let threshold = format!("({} * {})", text::number(factor), text::number(budget));
    let expr = format!(
        "{} > {threshold} and {} > {threshold}",
        selector.on(&series(window.long)),
        selector.on(&series(window.short))
    );
    let title = endpoint.title();
    let period = text::duration(model.options.slo_period);
    let spent_in = text::duration(Duration::from_secs_f64(window.long_hours * 3600.0 / window.budget_share));
    let (what, budget_name, objective) = match slo {
        Slo::Errors => (
            "failed".to_owned(),
            "error budget",
            format!(
                "{} of calls succeed ({})",
                text::percent(objectives.success_target()),
                declared(objectives.success_declared())
            ),
        ),
        Slo::Latency => (
            format!("took longer than {}", text::seconds(objectives.latency_threshold_seconds())),
            "latency budget",
            format!(
                "{} of calls within {} ({})",
                text::percent(objectives.latency_target()),
                text::seconds(objectives.latency_threshold_seconds()),
                declared(objectives.latency_declared())
            ),
        ),
    };
    let summary = Template::literal(format!(
        "{service} {title} burns its {budget_name} at {}x the sustainable rate ({} and {} windows)",
        text::number(factor),
        window.long,
        window.short
    ));
    let description = Template::default().then(Part::ValuePercent).text(format!(
        " of {title} calls {what} over the last {} (and over the last {} too, more than {}x the {budget_name} of {}). Objective: {objective}. At this rate the {period} budget is spent in {spent_in}.",
        window.long,
        window.short,
        text::number(factor),
        text::percent(budget),
    ));
    AlertRule {
        name,
        expr,
        hold: hold_for(model, window.severity),
        labels: vec![
            ("severity", window.severity.label().to_owned()),
            ("service", service.to_owned()),
            (schema::HTTP_REQUEST_METHOD, endpoint.method.clone()),
            (schema::HTTP_ROUTE, endpoint.route.clone()),
            ("long_window", window.long.to_owned()),
            ("short_window", window.short.to_owned()),
        ],
        summary,
        description,
        runbook_url: runbook_url(model, name),
        dashboard_url: endpoint_dashboard_url(model, endpoint),
        burn: Some((index, slo, window)),
        endpoint: Some(index),
    }
}

fn no_traffic_rule(model: &Model, index: usize, endpoint: &Endpoint, min_per_minute: f64) -> AlertRule {
    let service = model.service();
    let selector = endpoint.selector(service);
    let expr = format!(
        "{} == 0 and ({} offset {NO_TRAFFIC_QUIET}) * 60 >= {}",
        selector.on(&recorded::requests(NO_TRAFFIC_QUIET)),
        selector.on(&recorded::requests(NO_TRAFFIC_BEFORE)),
        text::number(min_per_minute)
    );
    let title = endpoint.title();
    AlertRule {
        name: NO_TRAFFIC,
        expr,
        hold: model.options.ticket_for,
        labels: vec![
            ("severity", "ticket".to_owned()),
            ("service", service.to_owned()),
            (schema::HTTP_REQUEST_METHOD, endpoint.method.clone()),
            (schema::HTTP_ROUTE, endpoint.route.clone()),
        ],
        summary: Template::literal(format!("{service} {title} receives no traffic")),
        description: Template::literal(format!(
            "{title} of {service} has served no call for {NO_TRAFFIC_QUIET}, after at least {} calls per minute on average over the {NO_TRAFFIC_BEFORE} before: its clients, a proxy or the router may have stopped sending.",
            text::number(min_per_minute)
        )),
        runbook_url: runbook_url(model, NO_TRAFFIC),
        dashboard_url: endpoint_dashboard_url(model, endpoint),
        burn: None,
        endpoint: Some(index),
    }
}

fn declared(yes: bool) -> &'static str {
    if yes { "declared" } else { "default" }
}
