//! The `frontend` service of the two-service example: `GET /profile/{id}` asks the `users` service
//! (`USERS_URL`, default `http://127.0.0.1:3001`) for the user, passing the trace along.
//!
//! ```text
//! cargo run --example users_service &
//! OBS_METRICS_ADDR=127.0.0.1:9465 cargo run --example frontend &
//! curl -i localhost:3002/profile/7
//! ```

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use obs_runtime::observed;
use obs_runtime::propagation::{TraceContextLayer, inject_reqwest};
use serde::{Deserialize, Serialize};
use std::process::ExitCode;
use std::sync::LazyLock;
use tracing::Instrument;

/// One client for the process, built on first use: after `init()`, which sets up TLS for it.
static HTTP: LazyLock<reqwest::Client> = LazyLock::new(reqwest::Client::new);

#[derive(Clone)]
struct Users {
    base_url: String,
}

#[derive(Debug, Deserialize, Serialize)]
struct User {
    id: u64,
    name: String,
}

#[derive(Debug, Serialize)]
struct Profile {
    user: User,
    greeting: String,
}

impl Users {
    /// `GET {USERS_URL}/users/{id}` in a client span, with the trace context in its headers.
    async fn fetch(&self, id: u64) -> Result<User, StatusCode> {
        let span = tracing::info_span!(
            "GET /users/{id}",
            otel.kind = "client",
            http.request.method = "GET",
            url.template = "/users/{id}",
            http.response.status_code = tracing::field::Empty,
        );
        async {
            let url = format!("{}/users/{id}", self.base_url);
            let response = inject_reqwest(HTTP.get(url)).send().await.map_err(|_| StatusCode::BAD_GATEWAY)?;
            tracing::Span::current().record("http.response.status_code", i64::from(response.status().as_u16()));
            match response.status().as_u16() {
                200 => {
                    let body = response.bytes().await.map_err(|_| StatusCode::BAD_GATEWAY)?;
                    serde_json::from_slice(&body).map_err(|_| StatusCode::BAD_GATEWAY)
                }
                404 => Err(StatusCode::NOT_FOUND),
                _ => Err(StatusCode::BAD_GATEWAY),
            }
        }
        .instrument(span)
        .await
    }
}

/// A user's profile page, built from the users service.
#[observed(endpoint = "/profile/{id}", method = "GET")]
async fn profile(State(users): State<Users>, Path(id): Path<u64>) -> Result<Json<Profile>, StatusCode> {
    let user = users.fetch(id).await?;
    let greeting = format!("Hello, {}!", user.name);
    Ok(Json(Profile { user, greeting }))
}

#[tokio::main]
async fn main() -> ExitCode {
    let users = Users { base_url: std::env::var("USERS_URL").unwrap_or_else(|_| "http://127.0.0.1:3001".to_owned()) };
    let app = Router::new().route("/profile/{id}", get(profile)).with_state(users).layer(TraceContextLayer::new());
    obs_examples::serve("frontend", env!("CARGO_PKG_VERSION"), "127.0.0.1:3002", app).await
}
