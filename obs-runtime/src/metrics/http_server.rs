//! `http_server_request_duration_seconds` and `http_server_active_requests` from the endpoint
//! states, sorted by route and method so every scrape lists them in the same order.

use crate::metrics::durations::{DurationFamily, DurationSeries};
use crate::metrics::endpoint_metrics::{self, EndpointMetrics};
use crate::metrics::outcome_series::Series;
use crate::schema;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;
use std::sync::Arc;

fn sorted_endpoints() -> Vec<Arc<EndpointMetrics>> {
    let mut endpoints = endpoint_metrics::registered();
    endpoints.sort_by_key(|endpoint| (endpoint.route, endpoint.method));
    endpoints
}

/// The request duration family, one series per endpoint and outcome.
pub fn request_durations() -> DurationFamily {
    let mut series = Vec::new();
    for endpoint in sorted_endpoints() {
        let mut outcomes = endpoint.outcomes.series();
        outcomes.sort_by_key(|one| one.outcome);
        for one in &outcomes {
            series.push(DurationSeries {
                labels: duration_labels(&endpoint, one),
                histogram: one.histogram.snapshot(endpoint.outcomes.bounds_seconds),
            });
        }
    }
    DurationFamily {
        name: schema::HTTP_SERVER_REQUEST_DURATION.metric.stem,
        help: schema::HTTP_SERVER_REQUEST_DURATION.metric.help,
        series,
    }
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
        for endpoint in sorted_endpoints() {
            let labels = vec![(schema::HTTP_REQUEST_METHOD, endpoint.method), (schema::HTTP_ROUTE, endpoint.route)];
            ConstGauge::new(endpoint.in_flight()).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// The label set of one duration series; `http_response_status_code` and `rpc_grpc_status_code`
/// only when known.
fn duration_labels(endpoint: &EndpointMetrics, series: &Series) -> Vec<(&'static str, String)> {
    let mut labels = vec![
        (schema::HTTP_REQUEST_METHOD, endpoint.method.to_owned()),
        (schema::HTTP_ROUTE, endpoint.route.to_owned()),
    ];
    if let Some(code) = series.outcome.status_code() {
        labels.push((schema::HTTP_RESPONSE_STATUS_CODE, code.to_string()));
    }
    if let Some(code) = series.outcome.grpc_status_code() {
        labels.push((schema::RPC_GRPC_STATUS_CODE, code.value().to_string()));
    }
    labels.push((schema::ERROR_TYPE, series.outcome.error_type().map(|error| error.to_string()).unwrap_or_default()));
    labels
}
