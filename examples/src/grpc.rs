//! The `demo.Users` gRPC service of the `grpc_users` example, written without `protoc`: the
//! messages derive `prost::Message`, and the server and client are the few lines `tonic-build`
//! would generate for one unary method.
//!
//! ```proto
//! package demo;
//! service Users { rpc GetUser (GetUserRequest) returns (User); }
//! message GetUserRequest { uint64 id = 1; }
//! message User { uint64 id = 1; string name = 2; }
//! ```

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::codegen::{Body, BoxFuture, Service, StdError, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

/// The gRPC path of `GetUser`, also its `http_route`.
pub const GET_USER_PATH: &str = "/demo.Users/GetUser";

/// `GetUserRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetUserRequest {
    /// The user's id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
}

/// `User`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct User {
    /// The user's id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// The user's name.
    #[prost(string, tag = "2")]
    pub name: String,
}

/// The service's methods, implemented by the server.
#[tonic::async_trait]
pub trait Users: Send + Sync + 'static {
    /// Returns one user.
    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<User>, Status>;
}

/// Serves a [`Users`] implementation over gRPC: mount it at `/demo.Users/{*method}`.
pub struct UsersServer<T>(Arc<T>);

impl<T> UsersServer<T> {
    /// Serves `users`.
    pub fn new(users: T) -> Self {
        UsersServer(Arc::new(users))
    }
}

impl<T> Clone for UsersServer<T> {
    fn clone(&self) -> Self {
        UsersServer(Arc::clone(&self.0))
    }
}

impl<T> NamedService for UsersServer<T> {
    const NAME: &'static str = "demo.Users";
}

struct GetUser<T>(Arc<T>);

impl<T: Users> UnaryService<GetUserRequest> for GetUser<T> {
    type Response = User;
    type Future = BoxFuture<Response<User>, Status>;

    fn call(&mut self, request: Request<GetUserRequest>) -> Self::Future {
        let users = Arc::clone(&self.0);
        Box::pin(async move { users.get_user(request).await })
    }
}

impl<T, B> Service<http::Request<B>> for UsersServer<T>
where
    T: Users,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != GET_USER_PATH {
            let path = request.uri().path().to_owned();
            return Box::pin(async move { Ok(Status::unimplemented(format!("no method {path}")).into_http()) });
        }
        let users = Arc::clone(&self.0);
        Box::pin(async move {
            let mut grpc = Grpc::new(tonic_prost::ProstCodec::default());
            Ok(grpc.unary(GetUser(users), request).await)
        })
    }
}

/// A client of the service.
#[derive(Clone, Debug)]
pub struct UsersClient(tonic::client::Grpc<tonic::transport::Channel>);

impl UsersClient {
    /// Connects to `endpoint` (`http://127.0.0.1:50051`).
    ///
    /// # Errors
    /// When the endpoint is not a URI or cannot be reached.
    pub async fn connect(endpoint: String) -> Result<Self, tonic::transport::Error> {
        let channel = tonic::transport::Endpoint::from_shared(endpoint)?.connect().await?;
        Ok(UsersClient(tonic::client::Grpc::new(channel)))
    }

    /// Calls `GetUser`.
    ///
    /// # Errors
    /// The status the server answered with, or a transport failure as `UNAVAILABLE`.
    pub async fn get_user(&mut self, id: u64) -> Result<Response<User>, Status> {
        self.0.ready().await.map_err(|error| Status::unavailable(format!("not ready: {error}")))?;
        let path = http::uri::PathAndQuery::from_static(GET_USER_PATH);
        self.0.unary(Request::new(GetUserRequest { id }), path, tonic_prost::ProstCodec::default()).await
    }
}
