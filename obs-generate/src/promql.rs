//! Every PromQL expression the artifacts contain, built here once so the docs, the dashboards and
//! the rules query the same series the same way. Also the names of the recorded series and the
//! burn-rate windows of the alerts.

use crate::text::{number, promql_string};
use obs_runtime::schema::{self, Histogram};
use std::fmt::Write as _;

/// The request histogram's count series: the number of calls.
pub(crate) const COUNT: &str = schema::HTTP_SERVER_REQUEST_DURATION.count;
/// The request histogram's cumulative buckets.
pub(crate) const BUCKET: &str = schema::HTTP_SERVER_REQUEST_DURATION.bucket;
/// The in-flight gauge.
pub(crate) const ACTIVE: &str = schema::HTTP_SERVER_ACTIVE_REQUESTS.name;
/// Spans and log records the OTLP export delivered, by `signal`.
pub(crate) const TELEMETRY_EXPORTED: &str = schema::OBS_TELEMETRY_EXPORTED.name;
/// Spans and log records the OTLP export lost, by `signal` and `reason`.
pub(crate) const TELEMETRY_DROPPED: &str = schema::OBS_TELEMETRY_DROPPED.name;

/// `http_server_request_duration_seconds`, the endpoints' calls.
pub(crate) const REQUESTS: Histogram = schema::HTTP_SERVER_REQUEST_DURATION;
/// `operation_duration_seconds`, the operations' calls.
pub(crate) const OPERATIONS: Histogram = schema::OPERATION_DURATION;

/// The labels that identify an endpoint in the recorded series and the alerts.
pub(crate) const ENDPOINT_LABELS: [&str; 3] = ["job", schema::HTTP_REQUEST_METHOD, schema::HTTP_ROUTE];

/// The windows the recording rules compute ratios over: those the alerts read.
pub(crate) const WINDOWS: [&str; 5] = ["5m", "30m", "1h", "6h", "3d"];

/// A label matcher list: `{job="svc", http_route="/users/{id}"}`. Values are escaped; Grafana
/// variables such as `$route` pass through unchanged.
#[derive(Clone, Debug)]
pub(crate) struct Selector {
    matchers: Vec<(String, &'static str, String)>,
}

impl Selector {
    pub fn job(service: &str) -> Self {
        Selector { matchers: vec![("job".to_owned(), "=", service.to_owned())] }
    }

    /// Adds `name="value"`.
    #[must_use]
    pub fn eq(mut self, name: &str, value: &str) -> Self {
        self.matchers.push((name.to_owned(), "=", value.to_owned()));
        self
    }

    /// Adds `name!="value"`.
    #[must_use]
    pub fn ne(mut self, name: &str, value: &str) -> Self {
        self.matchers.push((name.to_owned(), "!=", value.to_owned()));
        self
    }

    /// Only the failed calls: `error_type` is empty on success, set on every failure.
    #[must_use]
    pub fn failures(self) -> Self {
        self.ne(schema::ERROR_TYPE, "")
    }

    /// `metric{matchers}`.
    pub fn on(&self, metric: &str) -> String {
        let mut out = String::from(metric);
        out.push('{');
        for (index, (name, op, value)) in self.matchers.iter().enumerate() {
            if index > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{name}{op}{}", promql_string(value));
        }
        out.push('}');
        out
    }
}

/// `sum by (a, b) ` or `sum`: the aggregation, ready for its parenthesized argument.
fn by_clause(by: &[&str]) -> String {
    if by.is_empty() { String::new() } else { format!(" by ({}) ", by.join(", ")) }
}

/// Calls per second of `histogram`.
pub(crate) fn call_rate(histogram: Histogram, selector: &Selector, window: &str, by: &[&str]) -> String {
    format!("sum{}(rate({}[{window}]))", by_clause(by), selector.on(histogram.count))
}

/// The share of `histogram`'s calls that failed; 0 (not "no data") while nothing failed.
pub(crate) fn failure_ratio(histogram: Histogram, selector: &Selector, window: &str, by: &[&str]) -> String {
    let total = call_rate(histogram, selector, window, by);
    let failed = call_rate(histogram, &selector.clone().failures(), window, by);
    format!("({failed} or {total} * 0) / {total}")
}

/// The `quantile` duration of `histogram`'s calls in seconds, from the buckets.
pub(crate) fn quantile_of(
    histogram: Histogram,
    quantile: f64,
    selector: &Selector,
    window: &str,
    by: &[&str],
) -> String {
    let mut grouping = vec![schema::LE];
    grouping.extend_from_slice(by);
    format!(
        "histogram_quantile({}, sum{}(rate({}[{window}])))",
        number(quantile),
        by_clause(&grouping),
        selector.on(histogram.bucket)
    )
}

/// Requests per second.
pub(crate) fn request_rate(selector: &Selector, window: &str, by: &[&str]) -> String {
    call_rate(REQUESTS, selector, window, by)
}

/// The share of requests that failed; 0 (not "no data") while nothing failed.
pub(crate) fn error_ratio(selector: &Selector, window: &str, by: &[&str]) -> String {
    failure_ratio(REQUESTS, selector, window, by)
}

/// The `quantile` request latency in seconds, from the buckets.
pub(crate) fn latency_quantile(quantile: f64, selector: &Selector, window: &str, by: &[&str]) -> String {
    quantile_of(REQUESTS, quantile, selector, window, by)
}

/// Spans and log records lost per second.
pub(crate) fn telemetry_dropped_rate(selector: &Selector, window: &str, by: &[&str]) -> String {
    format!("sum{}(rate({}[{window}]))", by_clause(by), selector.on(TELEMETRY_DROPPED))
}

/// Spans and log records delivered per second.
pub(crate) fn telemetry_exported_rate(selector: &Selector, window: &str, by: &[&str]) -> String {
    format!("sum{}(rate({}[{window}]))", by_clause(by), selector.on(TELEMETRY_EXPORTED))
}

/// The share of calls slower than the bucket bound `le` (a label value as the exposition writes
/// it): 1 - calls within the bound / all calls.
pub(crate) fn slow_ratio(selector: &Selector, le: &str, window: &str, by: &[&str]) -> String {
    let within = format!("sum{}(rate({}[{window}]))", by_clause(by), selector.clone().eq(schema::LE, le).on(BUCKET));
    format!("1 - ({within} / {})", request_rate(selector, window, by))
}

/// Calls in flight.
pub(crate) fn in_flight(selector: &Selector, by: &[&str]) -> String {
    format!("sum{}({})", by_clause(by), selector.on(ACTIVE))
}

/// The names of the series the recording rules write, all labelled by job, method and route.
pub(crate) mod recorded {
    /// Calls per second over `window`.
    pub fn requests(window: &str) -> String {
        format!("job_method_route:http_server_requests:rate{window}")
    }

    /// The share of failed calls over `window`.
    pub fn errors(window: &str) -> String {
        format!("job_method_route:http_server_request_errors:ratio_rate{window}")
    }

    /// The share of calls slower than the endpoint's latency threshold over `window`.
    pub fn slow(window: &str) -> String {
        format!("job_method_route:http_server_request_slow:ratio_rate{window}")
    }

    /// The endpoint's error budget, a constant: 1 - the success objective.
    pub const ERROR_BUDGET: &str = "job_method_route:http_server_request_error_budget:ratio";
    /// The endpoint's latency budget, a constant: 1 - the latency objective.
    pub const LATENCY_BUDGET: &str = "job_method_route:http_server_request_latency_budget:ratio";
    /// The endpoint's latency threshold in seconds, a constant.
    pub const LATENCY_THRESHOLD: &str = "job_method_route:http_server_request_latency_threshold:seconds";
}

/// Whether a burn-rate alert pages someone or opens a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Severity {
    Page,
    Ticket,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }
}

/// One multi-window burn-rate condition (Google SRE workbook, chapter 5, table 5-8): alert when
/// both windows burn faster than the factor that would spend `budget_share` of the period's budget
/// in the long window.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BurnWindow {
    pub severity: Severity,
    pub long: &'static str,
    pub long_hours: f64,
    pub short: &'static str,
    /// The share of the whole period's budget this window may spend before it alerts.
    pub budget_share: f64,
}

impl BurnWindow {
    /// The burn rate that spends `budget_share` of the budget of `period_hours` in the long
    /// window: 14.4, 6 and 1 for a 30-day period.
    pub fn factor(&self, period_hours: f64) -> f64 {
        self.budget_share * period_hours / self.long_hours
    }
}

/// The factors of `severity`'s windows for a period of `period_hours`, fastest first, as the
/// rules write them: `14.4x (1h) and 6x (6h)` for the pages of a 30-day period. Dashboards and
/// prose quote this, so they cannot contradict the alerts.
pub(crate) fn factors_text(period_hours: f64, severity: Severity) -> String {
    BURN_WINDOWS
        .iter()
        .filter(|window| window.severity == severity)
        .map(|window| format!("{}x ({})", number(window.factor(period_hours)), window.long))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The factor of the window whose long window is `long`, for a period of `period_hours`.
pub(crate) fn factor_of(long: &str, period_hours: f64) -> f64 {
    BURN_WINDOWS.iter().find(|window| window.long == long).map_or(f64::NAN, |window| window.factor(period_hours))
}

/// Page on 2% of the budget in 1h or 5% in 6h; ticket on 10% in 3d.
pub(crate) const BURN_WINDOWS: [BurnWindow; 3] = [
    BurnWindow { severity: Severity::Page, long: "1h", long_hours: 1.0, short: "5m", budget_share: 0.02 },
    BurnWindow { severity: Severity::Page, long: "6h", long_hours: 6.0, short: "30m", budget_share: 0.05 },
    BurnWindow { severity: Severity::Ticket, long: "3d", long_hours: 72.0, short: "6h", budget_share: 0.10 },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_escape_values() {
        let selector = Selector::job("svc").eq("http_route", "/a\"b\\c").failures();
        assert_eq!(selector.on("m"), r#"m{job="svc", http_route="/a\"b\\c", error_type!=""}"#);
        assert_eq!(Selector::job("svc").eq("http_route", "$route").on("m"), r#"m{job="svc", http_route="$route"}"#);
    }

    #[test]
    fn queries_read_as_expected() {
        let selector = Selector::job("svc").eq("http_route", "/x");
        assert_eq!(
            error_ratio(&selector, "5m", &[]),
            r#"(sum(rate(http_server_request_duration_seconds_count{job="svc", http_route="/x", error_type!=""}[5m])) or sum(rate(http_server_request_duration_seconds_count{job="svc", http_route="/x"}[5m])) * 0) / sum(rate(http_server_request_duration_seconds_count{job="svc", http_route="/x"}[5m]))"#
        );
        assert_eq!(
            latency_quantile(0.99, &selector, "$__rate_interval", &["http_route"]),
            r#"histogram_quantile(0.99, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket{job="svc", http_route="/x"}[$__rate_interval])))"#
        );
        assert_eq!(
            slow_ratio(&selector, "0.25", "1h", &ENDPOINT_LABELS),
            r#"1 - (sum by (job, http_request_method, http_route) (rate(http_server_request_duration_seconds_bucket{job="svc", http_route="/x", le="0.25"}[1h])) / sum by (job, http_request_method, http_route) (rate(http_server_request_duration_seconds_count{job="svc", http_route="/x"}[1h])))"#
        );
    }

    #[test]
    fn operation_queries_read_the_operation_histogram() {
        let selector = Selector::job("svc").eq("operation", "db.load");
        assert_eq!(
            failure_ratio(OPERATIONS, &selector, "5m", &[]),
            r#"(sum(rate(operation_duration_seconds_count{job="svc", operation="db.load", error_type!=""}[5m])) or sum(rate(operation_duration_seconds_count{job="svc", operation="db.load"}[5m])) * 0) / sum(rate(operation_duration_seconds_count{job="svc", operation="db.load"}[5m]))"#
        );
        assert_eq!(
            quantile_of(OPERATIONS, 0.5, &Selector::job("svc"), "1m", &["operation"]),
            r#"histogram_quantile(0.5, sum by (le, operation) (rate(operation_duration_seconds_bucket{job="svc"}[1m])))"#
        );
        assert_eq!(
            telemetry_dropped_rate(&Selector::job("svc"), "5m", &["signal", "reason"]),
            r#"sum by (signal, reason) (rate(obs_telemetry_dropped_total{job="svc"}[5m]))"#
        );
    }

    #[test]
    fn burn_factors_follow_the_workbook() {
        let factors: Vec<String> = BURN_WINDOWS.iter().map(|window| number(window.factor(30.0 * 24.0))).collect();
        assert_eq!(factors, ["14.4", "6", "1"]);
        assert_eq!(factors_text(30.0 * 24.0, Severity::Page), "14.4x (1h) and 6x (6h)");
        assert_eq!(factors_text(7.0 * 24.0, Severity::Page), "3.36x (1h) and 1.4x (6h)");
        assert_eq!(factors_text(28.0 * 24.0, Severity::Ticket), "0.9333333333x (3d)");
    }
}
