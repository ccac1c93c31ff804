//! Unit tests of the generators on hand-built catalogs: exact lines, escaping, determinism and the
//! typed errors. The tools' own checks (promtool, amtool) run in `tests/generated_artifacts.rs`.

use super::grafana::dashboards;
use super::model::Model;
use super::tree::Node;
use super::*;
use crate::call_site::EndpointInfo;
use std::collections::BTreeSet;

fn site(method: &'static str, route: &'static str, line: u32) -> CallSite {
    CallSite::endpoint(EndpointInfo {
        method,
        route,
        function: "handler",
        module_path: "shop::api",
        file: "src/api.rs",
        line,
        doc: "Does the thing.\nSecond line.",
        buckets: None,
        success_objective: None,
        latency_objective: None,
    })
}

fn declared_site() -> CallSite {
    CallSite::endpoint(EndpointInfo {
        method: "POST",
        route: "/orders/{id}",
        function: "create",
        module_path: "shop::orders",
        file: "src/orders.rs",
        line: 7,
        doc: "",
        buckets: Some(&[0.05, 0.25, 1.0]),
        success_objective: Some(0.999),
        latency_objective: Some((0.25, 0.95)),
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
    let blocks: Vec<&str> =
        docs.split("```promql\n").skip(1).map(|rest| rest.split("\n```").next().unwrap_or_default()).collect();
    assert_eq!(blocks.len(), 2 * 7, "rate, errors, p50, p95, p99, slow, in flight per endpoint");
    for block in blocks {
        assert!(!block.is_empty() && !block.contains('\n'), "{block}");
        assert!(block.contains(r#"job="shop""#), "{block}");
    }
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

#[test]
fn dashboards_have_unique_ids_known_datasources_and_defined_variables() {
    let (a, b) = (site("GET", "/items", 1), declared_site());
    let options = Options::new("shop");
    let model = Model::new(&[&a, &b], &options).expect("model");
    let provisioned = grafana::provisioning::render_datasources(&model);
    for (name, json) in dashboards::render(&model) {
        // The tree the JSON was written from.
        let tree = match name.as_str() {
            "shop-overview.json" => dashboards::overview(&model),
            "shop-endpoint.json" => dashboards::endpoint_dashboard(&model),
            _ => dashboards::system(&model),
        };
        assert_eq!(tree.to_json(), json);
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
        "GET /items is annotated twice, at src/api.rs:1 and at src/api.rs:9: give each function its own endpoint"
    );
    for service in ["", "a b", "../x", "-x", "a-name-that-is-much-too-long-for-uids"] {
        let error = artifacts(&[&a], &Options::new(service)).expect_err(service);
        assert!(matches!(error, GenerateError::InvalidOption { option: "service", .. }), "{service}: {error}");
    }
    let off_bucket = CallSite::endpoint(EndpointInfo { latency_objective: Some((0.3, 0.99)), ..site_info() });
    let error = artifacts(&[&off_bucket], &options).expect_err("threshold");
    assert!(error.to_string().contains("the latency threshold 0.3s is not one of the bucket bounds"), "{error}");
    let mut slow_ticket = Options::new("shop");
    slow_ticket.ticket_for = std::time::Duration::from_secs(6 * 3600);
    assert!(matches!(artifacts(&[&a], &slow_ticket), Err(GenerateError::InvalidOption { option: "ticket_for", .. })));
    slow_ticket.no_traffic_min_requests_per_minute = None;
    assert!(artifacts(&[&a], &slow_ticket).is_ok(), "a long ticket `for` is fine without the no-traffic alert");
}

fn site_info() -> EndpointInfo {
    EndpointInfo {
        method: "GET",
        route: "/x",
        function: "x",
        module_path: "m",
        file: "f.rs",
        line: 1,
        doc: "",
        buckets: None,
        success_objective: None,
        latency_objective: None,
    }
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
        "processors: [memory_limiter, transform/level, groupbyattrs/level, batch]",
        "exporters: [otlphttp/loki]",
        "exporters: [otlp/traces]",
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
