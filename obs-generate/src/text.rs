//! Formatting and escaping shared by the generators: numbers, durations, bucket bounds, and the
//! quoting rules of PromQL, URLs, Go templates and Grafana provisioning.

use std::fmt::Write as _;
use std::time::Duration;

/// A number as the generated files write it: rounded to 10 significant digits (so `1 - 0.999` is
/// `0.001`, not `0.0010000000000000009`), shortest form, never an exponent.
///
/// Valid in PromQL, JSON and YAML alike for every finite value. The model's checks keep NaN and
/// the infinities out; should one slip through it is written as PromQL spells it (`NaN`,
/// `+Inf`), which promtool and the rule tests then reject, never disguised as `0`. (Numbers in
/// the JSON and YAML trees are checked by [`crate::tree`] and refused with an error.)
pub(crate) fn number(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    let rounded: f64 = format!("{value:.9e}").parse().unwrap_or(value);
    format!("{rounded}")
}

/// A bucket bound exactly as both expositions (OpenMetrics and the 0.0.4 text) write it in the
/// `le` label (`1.0`, `0.25`, `0.005`, `5e-05`), so a generated `le="1.0"` selector matches the
/// scraped series whichever format Prometheus asked for, and after Prometheus 3's `le`
/// normalization too.
pub(crate) fn le_label(bound: f64) -> String {
    obs_runtime::schema::le_value(bound)
}

/// A Prometheus duration (`5m`, `1h30m`, `3d`, `250ms`), as Prometheus and Alertmanager parse it.
pub(crate) fn duration(value: Duration) -> String {
    const UNITS: [(&str, u128); 5] = [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];
    let mut millis = value.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        if millis >= size {
            let _ = write!(out, "{}{unit}", millis / size);
            millis %= size;
        }
    }
    out
}

/// A duration in whole minutes, rounded up: the step of the generated rule tests.
pub(crate) fn minutes_ceil(value: Duration) -> u64 {
    u64::try_from(value.as_nanos().div_ceil(60_000_000_000)).unwrap_or(u64::MAX)
}

/// Seconds for people: `250ms`, `1s`, `2.5s`.
pub(crate) fn seconds(value: f64) -> String {
    if value < 1.0 { format!("{}ms", number(value * 1000.0)) } else { format!("{}s", number(value)) }
}

/// A ratio as a percentage for people: `99.9%`.
pub(crate) fn percent(ratio: f64) -> String {
    format!("{}%", number(ratio * 100.0))
}

/// What Prometheus' template function `humanizePercentage` prints for `ratio`: Go's
/// `fmt.Sprintf("%.4g%%", ratio*100)`.
pub(crate) fn humanize_percentage(ratio: f64) -> String {
    format!("{}%", go_general(ratio * 100.0, 4))
}

/// Go's `%.<precision>g`: `precision` significant digits, exponent form when the exponent is below
/// -4 or at least `precision`, trailing zeros removed.
fn go_general(value: f64, precision: usize) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    let scientific = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let trim = |digits: &str| -> String {
        if digits.contains('.') {
            digits.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            digits.to_owned()
        }
    };
    let precision_i32 = i32::try_from(precision).unwrap_or(i32::MAX);
    if exponent < -4 || exponent >= precision_i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exponent.abs())
    } else {
        let decimals = usize::try_from(precision_i32 - 1 - exponent).unwrap_or(0);
        trim(&format!("{value:.decimals$}"))
    }
}

/// A PromQL (and LogQL) double-quoted string literal.
pub(crate) fn promql_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for character in value.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for URL query values.
pub(crate) fn url_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Text placed in a Go template (Prometheus annotations, Alertmanager messages) that must print
/// as written: every `{{` becomes an action printing `{{`.
pub(crate) fn go_template_literal(value: &str) -> String {
    value.replace("{{", "{{ \"{{\" }}")
}

/// Text placed in a Grafana provisioning file, which expands `$VAR`: `$$` prints a `$`.
pub(crate) fn grafana_provisioning_literal(value: &str) -> String {
    value.replace('$', "$$")
}

/// Text in a Markdown table cell or inline: `|` and backticks would end the cell or the span.
pub(crate) fn markdown_code(value: &str) -> String {
    let escaped = value.replace('|', "\\|");
    if escaped.contains('`') { format!("`` {escaped} ``") } else { format!("`{escaped}`") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_stable() {
        assert_eq!(number(1.0 - 0.999), "0.001");
        assert_eq!(number(14.4 * 0.001), "0.0144");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(10.0), "10");
        assert_eq!(number(0.000_000_1), "0.0000001");
        assert_eq!(number(1.0 / 60.0), "0.01666666667");
        assert_eq!(number(0.0), "0");
        assert_eq!((number(f64::NAN), number(f64::NEG_INFINITY)), ("NaN".to_owned(), "-Inf".to_owned()));
        assert_eq!(number(-0.5), "-0.5");
    }

    #[test]
    fn durations_use_prometheus_units() {
        assert_eq!(duration(Duration::from_secs(300)), "5m");
        assert_eq!(duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(duration(Duration::from_secs(3 * 86_400)), "3d");
        assert_eq!(duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(duration(Duration::ZERO), "0s");
        assert_eq!(minutes_ceil(Duration::from_secs(120)), 2);
        assert_eq!(minutes_ceil(Duration::from_secs(121)), 3);
        assert_eq!(minutes_ceil(Duration::from_millis(120_001)), 3);
        assert_eq!(minutes_ceil(Duration::ZERO), 0);
        assert_eq!(seconds(0.25), "250ms");
        assert_eq!(seconds(2.5), "2.5s");
    }

    #[test]
    fn humanize_percentage_matches_go() {
        assert_eq!(humanize_percentage(1.0), "100%");
        assert_eq!(humanize_percentage(0.03), "3%");
        assert_eq!(humanize_percentage(0.003), "0.3%");
        assert_eq!(humanize_percentage(0.030_000_000_000_000_002), "3%");
        assert_eq!(humanize_percentage(0.123_456), "12.35%");
        assert_eq!(humanize_percentage(123.456), "1.235e+04%");
        assert_eq!(humanize_percentage(0.000_000_1), "1e-05%");
        assert_eq!(humanize_percentage(0.0), "0%");
    }

    #[test]
    fn escaping() {
        assert_eq!(promql_string(r#"/a"b\c"#), r#""/a\"b\\c""#);
        assert_eq!(url_component("/users/{id}"), "%2Fusers%2F%7Bid%7D");
        assert_eq!(go_template_literal("/a/{{x}}"), "/a/{{ \"{{\" }}x}}");
        assert_eq!(grafana_provisioning_literal("${__value.raw}"), "$${__value.raw}");
        assert_eq!(markdown_code("a|b"), "`a\\|b`");
        assert_eq!(markdown_code("a`b"), "`` a`b ``");
    }

    /// The `le` spelling is the runtime's: the exposition's own tests check both formats write it.
    #[test]
    fn le_labels_are_the_expositions() {
        assert_eq!(le_label(1.0), "1.0");
        assert_eq!(le_label(0.25), "0.25");
        assert_eq!(le_label(0.000_05), "5e-05");
    }
}
