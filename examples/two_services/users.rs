//! The `users` service of the two-service example: `frontend` calls it, and one request to the
//! frontend becomes one trace with spans from both processes.
//!
//! ```text
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 cargo run --example users_service
//! ```

use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use obs_runtime::observed;
use obs_runtime::propagation::TraceContextLayer;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, Serialize)]
struct User {
    id: u64,
    name: String,
}

/// Returns one user; ids 1 to 999 exist.
#[observed(endpoint = "/users/{id}", method = "GET")]
async fn get_user(Path(id): Path<u64>) -> Result<Json<User>, StatusCode> {
    match id {
        1..=999 => Ok(Json(User { id, name: format!("user-{id}") })),
        _ => Err(StatusCode::NOT_FOUND),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // The layer continues the caller's trace: the frontend's traceparent becomes our span's parent.
    let app = Router::new().route("/users/{id}", get(get_user)).layer(TraceContextLayer::new());
    obs_examples::serve("users", env!("CARGO_PKG_VERSION"), "127.0.0.1:3001", app).await
}
