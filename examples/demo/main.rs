//! The demo service: three endpoints and the two storage operations they call, each observed with
//! one attribute.
//!
//! ```text
//! cargo run --example demo
//! curl -i localhost:3000/users/7            # 200
//! curl -i localhost:3000/users/1234         # 404
//! curl -i localhost:3000/users/0            # 500, a simulated database error
//! curl -i localhost:3000/users/998          # 408: too slow, cut off by the timeout layer
//! curl -i localhost:3000/users/997          # 500: a panic, caught by the catch-panic layer
//! curl -i localhost:3000/users/abc          # 400: rejected by the Path extractor
//! curl -i localhost:3000/nope               # 404: no route (recorded as http_route="(unmatched)")
//! curl -i -XPOST localhost:3000/orders -H 'content-type: application/json' -d '{"item":"book","quantity":2}'
//! curl -s localhost:9464/metrics
//! ```
//!
//! `cargo run --example demo -- generate examples/demo/deploy` writes the metrics reference,
//! dashboards, alert rules and alert routing derived from these endpoints, without serving.

use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use obs_runtime::metrics::prometheus_client::metrics::counter::Counter;
use obs_runtime::{Classification, Outcome, observed};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

/// How long a request may take before the timeout layer answers 408: under the 250 ms latency
/// objective, so a timed-out call burns the error budget, not the latency budget.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(200);

/// Where the demo listens unless `OBS_APP_ADDR` says otherwise.
const DEFAULT_APP_ADDR: &str = "127.0.0.1:3000";

#[derive(Debug, Serialize)]
struct User {
    id: u64,
    name: String,
}

#[derive(Debug, Deserialize)]
struct NewOrder {
    item: String,
    quantity: i64,
}

#[derive(Debug, Serialize)]
struct Order {
    id: u64,
    item: String,
    quantity: i64,
}

/// The demo's error type: its `Outcome` impl tells `#[observed]` which status each variant is.
#[derive(Debug)]
enum ApiError {
    NotFound(u64),
    Database(&'static str),
    Invalid(String),
}

impl Outcome for ApiError {
    fn outcome(&self) -> Classification {
        Classification::status(self.status().as_u16())
    }
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = match &self {
            ApiError::NotFound(id) => format!("no user {id}"),
            ApiError::Database(cause) => format!("database error: {cause}"),
            ApiError::Invalid(reason) => reason.clone(),
        };
        (self.status(), Json(serde_json_error(&message))).into_response()
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

fn serde_json_error(message: &str) -> ErrorBody {
    ErrorBody { error: message.to_owned() }
}

/// Where users are stored: an in-memory stand-in for a database table.
struct UserRepository;

impl UserRepository {
    /// Loads one user. Ids 1 to 999 exist; 0 simulates a failing database.
    #[observed(operation = "db.load_user")]
    async fn load(&self, id: u64) -> Result<User, ApiError> {
        match id {
            0 => Err(ApiError::Database("connection reset by peer")),
            1..=999 => Ok(User { id, name: format!("user-{id}") }),
            _ => Err(ApiError::NotFound(id)),
        }
    }
}

/// Where orders are stored; ids count up from 1.
struct OrderRepository {
    next_id: AtomicU64,
}

impl OrderRepository {
    /// Stores a validated order and returns it with its id.
    #[observed(operation = "db.save_order")]
    async fn save(&self, order: NewOrder) -> Order {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        Order { id, item: order.item, quantity: order.quantity }
    }
}

static USERS: UserRepository = UserRepository;
static ORDERS: OrderRepository = OrderRepository { next_id: AtomicU64::new(1) };

/// Returns one user. Ids 1 to 999 exist; 0 simulates a failing database, 997 a bug (a panic)
/// and 998 a stuck dependency (slower than the timeout).
#[observed(endpoint = "/users/{id}", method = "GET", slo(success = "99.9%", latency = "250ms @ 99%"))]
async fn get_user(Path(id): Path<u64>) -> Result<Json<User>, ApiError> {
    // Through the `metrics` facade, as many libraries record: obs's recorder puts it on /metrics.
    metrics::counter!("demo_users_lookups_total").increment(1);
    match id {
        997 => panic!("simulated bug while loading user {id}"),
        998 => tokio::time::sleep(REQUEST_TIMEOUT * 4).await,
        _ => {}
    }
    USERS.load(id).await.map(Json)
}

/// Places an order; the quantity must be positive.
#[observed(endpoint = "/orders", method = "POST", slo(success = "99.5%"))]
async fn create_order(body: Result<Json<NewOrder>, JsonRejection>) -> Result<(StatusCode, Json<Order>), ApiError> {
    let Json(order) = body.map_err(|rejection| ApiError::Invalid(rejection.body_text()))?;
    if order.quantity <= 0 {
        return Err(ApiError::Invalid(format!("quantity must be positive, got {}", order.quantity)));
    }
    let order = ORDERS.save(order).await;
    ORDERS_CREATED.inc();
    Ok((StatusCode::CREATED, Json(order)))
}

/// A business metric of the demo's own, on obs's `/metrics`: one per order placed.
static ORDERS_CREATED: std::sync::LazyLock<Counter<u64>> = std::sync::LazyLock::new(Counter::default);

/// Liveness probe.
#[observed(endpoint = "/health")]
async fn health() -> StatusCode {
    StatusCode::OK
}

fn app() -> Router {
    Router::new()
        .route("/users/{id}", get(get_user))
        .route("/orders", post(create_order))
        .route("/health", get(health))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        // Outermost: every request is recorded once, whichever layer answered it, and requests
        // that carry a W3C traceparent continue the caller's trace.
        .layer(obs_runtime::layer::ObsLayer::new())
}

fn app_addr() -> Result<SocketAddr, String> {
    let text = std::env::var("OBS_APP_ADDR").unwrap_or_else(|_| DEFAULT_APP_ADDR.to_owned());
    text.parse().map_err(|_| format!("OBS_APP_ADDR={text:?} is not an address such as 127.0.0.1:3000"))
}

/// The options of `demo generate <dir>`: the defaults, and the command that regenerates the
/// committed files.
fn generate_defaults() -> obs_generate::Options {
    let mut options = obs_generate::Options::new("demo");
    options.regenerate_command = Some("cargo run --example demo -- generate examples/demo/deploy".to_owned());
    options
}

#[tokio::main]
async fn main() -> ExitCode {
    if let Some(code) = obs_generate::cli::run(std::env::args().skip(1), generate_defaults()) {
        return code;
    }
    let guard = match obs_runtime::builder("demo", env!("CARGO_PKG_VERSION")).init() {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("demo: {error}");
            return ExitCode::FAILURE;
        }
    };
    // A record through the `log` facade, as crates that predate `tracing` write them: obs bridges
    // it into a JSON line and an exported log record.
    log::info!(target: "demo::legacy", "order numbering starts at {}", 1);
    let own_metrics = obs_runtime::metrics::register(|registry| {
        registry.register("demo_orders_created", "Orders placed through POST /orders.", ORDERS_CREATED.clone());
    });
    if let Err(error) = own_metrics {
        eprintln!("demo: {error}");
        return ExitCode::FAILURE;
    }
    metrics::describe_counter!("demo_users_lookups_total", "User lookups through GET /users/{id}.");
    let shutdown = obs_examples::shutdown_signal();
    let served = async {
        let addr = app_addr()?;
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|error| format!("cannot listen on {addr}: {error}"))?;
        let local = listener.local_addr().map_err(|error| error.to_string())?;
        tracing::info!(target: "demo", event = "listening", "http.address" = %local, "demo listening on http://{local}");
        axum::serve(listener, app()).with_graceful_shutdown(shutdown).await.map_err(|error| error.to_string())
    };
    let result = served.await;
    if let Err(error) = &result {
        tracing::error!(target: "demo", event = "fatal", %error, "demo stopped: {error}");
    }
    drop(guard);
    if result.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
