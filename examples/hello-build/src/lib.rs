//! The hello service with its code generated at build time: `build.rs` runs rgrpc-build on
//! `proto/hello.proto`, and [`hello`] includes the result from `OUT_DIR`. No generated file
//! is checked in and no protoc is needed.

/// The `hello` proto package: messages, `hello_service_client` and `hello_service_server`.
pub mod hello {
    rgrpc::include_proto!("hello");
}

use hello::hello_service_server::HelloService;
use hello::{HelloRequest, HelloResponse};
use rgrpc::{Context, RequestStream, ResponseSink, Status};

/// Greets in all four ways.
#[derive(Debug, Default)]
pub struct Greeter;

impl HelloService for Greeter {
    async fn say_hello(
        &self,
        _ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        Ok(reply(format!("Hello, {}!", request.greeting)))
    }

    async fn lots_of_replies(
        &self,
        _ctx: Context,
        request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        for word in ["Hello", "Bonjour", "Hola"] {
            responses
                .send(reply(format!("{word}, {}!", request.greeting)))
                .await?;
        }
        Ok(())
    }

    async fn lots_of_greetings(
        &self,
        _ctx: Context,
        mut requests: RequestStream<HelloRequest>,
    ) -> Result<HelloResponse, Status> {
        let mut names = Vec::new();
        while let Some(request) = requests.message().await? {
            names.push(request.greeting);
        }
        Ok(reply(format!("Hello, {}!", names.join(" and "))))
    }

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
}

/// A request carrying `text`.
pub fn greeting(text: &str) -> HelloRequest {
    HelloRequest {
        greeting: text.to_owned(),
    }
}

fn reply(text: String) -> HelloResponse {
    HelloResponse { reply: text }
}
