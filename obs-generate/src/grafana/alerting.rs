//! The Grafana-alerting alternative to Alertmanager: contact points (PagerDuty, Slack, email) and
//! the notification policy tree, routed the same way as `alertmanager.yml`.
//!
//! Secrets are never literal: Grafana reads them with `$__file{path}` when it provisions the file.
//! Email goes through the SMTP server of `grafana.ini` (`[smtp]`, whose password can also be
//! `$__file{...}`). Provisioning a policy tree replaces the organization's whole tree.

use crate::alertmanager::{
    self, GROUP_BY, GROUP_INTERVAL, GROUP_WAIT, PAGE_REPEAT_INTERVAL, REPEAT_INTERVAL, receiver_name,
};
use crate::model::Model;
use crate::text::grafana_provisioning_literal as literal;
use crate::tree::{Node, NotFinite, map, strings};

pub(crate) const CONTACT_POINTS_FILE: &str = "contact-points.yaml";
pub(crate) const POLICIES_FILE: &str = "notification-policies.yaml";

/// `$__file{path}`: Grafana reads the secret from the file.
fn secret_file(path: &str) -> Node {
    Node::Str(format!("$__file{{{path}}}"))
}

fn template_name(model: &Model) -> String {
    format!("obs.{}", model.service())
}

fn use_template(model: &Model, what: &str) -> Node {
    Node::Str(alertmanager::use_template(model, what))
}

fn contact_point(model: &Model, kind: &str, plugin: &str, settings: Node) -> Node {
    let name = receiver_name(model, kind);
    map([
        ("orgId", Node::Int(1)),
        ("name", name.as_str().into()),
        (
            "receivers",
            Node::Seq(vec![map([
                ("uid", name.into()),
                ("type", plugin.into()),
                ("disableResolveMessage", false.into()),
                ("settings", settings),
            ])]),
        ),
    ])
}

pub(crate) fn render_contact_points(model: &Model) -> Result<String, NotFinite> {
    let receivers = &model.options.receivers;
    let mut header = model.header("Grafana alerting contact points");
    header.extend([
        "Copy into /etc/grafana/provisioning/alerting/. Secrets are read from files with $__file{...}.".to_owned(),
        "Email uses the [smtp] section of grafana.ini.".to_owned(),
    ]);
    let pagerduty = contact_point(
        model,
        "pagerduty",
        "pagerduty",
        map([
            ("integrationKey", secret_file(&receivers.grafana_pagerduty_routing_key_file)),
            ("severity", "critical".into()),
            ("summary", use_template(model, "title")),
        ]),
    );
    let slack = contact_point(
        model,
        "slack",
        "slack",
        map([
            ("url", secret_file(&receivers.grafana_slack_url_file)),
            ("recipient", literal(&receivers.slack_channel).into()),
            ("title", use_template(model, "title")),
            ("text", use_template(model, "text")),
        ]),
    );
    let email = contact_point(
        model,
        "email",
        "email",
        map([
            ("addresses", literal(&receivers.email_to).into()),
            ("singleEmail", true.into()),
            ("subject", use_template(model, "title")),
            ("message", use_template(model, "text")),
        ]),
    );
    // The same Go templates as Alertmanager's; Grafana's notification data has the same shape.
    let templates = alertmanager::render_templates(model);
    let body: String =
        templates.lines().filter(|line| !line.starts_with("{{/*")).fold(String::new(), |out, line| out + line + "\n");
    map([
        ("apiVersion", Node::Int(1)),
        ("contactPoints", Node::Seq(vec![pagerduty, slack, email])),
        (
            "templates",
            Node::Seq(vec![map([
                ("orgId", Node::Int(1)),
                ("name", template_name(model).into()),
                ("template", literal(body.trim()).into()),
            ])]),
        ),
    ])
    .to_yaml(&header)
}

fn matcher(name: &str, value: &str) -> Node {
    strings([name, "=", value])
}

pub(crate) fn render_policies(model: &Model) -> Result<String, NotFinite> {
    let mut header = model.header("Grafana alerting notification policies");
    header.extend([
        "page -> PagerDuty and email (continue: true); ticket -> Slack; anything else -> email.".to_owned(),
        "Provisioning replaces the organization's whole policy tree: merge by hand when several services share one Grafana.".to_owned(),
    ]);
    let service_routes = vec![
        map([
            ("receiver", receiver_name(model, "pagerduty").into()),
            ("object_matchers", Node::Seq(vec![matcher("severity", "page")])),
            ("continue", true.into()),
            ("repeat_interval", PAGE_REPEAT_INTERVAL.into()),
        ]),
        map([
            ("receiver", receiver_name(model, "email").into()),
            ("object_matchers", Node::Seq(vec![matcher("severity", "page")])),
        ]),
        map([
            ("receiver", receiver_name(model, "slack").into()),
            ("object_matchers", Node::Seq(vec![matcher("severity", "ticket")])),
        ]),
    ];
    map([
        ("apiVersion", Node::Int(1)),
        (
            "policies",
            Node::Seq(vec![map([
                ("orgId", Node::Int(1)),
                ("receiver", receiver_name(model, "email").into()),
                ("group_by", strings(GROUP_BY)),
                ("group_wait", GROUP_WAIT.into()),
                ("group_interval", GROUP_INTERVAL.into()),
                ("repeat_interval", REPEAT_INTERVAL.into()),
                (
                    "routes",
                    Node::Seq(vec![map([
                        ("object_matchers", Node::Seq(vec![matcher("service", model.service())])),
                        ("routes", Node::Seq(service_routes)),
                    ])]),
                ),
            ])]),
        ),
    ])
    .to_yaml(&header)
}
