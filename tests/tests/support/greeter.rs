//! The service the protocol tests (gRPC-Web, Connect) call: it says hello, fails on
//! request, and sleeps past deadlines.

use std::time::Duration;

use rgrpc::{Context, ResponseSink, Status};
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};

use super::{Running, reply};

/// Says hello; fails on "fail" with a trailer (a stream after its three replies); sleeps on
/// "sleep".
pub struct Greeter;

impl HelloService for Greeter {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        match request.greeting.as_str() {
            "fail" => {
                let mut trailers = rgrpc::metadata::MetadataMap::new();
                trailers.insert("x-why", "asked to".parse().unwrap());
                ctx.set_trailers(trailers);
                Err(Status::failed_precondition("failing as asked"))
            }
            "sleep" => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(reply("woke up"))
            }
            greeting => Ok(reply(format!("Hello, {greeting}!"))),
        }
    }

    async fn lots_of_replies(
        &self,
        ctx: Context,
        request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        for n in 1..=3 {
            responses
                .send(reply(format!("{n} {}", request.greeting)))
                .await?;
        }
        if request.greeting == "fail" {
            let mut trailers = rgrpc::metadata::MetadataMap::new();
            trailers.insert("x-why", "asked to".parse().unwrap());
            ctx.set_trailers(trailers);
            return Err(Status::aborted("stopped after 3"));
        }
        Ok(())
    }
}

/// An rgrpc server of [`Greeter`] on 127.0.0.1.
pub async fn server() -> Running {
    Running::serve(rgrpc::Server::builder().add_service(HelloServiceServer::new(Greeter))).await
}
