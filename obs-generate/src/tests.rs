//! Unit tests of the generators on hand-built catalogs: exact lines, escaping, determinism and the
//! typed errors. The tools' own checks (promtool, amtool) run in `tests/generated_artifacts.rs`.

use super::grafana::dashboards;
use super::model::Model;
use super::tree::Node;
use super::*;
use obs_runtime::__private::{CallSiteInfo, Target};
use std::collections::BTreeSet;

fn site(method: &'static str, route: &'static str, line: u32) -> CallSite {
    CallSite::new(CallSiteInfo {
        target: Target::Endpoint { method, route, success_objective: None, latency_objective: None },
        function: "handler",
        function_path: || "",
        module_path: "shop::api",
        file: "src/api.rs",
        line,
        doc: "Does the thing.\nSecond line.",
        buckets: None,
    })
}

fn declared_site() -> CallSite {
    CallSite::new(CallSiteInfo {
        target: Target::Endpoint {
            method: "POST",
            route: "/orders/{id}",
            success_objective: Some(0.999),
            latency_objective: Some((0.25, 0.95)),
        },
        function: "create",
        function_path: || "",
        module_path: "shop::orders",
        file: "src/orders.rs",
        line: 7,
        doc: "",
        buckets: Some(&[0.05, 0.25, 1.0]),
    })
}

fn operation(name: &'static str, line: u32, buckets: Option<&'static [f64]>) -> CallSite {
    CallSite::new(CallSiteInfo {
        target: Target::Operation { name },
        function: "load",
        function_path: || "",
        module_path: "shop::db",
        file: "src/db.rs",
        line,
        doc: "Loads a row.\nSecond line.",
        buckets,
    })
}

fn file<'a>(files: &'a [Artifact], path: &str) -> &'a str {
    &files.iter().find(|file| file.path == path).unwrap_or_else(|| panic!("no {path}")).contents
}

#[test]
fn the_file_list_is_fixed_and_sorted() {
    let site = site("GET", "/items", 1);
    let files = artifacts(&[&site], &Options::new("shop")).expect("artifacts");
    let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "METRICS.md",
            "README.md",
            "RUNBOOK.md",
            "alertmanager/alertmanager.yml",
            "alertmanager/templates/shop.tmpl",
            "grafana/dashboards/shop-endpoint.json",
            "grafana/dashboards/shop-overview.json",
            "grafana/dashboards/shop-system.json",
            "grafana/provisioning/alerting/contact-points.yaml",
            "grafana/provisioning/alerting/notification-policies.yaml",
            "grafana/provisioning/dashboards/shop.yaml",
            "grafana/provisioning/datasources/obs.yaml",
            "loki/otlp-limits.yaml",
            "otel-collector/config.yaml",
            "prometheus/prometheus.yml",
            "prometheus/shop.rules.test.yml",
            "prometheus/shop.rules.yml",
        ]
    );
}

#[test]
fn output_does_not_depend_on_catalog_order_and_is_repeatable() {
    let (a, b, c) = (site("GET", "/b", 1), site("GET", "/a", 2), declared_site());
    let options = Options::new("shop");
    let first = artifacts(&[&a, &b, &c], &options).expect("artifacts");
    let second = artifacts(&[&c, &b, &a], &options).expect("artifacts");
    assert_eq!(first, second);
    assert_eq!(first, artifacts(&[&a, &b, &c], &options).expect("artifacts"));
    // Endpoints are listed by route, then method.
    let docs = file(&first, "METRICS.md");
    let positions: Vec<usize> =
        ["### `GET /a`", "### `GET /b`", "### `POST /orders/{id}`"].iter().map(|h| docs.find(h).expect(h)).collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{positions:?}");
}

#[test]
fn rules_use_the_declared_objectives_and_the_exposition_le() {
    let site = declared_site();
    let files = artifacts(&[&site], &Options::new("shop")).expect("artifacts");
    let rules = file(&files, "prometheus/shop.rules.yml");
    let selector = r#"{job="shop", http_request_method="POST", http_route="/orders/{id}"}"#;
    let line = format!(
        "    expr: 'job_method_route:http_server_request_errors:ratio_rate1h{selector} > (14.4 * 0.001) and job_method_route:http_server_request_errors:ratio_rate5m{selector} > (14.4 * 0.001)'\n"
    );
    assert!(rules.contains(&line), "{rules}");
    let slow = format!(
        "    expr: '1 - (sum by (job, http_request_method, http_route) (rate(http_server_request_duration_seconds_bucket{{job=\"shop\", http_request_method=\"POST\", http_route=\"/orders/{{id}}\", le=\"0.25\"}}[3d])) / sum by (job, http_request_method, http_route) (rate(http_server_request_duration_seconds_count{selector}[3d])))'\n"
    );
    assert!(rules.contains(&slow), "{rules}");
    assert!(rules.contains("    expr: 'vector(0.05)'\n"), "latency budget 1 - 0.95");
    assert!(rules.contains("  - alert: EndpointLatencyBudgetBurn\n"));
    assert!(rules.contains("      summary: 'shop POST /orders/{id} burns its latency budget at 6x the sustainable rate (6h and 30m windows)'\n"));
    // Failures are counted by error_type, the contract, whatever the status code.
    assert!(rules.contains(r#"error_type!="""#));
    assert!(!rules.contains("http_response_status_code=~"));
    let docs = file(&files, "METRICS.md");
    assert!(docs.contains("Success objective: 99.9% of calls succeed (declared); error budget 0.1%."));
    assert!(docs.contains("Latency objective: 95% of calls within 250ms (declared); latency budget 5%; the threshold is the bucket `le=\"0.25\"`."));
    assert!(docs.contains("- Buckets (seconds): 0.05, 0.25, 1.0 (declared)"));
}

#[test]
fn every_promql_block_holds_one_expression() {
    let (a, b) = (site("GET", "/items", 1), declared_site());
    let files = artifacts(&[&a, &b], &Options::new("shop")).expect("artifacts");
    let docs = file(&files, "METRICS.md");
    let blocks = promql_blocks(docs);
    assert_eq!(blocks.len(), 2 * 7 + 2, "rate, errors, p50, p95, p99, slow, in flight per endpoint; dropped, exported");
    for block in blocks {
        assert!(!block.is_empty() && !block.contains('\n'), "{block}");
        assert!(block.contains(r#"job="shop""#), "{block}");
    }
}

fn promql_blocks(markdown: &str) -> Vec<&str> {
    markdown.split("```promql\n").skip(1).map(|rest| rest.split("\n```").next().unwrap_or_default()).collect()
}

/// A whole catalog, as `catalog()` returns it, mixes endpoints and operations: the operations
/// get their own section, never an endpoint's (no empty route or method anywhere).
#[test]
fn a_full_catalog_splits_into_endpoints_and_operations() {
    let endpoint = site("GET", "/items", 1);
    let (load, save) = (operation("db.load", 10, None), operation("db.save", 20, Some(&[0.001, 0.01, 1.0])));
    let files = artifacts(&[&save, &endpoint, &load], &Options::new("shop")).expect("artifacts");
    for artifact in &files {
        for empty in [r#"http_route="""#, r#"http_request_method="""#, "### `` ``", "### ` `"] {
            assert!(!artifact.contents.contains(empty), "{}: {empty}", artifact.path);
        }
    }
    let docs = file(&files, "METRICS.md");
    assert!(docs.contains("(1 endpoint, 2 operations)"), "{docs}");
    assert!(docs.contains("- `operation`: `db.load`, `db.save`: the operation names of the annotations.\n"));
    assert!(docs.contains("| `db.save` | `shop::db::load` | `src/db.rs:20` | declared |\n"), "{docs}");
    assert!(docs.contains(
        "### `db.load`\n\n> Loads a row.\n> Second line.\n\n- Function: `shop::db::load` at `src/db.rs:10`\n"
    ));
    assert!(docs.contains("- Buckets (seconds): 0.001, 0.01, 1.0 (declared)\n"), "{docs}");
    // Every bound of every histogram is a label value, written as the exposition writes it.
    assert!(docs.contains("- `le`: `0.001`, `0.005`,"), "{docs}");
    let operations = &docs[docs.find("## Operations").expect("operations section")..];
    let operations = &operations[..operations.find("## Telemetry export").expect("telemetry section")];
    let blocks = promql_blocks(operations);
    assert_eq!(blocks.len(), 2 * 5, "rate, errors, p50, p95, p99 per operation");
    assert_eq!(blocks[0], r#"sum(rate(operation_duration_seconds_count{job="shop", operation="db.load"}[5m]))"#);
    assert_eq!(
        blocks[9],
        r#"histogram_quantile(0.99, sum by (le) (rate(operation_duration_seconds_bucket{job="shop", operation="db.save"}[5m])))"#
    );
    assert!(blocks[1].contains(r#"error_type!="""#), "{}", blocks[1]);
    assert_eq!(promql_blocks(docs).len(), 7 + 2 * 5 + 2);
    assert!(
        docs.contains("```promql\nsum by (signal, reason) (rate(obs_telemetry_dropped_total{job=\"shop\"}[5m]))\n```")
    );
    assert!(docs.contains("- `signal`: `traces`, `logs`, `metrics`.\n"));
    assert!(docs.contains("- `reason`: `queue_full` ("), "{docs}");
    assert!(docs.contains("`export_failed` (") && docs.contains("`shutdown` ("));
    assert!(docs.contains("trace_id") && docs.contains("span_id"), "the exemplars are documented");

    let options = Options::new("shop");
    let model = Model::new(&[&save, &endpoint, &load], &options).expect("model");
    assert_eq!(model.endpoints.len(), 1);
    assert_eq!(model.operation_names(), ["db.load", "db.save"]);
    // `generate` passes the whole catalog; the endpoints-only slice still works.
    assert!(artifacts(&[&endpoint], &Options::new("shop")).is_ok());
}

/// Every metric family `/metrics` exposes has a row in the reference, and every row is a family
/// `/metrics` exposes (`obs_build_info` once the service identity is set).
#[test]
fn the_metrics_table_lists_every_exposed_family() {
    let exposition = obs_runtime::metrics::render(obs_runtime::metrics::ExpositionFormat::PrometheusText);
    let exposed: BTreeSet<&str> =
        exposition.lines().filter_map(|line| line.strip_prefix("# TYPE ")?.split(' ').next()).collect();
    let documented: BTreeSet<&str> = docs::metric_rows().iter().map(|row| row.name).collect();
    for name in &exposed {
        assert!(documented.contains(name), "{name} is exposed but not in METRICS.md");
    }
    for name in &documented {
        assert!(exposed.contains(name) || *name == "obs_build_info", "{name} is documented but not exposed");
    }
    for needed in ["operation_duration_seconds", "obs_telemetry_exported_total", "obs_telemetry_dropped_total"] {
        assert!(exposed.contains(needed), "{needed}: {exposition}");
    }
    let site = site("GET", "/items", 1);
    let files = artifacts(&[&site], &Options::new("shop")).expect("artifacts");
    let docs = file(&files, "METRICS.md");
    for name in documented {
        assert!(docs.contains(&format!("| `{name}` |")), "{name} has no row");
    }
    assert!(docs.contains("- `operation`: none: no `#[observed(operation = ...)]` function in this service.\n"));
    assert!(docs.contains("## Operations\n\nNone: "), "{docs}");
}

#[test]
fn two_functions_with_one_operation_name_are_a_typed_error() {
    let (a, b) = (operation("db.load", 10, None), operation("db.load", 30, None));
    let error = artifacts(&[&b, &a], &Options::new("shop")).expect_err("duplicate");
    assert_eq!(
        error.to_string(),
        "operation \"db.load\" is annotated 2 times, at src/db.rs:10 and src/db.rs:30: give each function its own endpoint (method and route) or operation name"
    );
}

#[test]
fn the_telemetry_drop_alert_is_a_ticket_tested_both_ways() {
    let site = site("GET", "/items", 1);
    let files = artifacts(&[&site], &Options::new("shop")).expect("artifacts");
    let rules = file(&files, "prometheus/shop.rules.yml");
    assert!(rules.contains("- name: shop.telemetry\n  rules:\n  - alert: TelemetryDropped\n    expr: 'sum by (job, instance, signal, reason) (rate(obs_telemetry_dropped_total{job=\"shop\"}[5m])) > 0'\n    for: 15m\n    labels:\n      severity: ticket\n"), "{rules}");
    let tests = file(&files, "prometheus/shop.rules.test.yml");
    assert!(tests.contains("name: 'shop: spans dropped every minute: ticket'"), "{tests}");
    assert!(tests.contains("name: 'shop: one burst of dropped log records: no alert'"), "{tests}");
    let steady = &tests[tests.find("spans dropped every minute").expect("steady case")..];
    assert!(steady.contains("signal: traces\n") && steady.contains("reason: queue_full\n"), "{steady}");
    let runbook = file(&files, "RUNBOOK.md");
    assert!(runbook.contains("\n## TelemetryDropped\n"), "{runbook}");
    // With a `for` shorter than the rate's window, a burst does fire: no case claims otherwise.
    let mut options = Options::new("shop");
    options.ticket_for = std::time::Duration::from_secs(90);
    let files = artifacts(&[&site], &options).expect("artifacts");
    let tests = file(&files, "prometheus/shop.rules.test.yml");
    assert!(tests.contains("spans dropped every minute") && !tests.contains("one burst"), "{tests}");
}

#[test]
fn label_values_are_escaped_for_promql_yaml_json_and_go_templates() {
    let odd = site("GET", "/q/{{name}}/it's/\"x\"\\y", 3);
    let files = artifacts(&[&odd], &Options::new("shop")).expect("artifacts");
    let rules = file(&files, "prometheus/shop.rules.yml");
    // PromQL string escaping, then YAML single quotes doubling the apostrophe.
    assert!(rules.contains(r#"http_route="/q/{{name}}/it''s/\"x\"\\y""#), "{rules}");
    // In a Go template (annotations) a literal `{{` is printed by an action.
    assert!(rules.contains(r#"GET /q/{{ "{{" }}name}}/it''s/"x"\y burns"#), "{rules}");
    // Alert labels are templates too; recording-rule labels are not.
    assert!(rules.contains(r#"      http_route: '/q/{{ "{{" }}name}}/it''s/"x"\y'"#), "{rules}");
    assert!(rules.contains(r#"      http_route: '/q/{{name}}/it''s/"x"\y'"#), "{rules}");
    let tests = file(&files, "prometheus/shop.rules.test.yml");
    assert!(tests.contains(r#"summary: 'shop GET /q/{{name}}/it''s/"x"\y burns its error budget"#), "{tests}");
    let dashboard = file(&files, "grafana/dashboards/shop-overview.json");
    assert!(dashboard.contains(r#"http_route=\"/q/{{name}}/it's/\\\"x\\\"\\\\y\""#), "{dashboard}");
    let url = "var-route=%2Fq%2F%7B%7Bname%7D%7D%2Fit%27s%2F%22x%22%5Cy&var-method=GET";
    assert!(rules.contains(url), "{rules}");
}

/// Every `"key": value` pair of a JSON tree, depth first.
fn pairs<'a>(node: &'a Node, out: &mut Vec<(&'a str, &'a Node)>) {
    match node {
        Node::Map(entries) => {
            for (key, value) in entries {
                out.push((key, value));
                pairs(value, out);
            }
        }
        Node::Seq(items) => items.iter().for_each(|item| pairs(item, out)),
        _ => {}
    }
}

/// The `expr` of every target of the panel titled `title`, and whether each asks for exemplars.
fn panel_targets(dashboard: &Node, title: &str) -> Vec<(String, bool)> {
    let mut all = Vec::new();
    pairs(dashboard, &mut all);
    let Some(Node::Seq(panels)) = all.iter().find(|(key, _)| *key == "panels").map(|(_, value)| *value) else {
        panic!("no panels")
    };
    let panel = panels
        .iter()
        .find(|panel| matches!(panel, Node::Map(entries) if entries.iter().any(|(key, value)| key == "title" && matches!(value, Node::Str(text) if text == title))))
        .unwrap_or_else(|| panic!("no panel {title}"));
    let mut entries = Vec::new();
    pairs(panel, &mut entries);
    let exprs = entries.iter().filter_map(|(key, value)| match (key, value) {
        (&"expr", Node::Str(expr)) => Some(expr.clone()),
        _ => None,
    });
    let exemplars = entries.iter().filter_map(|(key, value)| match (key, value) {
        (&"exemplar", Node::Bool(on)) => Some(*on),
        _ => None,
    });
    exprs.zip(exemplars).collect()
}

#[test]
fn the_overview_shows_the_operations_and_the_dropped_telemetry() {
    let endpoint = site("GET", "/items", 1);
    let (load, save) = (operation("db.load", 10, None), operation("db.save", 20, None));
    let options = Options::new("shop");
    let model = Model::new(&[&endpoint, &load, &save], &options).expect("model");
    let overview = dashboards::overview(&model);
    let json = overview.to_json().expect("finite");
    let rows: Vec<&str> = json
        .split("\"type\": \"row\",\n")
        .skip(1)
        .filter_map(|rest| rest.split("\"title\": \"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(rows, ["Service", "Operations", "GET /items", "Telemetry export", "Logs"], "{json}");
    assert_eq!(
        panel_targets(&overview, "Operation call rate"),
        [(
            r#"sum by (operation) (rate(operation_duration_seconds_count{job="shop"}[$__rate_interval]))"#.to_owned(),
            false
        )]
    );
    let errors = panel_targets(&overview, "Operation error ratio");
    assert!(errors[0].0.contains(r#"operation_duration_seconds_count{job="shop", error_type!=""}"#), "{errors:?}");
    assert_eq!(
        panel_targets(&overview, "Operation p99 duration"),
        [(r#"histogram_quantile(0.99, sum by (le, operation) (rate(operation_duration_seconds_bucket{job="shop"}[$__rate_interval])))"#.to_owned(), true)]
    );
    assert_eq!(
        panel_targets(&overview, "Telemetry dropped"),
        [(
            r#"sum by (signal, reason) (rate(obs_telemetry_dropped_total{job="shop"}[$__rate_interval]))"#.to_owned(),
            false
        )]
    );
    assert!(json.contains("db.load, db.save"), "the operation names are in the description");
    // Without operations there is no empty row.
    let model = Model::new(&[&endpoint], &options).expect("model");
    let json = dashboards::overview(&model).to_json().expect("finite");
    assert!(!json.contains("\"Operations\"") && json.contains("\"Telemetry dropped\""));
}

#[test]
fn dashboards_have_unique_ids_known_datasources_and_defined_variables() {
    let (a, b, c) = (site("GET", "/items", 1), declared_site(), operation("db.load", 10, None));
    let options = Options::new("shop");
    let model = Model::new(&[&a, &b, &c], &options).expect("model");
    let provisioned = grafana::provisioning::render_datasources(&model).expect("finite");
    for (name, json) in dashboards::render(&model).expect("finite") {
        // The tree the JSON was written from.
        let tree = match name.as_str() {
            "shop-overview.json" => dashboards::overview(&model),
            "shop-endpoint.json" => dashboards::endpoint_dashboard(&model),
            _ => dashboards::system(&model),
        };
        assert_eq!(tree.to_json().as_deref(), Ok(json.as_str()));
        let mut all = Vec::new();
        pairs(&tree, &mut all);
        let ids: Vec<i64> = all
            .iter()
            .filter_map(|(key, value)| (*key == "id").then_some(value))
            .filter_map(|value| match value {
                Node::Int(id) => Some(*id),
                _ => None,
            })
            .collect();
        assert!(!ids.is_empty());
        assert_eq!(ids.len(), ids.iter().collect::<BTreeSet<_>>().len(), "{name}: duplicate panel ids");
        for (key, value) in &all {
            if *key == "uid"
                && let Node::Str(uid) = value
                && uid.starts_with("obs-")
            {
                assert!(provisioned.contains(&format!("uid: {uid}\n")), "{name}: {uid} is not provisioned");
            }
        }
        let defined: BTreeSet<&str> = all
            .iter()
            .filter(|(key, _)| *key == "name")
            .filter_map(|(_, value)| if let Node::Str(name) = value { Some(name.as_str()) } else { None })
            .collect();
        for (key, value) in &all {
            if let (&"expr", Node::Str(expr)) = (key, value) {
                for variable in expr.split('$').skip(1) {
                    let variable: String = variable.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    assert!(
                        ["__rate_interval", "__range"].contains(&variable.as_str())
                            || defined.contains(variable.as_str()),
                        "{name}: ${variable} in {expr}"
                    );
                }
            }
        }
    }
}

#[test]
fn receivers_come_from_the_options_and_secrets_only_from_files() {
    let site = site("GET", "/items", 1);
    let mut options = Options::new("shop");
    options.receivers.smtp_smarthost = "127.0.0.1:2525".to_owned();
    options.receivers.smtp_auth_username = None;
    options.receivers.smtp_require_tls = false;
    options.receivers.pagerduty_url = "http://127.0.0.1:9/pd".to_owned();
    options.receivers.slack_api_url_file = "/tmp/x/slack".to_owned();
    let files = artifacts(&[&site], &options).expect("artifacts");
    let alertmanager = file(&files, "alertmanager/alertmanager.yml");
    assert!(alertmanager.contains("  smtp_smarthost: '127.0.0.1:2525'\n"));
    assert!(!alertmanager.contains("smtp_auth_password_file"), "no auth without a user");
    assert!(alertmanager.contains("  smtp_require_tls: false\n"));
    assert!(alertmanager.contains("    url: http://127.0.0.1:9/pd\n"));
    assert!(alertmanager.contains("  - api_url_file: /tmp/x/slack\n"));
    assert!(alertmanager.contains("  - routing_key_file: /etc/alertmanager/secrets/pagerduty-routing-key\n"));
    for key in ["api_url:", "routing_key:", "smtp_auth_password:", "service_key:"] {
        assert!(!alertmanager.contains(key), "a literal secret field {key}");
    }
    let contact_points = file(&files, "grafana/provisioning/alerting/contact-points.yaml");
    assert!(contact_points.contains("integrationKey: '$__file{/etc/grafana/secrets/pagerduty-routing-key}'"));
    assert!(contact_points.contains("url: '$__file{/etc/grafana/secrets/slack-webhook-url}'"));
    let datasources = file(&files, "grafana/provisioning/datasources/obs.yaml");
    assert!(datasources.contains("url: '$${__value.raw}'"), "a literal $ is escaped for Grafana");
}

#[test]
fn timing_options_reach_the_rules_and_their_tests() {
    let site = site("GET", "/items", 1);
    let mut options = Options::new("shop");
    options.page_for = std::time::Duration::from_secs(60);
    options.ticket_for = std::time::Duration::from_secs(90);
    options.no_traffic_min_requests_per_minute = None;
    let files = artifacts(&[&site], &options).expect("artifacts");
    let rules = file(&files, "prometheus/shop.rules.yml");
    assert!(rules.contains("    for: 1m\n") && rules.contains("    for: 1m30s\n"));
    assert!(!rules.contains("EndpointNoTraffic"));
    let tests = file(&files, "prometheus/shop.rules.test.yml");
    // Burn cases settle after the longest `for` (2 minutes, rounded up) plus 5.
    assert!(tests.contains("  - eval_time: 7m\n"), "{tests}");
    assert!(!tests.contains("traffic stops"));
}

#[test]
fn invalid_input_is_a_typed_error() {
    let (a, b) = (site("GET", "/items", 1), site("GET", "/items", 9));
    let options = Options::new("shop");
    let error = artifacts(&[&a, &b], &options).expect_err("duplicate");
    assert_eq!(
        error.to_string(),
        "GET /items is annotated 2 times, at src/api.rs:1 and src/api.rs:9: give each function its own endpoint (method and route) or operation name"
    );
    for service in ["", "a b", "../x", "-x", "a-name-that-is-much-too-long-for-uids"] {
        let error = artifacts(&[&a], &Options::new(service)).expect_err(service);
        assert!(matches!(error, GenerateError::InvalidOption { option: "service", .. }), "{service}: {error}");
    }
    let off_bucket = CallSite::new(CallSiteInfo {
        target: Target::Endpoint {
            method: "GET",
            route: "/x",
            success_objective: None,
            latency_objective: Some((0.3, 0.99)),
        },
        function: "x",
        function_path: || "",
        module_path: "m",
        file: "f.rs",
        line: 1,
        doc: "",
        buckets: None,
    });
    let error = artifacts(&[&off_bucket], &options).expect_err("threshold");
    assert!(error.to_string().contains("the latency threshold 0.3s is not one of the bucket bounds"), "{error}");
    let mut slow_ticket = Options::new("shop");
    slow_ticket.ticket_for = std::time::Duration::from_secs(6 * 3600);
    assert!(matches!(artifacts(&[&a], &slow_ticket), Err(GenerateError::InvalidOption { option: "ticket_for", .. })));
    slow_ticket.no_traffic_min_requests_per_minute = None;
    assert!(artifacts(&[&a], &slow_ticket).is_ok(), "a long ticket `for` is fine without the no-traffic alert");
}

#[test]
fn write_artifacts_creates_directories_and_refuses_escaping_paths() {
    let dir = std::env::temp_dir().join(format!("obs-generate-unit-{}", std::process::id()));
    let files = vec![Artifact { path: "a/b/c.txt".to_owned(), contents: "x".to_owned() }];
    let written = write_artifacts(&dir, &files).expect("write");
    assert_eq!(written, vec![dir.join("a/b/c.txt")]);
    assert_eq!(std::fs::read_to_string(dir.join("a/b/c.txt")).expect("read"), "x");
    for path in ["../escape.txt", "/abs.txt", ""] {
        let bad = vec![Artifact { path: path.to_owned(), contents: String::new() }];
        assert!(matches!(write_artifacts(&dir, &bad), Err(GenerateError::Write { .. })), "{path}");
    }
    std::fs::write(dir.join("file"), "").expect("write");
    let under_a_file = vec![Artifact { path: "file/x.txt".to_owned(), contents: String::new() }];
    let error = write_artifacts(&dir, &under_a_file).expect_err("a file is in the way");
    assert!(error.to_string().starts_with("cannot write "), "{error}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn the_collector_sends_logs_to_loki_and_indexes_only_bounded_attributes() {
    let site = site("GET", "/items", 1);
    let mut options = Options::new("shop");
    options.collector_traces_otlp_endpoint = "https://tempo.example.com:4317".to_owned();
    let files = artifacts(&[&site], &options).expect("artifacts");
    let collector = file(&files, "otel-collector/config.yaml");
    for needed in [
        "memory_limiter:",
        "batch:",
        "otlphttp/loki:\n    endpoint: http://loki:3100/otlp",
        "endpoint: https://tempo.example.com:4317\n    tls:\n      insecure: false",
        "processors:\n      - memory_limiter\n      - transform/level\n      - groupbyattrs/level\n      - batch\n      exporters:\n      - otlphttp/loki\n",
        "processors:\n      - memory_limiter\n      - batch\n      exporters:\n      - otlp/traces\n",
    ] {
        assert!(collector.contains(needed), "collector config lacks {needed:?}:\n{collector}");
    }
    let limits = file(&files, "loki/otlp-limits.yaml");
    let (indexed, metadata) = limits.split_once("action: structured_metadata").expect("two sections");
    for label in ["service.name", "level", "deployment.environment"] {
        assert!(indexed.contains(&format!("- {label}\n")), "{label} must be a label");
    }
    for high_cardinality in ["service.instance.id", "process.pid", "host.name"] {
        assert!(!indexed.contains(high_cardinality) && metadata.contains(high_cardinality), "{high_cardinality}");
    }
}

/// Every number `> (F * ` multiplies a budget by in the rules: the burn factors the alerts use.
fn rule_factors(rules: &str) -> BTreeSet<String> {
    rules.split("> (").skip(1).filter_map(|rest| rest.split_once(" * ").map(|(factor, _)| factor.to_owned())).collect()
}

/// The thresholds and the factors quoted in the description of each burn-rate panel.
fn dashboard_factors(dashboard: &str) -> Vec<(String, BTreeSet<String>, BTreeSet<String>)> {
    let json: serde_json::Value = serde_json::from_str(dashboard).expect("dashboard JSON");
    let mut found = Vec::new();
    for panel in json["panels"].as_array().into_iter().flatten() {
        let title = panel["title"].as_str().unwrap_or_default();
        if !title.starts_with("SLO burn rate") {
            continue;
        }
        let thresholds = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|step| step["value"].as_f64())
            .map(text::number)
            .collect();
        let description = panel["description"].as_str().unwrap_or_default();
        // `14.4x (1h)`: a number with an `x`, then the window in parentheses.
        let words: Vec<&str> = description.split_whitespace().collect();
        let quoted = words
            .windows(2)
            .filter(|pair| pair[1].starts_with('('))
            .filter_map(|pair| pair[0].strip_suffix('x'))
            .filter(|number| number.parse::<f64>().is_ok())
            .map(str::to_owned)
            .collect();
        found.push((title.to_owned(), thresholds, quoted));
    }
    found
}

#[test]
fn dashboards_quote_the_burn_factors_the_alerts_use_for_any_period() {
    let site = declared_site();
    for (days, pages) in [(7, ["3.36", "1.4"]), (28, ["13.44", "5.6"]), (30, ["14.4", "6"])] {
        let mut options = Options::new("shop");
        options.slo_period = std::time::Duration::from_secs(days * 86_400);
        let files = artifacts(&[&site], &options).expect("artifacts");
        let in_rules = rule_factors(file(&files, "prometheus/shop.rules.yml"));
        for page in pages {
            assert!(in_rules.contains(page), "{days}d: the rules page at {page}x: {in_rules:?}");
        }
        let mut panels = 0;
        for dashboard in ["grafana/dashboards/shop-overview.json", "grafana/dashboards/shop-endpoint.json"] {
            for (title, thresholds, quoted) in dashboard_factors(file(&files, dashboard)) {
                panels += 1;
                assert!(!thresholds.is_empty() && !quoted.is_empty(), "{days}d {dashboard} {title}");
                assert!(thresholds.is_subset(&in_rules), "{days}d {dashboard} {title}: {thresholds:?} vs {in_rules:?}");
                assert!(quoted.is_subset(&in_rules), "{days}d {dashboard} {title}: {quoted:?} vs {in_rules:?}");
                assert!(pages.iter().all(|page| quoted.contains(*page)), "{days}d {dashboard} {title}: {quoted:?}");
            }
        }
        assert!(panels >= 2, "{days}d: burn-rate panels on both dashboards");
    }
}
