//! Serves the hello service on 127.0.0.1 (an OS-chosen port) and calls it once in each of
//! the four kinds, printing what goes each way; exits non-zero if any call fails.
//!
//! `cargo run -p hello-build`

use std::process::ExitCode;
use std::time::Duration;

use hello_build::hello::hello_service_client::HelloServiceClient;
use hello_build::hello::hello_service_server::HelloServiceServer;
use hello_build::{Greeter, greeting};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hello-build: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("listening on {addr}");
    let server = tokio::spawn(
        rgrpc::Server::builder()
            .add_service(HelloServiceServer::new(Greeter))
            .serve_with_shutdown(listener, std::future::pending()),
    );
    let calls = call_all_four(&format!("http://{addr}")).await;
    server.abort();
    calls
}

async fn call_all_four(uri: &str) -> Result<(), Box<dyn std::error::Error>> {
    let client = HelloServiceClient::new(rgrpc::Channel::connect(uri).await?);

    println!("== unary: SayHello");
    let response = client
        .say_hello(greeting("world"))
        .timeout(Duration::from_secs(5))
        .await?;
    println!("  <- {:?}", response.get_ref().reply);

    println!("== server streaming: LotsOfReplies");
    let mut replies = client.lots_of_replies(greeting("streams")).await?;
    while let Some(reply) = replies.message().await? {
        println!("  <- {:?}", reply.reply);
    }

    println!("== client streaming: LotsOfGreetings");
    let names = ["Ada", "Grace", "Barbara"].map(greeting);
    let response = client.lots_of_greetings(rgrpc::stream::iter(names)).await?;
    println!("  <- {:?}", response.get_ref().reply);

    println!("== bidi streaming: BidiHello");
    let names = ["Alice", "Bob"].map(greeting);
    let mut replies = client.bidi_hello(rgrpc::stream::iter(names)).await?;
    while let Some(reply) = replies.message().await? {
        println!("  <- {:?}", reply.reply);
    }

    println!("== all four kinds done");
    Ok(())
}
