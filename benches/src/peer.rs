//! The peer stack a service would assemble instead of obs: `tracing`'s `#[instrument]` span made an
//! OpenTelemetry span by `tracing-opentelemetry`, a JSON log event per request by
//! `tracing-subscriber`'s JSON formatter, and a prometheus-client histogram, all to the same
//! standards as obs's path (stdout, spans on, the default buckets).

use crate::User;
use axum::extract::Path;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use std::sync::LazyLock;
use std::time::Instant;
use tracing_subscriber::layer::SubscriberExt as _;

/// The labels obs writes, spelled by the semantic conventions.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
#[allow(clippy::struct_field_names, reason = "the label names are the semantic conventions'")]
struct RouteLabels {
    http_request_method: &'static str,
    http_route: &'static str,
    http_response_status_code: u16,
}

static DURATIONS: LazyLock<Family<RouteLabels, Histogram>> =
    LazyLock::new(|| Family::new_with_constructor(|| Histogram::new(obs_runtime::DEFAULT_BUCKETS.iter().copied())));

/// Installs the peer's subscriber; the provider must live as long as the server.
///
/// # Panics
/// When a global subscriber is already installed.
#[must_use]
pub fn init() -> opentelemetry_sdk::trace::SdkTracerProvider {
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "peer");
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .finish()
        .with(tracing_opentelemetry::layer().with_tracer(tracer));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    provider
}

/// The handler under the peer stack.
#[tracing::instrument(name = "GET /users/{id}", skip_all, fields(http.route = "/users/{id}", http.request.method = "GET"))]
pub async fn get_user(Path(id): Path<u64>) -> axum::Json<User> {
    let started = Instant::now();
    let user = User::load(id);
    let elapsed = started.elapsed().as_secs_f64();
    DURATIONS
        .get_or_create(&RouteLabels {
            http_request_method: "GET",
            http_route: "/users/{id}",
            http_response_status_code: 200,
        })
        .observe(elapsed);
    tracing::info!(http.route = "/users/{id}", http.response.status_code = 200, duration_s = elapsed, "request");
    axum::Json(user)
}
