//! `METRICS.md`: the metrics reference of the service — every metric with its type, unit and
//! labels, every label's possible values, every endpoint with its documentation, source,
//! buckets, objectives and ready-to-paste PromQL (one expression per ```` ```promql ```` block).

use crate::generate::alerts::{self, ALERT_NAMES};
use crate::generate::model::{Endpoint, Model};
use crate::generate::promql::{self, BURN_WINDOWS, WINDOWS, recorded};
use crate::generate::text::{self, markdown_code};
use std::fmt::Write as _;

pub(crate) const FILE_NAME: &str = "METRICS.md";

/// The window of the ready-to-paste queries.
const WINDOW: &str = "5m";

fn codes<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    values.into_iter().map(markdown_code).collect::<Vec<_>>().join(", ")
}

fn promql_block(out: &mut String, title: &str, expr: &str) {
    let _ = write!(out, "{title}:\n\n```promql\n{expr}\n```\n\n");
}

pub(crate) fn render(model: &Model) -> String {
    let service = model.service();
    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        "# `{service}` metrics reference\n\n{note}Every series here is produced by the `#[observed]` functions of `{service}` ({count} endpoint{plural}) and the obs runtime. \
Prometheus scrapes them as job `{service}` and adds the labels `job` and `instance` to each.\n\n",
        count = model.endpoints.len(),
        plural = if model.endpoints.len() == 1 { "" } else { "s" },
        note = model.markdown_note(),
    );
    metrics_table(&mut out);
    label_values(&mut out, model);
    endpoints_table(&mut out, model);
    for endpoint in &model.endpoints {
        endpoint_section(&mut out, model, endpoint);
    }
    recorded_section(&mut out);
    alerts_section(&mut out, model);
    out.push_str(
        "## Dashboard variables\n\nThe dashboards' queries use only `$route` and `$method` (the endpoint dashboard's selection), \
Grafana's `$__rate_interval` and `$__range` in PromQL, and `$log_level` (a regex of levels) in LogQL.\n",
    );
    out
}

fn metrics_table(out: &mut String) {
    out.push_str("## Metrics\n\n| metric | type | unit | labels | meaning |\n|---|---|---|---|---|\n");
    let rows: [(&str, &str, &str, &str, &str); 10] = [
        (
            "http_server_request_duration_seconds",
            "histogram (`_bucket`, `_count`, `_sum`)",
            "seconds",
            "`http_request_method`, `http_route`, `http_response_status_code`, `error_type` (`_bucket`: and `le`)",
            "Duration of each call of an `#[observed]` function; `_count` is the number of calls.",
        ),
        ("http_server_active_requests", "gauge", "calls", "`http_request_method`, `http_route`", "Calls in flight."),
        ("process_cpu_seconds_total", "counter", "seconds", "", "User and system CPU time."),
        ("process_resident_memory_bytes", "gauge", "bytes", "", "Resident memory (RSS)."),
        ("process_virtual_memory_bytes", "gauge", "bytes", "", "Virtual memory size."),
        ("process_open_fds", "gauge", "descriptors", "", "Open file descriptors."),
        ("process_max_fds", "gauge", "descriptors", "", "The open-file limit."),
        ("process_threads", "gauge", "threads", "", "OS threads of the process."),
        ("process_start_time_seconds", "gauge", "seconds since the epoch", "", "When the process started."),
        (
            "obs_build_info",
            "info (a gauge, always 1)",
            "",
            "`service_name`, `service_version`, `obs_version`",
            "The service's name and version, for joins.",
        ),
    ];
    for (name, kind, unit, labels, meaning) in rows {
        let labels = if labels.is_empty() { "(none)" } else { labels };
        let unit = if unit.is_empty() { "(none)" } else { unit };
        let _ = writeln!(out, "| `{name}` | {kind} | {unit} | {labels} | {meaning} |");
    }
    out.push_str("\nThe `process_*` metrics are read from `/proc` at scrape time (Linux); `obs_build_info` appears once the service called `obs_runtime::builder(..).init()`.\n\n");
}

fn label_values(out: &mut String, model: &Model) {
    let mut buckets: Vec<Vec<f64>> = model.endpoints.iter().map(|endpoint| endpoint.buckets.clone()).collect();
    buckets.dedup();
    let bounds: Vec<String> = {
        let mut all: Vec<f64> = model.endpoints.iter().flat_map(|endpoint| endpoint.buckets.iter().copied()).collect();
        all.sort_by(f64::total_cmp);
        all.dedup();
        all.into_iter().map(text::le_label).chain(std::iter::once("+Inf".to_owned())).collect()
    };
    let _ = write!(
        out,
        "### Label values\n\nEvery label has a closed set of values, so the number of series is bounded by the code.\n\n\
- `http_request_method`: {methods}.\n\
- `http_route`: {routes}: route templates, never concrete paths.\n\
- `http_response_status_code`: the status code (`100` to `999`) when the return value reveals one (`http::StatusCode`, `http::Response`, an axum response, an `Outcome` impl); **absent** when it does not (a plain `Result` or `()`).\n\
- `error_type`: **empty on success** and on 4xx responses (the caller's fault). On failure one of: the 5xx status code (`500` to `599`); the short type name of the `Err` value (`Error` for `std::io::Error`; bounded by the program's own types, or a literal chosen by an `Outcome` impl); `panic`; `cancelled` (the future was dropped). Count failures with `error_type!=\"\"`.\n\
- `le`: {bounds}, written exactly as the exposition writes them.\n\n",
        methods = codes(model.methods()),
        routes = codes(model.routes()),
        bounds = codes(bounds.iter().map(String::as_str)),
    );
}

fn endpoints_table(out: &mut String, model: &Model) {
    out.push_str("## Endpoints\n\n| endpoint | function | source | success objective | latency objective |\n|---|---|---|---|---|\n");
    for endpoint in &model.endpoints {
        let objectives = &endpoint.objectives;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} ({}) | {} within {} ({}) |",
            markdown_code(&endpoint.title()),
            markdown_code(&endpoint.function),
            markdown_code(&endpoint.location()),
            text::percent(objectives.success_target()),
            declared(objectives.success_declared()),
            text::percent(objectives.latency_target()),
            text::seconds(objectives.latency_threshold_seconds()),
            declared(objectives.latency_declared()),
        );
    }
    out.push('\n');
}

fn declared(yes: bool) -> &'static str {
    if yes { "declared" } else { "default" }
}

fn endpoint_section(out: &mut String, model: &Model, endpoint: &Endpoint) {
    let selector = endpoint.selector(model.service());
    let objectives = &endpoint.objectives;
    let _ = write!(out, "### {}\n\n", markdown_code(&endpoint.title()));
    if endpoint.doc.is_empty() {
        out.push_str("(no doc comment)\n\n");
    } else {
        for line in endpoint.doc.lines() {
            let _ = writeln!(out, "> {line}");
        }
        out.push('\n');
    }
    let default_buckets = endpoint.buckets.as_slice() == crate::DEFAULT_BUCKETS;
    let _ = write!(
        out,
        "- Function: {} at {}\n\
- Buckets (seconds): {} ({})\n\
- Success objective: {} of calls succeed ({}); error budget {}.\n\
- Latency objective: {} of calls within {} ({}); latency budget {}; the threshold is the bucket `le=\"{}\"`.\n\n",
        markdown_code(&endpoint.function),
        markdown_code(&endpoint.location()),
        endpoint.buckets.iter().map(|bound| text::le_label(*bound)).collect::<Vec<_>>().join(", "),
        if default_buckets { "the defaults" } else { "declared" },
        text::percent(objectives.success_target()),
        declared(objectives.success_declared()),
        text::percent(objectives.error_budget()),
        text::percent(objectives.latency_target()),
        text::seconds(objectives.latency_threshold_seconds()),
        declared(objectives.latency_declared()),
        text::percent(objectives.latency_budget()),
        endpoint.threshold_le(),
    );
    promql_block(out, "Request rate (calls per second)", &promql::request_rate(&selector, WINDOW, &[]));
    promql_block(out, "Error ratio (share of calls that failed)", &promql::error_ratio(&selector, WINDOW, &[]));
    for quantile in [0.5, 0.95, 0.99] {
        promql_block(
            out,
            &format!("p{} latency (seconds)", text::number(quantile * 100.0)),
            &promql::latency_quantile(quantile, &selector, WINDOW, &[]),
        );
    }
    promql_block(
        out,
        &format!("Slow-call ratio (share of calls over {})", text::seconds(objectives.latency_threshold_seconds())),
        &promql::slow_ratio(&selector, &endpoint.threshold_le(), WINDOW, &[]),
    );
    promql_block(out, "Calls in flight", &promql::in_flight(&selector, &[]));
}

fn recorded_section(out: &mut String) {
    let _ = write!(
        out,
        "## Recorded series\n\nThe rule file records these per `job`, `http_request_method` and `http_route`; `<w>` is one of {}.\n\n\
| series | meaning |\n|---|---|\n\
| `{}` | calls per second over `<w>` |\n\
| `{}` | share of failed calls over `<w>` |\n\
| `{}` | share of calls slower than the endpoint's latency threshold over `<w>` |\n\
| `{}` | the error budget (1 - success objective), a constant |\n\
| `{}` | the latency budget (1 - latency objective), a constant |\n\
| `{}` | the latency threshold in seconds, a constant |\n\n",
        codes(WINDOWS),
        recorded::requests("<w>"),
        recorded::errors("<w>"),
        recorded::slow("<w>"),
        recorded::ERROR_BUDGET,
        recorded::LATENCY_BUDGET,
        recorded::LATENCY_THRESHOLD,
    );
}

fn alerts_section(out: &mut String, model: &Model) {
    let period = text::duration(model.options.slo_period);
    let _ = write!(
        out,
        "## Alerts\n\nBurn rates follow the Google SRE workbook's multi-window, multi-burn-rate alerts over a {period} objective period:\n\n\
| severity | long window | short window | burn rate | budget spent when it fires |\n|---|---|---|---|---|\n"
    );
    let period_hours = alerts::period_hours(model);
    for window in BURN_WINDOWS {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {}x | {} |",
            window.severity.label(),
            window.long,
            window.short,
            text::number(window.factor(period_hours)),
            text::percent(window.budget_share)
        );
    }
    let _ = write!(
        out,
        "\nEach alert's labels name the `service`, `severity` and, per endpoint, `http_route` and `http_request_method`; \
its annotations give a summary, a description, a `runbook_url` and a `dashboard_url`. What to do for each: {}.\n\n",
        ALERT_NAMES
            .iter()
            .map(|name| format!("[`{name}`]({})", alerts::runbook_url(model, name)))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
