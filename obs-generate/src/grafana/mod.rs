//! Grafana: three dashboards, the provisioning of their datasources and folder, and the
//! Grafana-alerting contact points and notification policies.
//!
//! Every datasource is referenced by a fixed uid that the provisioned datasources carry, so the
//! dashboards work as soon as both are provisioned: `obs-prometheus`, `obs-loki`, `obs-tempo`,
//! `obs-alertmanager`.
//!
//! Dashboard queries use only these Grafana variables: `$route` and `$method` (the drill-down's
//! endpoint), `$__rate_interval` and `$__range` in PromQL, and `$log_level` in LogQL.

pub(crate) mod alerting;
pub(crate) mod dashboards;
pub(crate) mod panels;
pub(crate) mod provisioning;

use crate::model::Model;
use crate::tree::{Node, map};

/// The datasources the dashboards and provisioning files refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Datasource {
    Prometheus,
    Loki,
    Tempo,
    Alertmanager,
}

impl Datasource {
    pub fn uid(self) -> &'static str {
        match self {
            Datasource::Prometheus => "obs-prometheus",
            Datasource::Loki => "obs-loki",
            Datasource::Tempo => "obs-tempo",
            Datasource::Alertmanager => "obs-alertmanager",
        }
    }

    pub fn plugin(self) -> &'static str {
        match self {
            Datasource::Prometheus => "prometheus",
            Datasource::Loki => "loki",
            Datasource::Tempo => "tempo",
            Datasource::Alertmanager => "alertmanager",
        }
    }
}

/// `{"type": "prometheus", "uid": "obs-prometheus"}`.
pub(crate) fn datasource_ref(datasource: Datasource) -> Node {
    map([("type", datasource.plugin().into()), ("uid", datasource.uid().into())])
}

/// `<service>-overview`, `<service>-endpoint`, `<service>-system`: at most 40 characters, as
/// Grafana requires (the service name is at most 31).
pub(crate) fn dashboard_uid(model: &Model, kind: &str) -> String {
    format!("{}-{kind}", model.service())
}

/// The dashboard files, inside `grafana/dashboards/`.
pub(crate) fn dashboard_file(model: &Model, kind: &str) -> String {
    format!("{}.json", dashboard_uid(model, kind))
}
