//! The service the protocol tests (gRPC-Web, Connect, both sides) call: it says hello in
//! all four kinds, fails on request, sleeps past deadlines and echoes metadata.

use std::time::Duration;

use rgrpc::metadata::MetadataMap;
use rgrpc::{Context, RequestStream, ResponseSink, Status};
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};

use super::{Running, reply};

/// Says hello; fails on "fail" with a trailer (a stream after its three replies); sleeps on
/// "sleep"; says what deadline it got on "deadline?"; a unary call's `x-echo` metadata comes back as header `x-echo-header` and
/// trailer `x-echo-trailer`.
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
            // What deadline reached the handler, to the minute.
            "deadline?" => Ok(reply(match ctx.time_remaining() {
                Some(left) if left <= Duration::from_secs(60) => "deadline within a minute",
                Some(_) => "deadline later",
                None => "no deadline",
            })),
            greeting => {
                if let Some(echo) = ctx.metadata().get("x-echo") {
                    let mut headers = MetadataMap::new();
                    headers.insert("x-echo-header", echo.clone());
                    ctx.set_headers(headers)?;
                    let mut trailers = MetadataMap::new();
                    trailers.insert("x-echo-trailer", echo.clone());
                    ctx.set_trailers(trailers);
                }
                Ok(reply(format!("Hello, {greeting}!")))
            }
        }
    }

    /// Greets everyone who sent a greeting, in order: "Hello, a, b!".
    async fn lots_of_greetings(
        &self,
        _ctx: Context,
        mut requests: RequestStream<HelloRequest>,
    ) -> Result<HelloResponse, Status> {
        let mut names = Vec::new();
        while let Some(request) = requests.message().await? {
            names.push(request.greeting);
        }
        Ok(reply(format!("Hello, {}!", names.join(", "))))
    }

    /// Answers each greeting as it comes.
    async fn bidi_hello(
        &self,
        _ctx: Context,
        mut requests: RequestStream<HelloRequest>,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        while let Some(request) = requests.message().await? {
            responses
                .send(reply(format!("Hello, {}!", request.greeting)))
                .await?;
        }
        Ok(())
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
