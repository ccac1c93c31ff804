//! obs's exposition as an OTLP metrics request: every family `/metrics` shows (obs's, the
//! service's registrations, the `metrics` facade's), read from the same OpenMetrics text a
//! scrape gets, so the pushed counts and the scraped ones cannot disagree.
//!
//! obs's own families take their OpenTelemetry names: the request duration is the HTTP semantic
//! conventions' `http.server.request.duration` (seconds, the same buckets) with its attribute
//! names; other families keep their Prometheus names, labels and units. Counters become
//! cumulative monotonic sums, gauges gauges, histograms explicit-bucket histograms.

use crate::schema;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use std::collections::BTreeMap;

/// The OpenTelemetry name and unit of obs's own families, and which of them count up and down.
struct OtelName {
    family: &'static str,
    name: &'static str,
    unit: &'static str,
}

const OTEL_NAMES: [OtelName; 3] = [
    OtelName {
        family: schema::HTTP_SERVER_REQUEST_DURATION.metric.name,
        name: "http.server.request.duration",
        unit: "s",
    },
    OtelName {
        family: schema::HTTP_SERVER_ACTIVE_REQUESTS.name,
        name: "http.server.active_requests",
        unit: "{request}",
    },
    OtelName { family: schema::OPERATION_DURATION.metric.name, name: "operation.duration", unit: "s" },
];

/// obs's label names as OpenTelemetry attribute names; status codes are integers there.
const OTEL_ATTRIBUTES: [(&str, &str); 6] = [
    (schema::HTTP_REQUEST_METHOD, "http.request.method"),
    (schema::HTTP_ROUTE, "http.route"),
    (schema::HTTP_RESPONSE_STATUS_CODE, "http.response.status_code"),
    (schema::RPC_GRPC_STATUS_CODE, "rpc.grpc.status_code"),
    (schema::ERROR_TYPE, "error.type"),
    (schema::OPERATION, "operation.name"),
];

/// One sample line: name, labels, value.
#[derive(Debug, PartialEq)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// One family of the exposition and its samples, in order.
#[derive(Debug, Default)]
struct Family {
    name: String,
    kind: String,
    unit: String,
    help: String,
    samples: Vec<Sample>,
}

/// Reads the families of an OpenMetrics exposition.
fn families(exposition: &str) -> Vec<Family> {
    let mut families: Vec<Family> = Vec::new();
    for line in exposition.lines() {
        if line == "# EOF" {
            break;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let (Some(keyword), Some(name)) = (parts.next(), parts.next()) else { continue };
            let rest = parts.next().unwrap_or_default();
            if families.last().is_none_or(|family| family.name != name) {
                families.push(Family { name: name.to_owned(), ..Family::default() });
            }
            let Some(family) = families.last_mut() else { continue };
            match keyword {
                "TYPE" => rest.clone_into(&mut family.kind),
                "UNIT" => rest.clone_into(&mut family.unit),
                "HELP" => family.help = unescape(rest),
                _ => {}
            }
        } else if let (Some(sample), Some(family)) = (sample(line), families.last_mut()) {
            family.samples.push(sample);
        }
    }
    families
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses `name{label="value",...} value [timestamp] [# exemplar]`.
fn sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        rest = after_brace;
        loop {
            rest = rest.trim_start_matches(',');
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, after_name) = rest.split_once("=\"")?;
            let mut value = String::new();
            let mut chars = after_name.char_indices();
            let mut end = None;
            while let Some((index, c)) = chars.next() {
                match c {
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    '"' => {
                        end = Some(index + 1);
                        break;
                    }
                    other => value.push(other),
                }
            }
            labels.push((label.to_owned(), value));
            rest = &after_name[end?..];
        }
    }
    let value = rest.trim_start().split(' ').next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some(Sample { name: name.to_owned(), labels, value })
}

fn string_value(value: String) -> AnyValue {
    AnyValue { value: Some(any_value::Value::StringValue(value)) }
}

/// The attributes of a sample of `family`: obs's families get OpenTelemetry names, and an
/// empty `error_type` (success) is left out, as the semantic conventions say.
fn attributes(labels: &[(String, String)], otel: bool) -> Vec<KeyValue> {
    labels
        .iter()
        .filter_map(|(label, value)| {
            if !otel {
                return Some(KeyValue {
                    key: label.clone(),
                    value: Some(string_value(value.clone())),
                    ..KeyValue::default()
                });
            }
            let key = OTEL_ATTRIBUTES
                .iter()
                .find(|(prometheus, _)| prometheus == label)
                .map_or(label.as_str(), |(_, otel)| otel);
            if label == schema::ERROR_TYPE && value.is_empty() {
                return None;
            }
            let value = if key.ends_with("status_code") {
                value.parse::<i64>().ok().map_or_else(
                    || string_value(value.clone()),
                    |code| AnyValue { value: Some(any_value::Value::IntValue(code)) },
                )
            } else {
                string_value(value.clone())
            };
            Some(KeyValue { key: key.to_owned(), value: Some(value), ..KeyValue::default() })
        })
        .collect()
}

/// When the data were taken and since when they accumulate.
#[derive(Clone, Copy, Debug)]
pub struct Times {
    /// The process start, in nanoseconds since the epoch: the start of every cumulative series.
    pub start_unix_nano: u64,
    /// Now, in nanoseconds since the epoch.
    pub now_unix_nano: u64,
}

fn number_point(sample: &Sample, otel: bool, times: Times) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attributes(&sample.labels, otel),
        start_time_unix_nano: times.start_unix_nano,
        time_unix_nano: times.now_unix_nano,
        value: Some(number_data_point::Value::AsDouble(sample.value)),
        ..NumberDataPoint::default()
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole(value: f64) -> u64 {
    value.max(0.0).round() as u64
}

fn histogram_points(family: &Family, otel: bool, times: Times) -> Vec<HistogramDataPoint> {
    #[derive(Default)]
    struct Point {
        buckets: Vec<(f64, f64)>,
        count: f64,
        sum: f64,
    }
    let mut points: BTreeMap<Vec<(String, String)>, Point> = BTreeMap::new();
    let mut order = Vec::new();
    for sample in &family.samples {
        let labels: Vec<(String, String)> =
            sample.labels.iter().filter(|(label, _)| label != schema::LE).cloned().collect();
        if !points.contains_key(&labels) {
            order.push(labels.clone());
        }
        let point = points.entry(labels).or_default();
        match sample.name.strip_prefix(family.name.as_str()) {
            Some("_bucket") => {
                let le = sample.labels.iter().find(|(label, _)| label == schema::LE).map(|(_, le)| le.as_str());
                let bound = match le {
                    Some("+Inf") => f64::INFINITY,
                    Some(text) => text.parse().unwrap_or(f64::NAN),
                    None => f64::NAN,
                };
                if !bound.is_nan() {
                    point.buckets.push((bound, sample.value));
                }
            }
            Some("_count") => point.count = sample.value,
            Some("_sum") => point.sum = sample.value,
            _ => {}
        }
    }
    order
        .into_iter()
        .filter_map(|labels| {
            let mut point = points.remove(&labels)?;
            point.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            let explicit_bounds: Vec<f64> =
                point.buckets.iter().map(|(bound, _)| *bound).filter(|bound| bound.is_finite()).collect();
            // The exposition's buckets are cumulative; OTLP's are per bucket, the last one open-ended.
            let mut bucket_counts = Vec::with_capacity(explicit_bounds.len() + 1);
            let mut below = 0.0;
            for (bound, cumulative) in &point.buckets {
                if bound.is_finite() {
                    bucket_counts.push(whole(cumulative - below));
                    below = *cumulative;
                }
            }
            bucket_counts.push(whole(point.count - below));
            Some(HistogramDataPoint {
                attributes: attributes(&labels, otel),
                start_time_unix_nano: times.start_unix_nano,
                time_unix_nano: times.now_unix_nano,
                count: whole(point.count),
                sum: Some(point.sum),
                bucket_counts,
                explicit_bounds,
                ..HistogramDataPoint::default()
            })
        })
        .collect()
}

fn metric(family: &Family, times: Times) -> Option<Metric> {
    let otel_name = OTEL_NAMES.iter().find(|otel| otel.family == family.name);
    let otel = otel_name.is_some();
    let cumulative = AggregationTemporality::Cumulative as i32;
    let data = match family.kind.as_str() {
        "counter" => {
            let total = format!("{}_total", family.name);
            let data_points = family
                .samples
                .iter()
                .filter(|sample| sample.name == total)
                .map(|sample| number_point(sample, otel, times))
                .collect();
            metric::Data::Sum(Sum { data_points, aggregation_temporality: cumulative, is_monotonic: true })
        }
        "histogram" => metric::Data::Histogram(Histogram {
            data_points: histogram_points(family, otel, times),
            aggregation_temporality: cumulative,
        }),
        "gauge" | "unknown" | "info" | "stateset" => {
            let data_points = family.samples.iter().map(|sample| number_point(sample, otel, times)).collect();
            // The in-flight count goes up and down: an UpDownCounter, i.e. a non-monotonic sum.
            if otel {
                metric::Data::Sum(Sum { data_points, aggregation_temporality: cumulative, is_monotonic: false })
            } else {
                metric::Data::Gauge(Gauge { data_points })
            }
        }
        _ => return None,
    };
    Some(Metric {
        name: otel_name.map_or_else(|| family.name.clone(), |otel| otel.name.to_owned()),
        description: family.help.clone(),
        unit: otel_name.map_or_else(|| family.unit.clone(), |otel| otel.unit.to_owned()),
        data: Some(data),
        ..Metric::default()
    })
}

/// The request pushing every family of `exposition` (OpenMetrics text) for `resource`.
pub fn request(exposition: &str, resource: Resource, times: Times) -> ExportMetricsServiceRequest {
    let metrics = families(exposition).iter().filter_map(|family| metric(family, times)).collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "obs".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..InstrumentationScope::default()
                }),
                metrics,
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMES: Times = Times { start_unix_nano: 1, now_unix_nano: 2 };

    fn data(request: &ExportMetricsServiceRequest, name: &str) -> metric::Data {
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        let found = metrics.iter().find(|metric| metric.name == name).unwrap_or_else(|| panic!("{name}: {metrics:#?}"));
        found.data.clone().expect("data")
    }

    #[test]
    fn samples_parse_with_escapes_and_exemplars() {
        let parsed = sample(r#"a_bucket{le="0.5",path="/x\"y\\z"} 3 # {trace_id="ab"} 0.1 1.0"#).expect("parses");
        assert_eq!(parsed.name, "a_bucket");
        assert_eq!(parsed.labels, vec![("le".into(), "0.5".into()), ("path".into(), "/x\"y\\z".into())]);
        assert!((parsed.value - 3.0).abs() < f64::EPSILON);
        assert_eq!(sample("up 1").map(|sample| sample.labels.len()), Some(0));
    }

    #[test]
    fn families_become_otlp_metrics_with_obs_names_for_obs_families() {
        let exposition = "\
# HELP http_server_request_duration_seconds Duration.
# TYPE http_server_request_duration_seconds histogram
# UNIT http_server_request_duration_seconds seconds
http_server_request_duration_seconds_sum{http_request_method=\"GET\",http_route=\"/u/{id}\",error_type=\"\",http_response_status_code=\"200\"} 0.3
http_server_request_duration_seconds_count{http_request_method=\"GET\",http_route=\"/u/{id}\",error_type=\"\",http_response_status_code=\"200\"} 3
http_server_request_duration_seconds_bucket{le=\"0.1\",http_request_method=\"GET\",http_route=\"/u/{id}\",error_type=\"\",http_response_status_code=\"200\"} 2
http_server_request_duration_seconds_bucket{le=\"1.0\",http_request_method=\"GET\",http_route=\"/u/{id}\",error_type=\"\",http_response_status_code=\"200\"} 3
http_server_request_duration_seconds_bucket{le=\"+Inf\",http_request_method=\"GET\",http_route=\"/u/{id}\",error_type=\"\",http_response_status_code=\"200\"} 3
# HELP shop_orders Orders.
# TYPE shop_orders counter
shop_orders_total{kind=\"book\"} 5
# TYPE queue_depth gauge
queue_depth 2.5
# EOF
";
        let request = request(exposition, Resource::default(), TIMES);
        let metric::Data::Histogram(histogram) = data(&request, "http.server.request.duration") else { panic!() };
        let point = &histogram.data_points[0];
        assert_eq!(
            (point.count, point.explicit_bounds.clone(), point.bucket_counts.clone()),
            (3, vec![0.1, 1.0], vec![2, 1, 0])
        );
        let keys: Vec<&str> = point.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["http.request.method", "http.route", "http.response.status_code"], "no empty error.type");
        assert_eq!(point.attributes[2].value, Some(AnyValue { value: Some(any_value::Value::IntValue(200)) }));
        let metric::Data::Sum(orders) = data(&request, "shop_orders") else { panic!() };
        assert!(orders.is_monotonic);
        assert_eq!(orders.data_points[0].value, Some(number_data_point::Value::AsDouble(5.0)));
        assert_eq!(orders.data_points[0].attributes[0].key, "kind");
        let metric::Data::Gauge(depth) = data(&request, "queue_depth") else { panic!() };
        assert_eq!(depth.data_points[0].value, Some(number_data_point::Value::AsDouble(2.5)));
    }
}
