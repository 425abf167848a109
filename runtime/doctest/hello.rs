// Support for rgrpc's documentation examples. Each includes it with two hidden lines:
//
//     # mod doctest { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/hello.rs")); }
//     # use doctest::{block_on, hello};
//
// The hello service's generated code is the plugin's golden output for proto/hello.proto
// (fixtures/hello/expected/hello.rs, itself checked against protoc and against what
// `protoc-gen-rgrpc compile` and rgrpc-build write), included rather than copied so the
// examples can never run against stale generated code.

#[allow(dead_code, missing_docs, missing_debug_implementations)]
pub mod hello {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/hello/expected/hello.rs"
    ));
}

/// Runs an example's async body on a multi-threaded runtime, as `#[tokio::main]` would.
#[allow(dead_code)]
pub fn block_on(
    body: impl std::future::Future<Output = Result<(), Box<dyn std::error::Error>>>,
) -> Result<(), Box<dyn std::error::Error>> {
    tokio::runtime::Runtime::new()?.block_on(body)
}

/// A `HelloService` answering `SayHello` with "Hello, {greeting}!" (the rest: UNIMPLEMENTED).
#[allow(dead_code)]
pub struct MyHello;

impl hello::hello_service_server::HelloService for MyHello {
    async fn say_hello(
        &self,
        _ctx: rgrpc::Context,
        request: hello::HelloRequest,
    ) -> Result<hello::HelloResponse, rgrpc::Status> {
        Ok(hello::HelloResponse {
            reply: format!("Hello, {}!", request.greeting),
        })
    }
}
