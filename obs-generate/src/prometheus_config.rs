//! `prometheus/prometheus.yml`: an example scrape configuration for the service, with the rule
//! file and the Alertmanager to send alerts to.

use crate::model::Model;
use crate::text;
use crate::tree::{Node, NotFinite, map, strings};

pub(crate) const FILE_NAME: &str = "prometheus.yml";

pub(crate) fn render(model: &Model) -> Result<String, NotFinite> {
    let options = model.options;
    let mut header = model.header("Example Prometheus configuration");
    header.extend([
        "Start Prometheus with --enable-feature=exemplar-storage to keep the exemplars Grafana links to traces."
            .to_owned(),
        "Paths are relative to this file.".to_owned(),
        "In a container or pod the service must listen beyond loopback: OBS_METRICS_ADDR=0.0.0.0:9464".to_owned(),
        "(it warns at start-up, event metrics_on_loopback, when it looks containerised and does not).".to_owned(),
    ]);
    let document = map([
        (
            "global",
            map([
                ("scrape_interval", text::duration(options.scrape_interval).into()),
                ("evaluation_interval", text::duration(options.evaluation_interval).into()),
            ]),
        ),
        ("rule_files", strings([crate::rules::file_name(model)])),
        (
            "alerting",
            map([(
                "alertmanagers",
                Node::Seq(vec![map([(
                    "static_configs",
                    Node::Seq(vec![map([("targets", strings([&options.alertmanager_target]))])]),
                )])]),
            )]),
        ),
        (
            "scrape_configs",
            Node::Seq(vec![map([
                ("job_name", model.service().into()),
                ("scrape_interval", text::duration(options.scrape_interval).into()),
                ("metrics_path", "/metrics".into()),
                ("static_configs", Node::Seq(vec![map([("targets", strings([&options.scrape_target]))])])),
            ])]),
        ),
    ]);
    document.to_yaml(&header)
}
