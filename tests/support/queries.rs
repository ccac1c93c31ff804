//! The queries inside generated artifacts: PromQL and LogQL targets of Grafana dashboards, PromQL
//! blocks of a Markdown document, and Grafana's template variables replaced by concrete values so
//! that a real Prometheus can run them.

use serde_json::Value;

/// The query language of a dashboard query, from its data source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// A Prometheus data source.
    PromQl,
    /// A Loki data source.
    LogQl,
}

/// One query found in an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Where it was found, e.g. `api.json: panels[3] "Error ratio" targets[0]`.
    pub origin: String,
    /// The expression as written.
    pub expr: String,
    /// Its language.
    pub language: Language,
}

/// Classifies a Grafana `datasource` value (`{"type": "prometheus", "uid": ...}`, a plain name, or
/// a `${var}` reference to a data-source variable of the dashboard).
fn language_of(datasource: &Value, dashboard: &Value) -> Option<Language> {
    let text = match datasource {
        Value::Object(fields) => {
            let kind = fields.get("type").and_then(Value::as_str).unwrap_or_default();
            if kind.is_empty() || kind.starts_with('$') {
                fields.get("uid").and_then(Value::as_str).unwrap_or_default().to_owned()
            } else {
                kind.to_owned()
            }
        }
        Value::String(text) => text.clone(),
        _ => return None,
    };
    let text = resolve_datasource_variable(&text, dashboard).unwrap_or(text).to_ascii_lowercase();
    if text.contains("loki") {
        Some(Language::LogQl)
    } else if text.contains("prometheus") {
        Some(Language::PromQl)
    } else {
        None
    }
}

/// `${ds}` / `$ds` naming a `datasource` template variable: the plugin it selects.
fn resolve_datasource_variable(text: &str, dashboard: &Value) -> Option<String> {
    let name = text.strip_prefix("${").and_then(|rest| rest.strip_suffix('}')).or_else(|| text.strip_prefix('$'))?;
    dashboard["templating"]["list"]
        .as_array()?
        .iter()
        .find(|variable| variable["name"] == name && variable["type"] == "datasource")
        .and_then(|variable| variable["query"].as_str())
        .map(str::to_owned)
}

/// Every `expr` in a Grafana dashboard (panels, rows' nested panels, annotations), each with the
/// language of the data source in force where it stands (the target's own, else its panel's).
///
/// # Panics
/// When an `expr` stands under no data source that says Prometheus or Loki: such a query could
/// not be classified, so it could not be proven either.
#[must_use]
pub fn dashboard_queries(file: &str, dashboard: &Value) -> Vec<Query> {
    let mut found = Vec::new();
    walk(dashboard, dashboard, None, file.to_owned(), &mut found);
    found
}

fn walk(node: &Value, dashboard: &Value, inherited: Option<Language>, origin: String, found: &mut Vec<Query>) {
    match node {
        Value::Object(fields) => {
            let language = fields.get("datasource").and_then(|source| language_of(source, dashboard)).or(inherited);
            let origin = match fields.get("title").and_then(Value::as_str) {
                Some(title) => format!("{origin} {title:?}"),
                None => origin,
            };
            if let Some(expr) = fields.get("expr").and_then(Value::as_str) {
                let language = language.unwrap_or_else(|| {
                    panic!("{origin}: expr {expr:?} has no Prometheus or Loki data source in force")
                });
                found.push(Query { origin: origin.clone(), expr: expr.to_owned(), language });
            }
            for (key, child) in fields {
                if key != "templating" {
                    walk(child, dashboard, language, format!("{origin} {key}"), found);
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                walk(item, dashboard, inherited, format!("{origin}[{index}]"), found);
            }
        }
        _ => {}
    }
}

/// The query of each `query`-type template variable with its name (e.g.
/// `("route", "label_values(http_server_request_duration_seconds_count, http_route)")`).
#[must_use]
pub fn variable_queries(dashboard: &Value) -> Vec<(String, String)> {
    let Some(list) = dashboard["templating"]["list"].as_array() else { return Vec::new() };
    list.iter()
        .filter(|variable| variable["type"] == "query")
        .filter_map(|variable| {
            let query = match &variable["query"] {
                Value::String(text) => text.clone(),
                Value::Object(fields) => fields.get("query").and_then(Value::as_str)?.to_owned(),
                _ => return None,
            };
            Some((variable["name"].as_str().unwrap_or_default().to_owned(), query))
        })
        .collect()
}

/// Turns Grafana's `label_values(selector, label)` into the PromQL that yields those values
/// (`group by (label) (selector)`); other variable queries are returned unchanged.
#[must_use]
pub fn label_values_as_promql(query: &str) -> String {
    let Some(inner) = query.trim().strip_prefix("label_values(").and_then(|rest| rest.strip_suffix(')')) else {
        return query.to_owned();
    };
    match inner.rsplit_once(',') {
        Some((selector, label)) => format!("group by ({}) ({})", label.trim(), selector.trim()),
        None => format!("group by ({}) ({{__name__=~\".+\"}})", inner.trim()),
    }
}

/// The body of every ```` ```promql ```` fenced block of a Markdown document, with its line number.
///
/// # Panics
/// On an unclosed block.
#[must_use]
pub fn markdown_promql_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, Vec<&str>)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let fence = line.trim_start();
        match open.as_mut() {
            None if fence.starts_with("```") && fence.trim_start_matches('`').trim().eq_ignore_ascii_case("promql") => {
                open = Some((index + 1, Vec::new()));
            }
            Some((start, body)) if fence.starts_with("```") => {
                blocks.push((*start, body.join("\n")));
                open = None;
            }
            Some((_, body)) => body.push(line),
            None => {}
        }
    }
    assert!(open.is_none(), "unclosed ```promql block at line {:?}", open.map(|(start, _)| start));
    blocks
}

/// The concrete values Grafana's variables take in the tests.
#[derive(Debug, Clone)]
pub struct Variables<'a> {
    /// `$route`.
    pub route: &'a str,
    /// `$method`.
    pub method: &'a str,
    /// `$__rate_interval` (and `$__interval`).
    pub rate_interval: &'a str,
    /// `$__range`.
    pub range: &'a str,
    /// `$__range_s`, the same range in seconds.
    pub range_seconds: &'a str,
}

/// Replaces `$name`, `${name}`, `${name:format}` and `[[name]]` with the test's values.
///
/// # Errors
/// The name of a variable the tests do not know (the generators promise only `$route`, `$method`,
/// `$__rate_interval` and `$__range`).
pub fn substitute(expr: &str, values: &Variables<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(position) = rest.find(['$', '[']) {
        out.push_str(&rest[..position]);
        let tail = &rest[position..];
        let (name, consumed) = if let Some(braced) = tail.strip_prefix("${") {
            let end = braced.find('}').ok_or_else(|| format!("unclosed ${{ in {expr:?}"))?;
            let name = braced[..end].split(':').next().unwrap_or_default();
            (name, end + 3)
        } else if let Some(bracketed) = tail.strip_prefix("[[") {
            match bracketed.find("]]") {
                Some(end) if bracketed[..end].chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                    (&bracketed[..end], end + 4)
                }
                _ => {
                    out.push('[');
                    rest = &tail[1..];
                    continue;
                }
            }
        } else if let Some(plain) = tail.strip_prefix('$') {
            let end = plain.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(plain.len());
            if end == 0 {
                // A regex anchor such as `=~"^/users.*$"`, not a variable.
                out.push('$');
                rest = plain;
                continue;
            }
            (&plain[..end], end + 1)
        } else {
            out.push('[');
            rest = &tail[1..];
            continue;
        };
        let value = match name {
            "route" => values.route,
            "method" => values.method,
            "__rate_interval" | "__interval" => values.rate_interval,
            "__range" => values.range,
            "__range_s" => values.range_seconds,
            other => return Err(format!("unknown Grafana variable ${other} in {expr:?}")),
        };
        out.push_str(value);
        rest = &tail[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUES: Variables<'static> =
        Variables { route: "/users/{id}", method: "GET", rate_interval: "1m", range: "5m", range_seconds: "300" };

    #[test]
    fn substitutes_every_form() {
        let expr = r#"sum(rate(x{http_route="$route",m="${method}",k="[[route]]"}[$__rate_interval])) / $__range_s [5m:1m] $__range"#;
        assert_eq!(
            substitute(expr, &VALUES).unwrap(),
            r#"sum(rate(x{http_route="/users/{id}",m="GET",k="/users/{id}"}[1m])) / 300 [5m:1m] 5m"#
        );
        assert!(substitute("rate(x[$__interval_ms])", &VALUES).unwrap_err().contains("__interval_ms"));
    }

    #[test]
    fn finds_promql_blocks_and_dashboard_targets() {
        let markdown = "text\n```promql\nsum(rate(a[5m]))\n```\n```\nnot promql\n```\n```promql\nb\n  + c\n```\n";
        assert_eq!(
            markdown_promql_blocks(markdown),
            vec![(2, "sum(rate(a[5m]))".to_owned()), (8, "b\n  + c".to_owned())]
        );
        let dashboard: Value = serde_json::json!({
            "templating": {"list": [{"name": "route", "type": "query",
                "query": {"query": "label_values(x_count, http_route)"}}]},
            "panels": [
                {"title": "Rate", "datasource": {"type": "prometheus", "uid": "p"}, "targets": [{"expr": "rate(x[1m])"}]},
                {"title": "Row", "panels": [{"title": "Logs", "targets": [
                    {"datasource": {"type": "loki", "uid": "l"}, "expr": "{service_name=\"demo\"}"}]}]}
            ]
        });
        let queries = dashboard_queries("d.json", &dashboard);
        assert_eq!(queries.len(), 2);
        assert_eq!(queries[0].language, Language::PromQl);
        assert_eq!(queries[1].language, Language::LogQl);
        let variables = variable_queries(&dashboard);
        assert_eq!(label_values_as_promql(&variables[0].1), "group by (http_route) (x_count)");
    }
}
