//! `README.md` of the output directory: what each file is and how to check and use it.

use crate::grafana::{alerting, dashboard_file, provisioning};
use crate::model::Model;
use crate::{alertmanager, docs, prometheus_config, rules, rules_test, runbook};
use std::fmt::Write as _;

pub(crate) const FILE_NAME: &str = "README.md";

pub(crate) fn render(model: &Model) -> String {
    let service = model.service();
    let mut out = String::new();
    let rules_file = rules::file_name(model);
    let tests_file = rules_test::file_name(model);
    let _ = write!(
        out,
        "# `{service}` observability files\n\n{note}\
Every file derives from the endpoints and operations in the code, so every query names series the code produces.\n\n\
| file | what |\n|---|---|\n\
| [`{metrics}`]({metrics}) | every metric, label value, endpoint and operation, with PromQL to paste |\n\
| [`{runbook}`]({runbook}) | what each alert means and what to do |\n\
| `prometheus/{rules_file}` | recording rules and burn-rate, no-traffic, availability and telemetry-drop alerts |\n\
| `prometheus/{tests_file}` | `promtool test rules` unit tests of the alerts |\n\
| `prometheus/{prometheus}` | example scrape configuration with the rules and Alertmanager |\n\
| `alertmanager/{alertmanager}` | routing: page to PagerDuty and email, ticket to Slack; inhibition |\n\
| `alertmanager/{templates}` | the notification title and text |\n\
| `grafana/dashboards/{overview}` | the service, its operations, each endpoint against its objectives, telemetry drops, logs |\n\
| `grafana/dashboards/{endpoint}` | one endpoint, chosen with the `route` and `method` variables |\n\
| `grafana/dashboards/{system}` | CPU, memory, file descriptors, threads, uptime, build |\n\
| `grafana/provisioning/datasources/{datasources}` | Prometheus (exemplars to Tempo), Loki (trace ids to Tempo), Tempo, Alertmanager |\n\
| `grafana/provisioning/dashboards/{provider}` | the dashboards folder |\n\
| `grafana/provisioning/alerting/{contact_points}`, `{policies}` | the same routing with Grafana alerting instead of Alertmanager |\n\n\
## Check\n\n```sh\n\
promtool check rules prometheus/{rules_file}\n\
promtool test rules prometheus/{tests_file}\n\
promtool check config prometheus/{prometheus}\n\
amtool check-config alertmanager/{alertmanager}\n\
```\n\n\
## Use\n\n\
- Prometheus: load `prometheus/{rules_file}` (`rule_files`), scrape the service as job `{service}`, and start it with \
`--enable-feature=exemplar-storage` for exemplars.\n\
- Alertmanager: create the secret files the configuration names (PagerDuty routing key, Slack webhook URL, SMTP password), \
then start it with `alertmanager/{alertmanager}`.\n\
- Grafana: copy `grafana/provisioning/*` into Grafana's provisioning directory and mount `grafana/dashboards/` at `{dashboards_path}`.\n",
        metrics = docs::FILE_NAME,
        runbook = runbook::FILE_NAME,
        prometheus = prometheus_config::FILE_NAME,
        alertmanager = alertmanager::FILE_NAME,
        templates = alertmanager::template_file_name(model),
        overview = dashboard_file(model, "overview"),
        endpoint = dashboard_file(model, "endpoint"),
        system = dashboard_file(model, "system"),
        datasources = provisioning::DATASOURCES_FILE,
        provider = provisioning::dashboards_file(model),
        contact_points = alerting::CONTACT_POINTS_FILE,
        policies = alerting::POLICIES_FILE,
        dashboards_path = model.options.grafana_dashboards_path,
        note = model.markdown_note(),
    );
    out
}
