//! Encodes `http_server_request_duration_seconds` and `http_server_active_requests` from the
//! endpoint states, sorted by route and method so every scrape lists them in the same order.

use crate::metrics::endpoint_metrics::{self, EndpointMetrics, Series};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;
use std::collections::HashMap;
use std::sync::Arc;

/// The collector registered in the global registry.
#[derive(Debug)]
pub struct HttpServerCollector;

impl Collector for HttpServerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut endpoints = endpoint_metrics::registered();
        endpoints.sort_by_key(|endpoint| (endpoint.route, endpoint.method));
        encode_durations(&mut encoder, &endpoints)?;
        encode_active(&mut encoder, &endpoints)
    }
}

fn encode_durations(
    encoder: &mut DescriptorEncoder,
    endpoints: &[Arc<EndpointMetrics>],
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(
        "http_server_request_duration",
        "Duration of HTTP server requests handled by #[observed] functions.",
        Some(&Unit::Seconds),
        MetricType::Histogram,
    )?;
    for endpoint in endpoints {
        let mut series = endpoint.series();
        series.sort_by_key(|series| series.outcome);
        for one in &series {
            let labels = duration_labels(endpoint, one);
            let snapshot = one.histogram.snapshot(endpoint.bounds_seconds);
            family.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                snapshot.sum_seconds,
                snapshot.count,
                &snapshot.buckets,
                None::<&HashMap<usize, Exemplar<NoLabelSet, f64>>>,
            )?;
        }
    }
    Ok(())
}

fn encode_active(encoder: &mut DescriptorEncoder, endpoints: &[Arc<EndpointMetrics>]) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(
        "http_server_active_requests",
        "Number of HTTP server requests in flight in #[observed] functions.",
        None,
        MetricType::Gauge,
    )?;
    for endpoint in endpoints {
        let labels = vec![("http_request_method", endpoint.method), ("http_route", endpoint.route)];
        ConstGauge::new(endpoint.in_flight()).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// The label set of one duration series; `http_response_status_code` only when it is known.
fn duration_labels(endpoint: &EndpointMetrics, series: &Series) -> Vec<(&'static str, String)> {
    let mut labels =
        vec![("http_request_method", endpoint.method.to_owned()), ("http_route", endpoint.route.to_owned())];
    if let Some(code) = series.outcome.status_code() {
        labels.push(("http_response_status_code", code.to_string()));
    }
    labels.push(("error_type", series.outcome.error_type().map(|error| error.to_string()).unwrap_or_default()));
    labels
}
