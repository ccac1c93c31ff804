//! Per-call overhead of `#[observed]` beside the alternatives, in one criterion run:
//!
//! - `bare`: the function alone, the floor;
//! - `hand_written`: the same function timed by hand into a pre-resolved prometheus-client
//!   histogram, the best a careful engineer writes without a toolkit;
//! - `observed_metrics_only`: `#[observed]` with spans and logs filtered out by level;
//! - `observed_full`: `#[observed]` with spans traced and one JSON log line per call (to a sink);
//! - `observed_unsampled`: the same with a sampler that keeps no trace (`always_off`);
//! - `observed_full_otlp`: `observed_full` with spans and log records exported over OTLP/HTTP to
//!   a live receiver in the process (which reads and discards them);
//! - `autometrics`: `#[autometrics]` with its prometheus-client backend;
//! - `instrument_json`: `tracing`'s `#[instrument]` span, a JSON log event (to a sink) and the
//!   hand-written histogram, without OpenTelemetry spans;
//! - `instrument_otel_json`: the same with `tracing-opentelemetry` turning the span into an
//!   OpenTelemetry span, which is what `observed_full` does: the like-for-like peer.
//!
//! Run with `cargo bench -p obs-bench`; compare the ratios, not the absolute times.

#![allow(missing_docs)] // criterion's macros generate undocumented items

use criterion::{Criterion, criterion_group, criterion_main};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use std::hint::black_box;
use std::time::Instant;

/// The error the benchmarked functions can return, so `Result` classification is on the path.
#[derive(Debug)]
struct LookupError;

impl std::fmt::Display for LookupError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("lookup failed")
    }
}

impl std::error::Error for LookupError {}

/// A few nanoseconds of real work the optimiser cannot remove.
#[inline(never)]
fn lookup(id: u64) -> Result<u64, LookupError> {
    let id = black_box(id);
    if id == u64::MAX { Err(LookupError) } else { Ok(id.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)) }
}

#[obs_runtime::observed(endpoint = "/bench/users/{id}", method = "GET")]
fn lookup_observed(id: u64) -> Result<u64, LookupError> {
    lookup(id)
}

#[autometrics::autometrics]
fn lookup_autometrics(id: u64) -> Result<u64, LookupError> {
    lookup(id)
}

#[tracing::instrument(name = "GET /bench/users/{id}", skip_all, fields(http.route = "/bench/users/{id}"))]
fn lookup_instrumented(id: u64) -> Result<u64, LookupError> {
    lookup(id)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    http_request_method: &'static str,
    http_route: &'static str,
    error_type: &'static str,
}

/// A histogram resolved once, as a hand-written integration would keep it.
fn resolved_histogram() -> Histogram {
    let family = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
        Histogram::new(obs_runtime::DEFAULT_BUCKETS.iter().copied())
    });
    family
        .get_or_create(&RouteLabels { http_request_method: "GET", http_route: "/bench/users/{id}", error_type: "" })
        .clone()
}

fn timed_by_hand(histogram: &Histogram, id: u64) -> Result<u64, LookupError> {
    let started = Instant::now();
    let result = lookup(id);
    histogram.observe(started.elapsed().as_secs_f64());
    result
}

/// `#[instrument]`, a histogram and a log event: the peers' equivalent of `#[observed]`.
fn instrumented_by_hand(histogram: &Histogram, id: u64) -> Result<u64, LookupError> {
    let started = Instant::now();
    let result = lookup_instrumented(id);
    let elapsed = started.elapsed().as_secs_f64();
    histogram.observe(elapsed);
    tracing::info!(http.route = "/bench/users/{id}", duration_s = elapsed, ok = result.is_ok(), "request");
    result
}

fn overhead(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("per_call");
    let mut id = 0_u64;
    let mut next_id = move || {
        id = (id + 1) % 1000;
        id
    };

    group.bench_function("bare", |bencher| bencher.iter(|| lookup(next_id())));

    let histogram = resolved_histogram();
    group.bench_function("hand_written", |bencher| bencher.iter(|| timed_by_hand(&histogram, next_id())));

    let quiet = obs_runtime::builder("bench", "0")
        .without_metrics_server()
        .log_filter("off")
        .trace_filter("off")
        .log_writer(std::io::sink)
        .build_local()
        .expect("metrics-only telemetry");
    tracing::dispatcher::with_default(quiet.dispatch(), || {
        group.bench_function("observed_metrics_only", |bencher| bencher.iter(|| lookup_observed(next_id())));
    });

    let full = obs_runtime::builder("bench", "0")
        .without_metrics_server()
        .log_format(obs_runtime::LogFormat::Json)
        .log_filter("info")
        .trace_filter("info")
        .log_writer(std::io::sink)
        .build_local()
        .expect("full telemetry");
    tracing::dispatcher::with_default(full.dispatch(), || {
        group.bench_function("observed_full", |bencher| bencher.iter(|| lookup_observed(next_id())));
    });

    let unsampled = obs_runtime::builder("bench", "0")
        .without_metrics_server()
        .log_format(obs_runtime::LogFormat::Json)
        .log_filter("info")
        .trace_filter("info")
        .log_writer(std::io::sink)
        .with_env(|name| (name == "OTEL_TRACES_SAMPLER").then(|| "always_off".to_owned()))
        .build_local()
        .expect("unsampled telemetry");
    tracing::dispatcher::with_default(unsampled.dispatch(), || {
        group.bench_function("observed_unsampled", |bencher| bencher.iter(|| lookup_observed(next_id())));
    });

    let sink = obs_bench::sink::start();
    let exported = obs_runtime::builder("bench", "0")
        .without_metrics_server()
        .log_format(obs_runtime::LogFormat::Json)
        .log_filter("info")
        .trace_filter("info")
        .log_writer(std::io::sink)
        .otlp_endpoint(format!("http://{sink}"))
        .build_local()
        .expect("exported telemetry");
    tracing::dispatcher::with_default(exported.dispatch(), || {
        group.bench_function("observed_full_otlp", |bencher| bencher.iter(|| lookup_observed(next_id())));
    });

    let _ = autometrics::settings::AutometricsSettings::builder().try_init();
    group.bench_function("autometrics", |bencher| bencher.iter(|| lookup_autometrics(next_id())));

    let json_subscriber = tracing_subscriber::fmt().json().with_writer(std::io::sink).finish();
    tracing::subscriber::with_default(json_subscriber, || {
        group.bench_function("instrument_json", |bencher| {
            bencher.iter(|| instrumented_by_hand(&histogram, next_id()));
        });
    });

    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "bench");
    let otel_json_subscriber = tracing_subscriber::layer::SubscriberExt::with(
        tracing_subscriber::fmt().json().with_writer(std::io::sink).finish(),
        tracing_opentelemetry::layer().with_tracer(tracer),
    );
    tracing::subscriber::with_default(otel_json_subscriber, || {
        group.bench_function("instrument_otel_json", |bencher| {
            bencher.iter(|| instrumented_by_hand(&histogram, next_id()));
        });
    });

    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
