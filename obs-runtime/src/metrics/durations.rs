//! The duration histogram families (`http_server_request_duration_seconds`,
//! `operation_duration_seconds`) as snapshots, and their two encodings.
//!
//! The Prometheus text format 0.0.4 has no exemplars: [`DurationsCollector`] encodes the families
//! with prometheus-client like every other metric. OpenMetrics carries exemplars, but
//! prometheus-client 0.26 only builds its `Exemplar` values inside its own mutex-guarded
//! `HistogramWithExemplars` (the type has no public constructor), so [`write_openmetrics`] writes
//! these two families itself, line for line as prometheus-client's encoder does (a test compares
//! the two), with each bucket's exemplar appended.

use crate::metrics::exemplar::ExemplarSnapshot;
use crate::metrics::histogram::HistogramSnapshot;
use crate::metrics::{http_server, operations};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::registry::Unit;
use std::collections::HashMap;
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

/// Every duration family, in exposition order.
pub fn families() -> [DurationFamily; 2] {
    [http_server::request_durations(), operations::operation_durations()]
}

/// Encodes the families through prometheus-client, without exemplars: the 0.0.4 text format.
#[derive(Debug)]
pub struct DurationsCollector;

impl Collector for DurationsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in families() {
            encode_family(&mut encoder, &family)?;
        }
        Ok(())
    }
}

fn encode_family(encoder: &mut DescriptorEncoder, family: &DurationFamily) -> Result<(), std::fmt::Error> {
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
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", dtoa::Buffer::new().format(snapshot.sum_seconds));
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", snapshot.count);
    let mut cumulative = 0;
    for (index, (bound, count)) in snapshot.buckets.iter().enumerate() {
        cumulative += count;
        let mut buffer = dtoa::Buffer::new();
        let le = if bound.is_infinite() { "+Inf" } else { buffer.format(*bound) };
        let _ = write!(out, "{name}_bucket{{le=\"{le}\",{labels}}} {cumulative}");
        if let Some(exemplar) = snapshot.exemplars.get(index).copied().flatten() {
            write_exemplar(out, exemplar);
        }
        out.push('\n');
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
    use super::{DurationFamily, DurationSeries, encode_family, write_openmetrics};
    use crate::metrics::exemplar::{ExemplarSnapshot, SampledCall};
    use crate::metrics::histogram::HistogramSnapshot;
    use prometheus_client::collector::Collector;
    use prometheus_client::encoding::DescriptorEncoder;
    use prometheus_client::registry::Registry;

    #[derive(Debug)]
    struct Fixed;

    fn family() -> DurationFamily {
        let series = |labels: Vec<(&'static str, String)>, sum_seconds: f64, buckets: Vec<(f64, u64)>| {
            let count = buckets.iter().map(|(_, count)| count).sum();
            let exemplars = vec![None; buckets.len()];
            DurationSeries { labels, histogram: HistogramSnapshot { sum_seconds, count, buckets, exemplars } }
        };
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

    impl Collector for Fixed {
        fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            encode_family(&mut encoder, &family())
        }
    }

    #[test]
    fn without_exemplars_the_text_is_exactly_prometheus_clients() {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Fixed));
        let mut reference = String::new();
        prometheus_client::encoding::text::encode_registry(&mut reference, &registry).unwrap();
        let mut ours = String::new();
        write_openmetrics(&mut ours, &[family()]);
        assert_eq!(ours, reference);
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
