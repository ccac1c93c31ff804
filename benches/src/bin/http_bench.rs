//! The HTTP throughput benchmark's servers: one trivial axum handler, `GET /users/{id}` returning
//! a small JSON body, served bare, under `#[observed]`, or under the peer stack, one variant per
//! process (obs's subscriber is process-wide); and a sink that takes OTLP/HTTP exports and
//! answers 200. `benches/http_throughput.sh` starts them and drives them with wrk.
//!
//! ```text
//! http_bench bare|observed|observed_layer|peer ADDR
//! http_bench sink ADDR
//! ```

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use obs_bench::User;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

async fn bare(Path(id): Path<u64>) -> axum::Json<User> {
    axum::Json(User::load(id))
}

#[obs_runtime::observed(endpoint = "/users/{id}", method = "GET")]
async fn observed(Path(id): Path<u64>) -> axum::Json<User> {
    axum::Json(User::load(id))
}

async fn serve(addr: SocketAddr, app: Router) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|error| format!("bind {addr}: {error}"))?;
    axum::serve(listener, app).await.map_err(|error| error.to_string())
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    // One worker: wrk takes the other core, as in the issue's measurement.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|error| error.to_string())
}

fn run(variant: &str, addr: SocketAddr) -> Result<(), String> {
    match variant {
        "bare" => runtime()?.block_on(serve(addr, Router::new().route("/users/{id}", get(bare)))),
        "observed" | "observed_layer" => {
            // As a service initialises it: JSON lines to stdout, spans on, /metrics served.
            let _guard = obs_runtime::builder("http-bench", "0")
                .metrics_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
                .init()
                .map_err(|error| error.to_string())?;
            let mut app = Router::new().route("/users/{id}", get(observed));
            if variant == "observed_layer" {
                app = app.layer(obs_runtime::layer::ObsLayer::new());
            }
            runtime()?.block_on(serve(addr, app))
        }
        "peer" => {
            let _guard = obs_bench::peer::init();
            runtime()?.block_on(serve(addr, Router::new().route("/users/{id}", get(obs_bench::peer::get_user))))
        }
        "sink" => sink(addr),
        other => Err(format!("unknown variant {other:?}: bare, observed, observed_layer, peer or sink")),
    }
}

/// Serves the OTLP sink on `addr` until killed.
fn sink(addr: SocketAddr) -> Result<(), String> {
    let listener = TcpListener::bind(addr).map_err(|error| format!("bind {addr}: {error}"))?;
    obs_bench::sink::serve(&listener);
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(variant), Some(addr)) = (args.next(), args.next()) else {
        eprintln!("usage: http_bench bare|observed|observed_layer|peer|sink ADDR");
        return ExitCode::FAILURE;
    };
    let result =
        addr.parse::<SocketAddr>().map_err(|error| format!("{addr:?}: {error}")).and_then(|addr| run(&variant, addr));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("http_bench {variant}: {error}");
            ExitCode::FAILURE
        }
    }
}
