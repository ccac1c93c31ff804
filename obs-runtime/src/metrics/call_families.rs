//! The families of the observed calls, from the one registry of [`site_metrics`]:
//! `http_server_request_duration_seconds` and `operation_duration_seconds` as duration
//! snapshots, and the `http_server_active_requests` collector. Series are sorted (route and
//! method, or operation name, then outcome) so every scrape lists them in the same order.

use crate::metrics::durations::{DurationFamily, DurationSeries};
use crate::metrics::outcome_series::Series;
use crate::metrics::site_metrics::{self, SeriesKey, SiteMetrics};
use crate::schema;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;
use std::sync::Arc;

/// The registry, sorted by route and method for endpoints and by name for operations.
fn sorted_sites() -> Vec<Arc<SiteMetrics>> {
    let mut sites = site_metrics::registered();
    sites.sort_by_key(|site| match site.key {
        // Route first: a reader scans one route's methods together.
        SeriesKey::Endpoint { method, route } => (0, route, method),
        SeriesKey::Operation { name } => (1, name, ""),
    });
    sites
}

/// Both duration families, in exposition order.
pub fn duration_families() -> [DurationFamily; 2] {
    let mut requests = Vec::new();
    let mut operations = Vec::new();
    for site in sorted_sites() {
        let mut outcomes = site.outcomes.series();
        outcomes.sort_by_key(|one| one.outcome);
        for one in &outcomes {
            let series = DurationSeries {
                labels: labels(site.key, one),
                histogram: one.histogram.snapshot(site.outcomes.bounds_seconds),
            };
            if site.is_endpoint() { requests.push(series) } else { operations.push(series) }
        }
    }
    let family = |histogram: schema::Histogram, series| DurationFamily {
        name: histogram.metric.stem,
        help: histogram.metric.help,
        series,
    };
    [family(schema::HTTP_SERVER_REQUEST_DURATION, requests), family(schema::OPERATION_DURATION, operations)]
}

/// The label set of one duration series: the key's labels, the status codes when known, and
/// `error_type`.
fn labels(key: SeriesKey, series: &Series) -> Vec<(&'static str, String)> {
    let mut labels = match key {
        SeriesKey::Endpoint { method, route } => {
            vec![(schema::HTTP_REQUEST_METHOD, method.to_owned()), (schema::HTTP_ROUTE, route.to_owned())]
        }
        SeriesKey::Operation { name } => vec![(schema::OPERATION, name.to_owned())],
    };
    if let Some(code) = series.outcome.status_code() {
        labels.push((schema::HTTP_RESPONSE_STATUS_CODE, code.to_string()));
    }
    if let Some(code) = series.outcome.grpc_status_code() {
        labels.push((schema::RPC_GRPC_STATUS_CODE, code.value().to_string()));
    }
    labels.push((schema::ERROR_TYPE, series.outcome.error_type().map(|error| error.to_string()).unwrap_or_default()));
    labels
}

/// The collector of the in-flight gauge, registered in the global registry.
#[derive(Debug)]
pub struct ActiveRequestsCollector;

impl Collector for ActiveRequestsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            schema::HTTP_SERVER_ACTIVE_REQUESTS.stem,
            schema::HTTP_SERVER_ACTIVE_REQUESTS.help,
            None,
            MetricType::Gauge,
        )?;
        for site in sorted_sites() {
            if let SeriesKey::Endpoint { method, route } = site.key {
                let labels = [(schema::HTTP_REQUEST_METHOD, method), (schema::HTTP_ROUTE, route)];
                ConstGauge::new(site.in_flight()).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
