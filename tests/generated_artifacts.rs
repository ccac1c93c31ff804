//! The files `demo generate <dir>` writes: byte-identical to the committed `examples/demo/deploy/`,
//! accepted by the real tools (`promtool check rules`, `promtool test rules`, `promtool check
//! config`, `amtool check-config`, `amtool config routes test`), and dashboards that hold together
//! (unique panel ids, provisioned datasource uids, defined variables).

use obs_generate::{Options, artifacts, write_artifacts};
use obs_runtime::__private::{CallSite, CallSiteInfo, Target};
use obs_tests::process::{example_binary, require_tool};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const REGENERATE: &str = "cargo run --example demo -- generate examples/demo/deploy";
const PROMTOOL_HINT: &str = "install the Debian package `prometheus`";
const AMTOOL_HINT: &str = "install the Debian package `prometheus-alertmanager`";
const ALERT_NAMES: [&str; 6] = [
    "EndpointErrorBudgetBurn",
    "EndpointLatencyBudgetBurn",
    "EndpointNoTraffic",
    "InstanceDown",
    "TargetMissing",
    "TelemetryDropped",
];

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!("obs-generated-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Runs the demo binary's `generate` command into a fresh directory.
fn generate_demo() -> TempDir {
    let dir = TempDir::new("demo");
    let output = Command::new(example_binary("demo")).arg("generate").arg(&dir.0).output().expect("run demo generate");
    assert!(
        output.status.success(),
        "demo generate failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    dir
}

/// Every file under `dir`, by path relative to it (with `/`).
fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|error| panic!("read {}: {error}", dir.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, into);
            } else {
                let relative = path.strip_prefix(root).expect("under root");
                let key = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                into.insert(key, std::fs::read(&path).expect("read file"));
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

/// Runs a tool; returns (success, stdout + stderr).
fn run(program: &str, args: &[&str], cwd: &Path) -> (bool, String) {
    let output = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn first_difference(committed: &[u8], fresh: &[u8]) -> String {
    let (committed, fresh) = (String::from_utf8_lossy(committed), String::from_utf8_lossy(fresh));
    let mut fresh_lines = fresh.lines();
    for (index, old) in committed.lines().enumerate() {
        match fresh_lines.next() {
            Some(new) if new == old => {}
            new => {
                return format!(
                    "line {}:\n    committed: {old}\n    generated: {}",
                    index + 1,
                    new.unwrap_or("<end of file>")
                );
            }
        }
    }
    fresh_lines.next().map_or_else(|| "trailing newline".to_owned(), |new| format!("extra line: {new}"))
}

#[test]
fn the_committed_deploy_dir_is_what_the_demo_generates() {
    let fresh = generate_demo();
    let committed_dir = workspace_root().join("examples/demo/deploy");
    assert!(committed_dir.is_dir(), "{} is missing: run `{REGENERATE}`", committed_dir.display());
    let (committed, generated) = (files_under(&committed_dir), files_under(&fresh.0));
    let mut problems = Vec::new();
    for (path, bytes) in &generated {
        match committed.get(path) {
            None => problems.push(format!("{path}: not committed")),
            Some(old) if old != bytes => problems.push(format!("{path}: differs at {}", first_difference(old, bytes))),
            Some(_) => {}
        }
    }
    problems.extend(
        committed
            .keys()
            .filter(|path| !generated.contains_key(*path))
            .map(|path| format!("{path}: no longer generated")),
    );
    assert!(
        problems.is_empty(),
        "examples/demo/deploy is stale; regenerate it from the workspace root with\n\n    {REGENERATE}\n\n(and delete files no longer generated), then commit:\n{}",
        problems.join("\n")
    );
}

/// The generated rule tests assert that each alert fires, with exact labels and annotations.
fn assert_tests_expect_firing_alerts(tests: &str) {
    for name in ALERT_NAMES {
        let header = format!("alertname: {name}\n");
        let firing = tests
            .match_indices(&header)
            .any(|(at, _)| tests[at + header.len()..].trim_start().starts_with("exp_alerts:\n"));
        assert!(firing, "no test expects {name} to fire");
    }
    assert!(tests.contains("healthy traffic: no alert"), "no healthy case");
    assert!(tests.contains("one burst of dropped log records: no alert"), "no case where drops do not alert");
    assert!(tests.matches("exp_labels:").count() >= 10);
    assert!(tests.contains("exp_annotations:") && tests.contains("100% of GET /health calls failed"));
}

#[test]
fn the_rules_pass_promtool_and_their_unit_tests_fire_the_alerts() {
    require_tool("promtool", PROMTOOL_HINT);
    let dir = generate_demo();
    let prometheus = dir.0.join("prometheus");
    let (ok, output) = run("promtool", &["check", "rules", "demo.rules.yml"], &prometheus);
    assert!(ok && output.contains("SUCCESS"), "promtool check rules:\n{output}");
    let (ok, output) = run("promtool", &["test", "rules", "demo.rules.test.yml"], &prometheus);
    assert!(ok && output.contains("SUCCESS"), "promtool test rules:\n{output}");
    let tests = std::fs::read_to_string(prometheus.join("demo.rules.test.yml")).expect("read tests");
    assert_tests_expect_firing_alerts(&tests);

    // The tests can fail: with the alerts held longer than the tests wait, they must.
    let rules = std::fs::read_to_string(prometheus.join("demo.rules.yml")).expect("read rules");
    let slowed = rules.replace("    for: 2m\n", "    for: 3h\n").replace("    for: 15m\n", "    for: 3h\n");
    assert_ne!(slowed, rules, "the rules hold alerts for 2m and 15m");
    std::fs::write(prometheus.join("demo.rules.yml"), slowed).expect("write rules");
    let (ok, output) = run("promtool", &["test", "rules", "demo.rules.test.yml"], &prometheus);
    assert!(
        !ok && output.contains("FAILED"),
        "the rule tests passed against rules that cannot fire in time:\n{output}"
    );
}

#[test]
fn the_prometheus_config_passes_promtool() {
    require_tool("promtool", PROMTOOL_HINT);
    let dir = generate_demo();
    let (ok, output) = run("promtool", &["check", "config", "prometheus.yml"], &dir.0.join("prometheus"));
    assert!(ok && output.contains("SUCCESS: 1 rule files found"), "promtool check config:\n{output}");
}

#[test]
fn the_alertmanager_config_passes_amtool_and_routes_by_severity() {
    require_tool("amtool", AMTOOL_HINT);
    let dir = generate_demo();
    let alertmanager = dir.0.join("alertmanager");
    let (ok, output) = run("amtool", &["check-config", "alertmanager.yml"], &alertmanager);
    assert!(ok && output.contains("SUCCESS") && output.contains("1 templates"), "amtool check-config:\n{output}");
    let routes = [
        ("severity=page", "demo-pagerduty,demo-email"),
        ("severity=ticket", "demo-slack"),
        ("severity=info", "demo-email"),
    ];
    for (severity, receivers) in routes {
        let (ok, output) = run(
            "amtool",
            &[
                "config",
                "routes",
                "test",
                "--config.file=alertmanager.yml",
                "service=demo",
                "alertname=InstanceDown",
                severity,
            ],
            &alertmanager,
        );
        let got = output.lines().find(|line| !line.starts_with("Warning")).unwrap_or_default();
        assert!(ok && got == receivers, "{severity}: expected {receivers}, amtool said:\n{output}");
    }
    let config = std::fs::read_to_string(alertmanager.join("alertmanager.yml")).expect("read");
    for file_secret in ["routing_key_file: ", "api_url_file: ", "smtp_auth_password_file: "] {
        assert!(config.contains(file_secret), "{file_secret} missing");
    }
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        out.push(panel);
        if let Some(nested) = panel["panels"].as_array() {
            out.extend(nested);
        }
    }
    out
}

/// `$name` and `${name...}` references in `text`.
fn variables(text: &str) -> BTreeSet<String> {
    text.split('$')
        .skip(1)
        .map(|rest| {
            rest.trim_start_matches('{')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// The `uid:` values of the provisioned datasources.
fn provisioned_uids(datasources_yaml: &str) -> BTreeSet<String> {
    datasources_yaml.lines().filter_map(|line| line.trim().strip_prefix("uid: ")).map(str::to_owned).collect()
}

#[test]
fn the_dashboards_hold_together() {
    let dir = generate_demo();
    let grafana = dir.0.join("grafana");
    let provisioned = provisioned_uids(
        &std::fs::read_to_string(grafana.join("provisioning/datasources/obs.yaml")).expect("datasources"),
    );
    assert_eq!(provisioned, ["obs-alertmanager", "obs-loki", "obs-prometheus", "obs-tempo"].map(str::to_owned).into());
    let provider = std::fs::read_to_string(grafana.join("provisioning/dashboards/demo.yaml")).expect("provider");
    assert!(provider.contains("type: file") && provider.contains("path: /var/lib/grafana/dashboards/demo"));
    let datasources = std::fs::read_to_string(grafana.join("provisioning/datasources/obs.yaml")).expect("datasources");
    assert!(datasources.contains("exemplarTraceIdDestinations:\n    - name: trace_id\n      datasourceUid: obs-tempo"));
    assert!(datasources.contains("derivedFields:\n    - name: trace_id"));

    let mut exprs = 0;
    for kind in ["overview", "endpoint", "system"] {
        let path = grafana.join(format!("dashboards/demo-{kind}.json"));
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("valid JSON");
        assert_eq!(dashboard["uid"], format!("demo-{kind}"));
        assert!(dashboard["schemaVersion"].as_i64().expect("schemaVersion") >= 39);
        let defined: BTreeSet<String> = dashboard["templating"]["list"]
            .as_array()
            .expect("templating")
            .iter()
            .map(|variable| variable["name"].as_str().expect("variable name").to_owned())
            .collect();
        let mut ids = BTreeSet::new();
        for panel in panels(&dashboard) {
            let title = panel["title"].as_str().unwrap_or_default();
            assert!(ids.insert(panel["id"].as_i64().expect("panel id")), "{kind}: duplicate id in {title}");
            let grid = &panel["gridPos"];
            assert!(["h", "w", "x", "y"].iter().all(|key| grid[key].is_i64()), "{kind}: {title} has no gridPos");
            assert!(
                grid["x"].as_i64().unwrap_or(0) + grid["w"].as_i64().unwrap_or(0) <= 24,
                "{kind}: {title} overflows"
            );
            let kind_of_panel = panel["type"].as_str().expect("type");
            assert!(["row", "timeseries", "stat", "table", "logs"].contains(&kind_of_panel), "{kind}: {kind_of_panel}");
            for datasource in std::iter::once(&panel["datasource"])
                .chain(panel["targets"].as_array().into_iter().flatten().map(|t| &t["datasource"]))
            {
                if let Some(uid) = datasource["uid"].as_str() {
                    assert!(provisioned.contains(uid), "{kind}: {title} uses datasource {uid}, not provisioned");
                }
            }
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().expect("every target has an expr");
                exprs += 1;
                if target["datasource"]["type"] == "prometheus" {
                    assert!(expr.contains(r#"job="demo""#), "{kind}: {title}: {expr} is not scoped to the job");
                }
                let allowed: &[&str] = if target["datasource"]["type"] == "loki" {
                    &["route", "method", "log_level"]
                } else {
                    &["route", "method", "__rate_interval", "__range"]
                };
                for variable in variables(expr) {
                    assert!(allowed.contains(&variable.as_str()), "{kind}: {title}: ${variable} in {expr}");
                }
                if kind_of_panel == "timeseries" && expr.starts_with("histogram_quantile") {
                    assert_eq!(target["exemplar"], true, "{kind}: {title}: latency targets show exemplars");
                }
            }
        }
        for variable in variables(&dashboard.to_string()) {
            assert!(variable.starts_with("__") || defined.contains(&variable), "{kind}: ${variable} is not defined");
        }
    }
    assert!(exprs > 40, "{exprs} queries");

    // The overview covers the operations and the telemetry export, not only the endpoints.
    let overview: Value = serde_json::from_str(
        &std::fs::read_to_string(grafana.join("dashboards/demo-overview.json")).expect("read overview"),
    )
    .expect("valid JSON");
    let titles: Vec<&str> = panels(&overview).iter().filter_map(|panel| panel["title"].as_str()).collect();
    for title in
        ["Operations", "Operation call rate", "Operation error ratio", "Operation p99 duration", "Telemetry dropped"]
    {
        assert!(titles.contains(&title), "the overview has no {title:?}: {titles:?}");
    }
    let operation_targets = panels(&overview)
        .into_iter()
        .flat_map(|panel| panel["targets"].as_array().into_iter().flatten())
        .filter(|target| target["expr"].as_str().is_some_and(|expr| expr.contains("operation_duration_seconds")))
        .count();
    assert_eq!(operation_targets, 3, "rate, error ratio and p99 of the operations");
}

#[test]
fn the_docs_name_every_endpoint_and_operation_with_one_promql_expression_per_block() {
    let dir = generate_demo();
    let docs = std::fs::read_to_string(dir.0.join("METRICS.md")).expect("read");
    for heading in [
        "### `GET /health`",
        "### `POST /orders`",
        "### `GET /users/{id}`",
        "## Operations",
        "### `db.load_user`",
        "### `db.save_order`",
        "## Telemetry export",
    ] {
        assert!(docs.contains(heading), "{heading} missing");
    }
    for metric in [
        "http_server_request_duration_seconds",
        "http_server_active_requests",
        "operation_duration_seconds",
        "obs_telemetry_exported_total",
        "obs_telemetry_dropped_total",
        "obs_build_info",
    ] {
        assert!(docs.contains(&format!("| `{metric}` |")), "{metric} has no row in the metrics table");
    }
    assert!(docs.contains("- `operation`: `db.load_user`, `db.save_order`"), "the operation label values");
    let blocks: Vec<&str> =
        docs.split("```promql\n").skip(1).map(|rest| rest.split("\n```").next().unwrap_or_default()).collect();
    assert_eq!(blocks.len(), 3 * 7 + 2 * 5 + 2, "per endpoint 7, per operation 5, telemetry 2");
    assert_eq!(blocks.iter().filter(|block| block.contains("operation_duration_seconds")).count(), 2 * 5);
    assert!(blocks.iter().any(|block| block.contains("obs_telemetry_dropped_total")));
    assert!(blocks.iter().all(|block| !block.contains('\n') && block.contains("job=\"demo\"")));
    assert!(
        docs.contains("Success objective: 99.9% of calls succeed (declared)"),
        "the demo declares GET /users/{{id}}'s objective"
    );
    let runbook = std::fs::read_to_string(dir.0.join("RUNBOOK.md")).expect("read");
    for name in ALERT_NAMES {
        assert!(runbook.contains(&format!("\n## {name}\n")), "{name} has no runbook section");
    }
}

/// A route that needs escaping in PromQL, YAML and Go templates, declared objectives and buckets.
static ODD: CallSite = CallSite::new(CallSiteInfo {
    target: Target::Endpoint {
        method: "PUT",
        route: "/q/{{name}}/it's/\"x\"\\y",
        success_objective: Some(0.995),
        latency_objective: Some((0.25, 0.95)),
    },
    function: "odd",
    function_path: || "",
    module_path: "shop",
    file: "src/odd.rs",
    line: 3,
    doc: "An odd route.",
    buckets: Some(&[0.05, 0.25, 1.0]),
});

/// An endpoint with every default.
static PLAIN: CallSite = CallSite::new(CallSiteInfo {
    target: Target::Endpoint { method: "GET", route: "/plain", success_objective: None, latency_objective: None },
    function: "plain",
    function_path: || "",
    module_path: "shop",
    file: "src/plain.rs",
    line: 9,
    doc: "",
    buckets: None,
});

/// A route full of characters that need escaping in PromQL, YAML and Go templates, and an
/// endpoint with declared objectives and buckets, through the real tools.
#[test]
fn escaping_and_declared_objectives_survive_the_real_tools() {
    require_tool("promtool", PROMTOOL_HINT);
    require_tool("amtool", AMTOOL_HINT);
    let mut options = Options::new("shop");
    options.page_for = std::time::Duration::from_mins(1);
    options.ticket_for = std::time::Duration::from_mins(5);
    options.receivers.smtp_smarthost = "127.0.0.1:2525".to_owned();
    options.receivers.smtp_require_tls = false;
    let dir = TempDir::new("odd");
    let files = artifacts(&[&ODD, &PLAIN], &options).expect("artifacts");
    write_artifacts(&dir.0, &files).expect("write");
    let prometheus = dir.0.join("prometheus");
    let (ok, output) = run("promtool", &["check", "rules", "shop.rules.yml"], &prometheus);
    assert!(ok, "promtool check rules:\n{output}");
    let (ok, output) = run("promtool", &["test", "rules", "shop.rules.test.yml"], &prometheus);
    assert!(ok, "promtool test rules:\n{output}");
    let tests = std::fs::read_to_string(prometheus.join("shop.rules.test.yml")).expect("read");
    assert!(tests.contains(r#"http_route: '/q/{{name}}/it''s/"x"\y'"#), "the alert labels carry the raw route");
    let (ok, output) = run("amtool", &["check-config", "alertmanager.yml"], &dir.0.join("alertmanager"));
    assert!(ok, "amtool check-config:\n{output}");
    let overview = files.iter().find(|file| file.path == "grafana/dashboards/shop-overview.json").expect("overview");
    let dashboard: Value = serde_json::from_str(&overview.contents).expect("valid JSON");
    let exprs: Vec<&str> = panels(&dashboard)
        .into_iter()
        .flat_map(|panel| panel["targets"].as_array().into_iter().flatten())
        .filter_map(|target| target["expr"].as_str())
        .collect();
    assert!(
        exprs.iter().any(|expr| expr.contains(r#"http_route="/q/{{name}}/it's/\"x\"\\y""#)),
        "the route is escaped once, for PromQL, inside the JSON: {exprs:#?}"
    );
}

/// `{{ template "NAME" . }}` references in a file.
fn template_references(text: &str) -> BTreeSet<String> {
    text.split("{{ template \"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(name, _)| name.to_owned()))
        .collect()
}

/// `generate DIR --service CONTEXT --slo-period 7d` through the demo's command line: a service
/// name containing `TEXT` keeps every referenced template defined (amtool renders each), the
/// dashboards quote the 7-day burn factors the rules use, and the rules pass promtool.
#[test]
fn another_service_name_and_period_stay_consistent_in_the_real_tools() {
    require_tool("promtool", PROMTOOL_HINT);
    require_tool("amtool", AMTOOL_HINT);
    let dir = TempDir::new("context-7d");
    let output = Command::new(example_binary("demo"))
        .args(["generate"])
        .arg(&dir.0)
        .args(["--service", "CONTEXT", "--slo-period", "7d"])
        .output()
        .expect("run demo generate");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let alertmanager = dir.0.join("alertmanager");
    let (ok, output) = run("amtool", &["check-config", "alertmanager.yml"], &alertmanager);
    assert!(ok && output.contains("SUCCESS"), "amtool check-config:\n{output}");
    let config = std::fs::read_to_string(alertmanager.join("alertmanager.yml")).expect("alertmanager.yml");
    let references = template_references(&config);
    assert_eq!(references, ["obs.CONTEXT.text", "obs.CONTEXT.title"].map(str::to_owned).into());
    for name in &references {
        let text = format!("{{{{ template \"{name}\" . }}}}");
        let (ok, output) = run(
            "amtool",
            &["template", "render", "--template.glob=templates/CONTEXT.tmpl", &format!("--template.text={text}")],
            &alertmanager,
        );
        assert!(ok, "amtool cannot render {name}, which alertmanager.yml references:\n{output}");
    }

    let prometheus = dir.0.join("prometheus");
    for args in [["check", "rules", "CONTEXT.rules.yml"], ["test", "rules", "CONTEXT.rules.test.yml"]] {
        let (ok, output) = run("promtool", &args, &prometheus);
        assert!(ok && output.contains("SUCCESS"), "promtool {args:?}:\n{output}");
    }
    let rules = std::fs::read_to_string(prometheus.join("CONTEXT.rules.yml")).expect("rules");
    assert!(rules.contains("> (3.36 * ") && rules.contains("> (1.4 * "), "7-day page factors in the rules");
    for dashboard in ["CONTEXT-overview.json", "CONTEXT-endpoint.json"] {
        let text = std::fs::read_to_string(dir.0.join("grafana/dashboards").join(dashboard)).expect("dashboard");
        assert!(text.contains("3.36x (1h) and 1.4x (6h)"), "{dashboard} quotes the rules' page factors");
        assert!(!text.contains("14.4"), "{dashboard} quotes no 30-day factor");
    }
}

/// The demo's files and the odd catalog's (escaping, declared objectives), written to `dir`.
fn both_catalogs(dir: &TempDir) -> Vec<PathBuf> {
    let demo = generate_demo();
    let odd = dir.0.join("odd");
    write_artifacts(&odd, &artifacts(&[&ODD, &PLAIN], &Options::new("shop")).expect("artifacts")).expect("write");
    let mut roots = vec![odd];
    let copied = dir.0.join("demo");
    for (path, bytes) in files_under(&demo.0) {
        let target = copied.join(&path);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::write(target, bytes).expect("copy");
    }
    roots.push(copied);
    roots
}

/// Every generated dashboard loads into Grafana's own typed models (`grafana-foundation-sdk`)
/// and every panel, target, threshold, link and variable field survives the round trip.
#[test]
fn every_dashboard_survives_grafanas_typed_models() {
    require_tool("python3", "install Debian's python3; scripts/install-test-tools.sh installs grafana-foundation-sdk");
    let dir = TempDir::new("grafana-sdk");
    let dashboards: Vec<PathBuf> = both_catalogs(&dir)
        .iter()
        .flat_map(|root| {
            let dashboards = root.join("grafana/dashboards");
            files_under(&dashboards).into_keys().map(move |name| dashboards.join(name))
        })
        .collect();
    assert_eq!(dashboards.len(), 6, "three dashboards per catalog: {dashboards:?}");
    let checker = workspace_root().join("tests/support/check_grafana_dashboards.py");
    let mut args: Vec<&str> = vec![checker.to_str().expect("UTF-8 path")];
    args.extend(dashboards.iter().map(|path| path.to_str().expect("UTF-8 path")));
    let (ok, output) = run("python3", &args, &workspace_root());
    assert!(ok, "Grafana's models lose part of a generated dashboard:\n{output}");
    assert_eq!(output.matches(", 0 problems").count(), 6, "{output}");
}

/// The LogQL of the dashboards' Loki panels and of the docs' ```` ```logql ```` blocks.
fn logql_expressions(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for (name, bytes) in files_under(&root.join("grafana/dashboards")) {
        let dashboard: Value = serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("{name}: {error}"));
        for panel in panels(&dashboard) {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let loki = target["datasource"]["type"] == "loki" || panel["datasource"]["type"] == "loki";
                if let (true, Some(expr)) = (loki, target["expr"].as_str()) {
                    found.push(expr.to_owned());
                }
            }
        }
    }
    for doc in ["METRICS.md", "RUNBOOK.md", "README.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap_or_default();
        let mut block: Option<String> = None;
        for line in text.lines() {
            match (&mut block, line.trim()) {
                (None, "```logql") => block = Some(String::new()),
                (Some(expr), "```") => {
                    found.push(expr.trim().to_owned());
                    block = None;
                }
                (Some(expr), _) => {
                    expr.push_str(line);
                    expr.push('\n');
                }
                (None, _) => {}
            }
        }
    }
    found
}

/// Every LogQL expression the generator writes parses with Grafana's own LogQL grammar
/// (`@grafana/lezer-logql`, what Grafana's Loki editor uses), with no error node.
#[test]
fn every_logql_expression_parses_with_grafanas_grammar() {
    require_tool("node", "scripts/install-test-tools.sh installs Node.js and @grafana/lezer-logql");
    let dir = TempDir::new("logql");
    let expressions: Vec<String> = both_catalogs(&dir).iter().flat_map(|root| logql_expressions(root)).collect();
    // Per catalog: 2 dashboard panels, and in METRICS.md 4 queries plus one per endpoint.
    assert!(expressions.len() >= 2 * 6 + 3, "{expressions:#?}");
    let mut child = Command::new("node")
        .arg(workspace_root().join("tests/support/logql/parse_logql.cjs"))
        .current_dir(workspace_root().join("tests/support/logql"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run node");
    std::io::Write::write_all(
        &mut child.stdin.take().expect("stdin"),
        serde_json::to_string(&expressions).expect("JSON").as_bytes(),
    )
    .expect("write expressions");
    let output = child.wait_with_output().expect("node finishes");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let parsed: Vec<Value> =
        stdout.lines().map(|line| serde_json::from_str(line).expect("one JSON line each")).collect();
    assert_eq!(parsed.len(), expressions.len(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let failed: Vec<&Value> = parsed.iter().filter(|result| result["ok"] != true).collect();
    assert!(failed.is_empty() && output.status.success(), "LogQL that Grafana's grammar rejects: {failed:#?}");
}
