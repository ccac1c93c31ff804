//! `RUNBOOK.md`: what each alert means and what to do, one section per alert name; the alerts'
//! `runbook_url` annotations point at these sections (`#<alertname in lower case>`).

use crate::alerts::{self, AlertRule, Slo};
use crate::model::{Endpoint, Model};
use crate::text::{self, markdown_code};
use obs_runtime::schema;
use std::fmt::Write as _;

pub(crate) const FILE_NAME: &str = "RUNBOOK.md";

fn advice(name: &str) -> String {
    let text = match name {
        alerts::ERROR_BURN => {
            return format!(
                "Calls of the endpoint fail faster than its success objective allows. A page means the budget \
goes within days at this rate; a ticket means it will be missed over the period.\n\n\
1. Open the `dashboard_url`: which `{error_type}` dominates (a 5xx code, an `Err` type name, `{panic}`, `{cancelled}`)?\n\
2. Read the endpoint's ERROR logs (the dashboard's logs panel); follow a `trace_id` to the failing span.\n\
3. Correlate with deploys, dependency incidents and traffic changes; roll back or shed load first, investigate after.\n\
4. `{cancelled}` rising alone usually means clients time out (or a timeout layer cuts calls off): check the latency panels too.",
                error_type = schema::ERROR_TYPE,
                panic = schema::ERROR_TYPE_PANIC,
                cancelled = schema::ERROR_TYPE_CANCELLED,
            );
        }
        alerts::LATENCY_BURN => {
            "Too many calls of the endpoint take longer than its latency threshold.\n\n\
1. Open the `dashboard_url`: did p50 move (everything is slower) or only p99 (a tail: locks, GC-like pauses, a slow dependency)?\n\
2. Click an exemplar on the latency panel to open a slow trace, and find the slow span.\n\
3. Check the system dashboard for CPU saturation, memory growth or file-descriptor exhaustion.\n\
4. Check in-flight calls: a queue builds up when the arrival rate exceeds what the service can serve."
        }
        alerts::NO_TRAFFIC => {
            "The endpoint served no call for 30 minutes although it had steady traffic in the 6 hours before. \
The service may be fine while its callers, a load balancer, DNS or the router stopped sending.\n\n\
1. Check that the instances are up (system dashboard) and that the route is still registered.\n\
2. Check the callers and whatever sits in front of the service (ingress, proxy, feature flags).\n\
3. If the traffic stopped on purpose (a retired endpoint), remove the `#[observed]` annotation or the endpoint and regenerate."
        }
        alerts::INSTANCE_DOWN => {
            "Prometheus cannot scrape an instance: the process is down, restarting, or its metrics listener \
(`OBS_METRICS_ADDR`) is unreachable. While it lasts, no other alert of that instance can fire.\n\n\
1. Check the process (orchestrator events, exit code, OOM kills) and its last log lines.\n\
2. From the Prometheus host, fetch the target's `/metrics` to tell a network problem from a dead process."
        }
        alerts::TARGET_MISSING => {
            "Prometheus has no target at all for the service's job: service discovery lost it, or the scrape \
configuration no longer lists it. Every alert of the service is blind while this lasts.\n\n\
1. Check Prometheus' targets page and its configuration for the job.\n\
2. Check service discovery (labels, annotations, DNS) for the service's instances."
        }
        alerts::TELEMETRY_DROPPED => {
            "An instance loses spans or log records on their way to the OpenTelemetry collector, steadily: \
traces and logs have gaps (the metrics are unaffected). The handlers do not slow down: a full export queue drops, \
it never blocks. The alert's `signal` (`traces`, `logs`) and `reason` labels say what and why.\n\n\
1. Open the `dashboard_url`: the overview's `Telemetry dropped` and `Telemetry exported` panels show since when, and whether anything still gets through.\n\
2. `export_failed`: the collector is unreachable or refuses the data. Check `OTEL_EXPORTER_OTLP_ENDPOINT` (or the per-signal variable), \
the network path, and the collector's own logs; the service logs one `obs::export` warning per signal every 30 s at most.\n\
3. `queue_full`: the collector accepts but does not keep up with the volume. Scale or tune the collector, or sample fewer traces \
(`OTEL_TRACES_SAMPLER_ARG`) and log less (`RUST_LOG`).\n\
4. `shutdown`: items were still queued when the process stopped; repeated restarts (crash loops, aggressive deploys) cause it."
        }
        _ => "",
    };
    text.to_owned()
}

pub(crate) fn render(model: &Model) -> String {
    let service = model.service();
    let rules = alerts::alert_rules(model);
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "# `{service}` runbook\n\n{}One section per alert of `prometheus/{}`. Labels and annotations are the same for every \
instance of an alert; `dashboard_url` opens the right dashboard.\n\n",
        model.markdown_note(),
        crate::rules::file_name(model)
    );
    for name in alerts::ALERT_NAMES {
        let instances: Vec<&AlertRule> = rules.iter().filter(|rule| rule.name == name).collect();
        let Some(first) = instances.first() else { continue };
        let _ = write!(out, "## {name}\n\n{}\n\n", advice(name));
        let mut severities: Vec<(String, String)> =
            instances.iter().map(|rule| (rule.severity().to_owned(), text::duration(rule.hold))).collect();
        severities.sort();
        severities.dedup();
        let _ = write!(
            out,
            "Severity and `for`: {}. Example summary: {}\n\n",
            severities.iter().map(|(severity, hold)| format!("{severity} after {hold}")).collect::<Vec<_>>().join(", "),
            markdown_code(&first.summary.describe()),
        );
        out.push_str("| endpoint | severity | fires when |\n|---|---|---|\n");
        let period_hours = alerts::period_hours(model);
        for rule in instances {
            let endpoint = rule.endpoint.and_then(|index| model.endpoints.get(index));
            let condition = match (rule.burn, endpoint) {
                (Some((_, slo, window)), Some(endpoint)) => {
                    let (ratio, budget) = match slo {
                        Slo::Errors => ("the error ratio", endpoint.objectives.error_budget()),
                        Slo::Latency => ("the slow-call ratio", endpoint.objectives.latency_budget()),
                    };
                    format!(
                        "{ratio} exceeds {} × {} over both {} and {}",
                        text::number(window.factor(period_hours)),
                        text::percent(budget),
                        window.long,
                        window.short
                    )
                }
                _ => markdown_code(&rule.expr),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {condition} |",
                markdown_code(&endpoint.map_or_else(|| "(service)".to_owned(), Endpoint::title)),
                rule.severity(),
            );
        }
        out.push('\n');
    }
    out
}
