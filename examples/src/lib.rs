//! Runnable services built on `obs`; see `examples/demo/main.rs` and the README.
//!
//! What the examples share: serving an axum router until SIGINT or SIGTERM, with the toolkit set
//! up first and shut down (telemetry flushed) last.

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
    let served = async {
        let text = std::env::var("OBS_APP_ADDR").unwrap_or_else(|_| default_addr.to_owned());
        let addr: SocketAddr =
            text.parse().map_err(|_| format!("OBS_APP_ADDR={text:?} is not an address such as {default_addr}"))?;
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|error| format!("cannot listen on {addr}: {error}"))?;
        let local = listener.local_addr().map_err(|error| error.to_string())?;
        tracing::info!(target: "example", event = "listening", "http.address" = %local, "{name} listening on http://{local}");
        axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.map_err(|error| error.to_string())
    };
    let result = served.await;
    if let Err(error) = &result {
        tracing::error!(target: "example", event = "fatal", %error, "{name} stopped: {error}");
    }
    drop(guard);
    if result.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, whichever comes first.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
        tracing::error!(target: "example", "cannot listen for SIGTERM; stopping on Ctrl-C only");
        let _ = interrupt.await;
        return;
    };
    let signal = tokio::select! {
        _ = interrupt => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    };
    tracing::info!(target: "example", event = "signal", signal, "{signal} received: draining requests");
}
