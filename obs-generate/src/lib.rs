//! Deployment files generated from the catalog of `#[observed]` functions: the metrics reference,
//! Grafana dashboards and provisioning, Prometheus recording and alerting rules with their unit
//! tests, and the Alertmanager (or Grafana alerting) routing.
//!
//! Every generator is a pure function from the catalog and the [`Options`] to text, so the files
//! can only name series the code produces, and the same program always writes the same bytes.
//!
//! Give the service a `generate <dir>` command and run it whenever the annotations change:
//!
//! ```
//! use obs_generate::{Options, artifacts, write_artifacts};
//! use obs_runtime::observed;
//!
//! /// Lists the orders.
//! #[observed(endpoint = "/orders", method = "GET")]
//! fn list_orders() -> Result<Vec<u64>, std::io::Error> {
//!     Ok(vec![])
//! }
//!
//! let mut options = Options::new("shop");
//! options.scrape_target = "shop:9464".to_owned();
//! options.regenerate_command = Some("cargo run -- generate deploy".to_owned());
//!
//! let files = artifacts(obs_runtime::catalog(), &options)?;
//! let rules = files.iter().find(|file| file.path == "prometheus/shop.rules.yml").expect("rules");
//! assert!(rules.contents.contains(r#"http_route="/orders""#));
//!
//! let dir = std::env::temp_dir().join(format!("obs-generate-doc-{}", std::process::id()));
//! let written = write_artifacts(&dir, &files)?;
//! assert_eq!(written.len(), files.len());
//! std::fs::remove_dir_all(&dir).ok();
//! # let _ = list_orders();
//! # Ok::<(), obs_generate::GenerateError>(())
//! ```
//!
//! The files (paths relative to the output directory; `<service>` is [`Options::service`]):
//!
//! | path | what |
//! |---|---|
//! | `README.md` | what each file is, how to check and use it |
//! | `METRICS.md` | every metric and label value, every endpoint and operation, ready-to-paste PromQL |
//! | `RUNBOOK.md` | one section per alert; the alerts' `runbook_url` anchors |
//! | `prometheus/<service>.rules.yml` | recording rules, burn-rate, no-traffic, availability and telemetry-drop alerts |
//! | `prometheus/<service>.rules.test.yml` | `promtool test rules` tests asserting which alerts fire |
//! | `prometheus/prometheus.yml` | example scrape configuration with the rules and Alertmanager |
//! | `alertmanager/alertmanager.yml`, `alertmanager/templates/<service>.tmpl` | routing, inhibition, messages |
//! | `grafana/dashboards/<service>-{overview,endpoint,system}.json` | the dashboards |
//! | `grafana/provisioning/datasources/obs.yaml` | Prometheus, Loki, Tempo, Alertmanager datasources |
//! | `grafana/provisioning/dashboards/<service>.yaml` | the dashboards folder provider |
//! | `grafana/provisioning/alerting/{contact-points,notification-policies}.yaml` | Grafana alerting |
//! | `otel-collector/config.yaml` | OpenTelemetry Collector: OTLP in, logs to Loki, traces to Tempo |
//! | `loki/otlp-limits.yaml` | Loki's `limits_config`: which attributes become index labels |

mod alertmanager;
mod alerts;
pub mod cli;
mod collector;
mod docs;
mod error;
mod grafana;
mod logql;
mod model;
mod prometheus_config;
mod promql;
mod readme;
mod rules;
mod rules_test;
mod runbook;
mod text;
mod tree;

pub use error::GenerateError;

use obs_runtime::CallSite;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One generated file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// The path relative to the output directory, with `/` separators (`prometheus/x.rules.yml`).
    pub path: String,
    /// The whole file.
    pub contents: String,
}

/// Where notifications go. Secrets are only ever named by file path, never written into the
/// generated files.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Receivers {
    /// PagerDuty Events API v2 URL. Default `https://events.pagerduty.com/v2/enqueue`.
    pub pagerduty_url: String,
    /// File holding the PagerDuty routing (integration) key.
    /// Default `/etc/alertmanager/secrets/pagerduty-routing-key`.
    pub pagerduty_routing_key_file: String,
    /// File holding the Slack incoming-webhook URL.
    /// Default `/etc/alertmanager/secrets/slack-webhook-url`.
    pub slack_api_url_file: String,
    /// Slack channel of the tickets. Default `#<service>-alerts`.
    pub slack_channel: String,
    /// SMTP server, `host:port`. Default `smtp.example.com:587`.
    pub smtp_smarthost: String,
    /// Sender address. Default `alertmanager@example.com`.
    pub smtp_from: String,
    /// SMTP user; `None` for a server without authentication. Default `Some("alertmanager")`.
    pub smtp_auth_username: Option<String>,
    /// File holding the SMTP password (used with `smtp_auth_username`).
    /// Default `/etc/alertmanager/secrets/smtp-password`.
    pub smtp_auth_password_file: String,
    /// Require STARTTLS. Default `true`.
    pub smtp_require_tls: bool,
    /// Recipient of the email notifications. Default `<service>-oncall@example.com`.
    pub email_to: String,
    /// The PagerDuty routing key file as Grafana sees it (Grafana-alerting contact point).
    /// Default `/etc/grafana/secrets/pagerduty-routing-key`.
    pub grafana_pagerduty_routing_key_file: String,
    /// The Slack webhook URL file as Grafana sees it (Grafana-alerting contact point).
    /// Default `/etc/grafana/secrets/slack-webhook-url`.
    pub grafana_slack_url_file: String,
}

/// What the generated files need to know beyond the catalog. [`Options::new`] gives production
/// defaults; set fields to change them.
///
/// ```
/// use obs_generate::Options;
/// use std::time::Duration;
///
/// let mut options = Options::new("checkout");
/// options.page_for = Duration::from_secs(60);
/// options.receivers.slack_channel = "#payments".to_owned();
/// assert_eq!(options.scrape_target, "localhost:9464");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Options {
    /// The service name: the Prometheus job, the `service` alert label, file names and Grafana
    /// uids. 1 to 31 ASCII letters, digits, `_`, `.` or `-`.
    pub service: String,
    /// The command that regenerates the files, written into each file's header.
    pub regenerate_command: Option<String>,
    /// `host:port` Prometheus scrapes. Default `localhost:9464` (the metrics listener's port).
    pub scrape_target: String,
    /// Default 15s; also Grafana's `$__rate_interval` basis.
    pub scrape_interval: Duration,
    /// Prometheus' rule evaluation interval. Default 30s.
    pub evaluation_interval: Duration,
    /// `host:port` of Alertmanager in `prometheus.yml`. Default `localhost:9093`.
    pub alertmanager_target: String,
    /// The period the objectives hold over; sets the burn-rate factors (14.4, 6, 1 for 30 days)
    /// and the budget panels. Default 30 days; at least 3 days.
    pub slo_period: Duration,
    /// How long a paging condition must hold before the alert fires. Default 2m.
    pub page_for: Duration,
    /// How long a ticket condition must hold before the alert fires. Default 15m; at most 5h
    /// while the no-traffic alert is on.
    pub ticket_for: Duration,
    /// The no-traffic alert fires when an endpoint served nothing for 30m after averaging at least
    /// this many calls per minute over the 6h before. `None` generates no such alert. Default 1.
    pub no_traffic_min_requests_per_minute: Option<f64>,
    /// Grafana's base URL, for the alerts' `dashboard_url`. Default `http://localhost:3000`.
    pub grafana_url: String,
    /// Where `RUNBOOK.md` is published; alerts link to `<runbook_url>#<alertname>`.
    /// Default `https://runbooks.example.com/<service>/RUNBOOK.md`.
    pub runbook_url: String,
    /// Where Grafana finds the dashboard files. Default `/var/lib/grafana/dashboards/<service>`.
    pub grafana_dashboards_path: String,
    /// Prometheus as Grafana reaches it. Default `http://prometheus:9090`.
    pub prometheus_url: String,
    /// Loki as Grafana reaches it. Default `http://loki:3100`.
    pub loki_url: String,
    /// Tempo as Grafana reaches it. Default `http://tempo:3200`.
    pub tempo_url: String,
    /// Alertmanager as Grafana reaches it. Default `http://alertmanager:9093`.
    pub alertmanager_url: String,
    /// Loki's OTLP endpoint as the collector reaches it. Default `http://loki:3100/otlp`.
    pub collector_loki_otlp_url: String,
    /// The tracing backend's OTLP/gRPC endpoint as the collector reaches it. Default
    /// `tempo:4317` (plain text unless it starts with `https://`).
    pub collector_traces_otlp_endpoint: String,
    /// The LogQL stream selector of the service's logs. Default `{service_name="<service>"}`.
    pub loki_selector: String,
    /// Notification receivers.
    pub receivers: Receivers,
}

impl Options {
    /// The defaults for `service`.
    #[must_use]
    pub fn new(service: impl Into<String>) -> Self {
        let service = service.into();
        Options {
            regenerate_command: None,
            scrape_target: "localhost:9464".to_owned(),
            scrape_interval: Duration::from_secs(15),
            evaluation_interval: Duration::from_secs(30),
            alertmanager_target: "localhost:9093".to_owned(),
            slo_period: Duration::from_secs(30 * 86_400),
            page_for: Duration::from_secs(2 * 60),
            ticket_for: Duration::from_secs(15 * 60),
            no_traffic_min_requests_per_minute: Some(1.0),
            grafana_url: "http://localhost:3000".to_owned(),
            runbook_url: format!("https://runbooks.example.com/{service}/RUNBOOK.md"),
            grafana_dashboards_path: format!("/var/lib/grafana/dashboards/{service}"),
            prometheus_url: "http://prometheus:9090".to_owned(),
            loki_url: "http://loki:3100".to_owned(),
            tempo_url: "http://tempo:3200".to_owned(),
            collector_loki_otlp_url: "http://loki:3100/otlp".to_owned(),
            collector_traces_otlp_endpoint: "tempo:4317".to_owned(),
            alertmanager_url: "http://alertmanager:9093".to_owned(),
            loki_selector: format!("{{service_name={}}}", text::promql_string(&service)),
            receivers: Receivers {
                pagerduty_url: "https://events.pagerduty.com/v2/enqueue".to_owned(),
                pagerduty_routing_key_file: "/etc/alertmanager/secrets/pagerduty-routing-key".to_owned(),
                slack_api_url_file: "/etc/alertmanager/secrets/slack-webhook-url".to_owned(),
                slack_channel: format!("#{service}-alerts"),
                smtp_smarthost: "smtp.example.com:587".to_owned(),
                smtp_from: "alertmanager@example.com".to_owned(),
                smtp_auth_username: Some("alertmanager".to_owned()),
                smtp_auth_password_file: "/etc/alertmanager/secrets/smtp-password".to_owned(),
                smtp_require_tls: true,
                email_to: format!("{service}-oncall@example.com"),
                grafana_pagerduty_routing_key_file: "/etc/grafana/secrets/pagerduty-routing-key".to_owned(),
                grafana_slack_url_file: "/etc/grafana/secrets/slack-webhook-url".to_owned(),
            },
            service,
        }
    }
}

impl Options {
    /// After `service` changed from `original`'s: every field derived from the name that still
    /// holds `original`'s default is derived from the new name instead.
    pub(crate) fn follow_service_rename(&mut self, original: &Options) {
        if self.service == original.service {
            return;
        }
        let renamed = Options::new(self.service.clone());
        let follow = |field: &mut String, before: &String, after: &String| {
            if field == before {
                field.clone_from(after);
            }
        };
        follow(&mut self.runbook_url, &original.runbook_url, &renamed.runbook_url);
        follow(&mut self.grafana_dashboards_path, &original.grafana_dashboards_path, &renamed.grafana_dashboards_path);
        follow(&mut self.loki_selector, &original.loki_selector, &renamed.loki_selector);
        follow(&mut self.receivers.slack_channel, &original.receivers.slack_channel, &renamed.receivers.slack_channel);
        follow(&mut self.receivers.email_to, &original.receivers.email_to, &renamed.receivers.email_to);
    }
}

/// Every file for the endpoints and operations of `catalog`, sorted by path.
///
/// Pass [`catalog()`](obs_runtime::catalog) for the program's own endpoints and operations; the order
/// of `catalog` does not matter.
///
/// # Errors
/// [`GenerateError::InvalidOption`] for an unusable option,
/// [`GenerateError::DuplicateCallSites`] when functions share an endpoint or an operation name, [`GenerateError::InvalidObjective`] when an
/// objective cannot be measured (a latency threshold that is not a bucket bound, a target outside
/// `(0, 1)`).
pub fn artifacts(catalog: &[&CallSite], options: &Options) -> Result<Vec<Artifact>, GenerateError> {
    let model = model::Model::new(catalog, options)?;
    let mut files = vec![
        (readme::FILE_NAME.to_owned(), readme::render(&model)),
        (docs::FILE_NAME.to_owned(), docs::render(&model)),
        (runbook::FILE_NAME.to_owned(), runbook::render(&model)),
        (format!("prometheus/{}", rules::file_name(&model)), rules::render(&model)?),
        (format!("prometheus/{}", rules_test::file_name(&model)), rules_test::render(&model)?),
        (format!("prometheus/{}", prometheus_config::FILE_NAME), prometheus_config::render(&model)?),
        (format!("alertmanager/{}", alertmanager::FILE_NAME), alertmanager::render(&model)?),
        (format!("alertmanager/{}", alertmanager::template_file_name(&model)), alertmanager::render_templates(&model)),
        (
            format!("grafana/provisioning/datasources/{}", grafana::provisioning::DATASOURCES_FILE),
            grafana::provisioning::render_datasources(&model)?,
        ),
        (
            format!("grafana/provisioning/dashboards/{}", grafana::provisioning::dashboards_file(&model)),
            grafana::provisioning::render_dashboards_provider(&model)?,
        ),
        (
            format!("grafana/provisioning/alerting/{}", grafana::alerting::CONTACT_POINTS_FILE),
            grafana::alerting::render_contact_points(&model)?,
        ),
        (
            format!("grafana/provisioning/alerting/{}", grafana::alerting::POLICIES_FILE),
            grafana::alerting::render_policies(&model)?,
        ),
    ];
    files.push(("otel-collector/config.yaml".to_owned(), collector::collector_config(&model)?));
    files.push(("loki/otlp-limits.yaml".to_owned(), collector::loki_limits(&model)?));
    for (name, contents) in grafana::dashboards::render(&model)? {
        files.push((format!("grafana/dashboards/{name}"), contents));
    }
    let mut artifacts: Vec<Artifact> = files.into_iter().map(|(path, contents)| Artifact { path, contents }).collect();
    artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(artifacts)
}

/// Writes `artifacts` under `dir`, creating directories as needed, and returns the paths written.
/// Files of `dir` that are not among `artifacts` are left alone.
///
/// # Errors
/// [`GenerateError::Write`] when a directory or file cannot be written, or an artifact's path is
/// not a plain relative path.
pub fn write_artifacts(dir: impl AsRef<Path>, artifacts: &[Artifact]) -> Result<Vec<PathBuf>, GenerateError> {
    let dir = dir.as_ref();
    let mut written = Vec::with_capacity(artifacts.len());
    for artifact in artifacts {
        let relative = Path::new(&artifact.path);
        let plain = relative.components().all(|component| matches!(component, std::path::Component::Normal(_)));
        let path = dir.join(relative);
        if !plain || artifact.path.is_empty() {
            return Err(GenerateError::Write {
                path,
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a plain relative path"),
            });
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| GenerateError::Write { path: parent.to_path_buf(), source })?;
        }
        std::fs::write(&path, &artifact.contents)
            .map_err(|source| GenerateError::Write { path: path.clone(), source })?;
        written.push(path);
    }
    Ok(written)
}

/// [`artifacts`] of this program's [`catalog()`](obs_runtime::catalog) (its endpoints and operations),
/// written under `dir`: what a service's `generate <dir>` command calls.
///
/// # Errors
/// As [`artifacts`] and [`write_artifacts`].
pub fn generate(dir: impl AsRef<Path>, options: &Options) -> Result<Vec<PathBuf>, GenerateError> {
    write_artifacts(dir, &artifacts(obs_runtime::catalog(), options)?)
}

#[cfg(test)]
mod tests;
