//! Every PromQL expression the demo's generated files contain, executed by a real Prometheus.
//!
//! The demo runs as a process, `demo generate` writes its files, and Prometheus (Debian's 2.42)
//! scrapes the demo every second with the generated rule file loaded while real traffic flows.
//! Then every query of the Grafana dashboards (Prometheus targets and template variables), every
//! ```` ```promql ```` block of `METRICS.md` and every rule of the rule file goes through
//! `/api/v1/query`: each must be accepted, without warnings, and every query meant to draw a graph or
//! record a series must return data. LogQL targets cannot run here (no Loki): they are counted and
//! reported as unproven.

use obs_tests::demo::{Demo, generate};
use obs_tests::prometheus::{Prometheus, QueryResult};
use obs_tests::queries::{
    Language, Query, Variables, dashboard_queries, label_values_as_promql, markdown_promql_blocks, substitute,
    variable_queries,
};
use obs_tests::scratch::{ScratchDir, poll_until};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const SERVICE: &str = "demo";
const WAIT: Duration = Duration::from_mins(3);

/// The values the dashboards' variables take: the endpoint the traffic exercises most.
const VARIABLES: Variables<'static> =
    Variables { route: "/users/{id}", method: "GET", rate_interval: "1m", range: "5m", range_seconds: "300" };

/// One mix of real calls: successes, a 404, a 500 (an `Err`), orders accepted and rejected.
const TRAFFIC: &[(&str, &str, &str, u16)] = &[
    ("GET", "/users/7", "", 200),
    ("GET", "/users/42", "", 200),
    ("GET", "/users/999", "", 200),
    ("GET", "/users/1000", "", 404),
    ("GET", "/users/0", "", 500),
    ("POST", "/orders", r#"{"item":"book","quantity":2}"#, 201),
    ("POST", "/orders", r#"{"item":"book","quantity":0}"#, 422),
    ("GET", "/health", "", 200),
    // No route: the request layer records it under http_route="(unmatched)".
    ("GET", "/no-such-route", "", 404),
];

/// A query to prove: where it comes from, the text sent, and whether it must return data.
struct Check {
    source: &'static str,
    origin: String,
    expr: String,
    needs_data: bool,
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

/// The Prometheus queries of the dashboards (targets and query variables) and the LogQL targets.
fn dashboard_checks(dir: &Path) -> (Vec<Check>, Vec<Query>) {
    let mut checks = Vec::new();
    let mut logql = Vec::new();
    let dashboards = dir.join("grafana/dashboards");
    let mut files: Vec<_> = std::fs::read_dir(&dashboards)
        .unwrap_or_else(|error| panic!("{}: {error}", dashboards.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dashboards in {}", dashboards.display());
    for path in files {
        let name = path.file_name().expect("file name").to_string_lossy().into_owned();
        let dashboard: Value =
            serde_json::from_str(&read(&path)).unwrap_or_else(|error| panic!("{name} is not JSON: {error}"));
        for query in dashboard_queries(&name, &dashboard) {
            match query.language {
                Language::LogQl => logql.push(query),
                Language::PromQl => {
                    let expr =
                        substitute(&query.expr, &VARIABLES).unwrap_or_else(|error| panic!("{}: {error}", query.origin));
                    checks.push(Check { source: "dashboards", origin: query.origin, expr, needs_data: true });
                }
            }
        }
        for (variable, query) in variable_queries(&dashboard) {
            let promql =
                label_values_as_promql(&substitute(&query, &VARIABLES).unwrap_or_else(|error| panic!("{error}")));
            checks.push(Check {
                source: "dashboard variables",
                origin: format!("{name} variable ${variable} ({query})"),
                expr: promql,
                needs_data: true,
            });
        }
    }
    (checks, logql)
}

/// The ```` ```promql ```` blocks of `METRICS.md`, one expression each.
fn metrics_doc_checks(dir: &Path) -> Vec<Check> {
    let blocks = markdown_promql_blocks(&read(&dir.join("METRICS.md")));
    assert!(!blocks.is_empty(), "METRICS.md has no ```promql block");
    blocks
        .into_iter()
        .map(|(line, expr)| {
            let expr = substitute(&expr, &VARIABLES).unwrap_or_else(|error| panic!("METRICS.md:{line}: {error}"));
            Check { source: "METRICS.md", origin: format!("METRICS.md:{line}"), expr, needs_data: true }
        })
        .collect()
}

/// Every rule as Prometheus loaded it from the file (`/api/v1/rules`, so Prometheus' own YAML
/// parser reads the file, not a test's approximation): recording rules must return data, alert
/// conditions must run (they are empty while nothing burns).
fn rule_checks(prometheus: &Prometheus, rules_file: &str) -> Vec<Check> {
    let groups = prometheus.rule_groups();
    let mut checks = Vec::new();
    for group in &groups {
        let group_name = group["name"].as_str().unwrap_or_default();
        for rule in group["rules"].as_array().expect("rules of a group") {
            let name = rule["name"].as_str().unwrap_or_default();
            let expr = rule["query"].as_str().unwrap_or_else(|| panic!("no query in {rule}")).to_owned();
            let recording = rule["type"] == "recording";
            let origin = format!("{group_name}/{name}{}", if recording { "" } else { " (alert)" });
            checks.push(Check { source: "rules", origin, expr, needs_data: recording });
        }
    }
    // Every rule item of the file was loaded: count them in the file and compare.
    let in_file = rules_file
        .lines()
        .filter(|line| {
            let item = line.trim_start();
            item.starts_with("- record:") || item.starts_with("- alert:")
        })
        .count();
    assert_eq!(checks.len(), in_file, "Prometheus loaded {} rules, the file has {in_file}", checks.len());
    let group_lines = rules_file.lines().filter(|line| line.starts_with("- name:")).count();
    assert_eq!(groups.len(), group_lines, "rule groups loaded vs in the file");
    checks
}

/// Waits until every rule has been evaluated, then asserts each is healthy with no last error.
fn assert_rules_healthy(prometheus: &Prometheus) {
    let groups = poll_until(
        "every rule to be evaluated once",
        WAIT,
        Duration::from_millis(500),
        || {
            let groups = prometheus.rule_groups();
            let evaluated = groups
                .iter()
                .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
                .all(|rule| rule["health"] != "unknown");
            evaluated.then_some(groups)
        },
        || prometheus.log_tail(),
    );
    let mut count = 0;
    for group in &groups {
        let group_name = group["name"].as_str().unwrap_or_default();
        for rule in group["rules"].as_array().expect("rules of a group") {
            let name = rule["name"].as_str().unwrap_or_default();
            assert_eq!(rule["health"], "ok", "rule {group_name}/{name} is unhealthy: {rule:#}");
            let last_error = rule["lastError"].as_str().unwrap_or_default();
            assert!(last_error.is_empty(), "rule {group_name}/{name} failed: {rule:#}");
            count += 1;
        }
    }
    eprintln!(
        "[engines_queries] /api/v1/rules: {} groups, {count} rules, all health \"ok\", no lastError",
        groups.len()
    );
}

/// Runs every check once: the errors (which fail the test at once) and the empty answers.
fn run_all(prometheus: &Prometheus, checks: &[Check]) -> (Vec<String>, Vec<usize>, Vec<QueryResult>) {
    let mut errors = Vec::new();
    let mut empty = Vec::new();
    let mut results = Vec::new();
    for (index, check) in checks.iter().enumerate() {
        match prometheus.query(&check.expr) {
            Ok(result) => {
                if !result.warnings.is_empty() {
                    errors.push(format!("{}: warnings {:?} for `{}`", check.origin, result.warnings, check.expr));
                }
                if check.needs_data && !result.has_data() {
                    empty.push(index);
                }
                results.push(result);
            }
            Err(error) => {
                errors.push(format!("{}: `{}` -> {error}", check.origin, check.expr));
                results.push(QueryResult { result_type: String::new(), result: Vec::new(), warnings: Vec::new() });
            }
        }
    }
    (errors, empty, results)
}

fn send_traffic(demo: &Demo) {
    for (method, path, body, status) in TRAFFIC {
        demo.expect(method, path, body, *status);
    }
}

/// The key numbers are not only present but right for the traffic sent.
fn assert_key_numbers(prometheus: &Prometheus, checks: &[Check], results: &[QueryResult]) {
    // Traffic included 500s on /users/{id}.
    let find = |file: &str, title: &str| {
        let title = format!("{title:?}");
        checks
            .iter()
            .zip(results)
            .find(|(check, _)| {
                check.source == "dashboards" && check.origin.starts_with(file) && check.origin.contains(&title)
            })
            .unwrap_or_else(|| panic!("no panel {title} in {file}"))
    };
    let (_, error_ratio) = find("demo-endpoint.json", "Error ratio");
    assert!(error_ratio.values().iter().all(|ratio| *ratio > 0.0 && *ratio < 1.0), "{error_ratio:?}");
    let (_, rate) = find("demo-endpoint.json", "Request rate");
    assert!(rate.values().iter().all(|rate| *rate > 0.0), "{rate:?}");
    let (_, p99) = find("demo-endpoint.json", "p99 latency");
    assert!(p99.values().iter().all(|seconds| seconds.is_finite() && *seconds > 0.0), "{p99:?}");
    // The operations the endpoints call: GET /users/{id} runs db.load_user (which fails for id 0),
    // POST /orders runs db.save_order (which never fails).
    let (_, operation_rate) = find("demo-overview.json", "Operation call rate");
    assert_eq!(operation_rate.values().len(), 2, "one line per operation: {operation_rate:?}");
    assert!(operation_rate.values().iter().all(|rate| *rate > 0.0), "{operation_rate:?}");
    let (_, operation_p99) = find("demo-overview.json", "Operation p99 duration");
    assert_eq!(operation_p99.values().len(), 2, "{operation_p99:?}");
    assert!(operation_p99.values().iter().all(|seconds| seconds.is_finite() && *seconds > 0.0), "{operation_p99:?}");
    let (_, dropped) = find("demo-overview.json", "Telemetry dropped");
    assert_eq!(dropped.values(), [0.0; 9], "3 signals x 3 reasons, nothing lost without an OTLP endpoint");
    let doc_block = |contains: &[&str]| {
        checks
            .iter()
            .zip(results)
            .find(|(check, _)| check.source == "METRICS.md" && contains.iter().all(|part| check.expr.contains(part)))
            .map_or_else(|| panic!("no METRICS.md block with {contains:?}"), |(_, result)| result)
    };
    let load_errors = doc_block(&["operation=\"db.load_user\", error_type!=\"\""]);
    assert!(load_errors.values().iter().all(|ratio| *ratio > 0.0 && *ratio < 1.0), "{load_errors:?}");
    let save_errors = doc_block(&["operation=\"db.save_order\", error_type!=\"\""]);
    assert_eq!(save_errors.values(), [0.0], "db.save_order never fails: 0, not no data");
    let save_p50 = doc_block(&["histogram_quantile(0.5,", "operation=\"db.save_order\""]);
    assert!(save_p50.values().iter().all(|seconds| seconds.is_finite() && *seconds > 0.0), "{save_p50:?}");
    let operation_checks = checks.iter().filter(|check| check.expr.contains("operation_duration_seconds")).count();
    assert!(operation_checks >= 2 * 5 + 3, "{operation_checks} operation queries");
    let users_ratio = prometheus
        .query(r#"job_method_route:http_server_request_errors:ratio_rate5m{http_route="/users/{id}", http_request_method="GET"}"#)
        .expect("recorded ratio");
    assert!(users_ratio.values().iter().all(|ratio| *ratio > 0.0), "{users_ratio:?}");
}

#[test]
fn every_generated_promql_expression_runs_on_a_real_prometheus() {
    let started = Instant::now();
    let demo = Demo::start();
    let generated = ScratchDir::new("engines-queries-generated");
    generate(generated.path(), &[]);
    let rules_path = generated.join(&format!("prometheus/{SERVICE}.rules.yml"));
    let rules_file = read(&rules_path);

    // Prometheus scraping the demo every second, evaluating the generated rules every second.
    let config_dir = ScratchDir::new("engines-queries-prometheus");
    let config = config_dir.write(
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - '{}'\nscrape_configs:\n  - job_name: {SERVICE}\n    static_configs:\n      - targets: ['{}']\n",
            rules_path.display(),
            demo.metrics
        ),
    );
    send_traffic(&demo);
    let prometheus = Prometheus::start(&config, &[]);
    prometheus.wait_for_target_up(SERVICE, WAIT);

    // The client tells a rejected query from an accepted one (so an accepted one means something).
    let rejected = prometheus.query("sum(rate(http_server_request_duration_seconds_count[1m])");
    assert!(rejected.is_err_and(|error| error.contains("bad_data")), "a malformed query must be reported as an error");

    let (mut checks, logql) = dashboard_checks(generated.path());
    checks.extend(metrics_doc_checks(generated.path()));
    checks.extend(rule_checks(&prometheus, &rules_file));

    // Real traffic keeps flowing (bounded: at most one mix per 100 ms for the wait's length)
    // while every query is run until each that must draw something does.
    let stop = AtomicBool::new(false);
    let (errors, empty, results) = std::thread::scope(|scope| {
        scope.spawn(|| {
            let until = Instant::now() + WAIT;
            while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                send_traffic(&demo);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let until = Instant::now() + WAIT;
        let outcome = loop {
            let (errors, empty, results) = run_all(&prometheus, &checks);
            if !errors.is_empty() || empty.is_empty() || Instant::now() >= until {
                break (errors, empty, results);
            }
            std::thread::sleep(Duration::from_secs(1));
        };
        stop.store(true, Ordering::SeqCst);
        outcome
    });
    assert!(errors.is_empty(), "queries Prometheus rejected:\n{}\n{}", errors.join("\n"), prometheus.log_tail());
    let empty_list: Vec<String> =
        empty.iter().map(|&index| format!("{}: `{}`", checks[index].origin, checks[index].expr)).collect();
    assert!(
        empty.is_empty(),
        "queries still empty after {WAIT:?} of traffic:\n{}\n{}",
        empty_list.join("\n"),
        prometheus.log_tail()
    );

    assert_rules_healthy(&prometheus);

    assert_key_numbers(&prometheus, &checks, &results);

    let mut per_source: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (check, result) in checks.iter().zip(&results) {
        let entry = per_source.entry(check.source).or_default();
        entry.0 += 1;
        entry.1 += usize::from(result.has_data());
    }
    for (source, (count, with_data)) in &per_source {
        eprintln!(
            "[engines_queries] {source}: {count} PromQL expressions executed, all accepted, {with_data} returned data"
        );
    }
    for metric in ["operation_duration_seconds", "obs_telemetry_"] {
        let (count, with_data) = checks
            .iter()
            .zip(&results)
            .filter(|(check, _)| check.expr.contains(metric))
            .fold((0, 0), |(count, with_data), (_, result)| (count + 1, with_data + usize::from(result.has_data())));
        eprintln!("[engines_queries]   of which {count} on {metric}*, {with_data} returned data");
    }
    eprintln!("[engines_queries] LogQL: {} expressions UNPROVEN (no Loki can be installed here):", logql.len());
    for query in &logql {
        eprintln!("[engines_queries]   unproven LogQL {}: {}", query.origin, query.expr);
    }
    eprintln!("[engines_queries] total {} PromQL expressions in {:.1}s", checks.len(), started.elapsed().as_secs_f64());
    assert!(per_source.get("dashboards").is_some_and(|(count, _)| *count > 0), "the dashboards hold no PromQL");
    assert!(per_source.get("rules").is_some_and(|(count, _)| *count > 0), "the rule file holds no rule");
}
