//! The three dashboards of a service:
//! - `<service>-overview`: the service at a glance, the internal operations (calls, error ratio,
//!   p99 with exemplars), then one row per endpoint of the catalog with its calls, latency
//!   percentiles (with exemplars), error ratio, burn rates and remaining error and latency budgets
//!   against its own objectives, then the telemetry export's health and the service's logs;
//! - `<service>-endpoint`: one endpoint, chosen with the `route` and `method` variables, its
//!   objectives read from the recorded constant series;
//! - `<service>-system`: the process: CPU, memory, file descriptors, threads, uptime, build.

use crate::grafana::panels::{Layout, Query, Style, logs, stat, table, timeseries};
use crate::grafana::{Datasource, dashboard_uid, datasource_ref};
use crate::logql;
use crate::model::{Endpoint, Model};
use crate::promql::{self, COUNT, OPERATIONS, Selector, Severity, recorded};
use crate::text::{self, url_component};
use crate::tree::{Node, NotFinite, map, strings};
use obs_runtime::schema;

/// The range every per-panel rate uses: Grafana picks it from the scrape interval.
const RATE: &str = "$__rate_interval";

const BY_ENDPOINT: [&str; 2] = [schema::HTTP_REQUEST_METHOD, schema::HTTP_ROUTE];
const BY_OPERATION: [&str; 1] = [schema::OPERATION];
const BY_SIGNAL: [&str; 1] = [schema::SIGNAL];
const BY_SIGNAL_AND_REASON: [&str; 2] = [schema::SIGNAL, schema::REASON];
/// How the status and error type of a series are grouped and shown.
const BY_OUTCOME: [&str; 2] = [schema::HTTP_RESPONSE_STATUS_CODE, schema::ERROR_TYPE];

/// A Grafana legend showing each label's value: `{{a}} {{b}}`.
fn legend(labels: &[&str]) -> String {
    labels.iter().map(|label| format!("{{{{{label}}}}}")).collect::<Vec<_>>().join(" ")
}

/// The legend of a series by status and error type: `status={{..}} error={{..}}`.
fn outcome_legend() -> String {
    format!("status={{{{{}}}}} error={{{{{}}}}}", schema::HTTP_RESPONSE_STATUS_CODE, schema::ERROR_TYPE)
}

/// The endpoint dashboard's selection: its `$method` and `$route` variables.
fn selected_endpoint(job: &Selector) -> Selector {
    job.clone().eq(schema::HTTP_REQUEST_METHOD, "$method").eq(schema::HTTP_ROUTE, "$route")
}

/// The log levels the `log_level` variable offers, most selective first.
const LOG_LEVELS: [&str; 4] = ["ERROR", "WARN|ERROR", "INFO|WARN|ERROR", "TRACE|DEBUG|INFO|WARN|ERROR"];

/// (file name inside `grafana/dashboards/`, JSON) of each dashboard.
pub(crate) fn render(model: &Model) -> Result<Vec<(String, String)>, NotFinite> {
    Ok(vec![
        (super::dashboard_file(model, "overview"), overview(model).to_json()?),
        (super::dashboard_file(model, "endpoint"), endpoint_dashboard(model).to_json()?),
        (super::dashboard_file(model, "system"), system(model).to_json()?),
    ])
}

fn dashboard(model: &Model, kind: &str, title: &str, panels: Node, variables: Vec<Node>) -> Node {
    let service = model.service();
    let description = model.header(title).join(" ");
    map([
        ("uid", dashboard_uid(model, kind).into()),
        ("title", format!("{service} / {title}").into()),
        ("description", description.into()),
        ("tags", strings(["obs", service])),
        ("timezone", "browser".into()),
        ("editable", true.into()),
        ("graphTooltip", Node::Int(1)),
        ("fiscalYearStartMonth", Node::Int(0)),
        ("liveNow", false.into()),
        ("refresh", "30s".into()),
        ("schemaVersion", Node::Int(39)),
        ("version", Node::Int(1)),
        ("time", map([("from", "now-6h".into()), ("to", "now".into())])),
        ("timepicker", map(Vec::<(String, Node)>::new())),
        ("annotations", map([("list", Node::Seq(vec![]))])),
        (
            "links",
            Node::Seq(vec![map([
                ("title", format!("{service} dashboards").into()),
                ("type", "dashboards".into()),
                ("tags", strings([service])),
                ("asDropdown", true.into()),
                ("includeVars", false.into()),
                ("keepTime", true.into()),
                ("targetBlank", false.into()),
                ("icon", "external link".into()),
                ("tooltip", "".into()),
                ("url", "".into()),
            ])]),
        ),
        ("templating", map([("list", Node::Seq(variables))])),
        ("panels", panels),
    ])
}

fn option(value: &str, selected: bool) -> Node {
    map([("selected", selected.into()), ("text", value.into()), ("value", value.into())])
}

/// A single-value variable over the label values of the duration histogram.
fn label_variable(name: &str, label: &str, title: &str, selector: &Selector, current: Option<&str>) -> Node {
    let query = format!("label_values({}, {label})", selector.on(COUNT));
    let current = current.map_or_else(|| map(Vec::<(String, Node)>::new()), |value| option(value, true));
    map([
        ("name", name.into()),
        ("label", title.into()),
        ("type", "query".into()),
        ("datasource", datasource_ref(Datasource::Prometheus)),
        ("query", query.into()),
        ("refresh", Node::Int(2)),
        ("sort", Node::Int(1)),
        ("multi", false.into()),
        ("includeAll", false.into()),
        ("hide", Node::Int(0)),
        ("regex", "".into()),
        ("skipUrlSync", false.into()),
        ("current", current),
        ("options", Node::Seq(vec![])),
    ])
}

/// `log_level`: a regex of levels for the logs panels; errors only by default.
fn log_level_variable() -> Node {
    map([
        ("name", "log_level".into()),
        ("label", "Log levels".into()),
        ("type", "custom".into()),
        ("query", LOG_LEVELS.join(",").into()),
        ("multi", false.into()),
        ("includeAll", false.into()),
        ("hide", Node::Int(0)),
        ("skipUrlSync", false.into()),
        ("current", option(LOG_LEVELS[0], true)),
        ("options", Node::Seq(LOG_LEVELS.iter().enumerate().map(|(index, level)| option(level, index == 0)).collect())),
    ])
}

/// The service's log lines at the `$log_level` levels, after `filters`.
fn log_query(model: &Model, filters: &[logql::Filter<'_>]) -> String {
    let mut all: Vec<logql::Filter<'_>> = Vec::with_capacity(filters.len() + 1);
    all.extend_from_slice(filters);
    all.push(logql::matches("level", "$log_level"));
    logql::query(model, &all)
}

fn style(thresholds: Vec<(f64, &'static str)>) -> Style {
    Style { thresholds, min: Some(0.0), ..Style::default() }
}

fn budget_style() -> Style {
    Style { thresholds: vec![(0.0, "orange"), (0.25, "green")], base: Some("red"), max: Some(1.0), ..Style::default() }
}

#[allow(clippy::too_many_lines)] // one dashboard reads best as one list of panels
pub(crate) fn overview(model: &Model) -> Node {
    let job = model.job();
    let mut layout = Layout::default();
    layout.row("Service");
    let stats = [
        ("Request rate", "Calls per second, all endpoints.".to_owned(), "reqps", promql::request_rate(&job, RATE, &[])),
        (
            "Error ratio",
            format!("Share of calls that failed ({} is set), all endpoints.", schema::ERROR_TYPE),
            "percentunit",
            promql::error_ratio(&job, RATE, &[]),
        ),
        ("In flight", "Calls being handled now.".to_owned(), "short", promql::in_flight(&job, &[])),
    ];
    for (title, description, unit, expr) in stats {
        layout.add(6, 4, stat(title, &description, unit, Query::instant(expr, ""), &Style::default()));
    }
    layout.add(
        6,
        4,
        stat(
            "Instances up",
            "Instances Prometheus scrapes successfully.",
            "short",
            Query::instant(format!("sum({})", job.on("up")), ""),
            &Style { thresholds: vec![(1.0, "green")], base: Some("red"), ..Style::default() },
        ),
    );
    let by_endpoint = |expr: String| Query::range(expr, legend(&BY_ENDPOINT));
    let charts = [
        (
            "Request rate by endpoint",
            "Calls per second.",
            "reqps",
            by_endpoint(promql::request_rate(&job, RATE, &BY_ENDPOINT)),
        ),
        (
            "Error ratio by endpoint",
            "Share of calls that failed.",
            "percentunit",
            by_endpoint(promql::error_ratio(&job, RATE, &BY_ENDPOINT)),
        ),
        (
            "p99 latency by endpoint",
            "99th percentile of call duration; exemplars link to traces.",
            "s",
            by_endpoint(promql::latency_quantile(0.99, &job, RATE, &BY_ENDPOINT)).with_exemplars(),
        ),
        (
            "In-flight calls by endpoint",
            "Calls being handled.",
            "short",
            by_endpoint(promql::in_flight(&job, &BY_ENDPOINT)),
        ),
    ];
    for (title, description, unit, query) in charts {
        layout.add(12, 8, timeseries(title, description, unit, &[query], &style(vec![])));
    }
    let unmatched = job.clone().eq(schema::HTTP_ROUTE, schema::UNMATCHED_ROUTE);
    let by_status = [schema::HTTP_REQUEST_METHOD, schema::HTTP_RESPONSE_STATUS_CODE];
    layout.add(
        24,
        6,
        timeseries(
            "Requests no route matched",
            &format!(
                "Requests per second that matched no route of the router, by method and status (recorded by ObsLayer as {}=\"{}\"): scanners, stale clients, a missing route.",
                schema::HTTP_ROUTE,
                schema::UNMATCHED_ROUTE
            ),
            "reqps",
            &[Query::range(promql::request_rate(&unmatched, RATE, &by_status), legend(&by_status))],
            &style(vec![]),
        ),
    );
    if !model.operations.is_empty() {
        operations_row(model, &mut layout);
    }
    for endpoint in &model.endpoints {
        endpoint_row(model, &mut layout, endpoint);
    }
    telemetry_row(model, &mut layout);
    layout.row("Logs");
    layout.add(
        24,
        10,
        logs(
            "Logs",
            "The service's log lines at the levels chosen in `Log levels` (errors only by default); trace ids link to traces.",
            &log_query(model, &[]),
        ),
    );
    dashboard(model, "overview", "overview", layout.finish(), vec![log_level_variable()])
}

/// The internal operations, one line per operation in each panel.
fn operations_row(model: &Model, layout: &mut Layout) {
    let job = model.job();
    let names = model.operation_names().join(", ");
    layout.row("Operations");
    layout.add(
        8,
        8,
        timeseries(
            "Operation call rate",
            &format!("Calls per second of each #[observed(operation = ...)] function: {names}."),
            "ops",
            &[Query::range(promql::call_rate(OPERATIONS, &job, RATE, &BY_OPERATION), legend(&BY_OPERATION))],
            &style(vec![]),
        ),
    );
    layout.add(
        8,
        8,
        timeseries(
            "Operation error ratio",
            &format!("Share of each operation's calls that failed ({} is set).", schema::ERROR_TYPE),
            "percentunit",
            &[Query::range(promql::failure_ratio(OPERATIONS, &job, RATE, &BY_OPERATION), legend(&BY_OPERATION))],
            &style(vec![]),
        ),
    );
    layout.add(
        8,
        8,
        timeseries(
            "Operation p99 duration",
            "99th percentile of each operation's call duration; exemplars link to traces.",
            "s",
            &[Query::range(promql::quantile_of(OPERATIONS, 0.99, &job, RATE, &BY_OPERATION), legend(&BY_OPERATION))
                .with_exemplars()],
            &style(vec![]),
        ),
    );
}

/// The OTLP export's health: what the collector lost and what it received.
fn telemetry_row(model: &Model, layout: &mut Layout) {
    let job = model.job();
    layout.row("Telemetry export");
    layout.add(
        12,
        8,
        timeseries(
            "Telemetry dropped",
            &{
                let [queue_full, export_failed, shutdown] = schema::DROP_REASONS;
                format!("Spans and log records lost per second on the way to the OTLP collector, by signal and reason ({queue_full}: it does not keep up; {export_failed}: unreachable or refusing; {shutdown}: left at exit). Anything above 0 is a gap in traces or logs.")
            },
            "cps",
            &[Query::range(
                promql::telemetry_dropped_rate(&job, RATE, &BY_SIGNAL_AND_REASON),
                legend(&BY_SIGNAL_AND_REASON),
            )],
            &style(vec![]),
        ),
    );
    layout.add(
        12,
        8,
        timeseries(
            "Telemetry exported",
            "Spans and log records delivered per second to the OTLP collector, by signal; 0 while no OTLP export is configured.",
            "cps",
            &[Query::range(promql::telemetry_exported_rate(&job, RATE, &BY_SIGNAL), legend(&BY_SIGNAL))],
            &style(vec![]),
        ),
    );
}

fn objectives_text(endpoint: &Endpoint) -> String {
    let objectives = &endpoint.objectives;
    format!(
        "Objectives: {} of calls succeed ({}), {} within {} ({}).",
        text::percent(objectives.success_target()),
        if objectives.success_declared() { "declared" } else { "default" },
        text::percent(objectives.latency_target()),
        text::seconds(objectives.latency_threshold_seconds()),
        if objectives.latency_declared() { "declared" } else { "default" },
    )
}

/// One endpoint's row of the overview, with its objectives written into the queries.
#[allow(clippy::too_many_lines)] // one dashboard reads best as one list of panels
fn endpoint_row(model: &Model, layout: &mut Layout, endpoint: &Endpoint) {
    let selector = endpoint.selector(model.service());
    let objectives = &endpoint.objectives;
    let doc = endpoint.doc.lines().next().unwrap_or_default();
    let about = format!("{} `{}` at {}. {}", doc, endpoint.function, endpoint.location(), objectives_text(endpoint));
    layout.row(&endpoint.title());
    let mut calls = timeseries(
        "Calls by outcome",
        &about,
        "reqps",
        &[Query::range(
            format!("sum by ({}) (rate({}[{RATE}]))", BY_OUTCOME.join(", "), selector.on(COUNT)),
            outcome_legend(),
        )],
        &style(vec![]),
    );
    let drill_down = format!(
        "/d/{uid}/{uid}?var-route={}&var-method={}&${{__url_time_range}}",
        url_component(&endpoint.route),
        url_component(&endpoint.method),
        uid = dashboard_uid(model, "endpoint")
    );
    calls.push("links", Node::Seq(vec![map([("title", "Drill down".into()), ("url", drill_down.into())])]));
    layout.add(8, 8, calls);
    let quantiles: Vec<Query> = [0.5, 0.95, 0.99]
        .iter()
        .map(|quantile| {
            Query::range(
                promql::latency_quantile(*quantile, &selector, RATE, &[]),
                format!("p{}", text::number(quantile * 100.0)),
            )
            .with_exemplars()
        })
        .collect();
    layout.add(
        8,
        8,
        timeseries(
            "Latency",
            &format!("Percentiles of call duration; the line is the latency objective's threshold. Exemplars link to traces. {}", objectives_text(endpoint)),
            "s",
            &quantiles,
            &style(vec![(objectives.latency_threshold_seconds(), "orange")]),
        ),
    );
    layout.add(
        8,
        8,
        timeseries(
            "Error ratio",
            &format!("Share of calls that failed; the line is the error budget. {}", objectives_text(endpoint)),
            "percentunit",
            &[Query::range(promql::error_ratio(&selector, RATE, &[]), "error ratio")],
            &style(vec![(objectives.error_budget(), "red")]),
        ),
    );
    let burn = |series: fn(&str) -> String, window: &str, budget: f64, legend: &str| {
        Query::range(format!("{} / {}", selector.on(&series(window)), text::number(budget)), legend)
    };
    let period_hours = crate::alerts::period_hours(model);
    let pages = promql::factors_text(period_hours, Severity::Page);
    layout.add(
        12,
        8,
        timeseries(
            "SLO burn rate",
            &format!("How many times faster than sustainable the budgets burn (1 spends exactly the budget over the period). Alerts page above {pages}. Needs the recording rules."),
            "suffix:x",
            &[
                burn(recorded::errors, "1h", objectives.error_budget(), "errors 1h"),
                burn(recorded::errors, "6h", objectives.error_budget(), "errors 6h"),
                burn(recorded::slow, "1h", objectives.latency_budget(), "latency 1h"),
                burn(recorded::slow, "6h", objectives.latency_budget(), "latency 6h"),
            ],
            &style(vec![
                (promql::factor_of("6h", period_hours), "orange"),
                (promql::factor_of("1h", period_hours), "red"),
            ]),
        ),
    );
    let period = text::duration(model.options.slo_period);
    layout.add(
        6,
        8,
        stat(
            &format!("Error budget left ({period})"),
            &format!(
                "1 - error ratio over {period} / error budget ({}). Below 0: the objective is missed.",
                text::percent(objectives.error_budget())
            ),
            "percentunit",
            Query::instant(
                format!(
                    "1 - ({}) / {}",
                    promql::error_ratio(&selector, &period, &[]),
                    text::number(objectives.error_budget())
                ),
                "",
            ),
            &budget_style(),
        ),
    );
    layout.add(
        6,
        8,
        stat(
            &format!("Latency budget left ({period})"),
            &format!(
                "1 - share of calls slower than {} over {period} / latency budget ({}).",
                text::seconds(objectives.latency_threshold_seconds()),
                text::percent(objectives.latency_budget())
            ),
            "percentunit",
            Query::instant(
                format!(
                    "1 - ({}) / {}",
                    promql::slow_ratio(&selector, &endpoint.threshold_le(), &period, &[]),
                    text::number(objectives.latency_budget())
                ),
                "",
            ),
            &budget_style(),
        ),
    );
}

#[allow(clippy::too_many_lines)] // one dashboard reads best as one list of panels
pub(crate) fn endpoint_dashboard(model: &Model) -> Node {
    let job = model.job();
    let selector = selected_endpoint(&job);
    let mut layout = Layout::default();
    layout.row("$method $route");
    let stats = [
        ("Request rate", "Calls per second.", "reqps", promql::request_rate(&selector, RATE, &[])),
        ("Error ratio", "Share of calls that failed.", "percentunit", promql::error_ratio(&selector, RATE, &[])),
        ("p99 latency", "99th percentile of call duration.", "s", promql::latency_quantile(0.99, &selector, RATE, &[])),
        ("In flight", "Calls being handled now.", "short", promql::in_flight(&selector, &[])),
    ];
    for (title, description, unit, expr) in stats {
        layout.add(6, 4, stat(title, description, unit, Query::instant(expr, ""), &Style::default()));
    }
    layout.add(
        12,
        8,
        timeseries(
            "Calls by outcome",
            &format!("Calls per second by status code and error type ({} is empty on success).", schema::ERROR_TYPE),
            "reqps",
            &[Query::range(
                format!("sum by ({}) (rate({}[{RATE}]))", BY_OUTCOME.join(", "), selector.on(COUNT)),
                outcome_legend(),
            )],
            &style(vec![]),
        ),
    );
    layout.add(
        12,
        8,
        timeseries(
            "Error ratio and budget",
            "Share of calls that failed, and the error budget (from the recording rules).",
            "percentunit",
            &[
                Query::range(promql::error_ratio(&selector, RATE, &[]), "error ratio"),
                Query::range(selector.on(recorded::ERROR_BUDGET), "error budget"),
            ],
            &style(vec![]),
        ),
    );
    let mut latency: Vec<Query> = [0.5, 0.95, 0.99]
        .iter()
        .map(|quantile| {
            Query::range(
                promql::latency_quantile(*quantile, &selector, RATE, &[]),
                format!("p{}", text::number(quantile * 100.0)),
            )
            .with_exemplars()
        })
        .collect();
    latency.push(Query::range(selector.on(recorded::LATENCY_THRESHOLD), "objective threshold"));
    layout.add(
        12,
        8,
        timeseries(
            "Latency",
            "Percentiles of call duration and the latency objective's threshold. Exemplars link to traces.",
            "s",
            &latency,
            &style(vec![]),
        ),
    );
    layout.add(
        12,
        8,
        timeseries(
            "Slow-call ratio and budget",
            "Share of calls slower than the latency threshold over 5m, and the latency budget (both from the recording rules).",
            "percentunit",
            &[
                Query::range(selector.on(&recorded::slow("5m")), "slow 5m"),
                Query::range(selector.on(recorded::LATENCY_BUDGET), "latency budget"),
            ],
            &style(vec![]),
        ),
    );
    let on_endpoint = format!("on ({})", promql::ENDPOINT_LABELS.join(", "));
    let burn = |series: fn(&str) -> String, window: &str, budget: &str, legend: &str| {
        Query::range(format!("{} / {on_endpoint} {}", selector.on(&series(window)), selector.on(budget)), legend)
    };
    let period_hours = crate::alerts::period_hours(model);
    let (pages, tickets) =
        (promql::factors_text(period_hours, Severity::Page), promql::factors_text(period_hours, Severity::Ticket));
    layout.add(
        24,
        8,
        timeseries(
            "SLO burn rates",
            &format!("Ratio over the window / budget: 1 spends exactly the budget over the objective's period. Pages above {pages}, tickets above {tickets}."),
            "suffix:x",
            &[
                burn(recorded::errors, "1h", recorded::ERROR_BUDGET, "errors 1h"),
                burn(recorded::errors, "6h", recorded::ERROR_BUDGET, "errors 6h"),
                burn(recorded::errors, "3d", recorded::ERROR_BUDGET, "errors 3d"),
                burn(recorded::slow, "1h", recorded::LATENCY_BUDGET, "latency 1h"),
                burn(recorded::slow, "6h", recorded::LATENCY_BUDGET, "latency 6h"),
                burn(recorded::slow, "3d", recorded::LATENCY_BUDGET, "latency 3d"),
            ],
            &style(vec![
                (promql::factor_of("3d", period_hours), "yellow"),
                (promql::factor_of("6h", period_hours), "orange"),
                (promql::factor_of("1h", period_hours), "red"),
            ]),
        ),
    );
    layout.add(
        6,
        8,
        stat(
            "Calls in range",
            "Calls over the dashboard's time range.",
            "short",
            Query::instant(format!("sum(increase({}[$__range]))", selector.on(COUNT)), ""),
            &Style::default(),
        ),
    );
    layout.add(
        6,
        8,
        stat(
            "Error ratio in range",
            "Share of calls that failed over the dashboard's time range.",
            "percentunit",
            Query::instant(promql::error_ratio(&selector, "$__range", &[]), ""),
            &Style::default(),
        ),
    );
    layout.add(
        12,
        8,
        table(
            "Failures in range by class",
            &format!(
                "Failed calls over the dashboard's time range by {} (a 5xx status, an Err type name, {} or {}).",
                schema::ERROR_TYPE,
                schema::ERROR_TYPE_PANIC,
                schema::ERROR_TYPE_CANCELLED
            ),
            "short",
            Query::instant(
                format!(
                    "sum by ({}, {}) (increase({}[$__range]))",
                    schema::ERROR_TYPE,
                    schema::HTTP_RESPONSE_STATUS_CODE,
                    selector.clone().failures().on(COUNT)
                ),
                "",
            ),
        ),
    );
    layout.row("Logs");
    layout.add(
        24,
        10,
        logs(
            "Logs of $method $route",
            "Log lines of this endpoint at the chosen levels; trace ids link to traces.",
            &log_query(model, &[logql::eq("http.route", "$route")]),
        ),
    );
    let first = model.endpoints.first();
    let variables = vec![
        label_variable("route", schema::HTTP_ROUTE, "Route", &job, first.map(|endpoint| endpoint.route.as_str())),
        label_variable(
            "method",
            schema::HTTP_REQUEST_METHOD,
            "Method",
            &job.clone().eq(schema::HTTP_ROUTE, "$route"),
            first.map(|endpoint| endpoint.method.as_str()),
        ),
        log_level_variable(),
    ];
    dashboard(model, "endpoint", "endpoint", layout.finish(), variables)
}

#[allow(clippy::too_many_lines)] // one dashboard reads best as one list of panels
pub(crate) fn system(model: &Model) -> Node {
    let job = model.job();
    let series = |metric: schema::Metric| job.on(metric.name);
    let mut layout = Layout::default();
    layout.row("Process");
    let stats = [
        (
            "Uptime",
            format!("Time since the newest instance started ({}).", schema::PROCESS_START_TIME.name),
            "s",
            format!("time() - max({})", series(schema::PROCESS_START_TIME)),
            Style::default(),
        ),
        (
            "Instances up",
            "Instances Prometheus scrapes successfully.".to_owned(),
            "short",
            format!("sum({})", job.on("up")),
            Style { thresholds: vec![(1.0, "green")], base: Some("red"), ..Style::default() },
        ),
        (
            "File descriptors used",
            "Highest share of the open-file limit in use across instances.".to_owned(),
            "percentunit",
            format!("max({} / {})", series(schema::PROCESS_OPEN_FDS), series(schema::PROCESS_MAX_FDS)),
            Style { thresholds: vec![(0.8, "orange"), (0.9, "red")], ..Style::default() },
        ),
        (
            "Threads",
            "OS threads across instances.".to_owned(),
            "short",
            format!("sum({})", series(schema::PROCESS_THREADS)),
            Style::default(),
        ),
    ];
    for (title, description, unit, expr, style) in stats {
        layout.add(6, 4, stat(title, &description, unit, Query::instant(expr, ""), &style));
    }
    let per_instance = |metric: schema::Metric, legend: &str| Query::range(series(metric), legend);
    let charts = [
        (
            "CPU",
            "CPU time per second (1 = one core busy).",
            "percentunit",
            vec![Query::range(format!("rate({}[{RATE}])", series(schema::PROCESS_CPU_SECONDS)), "{{instance}}")],
        ),
        (
            "Memory",
            "Resident and virtual memory.",
            "bytes",
            vec![
                per_instance(schema::PROCESS_RESIDENT_MEMORY, "resident {{instance}}"),
                per_instance(schema::PROCESS_VIRTUAL_MEMORY, "virtual {{instance}}"),
            ],
        ),
        (
            "File descriptors",
            "Open file descriptors and the limit.",
            "short",
            vec![
                per_instance(schema::PROCESS_OPEN_FDS, "open {{instance}}"),
                per_instance(schema::PROCESS_MAX_FDS, "max {{instance}}"),
            ],
        ),
        ("Threads", "OS threads.", "short", vec![per_instance(schema::PROCESS_THREADS, "{{instance}}")]),
    ];
    for (title, description, unit, queries) in charts {
        layout.add(12, 8, timeseries(title, description, unit, &queries, &style(vec![])));
    }
    layout.add(
        24,
        6,
        table(
            "Build",
            &format!("Service name and version of each instance ({}).", schema::OBS_BUILD_INFO.name),
            "short",
            Query::instant(series(schema::OBS_BUILD_INFO), ""),
        ),
    );
    dashboard(model, "system", "system", layout.finish(), vec![])
}
