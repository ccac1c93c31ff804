//! Grafana provisioning of the datasources the dashboards refer to, and of the dashboards folder.
//!
//! - Prometheus, whose exemplars (`trace_id`) link to Tempo;
//! - Loki, whose `trace_id` fields in the JSON log lines link to Tempo;
//! - Tempo, whose spans link back to their logs in Loki;
//! - Alertmanager, to see and silence the alerts from Grafana.
//!
//! Grafana expands `$VAR` in provisioning files, so every literal `$` is written `$$`.

use crate::grafana::Datasource;
use crate::model::Model;
use crate::text::grafana_provisioning_literal as literal;
use crate::tree::{Node, NotFinite, map};

/// The datasources file, inside `grafana/provisioning/datasources/`: the same for every service
/// with the same URLs, so several services can share it.
pub(crate) const DATASOURCES_FILE: &str = "obs.yaml";

/// The dashboards provider file, inside `grafana/provisioning/dashboards/`: one per service.
pub(crate) fn dashboards_file(model: &Model) -> String {
    format!("{}.yaml", model.service())
}

fn datasource(kind: Datasource, name: &str, url: &str, default: bool, json_data: Node) -> Node {
    map([
        ("name", name.into()),
        ("uid", kind.uid().into()),
        ("type", kind.plugin().into()),
        ("access", "proxy".into()),
        ("url", literal(url).into()),
        ("isDefault", default.into()),
        ("editable", false.into()),
        ("jsonData", json_data),
    ])
}

pub(crate) fn render_datasources(model: &Model) -> Result<String, NotFinite> {
    let options = model.options;
    let view_trace = "View trace";
    let prometheus = datasource(
        Datasource::Prometheus,
        "obs Prometheus",
        &options.prometheus_url,
        true,
        map([
            ("httpMethod", "POST".into()),
            ("timeInterval", crate::text::duration(options.scrape_interval).into()),
            (
                "exemplarTraceIdDestinations",
                Node::Seq(vec![map([
                    ("name", "trace_id".into()),
                    ("datasourceUid", Datasource::Tempo.uid().into()),
                    ("urlDisplayLabel", view_trace.into()),
                ])]),
            ),
        ]),
    );
    let loki = datasource(
        Datasource::Loki,
        "obs Loki",
        &options.loki_url,
        false,
        map([
            ("maxLines", Node::Int(1000)),
            (
                "derivedFields",
                Node::Seq(vec![map([
                    ("name", "trace_id".into()),
                    ("matcherRegex", r#""trace_id":"(\w+)""#.into()),
                    ("datasourceUid", Datasource::Tempo.uid().into()),
                    ("url", literal("${__value.raw}").into()),
                    ("urlDisplayLabel", view_trace.into()),
                ])]),
            ),
        ]),
    );
    let tempo = datasource(
        Datasource::Tempo,
        "obs Tempo",
        &options.tempo_url,
        false,
        map([
            (
                "tracesToLogsV2",
                map([
                    ("datasourceUid", Datasource::Loki.uid().into()),
                    ("filterByTraceID", true.into()),
                    ("spanStartTimeShift", "-5m".into()),
                    ("spanEndTimeShift", "5m".into()),
                ]),
            ),
            ("serviceMap", map([("datasourceUid", Datasource::Prometheus.uid().into())])),
            ("lokiSearch", map([("datasourceUid", Datasource::Loki.uid().into())])),
            ("nodeGraph", map([("enabled", true.into())])),
        ]),
    );
    let alertmanager = datasource(
        Datasource::Alertmanager,
        "obs Alertmanager",
        &options.alertmanager_url,
        false,
        map([("implementation", "prometheus".into()), ("handleGrafanaManagedAlerts", false.into())]),
    );
    let mut header = model.header("Grafana datasources");
    header.push("Copy into /etc/grafana/provisioning/datasources/.".to_owned());
    map([("apiVersion", Node::Int(1)), ("datasources", Node::Seq(vec![prometheus, loki, tempo, alertmanager]))])
        .to_yaml(&header)
}

pub(crate) fn render_dashboards_provider(model: &Model) -> Result<String, NotFinite> {
    let service = model.service();
    let mut header = model.header("Grafana dashboards provider");
    header.push(format!(
        "Copy into /etc/grafana/provisioning/dashboards/ and mount grafana/dashboards/ at {}.",
        model.options.grafana_dashboards_path
    ));
    header.push(format!("The folder {service} holds the overview, endpoint and system dashboards."));
    map([
        ("apiVersion", Node::Int(1)),
        (
            "providers",
            Node::Seq(vec![map([
                ("name", service.into()),
                ("orgId", Node::Int(1)),
                ("folder", service.into()),
                ("folderUid", format!("obs-{service}").into()),
                ("type", "file".into()),
                ("disableDeletion", false.into()),
                ("allowUiUpdates", false.into()),
                ("updateIntervalSeconds", Node::Int(30)),
                (
                    "options",
                    map([
                        ("path", literal(&model.options.grafana_dashboards_path).into()),
                        ("foldersFromFilesStructure", false.into()),
                    ]),
                ),
            ])]),
        ),
    ])
    .to_yaml(&header)
}
