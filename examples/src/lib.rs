//! Runnable services built on `obs`; see `examples/demo/main.rs` and the README.
//!
//! What the examples share: serving an axum router until SIGINT or SIGTERM, with the toolkit set
//! up first and shut down (telemetry flushed) last.

pub mod grpc;

use std::net::SocketAddr;
use std::process::ExitCode;

/// Serves `app` on `OBS_APP_ADDR` (or `default_addr`) as service `name`, with the toolkit set up
/// from the environment, until SIGINT or SIGTERM; logs `listening` with the bound address.
pub async fn serve(name: &str, version: &str, default_addr: &str, app: axum::Router) -> ExitCode {
    let guard = match obs_runtime::builder(name, version).init() {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("{name}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = shutdown_signal();
    let served = async {
        let text = std::env::var("OBS_APP_ADDR").unwrap_or_else(|_| default_addr.to_owned());
        let addr: SocketAddr =
            text.parse().map_err(|_| format!("OBS_APP_ADDR={text:?} is not an address such as {default_addr}"))?;
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|error| format!("cannot listen on {addr}: {error}"))?;
        let local = listener.local_addr().map_err(|error| error.to_string())?;
        tracing::info!(target: "example", event = "listening", "http.address" = %local, "{name} listening on http://{local}");
        axum::serve(listener, app).with_graceful_shutdown(shutdown).await.map_err(|error| error.to_string())
    };
    let result = served.await;
    if let Err(error) = &result {
        tracing::error!(target: "example", event = "fatal", %error, "{name} stopped: {error}");
    }
    drop(guard);
    if result.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, whichever comes first.
///
/// The handlers are installed when this is called, not when the future is first polled (axum
/// polls it on a task of its own, later): a SIGTERM that arrives right after the service said it
/// is listening still shuts it down gracefully instead of killing it.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        let (mut interrupt, mut terminate) = match (interrupt, terminate) {
            (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
            (Err(error), _) | (_, Err(error)) => {
                tracing::error!(target: "example", %error, "cannot listen for SIGINT/SIGTERM; running until killed");
                return std::future::pending().await;
            }
        };
        let signal = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!(target: "example", event = "signal", signal, "{signal} received: draining requests");
    }
}
