//! The duration histogram families (`http_server_request_duration_seconds`,
//! `operation_duration_seconds`) as snapshots, and their encoding through prometheus-client.

use crate::metrics::histogram::HistogramSnapshot;
use crate::metrics::{http_server, operations};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::registry::Unit;
use std::collections::HashMap;

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

/// Encodes the families through prometheus-client.
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
