//! rgrpc's server: protoc-gen-rgrpc's generated code behind `rgrpc::Server`, with rgrpc's
//! defaults (200 streams per connection, an 8 MiB connection window).

use std::future::Future;

use rgrpc::{Context, RequestStream, ResponseSink};
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use tokio::net::TcpListener;

struct Hello;

impl HelloService for Hello {
    async fn say_hello(
        &self,
        _ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, rgrpc::Status> {
        Ok(HelloResponse {
            reply: request.greeting,
        })
    }

    async fn lots_of_replies(
        &self,
        _ctx: Context,
        request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), rgrpc::Status> {
        let count: usize = request.greeting.parse().unwrap_or(0);
        for _ in 0..count {
            responses
                .send(HelloResponse {
                    reply: "r".to_owned(),
                })
                .await?;
        }
        Ok(())
    }

    async fn lots_of_greetings(
        &self,
        _ctx: Context,
        mut requests: RequestStream<HelloRequest>,
    ) -> Result<HelloResponse, rgrpc::Status> {
        let mut count = 0usize;
        while requests.message().await?.is_some() {
            count += 1;
        }
        Ok(HelloResponse {
            reply: count.to_string(),
        })
    }

    async fn bidi_hello(
        &self,
        _ctx: Context,
        mut requests: RequestStream<HelloRequest>,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), rgrpc::Status> {
        while let Some(request) = requests.message().await? {
            responses
                .send(HelloResponse {
                    reply: request.greeting,
                })
                .await?;
        }
        Ok(())
    }
}

pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    crate::middleware::Middleware::from_env()?
        .server(rgrpc::Server::builder())
        .add_service(HelloServiceServer::new(Hello))
        .serve_with_shutdown(listener, shutdown)
        .await
        // The error type is changing with the server transport: only its text is used.
        .map_err(|err| err.to_string())
}
