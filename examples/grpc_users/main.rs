//! The demo's user lookup over gRPC: a tonic service whose method is `#[observed]` inside an
//! `#[tonic::async_trait]` impl, served with obs's metrics, spans and JSON logs.
//!
//! ```text
//! cargo run --example grpc_users              # demo.Users on 127.0.0.1:50051, metrics on 127.0.0.1:9464
//! cargo run --example grpc_users -- call 7    # in another terminal: OK
//! cargo run --example grpc_users -- call 5000 # NOT_FOUND, a client error
//! cargo run --example grpc_users -- call 0    # UNAVAILABLE, a failure
//! ```

use axum::Router;
use obs_examples::grpc::{GetUserRequest, User, Users, UsersClient, UsersServer};
use obs_runtime::observed;
use obs_runtime::propagation::TraceContextLayer;
use std::process::ExitCode;
use tonic::{Request, Response, Status};

const DEFAULT_ADDR: &str = "127.0.0.1:50051";

/// Users 1 to 999 exist; user 0 stands for the database being down.
struct Directory;

#[tonic::async_trait]
impl Users for Directory {
    /// Returns one user.
    #[observed(endpoint = "/demo.Users/GetUser", method = "POST")]
    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<User>, Status> {
        let id = request.into_inner().id;
        match id {
            0 => Err(Status::unavailable("the user database is down")),
            1..=999 => Ok(Response::new(User { id, name: format!("user-{id}") })),
            _ => Err(Status::not_found(format!("no user {id}"))),
        }
    }
}

/// `call ID`: one `GetUser` call to the running service, printed.
async fn call(id: &str) -> ExitCode {
    let Ok(id) = id.parse::<u64>() else {
        eprintln!("grpc_users call: {id:?} is not a user id");
        return ExitCode::FAILURE;
    };
    let addr = std::env::var("OBS_APP_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
    let mut client = match UsersClient::connect(format!("http://{addr}")).await {
        Ok(client) => client,
        Err(error) => {
            eprintln!("grpc_users call: cannot reach {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match client.get_user(id).await {
        Ok(response) => {
            let user = response.into_inner();
            println!("OK {{ id: {}, name: {:?} }}", user.id, user.name);
            ExitCode::SUCCESS
        }
        Err(status) => {
            println!("{:?}: {}", status.code(), status.message());
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, id] = args.as_slice()
        && command == "call"
    {
        return call(id).await;
    }
    let app = Router::new()
        .route_service("/demo.Users/{*method}", UsersServer::new(Directory))
        .layer(TraceContextLayer::new());
    obs_examples::serve("grpc_users", env!("CARGO_PKG_VERSION"), DEFAULT_ADDR, app).await
}
