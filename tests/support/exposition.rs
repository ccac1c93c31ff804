//! Reads samples out of a text exposition, matching labels as a set.

/// One sample line: name, labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample name, with any `_bucket`/`_count`/`_total` suffix.
    pub name: String,
    /// The labels in written order.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

/// Parses the sample lines of an OpenMetrics or Prometheus text exposition (comments skipped).
///
/// # Panics
/// On a line that is not a sample: the exposition under test is malformed.
#[must_use]
pub fn samples(text: &str) -> Vec<Sample> {
    text.lines().filter(|line| !line.starts_with('#') && !line.is_empty()).map(parse_line).collect()
}

fn parse_line(line: &str) -> Sample {
    let (series, rest) = match line.find('{') {
        Some(open) => {
            let close = closing_brace(line, open).unwrap_or_else(|| panic!("unclosed labels: {line}"));
            line.split_at(close + 1)
        }
        None => line.split_at(line.find(' ').unwrap_or_else(|| panic!("no value: {line}"))),
    };
    let value_text = rest.split_whitespace().next().unwrap_or_else(|| panic!("no value: {line}"));
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().unwrap_or_else(|_| panic!("bad value {other:?}: {line}")),
    };
    let (name, labels) = match series.find('{') {
        Some(open) => (&series[..open], parse_labels(&series[open + 1..series.len() - 1])),
        None => (series, Vec::new()),
    };
    Sample { name: name.to_owned(), labels, value }
}

/// The `}` closing the label set opened at `open`, skipping quoted values: an OpenMetrics
/// exemplar (` # {trace_id="..."} ...`) may follow the value with braces of its own.
fn closing_brace(line: &str, open: usize) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (index, c) in line.char_indices().skip_while(|(index, _)| *index <= open) {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(index),
            _ => {}
        }
    }
    None
}

fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let eq = rest.find("=\"").unwrap_or_else(|| panic!("bad labels: {text}"));
        let name = rest[..eq].trim_start_matches(',').to_owned();
        let mut value = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let mut end = None;
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(if escaped == 'n' { '\n' } else { escaped });
                    }
                }
                '"' => {
                    end = Some(eq + 2 + index + 1);
                    break;
                }
                c => value.push(c),
            }
        }
        labels.push((name, value));
        rest = &rest[end.unwrap_or_else(|| panic!("unterminated label value: {text}"))..];
    }
    labels
}

/// The value of the one sample named `name` whose labels are exactly `labels`.
#[must_use]
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut wanted: Vec<(String, String)> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    wanted.sort();
    samples(text).into_iter().find_map(|sample| {
        let mut have = sample.labels.clone();
        have.sort();
        (sample.name == name && have == wanted).then_some(sample.value)
    })
}

/// Every sample named `name` whose labels include all of `labels`.
#[must_use]
pub fn matching(text: &str, name: &str, labels: &[(&str, &str)]) -> Vec<Sample> {
    samples(text)
        .into_iter()
        .filter(|sample| {
            sample.name == name
                && labels.iter().all(|(k, v)| sample.labels.iter().any(|(have_k, have_v)| have_k == k && have_v == v))
        })
        .collect()
}

/// Calls of `route` recorded with `error_type` (empty for successes), across methods and statuses.
#[must_use]
pub fn request_count(text: &str, route: &str, error_type: &str) -> f64 {
    sum_matching(
        text,
        "http_server_request_duration_seconds_count",
        &[("http_route", route), ("error_type", error_type)],
    )
}

/// The sum of every sample named `name` whose labels include all of `labels`; 0 when none.
#[must_use]
pub fn sum_matching(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    matching(text, name, labels).iter().map(|sample| sample.value).sum()
}

#[cfg(test)]
mod tests {
    use super::{samples, value};

    #[test]
    fn parses_labels_with_escapes_and_infinities() {
        let text = "# TYPE x histogram\nx_bucket{a=\"q\\\"uote\",le=\"+Inf\"} 3\nplain 1.5\n";
        let parsed = samples(text);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].labels[0], ("a".to_owned(), "q\"uote".to_owned()));
        assert_eq!(value(text, "x_bucket", &[("le", "+Inf"), ("a", "q\"uote")]), Some(3.0));
        assert_eq!(value(text, "plain", &[]), Some(1.5));
        assert_eq!(value(text, "plain", &[("a", "b")]), None);
    }

    #[test]
    fn exemplars_after_the_value_are_not_labels() {
        let text = "x_bucket{le=\"0.5\",q=\"}\"} 2 # {trace_id=\"ab\"} 0.25 1700000000.001\n";
        assert_eq!(value(text, "x_bucket", &[("le", "0.5"), ("q", "}")]), Some(2.0));
    }
}
