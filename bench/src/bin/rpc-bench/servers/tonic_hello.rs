//! tonic's server: tonic-prost-build's generated code behind `tonic::transport::Server`
//! with its defaults, `TCP_NODELAY` on as rgrpc and connectrpc set it.

use std::future::Future;
use std::pin::Pin;

use tokio::net::TcpListener;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::TcpIncoming;

use crate::proto::tonic_hello::hello_service_server::{HelloService, HelloServiceServer};
use crate::proto::tonic_hello::{HelloRequest, HelloResponse};

struct Hello;

type Replies = Pin<Box<dyn Stream<Item = Result<HelloResponse, tonic::Status>> + Send>>;

/// tonic's way: `async_trait`, associated stream types.
#[tonic::async_trait]
impl HelloService for Hello {
    async fn say_hello(
        &self,
        request: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloResponse>, tonic::Status> {
        Ok(tonic::Response::new(HelloResponse {
            reply: request.into_inner().greeting,
        }))
    }

    type LotsOfRepliesStream = Replies;

    async fn lots_of_replies(
        &self,
        request: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<Self::LotsOfRepliesStream>, tonic::Status> {
        let count: usize = request.into_inner().greeting.parse().unwrap_or(0);
        let replies = tokio_stream::iter((0..count).map(|_| {
            Ok(HelloResponse {
                reply: "r".to_owned(),
            })
        }));
        Ok(tonic::Response::new(Box::pin(replies)))
    }

    async fn lots_of_greetings(
        &self,
        request: tonic::Request<tonic::Streaming<HelloRequest>>,
    ) -> Result<tonic::Response<HelloResponse>, tonic::Status> {
        let mut requests = request.into_inner();
        let mut count = 0usize;
        while requests.message().await?.is_some() {
            count += 1;
        }
        Ok(tonic::Response::new(HelloResponse {
            reply: count.to_string(),
        }))
    }

    type BidiHelloStream = Replies;

    async fn bidi_hello(
        &self,
        request: tonic::Request<tonic::Streaming<HelloRequest>>,
    ) -> Result<tonic::Response<Self::BidiHelloStream>, tonic::Status> {
        let echoes = request.into_inner().map(|request| {
            request.map(|request| HelloResponse {
                reply: request.greeting,
            })
        });
        Ok(tonic::Response::new(Box::pin(echoes)))
    }
}

pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(HelloServiceServer::new(Hello))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|err| err.to_string())
}
