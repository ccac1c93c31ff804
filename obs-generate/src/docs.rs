//! `METRICS.md`: the metrics reference of the service — every metric with its type, unit and
//! labels, every label's possible values, every endpoint with its documentation, source,
//! buckets, objectives and ready-to-paste PromQL, every internal operation with its
//! documentation, source, buckets and PromQL, and the health of the telemetry export (one
//! expression per ```` ```promql ```` block).

use crate::alerts::{self, ALERT_NAMES};
use crate::logql;
use crate::model::{Endpoint, Model, Operation};
use crate::promql::{self, BURN_WINDOWS, OPERATIONS, WINDOWS, recorded};
use crate::text::{self, markdown_code};
use obs_runtime::schema;
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
        "# `{service}` metrics reference\n\n{note}Every series here is produced by the `#[observed]` functions of `{service}` ({endpoints}, {operations}) and the obs runtime. \
Prometheus scrapes them as job `{service}` and adds the labels `job` and `instance` to each.\n\n",
        endpoints = counted(model.endpoints.len(), "endpoint"),
        operations = counted(model.operations.len(), "operation"), // not a label: the English noun
        note = model.markdown_note(),
    );
    metrics_table(&mut out);
    label_values(&mut out, model);
    endpoints_table(&mut out, model);
    for endpoint in &model.endpoints {
        endpoint_section(&mut out, model, endpoint);
    }
    operations_section(&mut out, model);
    telemetry_section(&mut out, model);
    logs_section(&mut out, model);
    recorded_section(&mut out);
    alerts_section(&mut out, model);
    out.push_str(
        "## Dashboard variables\n\nThe dashboards' queries use only `$route` and `$method` (the endpoint dashboard's selection), \
Grafana's `$__rate_interval` and `$__range` in PromQL, and `$log_level` (a regex of levels) in LogQL.\n",
    );
    out
}

/// `1 endpoint`, `3 operations`, `0 operations`.
fn counted(count: usize, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
}

/// One row of the metrics table.
pub(crate) struct MetricRow {
    pub name: &'static str,
    kind: &'static str,
    unit: &'static str,
    labels: Vec<&'static str>,
    /// Labels only some series carry, and a histogram's `le`, after the list.
    note: &'static str,
    meaning: &'static str,
}

const HISTOGRAM: &str = "histogram (`_bucket`, `_count`, `_sum`)";

/// Every metric family the process exposes, named and labelled by the schema.
pub(crate) fn metric_rows() -> Vec<MetricRow> {
    let row = |metric: schema::Metric, kind, unit, labels: Vec<&'static str>, note, meaning| MetricRow {
        name: metric.name,
        kind,
        unit,
        labels,
        note,
        meaning,
    };
    let plain = |metric: schema::Metric, kind, unit, meaning| row(metric, kind, unit, vec![], "", meaning);
    vec![
        row(
            schema::HTTP_SERVER_REQUEST_DURATION.metric,
            HISTOGRAM,
            "seconds",
            vec![
                schema::HTTP_REQUEST_METHOD,
                schema::HTTP_ROUTE,
                schema::HTTP_RESPONSE_STATUS_CODE,
                schema::RPC_GRPC_STATUS_CODE,
                schema::ERROR_TYPE,
            ],
            " (`_bucket`: and `le`)",
            "Duration of each call of an `#[observed(endpoint = ...)]` function; `_count` is the number of calls. Exemplars in OpenMetrics.",
        ),
        row(
            schema::HTTP_SERVER_ACTIVE_REQUESTS,
            "gauge",
            "calls",
            vec![schema::HTTP_REQUEST_METHOD, schema::HTTP_ROUTE],
            "",
            "Calls in flight.",
        ),
        row(
            schema::OPERATION_DURATION.metric,
            HISTOGRAM,
            "seconds",
            vec![schema::OPERATION, schema::ERROR_TYPE],
            " (`_bucket`: and `le`)",
            "Duration of each call of an `#[observed(operation = ...)]` function; `_count` is the number of calls. Exemplars in OpenMetrics.",
        ),
        row(
            schema::OBS_TELEMETRY_EXPORTED,
            "counter",
            "spans or log records",
            vec![schema::SIGNAL],
            "",
            "Spans and log records delivered to the OTLP endpoint.",
        ),
        row(
            schema::OBS_TELEMETRY_DROPPED,
            "counter",
            "spans or log records",
            vec![schema::SIGNAL, schema::REASON],
            "",
            "Spans and log records lost on the way to the OTLP endpoint: the export queue was full, the export failed, or shutdown's deadline passed.",
        ),
        plain(schema::PROCESS_CPU_SECONDS, "counter", "seconds", "User and system CPU time."),
        plain(schema::PROCESS_RESIDENT_MEMORY, "gauge", "bytes", "Resident memory (RSS)."),
        plain(schema::PROCESS_VIRTUAL_MEMORY, "gauge", "bytes", "Virtual memory size."),
        plain(schema::PROCESS_OPEN_FDS, "gauge", "descriptors", "Open file descriptors."),
        plain(schema::PROCESS_MAX_FDS, "gauge", "descriptors", "The open-file limit."),
        plain(schema::PROCESS_THREADS, "gauge", "threads", "OS threads of the process."),
        plain(schema::PROCESS_START_TIME, "gauge", "seconds since the epoch", "When the process started."),
        row(
            schema::OBS_BUILD_INFO,
            "info (a gauge, always 1)",
            "",
            vec![schema::SERVICE_NAME, schema::SERVICE_VERSION, schema::OBS_VERSION],
            "",
            "The service's name and version, for joins.",
        ),
    ]
}

fn metrics_table(out: &mut String) {
    out.push_str("## Metrics\n\n| metric | type | unit | labels | meaning |\n|---|---|---|---|---|\n");
    for MetricRow { name, kind, unit, labels, note, meaning } in metric_rows() {
        let labels = if labels.is_empty() { "(none)".to_owned() } else { format!("{}{note}", codes(labels)) };
        let unit = if unit.is_empty() { "(none)" } else { unit };
        let _ = writeln!(out, "| `{name}` | {kind} | {unit} | {labels} | {meaning} |");
    }
    let _ = write!(
        out,
        "\nThe `process_*` metrics are read from `/proc` at scrape time (Linux); `{build_info}` appears once the service called `obs_runtime::builder(..).init()`; \
the `obs_telemetry_*` counters stay at 0 while no OTLP export is configured.\n\n\
**Exemplars.** In the OpenMetrics exposition (what Prometheus asks for) each `_bucket` line of the two duration histograms carries an exemplar: \
the `trace_id` and `span_id` of a recent sampled call that landed in that bucket, with its duration and time, so a point on a latency graph opens its trace. \
Prometheus keeps them with `--enable-feature=exemplar-storage`; the Prometheus text format 0.0.4 has none. \
Both formats write the same `{le}` values (`1.0`, never `1`), the form Prometheus 3 normalizes them to.\n\n",
        build_info = schema::OBS_BUILD_INFO.name,
        le = schema::LE,
    );
}

fn label_values(out: &mut String, model: &Model) {
    let bounds: Vec<String> = {
        let endpoint_bounds = model.endpoints.iter().flat_map(|endpoint| endpoint.buckets.iter().copied());
        let operation_bounds = model.operations.iter().flat_map(|operation| operation.buckets.iter().copied());
        let mut all: Vec<f64> = endpoint_bounds.chain(operation_bounds).collect();
        all.sort_by(f64::total_cmp);
        all.dedup();
        all.into_iter().map(text::le_label).chain(std::iter::once("+Inf".to_owned())).collect()
    };
    let _ = write!(
        out,
        "### Label values\n\nEvery label has a closed set of values, so the number of series is bounded by the code.\n\n\
- `{method}`: {methods}; with `ObsLayer`, also any other method the router answers, and `{other_method}` for a method outside RFC 9110 and PATCH.\n\
- `{route}`: {routes}: route templates, never concrete paths; with `ObsLayer`, also the router's other routes (requests no `#[observed]` function answered) and `{unmatched}` for requests no route matched.\n\
- `{status}`: the status code (`100` to `999`) when the return value reveals one (`http::StatusCode`, `http::Response`, an axum response, an `Outcome` impl); **absent** when it does not (a plain `Result` or `()`).\n\
- `{grpc}`: the gRPC status code (`0` to `16`) of a gRPC method (feature `tonic`: `tonic::Status`, `tonic::Response`); **absent** otherwise. UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS are failures with `{error_type}` the code's name (`UNAVAILABLE`); other non-zero codes are client errors.\n\
- `{operation}`: {operations}.\n\
- `{error_type}` (both duration histograms): **empty on success** and on 4xx responses and client gRPC codes (the caller's fault). On failure one of: the 5xx status code (`500` to `599`); the short type name of the `Err` value (`Error` for `std::io::Error`; bounded by the program's own types, or a literal chosen by an `Outcome` impl); `{panic}`; `{cancelled}` (the future was dropped). Count failures with `{error_type}!=\"\"`.\n\
- `{le}`: {bounds}, written exactly as the exposition writes them.\n\
- `{signal}`: {signals}.\n\
- `{reason}`: {reasons}.\n\n",
        method = schema::HTTP_REQUEST_METHOD,
        route = schema::HTTP_ROUTE,
        other_method = schema::OTHER_METHOD,
        unmatched = schema::UNMATCHED_ROUTE,
        status = schema::HTTP_RESPONSE_STATUS_CODE,
        grpc = schema::RPC_GRPC_STATUS_CODE,
        operation = schema::OPERATION,
        error_type = schema::ERROR_TYPE,
        panic = schema::ERROR_TYPE_PANIC,
        cancelled = schema::ERROR_TYPE_CANCELLED,
        le = schema::LE,
        signal = schema::SIGNAL,
        reason = schema::REASON,
        methods = codes(model.methods()),
        routes = codes(model.routes()),
        operations = if model.operations.is_empty() {
            "none: no `#[observed(operation = ...)]` function in this service".to_owned()
        } else {
            format!("{}: the operation names of the annotations", codes(model.operation_names()))
        },
        bounds = codes(bounds.iter().map(String::as_str)),
        signals = codes(schema::SIGNALS.into_iter()),
        reasons = schema::DROP_REASONS
            .iter()
            .map(|reason| format!("{} ({})", markdown_code(reason), drop_reason_meaning(reason)))
            .collect::<Vec<_>>()
            .join(", "),
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
    doc_quote(out, &endpoint.doc);
    let _ = write!(
        out,
        "- Function: {} at {}\n\
- Buckets (seconds): {} ({})\n\
- Success objective: {} of calls succeed ({}); error budget {}.\n\
- Latency objective: {} of calls within {} ({}); latency budget {}; the threshold is the bucket `le=\"{}\"`.\n\n",
        markdown_code(&endpoint.function),
        markdown_code(&endpoint.location()),
        endpoint.buckets.iter().map(|bound| text::le_label(*bound)).collect::<Vec<_>>().join(", "),
        buckets_kind(&endpoint.buckets),
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

/// What a `reason` label value means, in the order of [`schema::DROP_REASONS`].
fn drop_reason_meaning(reason: &str) -> &'static str {
    const MEANINGS: [&str; 3] = [
        "the export queue was full: the collector does not keep up",
        "the export request failed or timed out",
        "still queued when shutdown's deadline passed",
    ];
    schema::DROP_REASONS.iter().position(|known| *known == reason).map_or("", |index| MEANINGS[index])
}

fn operations_section(out: &mut String, model: &Model) {
    out.push_str("## Operations\n\n");
    if model.operations.is_empty() {
        let _ = write!(
            out,
            "None: annotate an internal step with `#[observed(operation = \"db.load_user\")]` to time it as `{}` under a child span.\n\n",
            schema::OPERATION_DURATION.metric.name
        );
        return;
    }
    let _ = write!(
        out,
        "Internal steps the endpoints call, each timed as `{}{{{}=...}}` under a child span of the request's. \
They have no route, method or objectives: the endpoint that calls them owns the objectives.\n\n\
| operation | function | source | buckets |\n|---|---|---|---|\n",
        schema::OPERATION_DURATION.metric.name,
        schema::OPERATION
    );
    for operation in &model.operations {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            markdown_code(&operation.name),
            markdown_code(&operation.function),
            markdown_code(&operation.location()),
            buckets_kind(&operation.buckets),
        );
    }
    out.push('\n');
    for operation in &model.operations {
        operation_section(out, model, operation);
    }
}

fn buckets_kind(buckets: &[f64]) -> &'static str {
    if buckets == obs_runtime::schema::DEFAULT_BUCKETS { "the defaults" } else { "declared" }
}

fn doc_quote(out: &mut String, doc: &str) {
    if doc.is_empty() {
        out.push_str("(no doc comment)\n\n");
    } else {
        for line in doc.lines() {
            let _ = writeln!(out, "> {line}");
        }
        out.push('\n');
    }
}

fn operation_section(out: &mut String, model: &Model, operation: &Operation) {
    let selector = operation.selector(model.service());
    let _ = write!(out, "### {}\n\n", markdown_code(&operation.name));
    doc_quote(out, &operation.doc);
    let _ = write!(
        out,
        "- Function: {} at {}\n- Buckets (seconds): {} ({})\n\n",
        markdown_code(&operation.function),
        markdown_code(&operation.location()),
        operation.buckets.iter().map(|bound| text::le_label(*bound)).collect::<Vec<_>>().join(", "),
        buckets_kind(&operation.buckets),
    );
    promql_block(out, "Call rate (calls per second)", &promql::call_rate(OPERATIONS, &selector, WINDOW, &[]));
    promql_block(
        out,
        "Error ratio (share of calls that failed)",
        &promql::failure_ratio(OPERATIONS, &selector, WINDOW, &[]),
    );
    for quantile in [0.5, 0.95, 0.99] {
        promql_block(
            out,
            &format!("p{} duration (seconds)", text::number(quantile * 100.0)),
            &promql::quantile_of(OPERATIONS, quantile, &selector, WINDOW, &[]),
        );
    }
}

fn telemetry_section(out: &mut String, model: &Model) {
    let job = model.job();
    out.push_str(
        "## Telemetry export\n\nSpans and log records go to the OTLP endpoint through a bounded queue per signal: \
when the collector is down or slow the queue fills and further items are dropped and counted, never waited for, so the handlers keep their speed.\n\n",
    );
    promql_block(
        out,
        "Dropped telemetry (items per second, by signal and reason; 0 when nothing is lost)",
        &promql::telemetry_dropped_rate(&job, WINDOW, &[schema::SIGNAL, schema::REASON]),
    );
    promql_block(
        out,
        "Exported telemetry (items per second, by signal)",
        &promql::telemetry_exported_rate(&job, WINDOW, &[schema::SIGNAL]),
    );
}

/// The LogQL of the service's logs in Loki, as the generated collector delivers them.
fn logs_section(out: &mut String, model: &Model) {
    out.push_str(
        "## Logs\n\nLoki holds the service's log lines as the generated collector sends them: `level` is a label; \
the record's attributes (`http.route`, `http.request.method`, `trace_id`, ...) are structured metadata, \
with `_` for `.`, so no query needs a parser stage.\n\n",
    );
    let block = |out: &mut String, title: &str, expr: &str| {
        let _ = write!(out, "{title}:\n\n```logql\n{expr}\n```\n\n");
    };
    block(out, "Every log line", &logql::query(model, &[]));
    block(out, "Errors only", &logql::query(model, &[logql::eq("level", "ERROR")]));
    block(out, "Lines per second by level", &format!("sum by (level) (rate({}[5m]))", logql::query(model, &[])));
    for endpoint in &model.endpoints {
        let filters = [
            logql::eq("http.request.method", &endpoint.method),
            logql::eq("http.route", &endpoint.route),
            logql::eq("level", "ERROR"),
        ];
        block(out, &format!("Failed calls of {}", markdown_code(&endpoint.title())), &logql::query(model, &filters));
    }
    block(out, "The lines of one trace", &logql::query(model, &[logql::eq("trace_id", "<trace id>")]));
}

fn recorded_section(out: &mut String) {
    let _ = write!(
        out,
        "## Recorded series\n\nThe rule file records these per `job`, `{}` and `{}`; `<w>` is one of {}.\n\n\
| series | meaning |\n|---|---|\n\
| `{}` | calls per second over `<w>` |\n\
| `{}` | share of failed calls over `<w>` |\n\
| `{}` | share of calls slower than the endpoint's latency threshold over `<w>` |\n\
| `{}` | the error budget (1 - success objective), a constant |\n\
| `{}` | the latency budget (1 - latency objective), a constant |\n\
| `{}` | the latency threshold in seconds, a constant |\n\n",
        schema::HTTP_REQUEST_METHOD,
        schema::HTTP_ROUTE,
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
        "\nEach alert's labels name the `service`, `severity` and, per endpoint, `{}` and `{}` (per instance, `{}` and `{}` for telemetry drops); \
its annotations give a summary, a description, a `runbook_url` and a `dashboard_url`. What to do for each: {}.\n\n",
        schema::HTTP_ROUTE,
        schema::HTTP_REQUEST_METHOD,
        schema::SIGNAL,
        schema::REASON,
        ALERT_NAMES
            .iter()
            .map(|name| format!("[`{name}`]({})", alerts::runbook_url(model, name)))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
