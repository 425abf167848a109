//! Calls the hello service once in each of the four kinds and prints what goes each way.
//!
//! `hello-client http://127.0.0.1:PORT`

use std::process::ExitCode;
use std::time::Duration;

use hello_demo::hello::HelloRequest;
use hello_demo::hello::hello_service_client::HelloServiceClient;
use rgrpc::stream::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

#[tokio::main]
async fn main() -> ExitCode {
    let Some(uri) = std::env::args().nth(1) else {
        eprintln!("usage: hello-client http://127.0.0.1:PORT");
        return ExitCode::FAILURE;
    };
    match run(&uri).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hello-client: {err}");
            ExitCode::FAILURE
        }
    }
}

fn greeting(text: &str) -> HelloRequest {
    HelloRequest {
        greeting: text.to_owned(),
    }
}

async fn run(uri: &str) -> Result<(), Box<dyn std::error::Error>> {
    let client = HelloServiceClient::new(rgrpc::Channel::connect(uri).await?);

    println!("== unary: SayHello");
    println!("  -> {:?}", "world");
    let response = client
        .say_hello(greeting("world"))
        .timeout(Duration::from_secs(5))
        .await?;
    println!("  <- {:?}", response.get_ref().reply);

    println!("== server streaming: LotsOfReplies");
    println!("  -> {:?}", "streams");
    let mut replies = client.lots_of_replies(greeting("streams")).await?;
    while let Some(reply) = replies.message().await? {
        println!("  <- {:?}", reply.reply);
    }

    println!("== client streaming: LotsOfGreetings");
    let names = ["Ada", "Grace", "Barbara"];
    for name in names {
        println!("  -> {name:?}");
    }
    let requests = rgrpc::stream::iter(names.map(greeting));
    let response = client.lots_of_greetings(requests).await?;
    println!("  <- {:?}", response.get_ref().reply);

    println!("== bidi streaming: BidiHello (ping-pong)");
    let (sender, receiver) = mpsc::channel(1);
    let mut replies = client.bidi_hello(ReceiverStream::new(receiver)).await?;
    for name in ["Alice", "Bob", "Carol"] {
        println!("  -> {name:?}");
        sender.send(greeting(name)).await?;
        match replies.next().await {
            Some(reply) => println!("  <- {:?}", reply?.reply),
            None => return Err("the server ended the bidi call early".into()),
        }
    }
    drop(sender);
    if let Some(extra) = replies.message().await? {
        return Err(format!("unexpected extra reply {:?}", extra.reply).into());
    }
    println!("== all four kinds done");
    Ok(())
}
