//! One blocking call to the hello service, from a plain `fn main` with no async runtime.
//!
//! `hello-blocking http://127.0.0.1:PORT`

use std::process::ExitCode;
use std::time::Duration;

use hello_demo::hello::HelloRequest;
use hello_demo::hello::hello_service_client::HelloServiceBlockingClient;

fn main() -> ExitCode {
    let Some(uri) = std::env::args().nth(1) else {
        eprintln!("usage: hello-blocking http://127.0.0.1:PORT");
        return ExitCode::FAILURE;
    };
    let channel = match rgrpc::blocking::Channel::connect(uri) {
        Ok(channel) => channel,
        Err(err) => {
            eprintln!("hello-blocking: {err}");
            return ExitCode::FAILURE;
        }
    };
    let client = HelloServiceBlockingClient::new(channel);
    println!("== blocking unary: SayHello (plain fn main, no async runtime)");
    println!("  -> {:?}", "blocking world");
    let request = HelloRequest {
        greeting: "blocking world".to_owned(),
    };
    match client
        .say_hello(request)
        .timeout(Duration::from_secs(5))
        .call()
    {
        Ok(response) => {
            println!("  <- {:?}", response.get_ref().reply);
            ExitCode::SUCCESS
        }
        Err(status) => {
            eprintln!("hello-blocking: {status}");
            ExitCode::FAILURE
        }
    }
}
