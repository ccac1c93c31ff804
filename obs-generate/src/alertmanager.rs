//! `alertmanager/alertmanager.yml` and its message templates.
//!
//! Routing, under a `service="<service>"` route so the subtree can be pasted into a shared tree:
//! - `severity="page"` → PagerDuty, and (`continue: true`) also email, the written record of every
//!   page;
//! - `severity="ticket"` → Slack;
//! - anything else of the service → email (the route's default receiver).
//!
//! Grouped by alertname, service and route. A page silences the ticket of the same alertname,
//! service, route and method (page and ticket burn alerts share their alertname and differ by
//! `severity`), and `InstanceDown` silences the service's `EndpointNoTraffic`.
//!
//! Secrets are read from files only (`routing_key_file`, `api_url_file`,
//! `smtp_auth_password_file`): Alertmanager 0.25 supports all three (checked against the Debian
//! build by a real delivery to stand-in servers).

use crate::alerts;
use crate::model::Model;
use crate::tree::{Node, NotFinite, map, object, strings};
use obs_runtime::schema;
use std::fmt::Write as _;

pub(crate) const FILE_NAME: &str = "alertmanager.yml";

/// How notifications are grouped and repeated; the Grafana-alerting policy tree uses the same, so
/// both alternatives notify alike.
pub(crate) const GROUP_BY: [&str; 3] = ["alertname", "service", schema::HTTP_ROUTE];
pub(crate) const GROUP_WAIT: &str = "30s";
pub(crate) const GROUP_INTERVAL: &str = "5m";
pub(crate) const REPEAT_INTERVAL: &str = "4h";
/// An unresolved page is repeated sooner than anything else.
pub(crate) const PAGE_REPEAT_INTERVAL: &str = "1h";

/// The template file, inside `alertmanager/`.
pub(crate) fn template_file_name(model: &Model) -> String {
    format!("templates/{}.tmpl", model.service())
}

fn template_name(model: &Model, what: &str) -> String {
    format!("obs.{}.{what}", model.service())
}

/// `{{ template "obs.svc.what" . }}`.
pub(crate) fn use_template(model: &Model, what: &str) -> String {
    format!("{{{{ template \"{}\" . }}}}", template_name(model, what))
}

pub(crate) fn receiver_name(model: &Model, kind: &str) -> String {
    format!("{}-{kind}", model.service())
}

fn matcher(name: &str, value: &str) -> String {
    format!("{name}={}", crate::text::promql_string(value))
}

#[allow(clippy::too_many_lines)] // the configuration reads best top to bottom, as the file does
pub(crate) fn render(model: &Model) -> Result<String, NotFinite> {
    let receivers = &model.options.receivers;
    let mut header = model.header("Alertmanager configuration");
    header.extend([
        "page -> PagerDuty and email (continue: true); ticket -> Slack; anything else -> email.".to_owned(),
        "Secrets are read from files: create them before starting Alertmanager.".to_owned(),
    ]);
    let mut global = object([
        ("resolve_timeout", "5m".into()),
        ("smtp_smarthost", receivers.smtp_smarthost.as_str().into()),
        ("smtp_from", receivers.smtp_from.as_str().into()),
    ]);
    if let Some(username) = &receivers.smtp_auth_username {
        global.push("smtp_auth_username", username.as_str().into());
        global.push("smtp_auth_password_file", receivers.smtp_auth_password_file.as_str().into());
    }
    global.push("smtp_require_tls", receivers.smtp_require_tls.into());

    let service_routes = vec![
        map([
            ("receiver", receiver_name(model, "pagerduty").into()),
            ("matchers", strings([matcher("severity", "page")])),
            ("continue", true.into()),
            ("repeat_interval", PAGE_REPEAT_INTERVAL.into()),
        ]),
        map([("receiver", receiver_name(model, "email").into()), ("matchers", strings([matcher("severity", "page")]))]),
        map([
            ("receiver", receiver_name(model, "slack").into()),
            ("matchers", strings([matcher("severity", "ticket")])),
        ]),
    ];
    let route = map([
        ("receiver", receiver_name(model, "email").into()),
        ("group_by", strings(GROUP_BY)),
        ("group_wait", GROUP_WAIT.into()),
        ("group_interval", GROUP_INTERVAL.into()),
        ("repeat_interval", REPEAT_INTERVAL.into()),
        (
            "routes",
            Node::Seq(vec![map([
                ("matchers", strings([matcher("service", model.service())])),
                ("routes", Node::Seq(service_routes)),
            ])]),
        ),
    ]);
    let inhibit_rules = Node::Seq(vec![
        map([
            ("source_matchers", strings([matcher("severity", "page")])),
            ("target_matchers", strings([matcher("severity", "ticket")])),
            ("equal", strings(["alertname", "service", schema::HTTP_ROUTE, schema::HTTP_REQUEST_METHOD])),
        ]),
        map([
            ("source_matchers", strings([matcher("alertname", alerts::INSTANCE_DOWN)])),
            ("target_matchers", strings([matcher("alertname", alerts::NO_TRAFFIC)])),
            ("equal", strings(["service"])),
        ]),
    ]);
    let title = use_template(model, "title");
    let text = use_template(model, "text");
    let receivers_node = Node::Seq(vec![
        map([
            ("name", receiver_name(model, "pagerduty").into()),
            (
                "pagerduty_configs",
                Node::Seq(vec![map([
                    ("routing_key_file", receivers.pagerduty_routing_key_file.as_str().into()),
                    ("url", receivers.pagerduty_url.as_str().into()),
                    ("send_resolved", true.into()),
                    ("severity", "critical".into()),
                    ("description", title.as_str().into()),
                    (
                        "details",
                        map([
                            (
                                "endpoint",
                                format!(
                                    "{{{{ .CommonLabels.{} }}}} {{{{ .CommonLabels.{} }}}}",
                                    schema::HTTP_REQUEST_METHOD,
                                    schema::HTTP_ROUTE
                                )
                                .into(),
                            ),
                            ("summary", "{{ .CommonAnnotations.summary }}".into()),
                            ("alerts", text.as_str().into()),
                            ("runbook", "{{ .CommonAnnotations.runbook_url }}".into()),
                            ("dashboard", "{{ .CommonAnnotations.dashboard_url }}".into()),
                        ]),
                    ),
                ])]),
            ),
        ]),
        map([
            ("name", receiver_name(model, "slack").into()),
            (
                "slack_configs",
                Node::Seq(vec![map([
                    ("api_url_file", receivers.slack_api_url_file.as_str().into()),
                    ("channel", receivers.slack_channel.as_str().into()),
                    ("send_resolved", true.into()),
                    ("title", title.as_str().into()),
                    ("title_link", "{{ .CommonAnnotations.dashboard_url }}".into()),
                    ("text", text.as_str().into()),
                ])]),
            ),
        ]),
        map([
            ("name", receiver_name(model, "email").into()),
            (
                "email_configs",
                Node::Seq(vec![map([
                    ("to", receivers.email_to.as_str().into()),
                    ("send_resolved", true.into()),
                    ("headers", map([("Subject", title.as_str().into())])),
                    ("text", text.as_str().into()),
                ])]),
            ),
        ]),
    ]);
    map([
        ("global", global.into()),
        ("templates", strings([template_file_name(model)])),
        ("route", route),
        ("inhibit_rules", inhibit_rules),
        ("receivers", receivers_node),
    ])
    .to_yaml(&header)
}

/// The Go templates of the notification title and body: the alert, the endpoint (method and
/// route), the summary, the description and the links.
pub(crate) fn render_templates(model: &Model) -> String {
    let header = model.header("Alertmanager message templates").iter().fold(String::new(), |mut out, line| {
        let _ = writeln!(out, "{{{{/* {line} */}}}}");
        out
    });
    // The names go in by position, never by text replacement: a service named `CONTEXT` must
    // not have its own name rewritten inside the template names.
    let define = |what: &str, body: &str| {
        format!("{{{{ define \"{}\" -}}}}\n{body}{{{{- end }}}}\n", template_name(model, what))
    };
    header + &define("title", &title_template()) + "\n" + &define("text", &text_template())
}

/// `{{- with .<scope>.<label> }} {{ . }}{{ end }}`: the label's value after a space, if set.
fn with_label(scope: &str, label: &str) -> String {
    format!("{{{{- with .{scope}.{label} }}}} {{{{ . }}}}{{{{ end }}}}\n")
}

/// The body of the notification title template.
fn title_template() -> String {
    [
        r#"[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} {{ .CommonLabels.service }}
"#,
        &with_label("CommonLabels", schema::HTTP_REQUEST_METHOD),
        &with_label("CommonLabels", schema::HTTP_ROUTE),
        "{{- with .CommonAnnotations.summary }}: {{ . }}{{ end }}\n",
    ]
    .concat()
}

/// The body of the notification text template: one paragraph per alert.
fn text_template() -> String {
    [
        "{{ range .Alerts -}}\n[{{ .Status }} {{ .Labels.severity }}] {{ .Labels.alertname }} {{ .Labels.service }}\n",
        &with_label("Labels", schema::HTTP_REQUEST_METHOD),
        &with_label("Labels", schema::HTTP_ROUTE),
        r"{{- if .Labels.long_window }} ({{ .Labels.long_window }} and {{ .Labels.short_window }} windows){{ end }}
{{ .Annotations.summary }}
{{ .Annotations.description }}
Runbook: {{ .Annotations.runbook_url }}
Dashboard: {{ .Annotations.dashboard_url }}

{{ end -}}
",
    ]
    .concat()
}
