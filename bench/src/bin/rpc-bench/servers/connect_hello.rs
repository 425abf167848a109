//! connectrpc's server: connectrpc-build's generated code (buffa messages, read as
//! zero-copy views) behind `connectrpc::Server` with its defaults, through the generated
//! monomorphic dispatcher (`HelloServiceServer`), its fast path.

use std::future::Future;

use connectrpc::{
    ConnectRpcService, InboundStream, RequestContext, Response, ServiceRequest, ServiceResult,
    ServiceStream,
};
use tokio::net::TcpListener;
use tokio_stream::StreamExt;

use crate::proto::connect_hello::hello::{
    HelloRequest, HelloResponse, HelloService, HelloServiceServer,
};

struct Hello;

fn reply(text: &str) -> HelloResponse {
    HelloResponse {
        reply: text.to_owned(),
        ..Default::default()
    }
}

// Each handler returns the concrete type the trait's `impl Encodable` allows, as
// connectrpc's own README writes them.
#[allow(refining_impl_trait)]
impl HelloService for Hello {
    async fn say_hello(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, HelloRequest>,
    ) -> ServiceResult<HelloResponse> {
        Response::ok(reply(request.greeting))
    }

    async fn lots_of_replies(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, HelloRequest>,
    ) -> ServiceResult<ServiceStream<HelloResponse>> {
        let count: usize = request.greeting.parse().unwrap_or(0);
        let replies = tokio_stream::iter((0..count).map(|_| Ok(reply("r"))));
        Response::ok(Box::pin(replies) as ServiceStream<HelloResponse>)
    }

    async fn lots_of_greetings(
        &self,
        _ctx: RequestContext,
        mut requests: InboundStream<HelloRequest>,
    ) -> ServiceResult<HelloResponse> {
        let mut count = 0usize;
        while let Some(request) = requests.next().await {
            request?;
            count += 1;
        }
        Response::ok(reply(&count.to_string()))
    }

    async fn bidi_hello(
        &self,
        _ctx: RequestContext,
        requests: InboundStream<HelloRequest>,
    ) -> ServiceResult<ServiceStream<HelloResponse>> {
        let echoes = requests.map(|request| request.map(|request| reply(request.greeting())));
        Response::ok(Box::pin(echoes) as ServiceStream<HelloResponse>)
    }
}

pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    connectrpc::Server::from_listener(listener)
        .serve_with_service_and_shutdown(
            ConnectRpcService::new(HelloServiceServer::new(Hello)),
            shutdown,
        )
        .await
        .map_err(|err| err.to_string())
}
