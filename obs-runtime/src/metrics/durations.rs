//! The duration histogram families (`http_server_request_duration_seconds`,
//! `operation_duration_seconds`) as snapshots, and their two encodings.
//!
//! OpenMetrics carries exemplars, but prometheus-client 0.26 only builds its `Exemplar` values
//! inside its own mutex-guarded `HistogramWithExemplars` (the type has no public constructor), so
//! [`write_openmetrics`] writes these two families itself, line for line as prometheus-client's
//! encoder does (a test compares the two), with each bucket's exemplar appended.
//!
//! The Prometheus text format 0.0.4 has no exemplars; [`write_prometheus_text`] writes the same
//! families line for line as prometheus-client's 0.0.4 encoder does, with one difference: the
//! `le` label. prometheus-client (like Go's client) writes `le="1"` in 0.0.4 and `le="1.0"` in
//! OpenMetrics, so a Prometheus 2.x would store a different series per scrape format, and a query
//! naming one bucket would silently match nothing under the other. Both encoders here write
//! [`le_value`], the OpenMetrics canonical form that Prometheus 3 normalizes every scrape to: one
//! series, one spelling, whatever the format and the Prometheus version.

use crate::metrics::exemplar::ExemplarSnapshot;
use crate::metrics::histogram::HistogramSnapshot;
use crate::schema::{self, le_value};
use prometheus_client::registry::Unit;
use std::fmt::Write as _;

/// One histogram family: its name without the unit suffix, its help, and its series.
#[derive(Debug)]
pub struct DurationFamily {
    pub name: &'static str,
    pub help: &'static str,
    pub series: Vec<DurationSeries>,
}

/// One label set of a family and a copy of its histogram.
#[derive(Debug)]
pub struct DurationSeries {
    pub labels: Vec<(&'static str, String)>,
    pub histogram: HistogramSnapshot,
}

/// Writes the families in the OpenMetrics text format, each bucket with its exemplar when it
/// has one; the caller appends the rest of the exposition and `# EOF`.
pub fn write_openmetrics(out: &mut String, families: &[DurationFamily]) {
    for family in families {
        let name = family.name;
        let unit = Unit::Seconds.as_str();
        let _ = writeln!(out, "# HELP {name}_{unit} {}", family.help);
        let _ = writeln!(out, "# TYPE {name}_{unit} histogram");
        let _ = writeln!(out, "# UNIT {name}_{unit} {unit}");
        for series in &family.series {
            write_series(out, &format!("{name}_{unit}"), series);
        }
    }
}

fn write_series(out: &mut String, name: &str, series: &DurationSeries) {
    let snapshot = &series.histogram;
    let labels = label_list(series);
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", dtoa::Buffer::new().format(snapshot.sum_seconds));
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", snapshot.count);
    let mut cumulative = 0;
    for (index, (bound, count)) in snapshot.buckets.iter().enumerate() {
        cumulative += count;
        let le = format!("{}=\"{}\"", schema::LE, le_value(*bound));
        let _ = write!(out, "{name}_bucket{{{}}} {cumulative}", joined(&le, &labels));
        if let Some(exemplar) = snapshot.exemplars.get(index).copied().flatten() {
            write_exemplar(out, exemplar);
        }
        out.push('\n');
    }
}

/// Writes the families in the Prometheus text format 0.0.4 (no unit line, no exemplars), as
/// prometheus-client's 0.0.4 encoder does but for the `le` values, which are [`le_value`]'s.
pub fn write_prometheus_text(out: &mut String, families: &[DurationFamily]) {
    for family in families {
        let name = format!("{}_{}", family.name, Unit::Seconds.as_str());
        let _ = writeln!(out, "# HELP {name} {}", family.help.replace('\\', "\\\\").replace('\n', "\\n"));
        let _ = writeln!(out, "# TYPE {name} histogram");
        for series in &family.series {
            let snapshot = &series.histogram;
            let labels = label_list(series);
            let mut cumulative = 0;
            for (bound, count) in &snapshot.buckets {
                cumulative += count;
                let le = format!("{}=\"{}\"", schema::LE, le_value(*bound));
                let _ = writeln!(out, "{name}_bucket{{{}}} {cumulative}", joined(&labels, &le));
            }
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", format_value(snapshot.sum_seconds));
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", snapshot.count);
        }
    }
}

/// A sample value as prometheus-client's 0.0.4 encoder writes it.
fn format_value(value: f64) -> String {
    if value.is_finite() {
        dtoa::Buffer::new().format_finite(value).to_owned()
    } else if value.is_nan() {
        "NaN".to_owned()
    } else if value > 0.0 {
        "+Inf".to_owned()
    } else {
        "-Inf".to_owned()
    }
}

/// `key="value",...` of a series, values escaped.
fn label_list(series: &DurationSeries) -> String {
    let mut labels = String::new();
    for (key, value) in &series.labels {
        if !labels.is_empty() {
            labels.push(',');
        }
        labels.push_str(key);
        labels.push_str("=\"");
        push_escaped_label_value(&mut labels, value);
        labels.push('"');
    }
    labels
}

/// Two label lists, either of which may be empty, as one.
fn joined(first: &str, second: &str) -> String {
    match (first.is_empty(), second.is_empty()) {
        (false, false) => format!("{first},{second}"),
        (true, _) => second.to_owned(),
        (false, true) => first.to_owned(),
    }
}

fn write_exemplar(out: &mut String, exemplar: ExemplarSnapshot) {
    out.push(' ');
    exemplar.write_openmetrics(out);
}

/// Escapes a label value as the OpenMetrics text format requires.
fn push_escaped_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{DurationFamily, DurationSeries, Unit, le_value, write_openmetrics, write_prometheus_text};
    use crate::metrics::exemplar::{ExemplarSnapshot, SampledCall};
    use crate::metrics::histogram::HistogramSnapshot;
    use prometheus_client::collector::Collector;
    use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
    use prometheus_client::metrics::MetricType;
    use prometheus_client::metrics::exemplar::Exemplar;
    use prometheus_client::registry::Registry;
    use std::collections::HashMap;

    fn series(labels: Vec<(&'static str, String)>, sum_seconds: f64, buckets: Vec<(f64, u64)>) -> DurationSeries {
        let count = buckets.iter().map(|(_, count)| count).sum();
        let exemplars = vec![None; buckets.len()];
        DurationSeries { labels, histogram: HistogramSnapshot { sum_seconds, count, buckets, exemplars } }
    }

    fn family() -> DurationFamily {
        DurationFamily {
            name: "test_duration",
            help: "A family for the test.",
            series: vec![
                series(
                    vec![("route", "/a/{id}".to_owned()), ("error_type", String::new())],
                    0.0123,
                    vec![(0.005, 1), (0.25, 0), (1.0, 2), (f64::INFINITY, 1)],
                ),
                series(
                    vec![("route", "odd \"quoted\\\" \n value".to_owned()), ("error_type", "Error".to_owned())],
                    2.0,
                    vec![(0.005, 0), (0.25, 0), (1.0, 0), (f64::INFINITY, 0)],
                ),
            ],
        }
    }

    /// The family encoded by prometheus-client itself, the reference of both formats.
    #[derive(Debug)]
    struct Reference;

    impl Collector for Reference {
        fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            let family = family();
            let mut metric =
                encoder.encode_descriptor(family.name, family.help, Some(&Unit::Seconds), MetricType::Histogram)?;
            for series in &family.series {
                let snapshot = &series.histogram;
                metric.encode_family(&series.labels)?.encode_histogram::<NoLabelSet>(
                    snapshot.sum_seconds,
                    snapshot.count,
                    &snapshot.buckets,
                    None::<&HashMap<usize, Exemplar<NoLabelSet, f64>>>,
                )?;
            }
            Ok(())
        }
    }

    fn reference_registry() -> Registry {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Reference));
        registry
    }

    #[test]
    fn without_exemplars_the_text_is_exactly_prometheus_clients() {
        let mut reference = String::new();
        prometheus_client::encoding::text::encode_registry(&mut reference, &reference_registry()).unwrap();
        let mut ours = String::new();
        write_openmetrics(&mut ours, &[family()]);
        assert_eq!(ours, reference);
    }

    /// The 0.0.4 text is prometheus-client's but for one thing: a whole bound is `le="1.0"`, as in
    /// OpenMetrics, where prometheus-client writes Go's `le="1"`.
    #[test]
    fn the_prometheus_text_is_prometheus_clients_but_for_whole_le_values() {
        let mut reference = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut reference, &reference_registry()).unwrap();
        assert!(reference.contains("le=\"1\"}"), "{reference}");
        let mut ours = String::new();
        write_prometheus_text(&mut ours, &[family()]);
        assert_eq!(ours, reference.replace("le=\"1\"}", "le=\"1.0\"}"));
    }

    /// The `le` values of every bucket line of an exposition, in order.
    fn le_values(text: &str) -> Vec<String> {
        text.lines()
            .filter(|line| line.contains("_bucket{"))
            .map(|line| {
                let from = line.find("le=\"").expect("an le label") + 4;
                line[from..].split('"').next().unwrap_or_default().to_owned()
            })
            .collect()
    }

    /// A query naming one bucket (`le="1.0"`) must match whichever format Prometheus scraped:
    /// both write the same `le` text, in the form Prometheus 3 normalizes `le` to.
    #[test]
    fn both_formats_write_the_same_le_values() {
        let bounds = [0.000_05, 1e-7, 0.005, 0.1 + 0.2, 0.25, 1.0, 10.0, 86_400.0, 1e6, 1.5e7, 1e22, f64::INFINITY];
        let family = || DurationFamily {
            name: "bounds",
            help: "Bounds.",
            series: vec![series(
                vec![("operation", "op".to_owned())],
                0.0,
                bounds.iter().map(|bound| (*bound, 0)).collect(),
            )],
        };
        let (mut openmetrics, mut text) = (String::new(), String::new());
        write_openmetrics(&mut openmetrics, &[family()]);
        write_prometheus_text(&mut text, &[family()]);
        let expected = [
            "5e-05",
            "1e-07",
            "0.005",
            "0.30000000000000004",
            "0.25",
            "1.0",
            "10.0",
            "86400.0",
            "1e+06",
            "1.5e+07",
            "1e+22",
            "+Inf",
        ];
        assert_eq!(le_values(&openmetrics), expected);
        assert_eq!(le_values(&text), expected);
        for (bound, written) in bounds.iter().zip(expected) {
            assert_eq!(written.parse::<f64>().ok().or((written == "+Inf").then_some(f64::INFINITY)), Some(*bound));
        }
        assert_eq!(le_value(0.0), "0.0");
        assert_eq!(le_value(0.000_1), "0.0001");
        assert_eq!(le_value(999_999.5), "999999.5");
    }

    #[test]
    fn a_series_without_labels_has_no_stray_comma() {
        let family = DurationFamily {
            name: "bare",
            help: "Bare.",
            series: vec![series(vec![], 0.5, vec![(1.0, 1), (f64::INFINITY, 0)])],
        };
        let (mut openmetrics, mut text) = (String::new(), String::new());
        write_openmetrics(&mut openmetrics, std::slice::from_ref(&family));
        write_prometheus_text(&mut text, &[family]);
        assert!(openmetrics.contains("bare_seconds_bucket{le=\"1.0\"} 1\n"), "{openmetrics}");
        assert!(text.contains("bare_seconds_bucket{le=\"1.0\"} 1\n"), "{text}");
    }

    #[test]
    fn exemplars_follow_their_bucket_line() {
        let mut family = family();
        let call = SampledCall { trace_id: 0xabc, span_id: 0xdef, unix_nanos: 1_700_000_000_250_000_000 };
        family.series[0].histogram.exemplars[2] = Some(ExemplarSnapshot { call, nanos: 750_000_000 });
        let mut text = String::new();
        write_openmetrics(&mut text, &[family]);
        let line = text.lines().find(|line| line.contains("le=\"1.0\",route=\"/a/{id}\"")).expect("bucket line");
        assert_eq!(
            line,
            "test_duration_seconds_bucket{le=\"1.0\",route=\"/a/{id}\",error_type=\"\"} 3 \
             # {trace_id=\"00000000000000000000000000000abc\",span_id=\"0000000000000def\"} 0.75 1700000000.250"
        );
        assert_eq!(text.matches(" # {").count(), 1, "only the bucket with an exemplar carries one");
    }
}
