//! Serves the hello service on 127.0.0.1 until interrupted.
//!
//! `hello-server [PORT]`; port 0 (the default) lets the OS pick one. The line
//! `listening on 127.0.0.1:PORT` on stdout says it is ready.

use std::process::ExitCode;

use hello_demo::Greeter;
use hello_demo::hello::hello_service_server::HelloServiceServer;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    let port = match std::env::args().nth(1).map(|arg| arg.parse::<u16>()) {
        None => 0,
        Some(Ok(port)) => port,
        Some(Err(err)) => {
            eprintln!("hello-server: the port must be a number 0-65535: {err}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("hello-server: cannot listen on 127.0.0.1:{port}: {err}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on {addr}"),
        Err(err) => {
            eprintln!("hello-server: {err}");
            return ExitCode::FAILURE;
        }
    }
    let shutdown = async {
        // If the signal handler cannot be installed the server runs until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let served = rgrpc::Server::builder()
        .add_service(HelloServiceServer::new(Greeter))
        .serve_with_shutdown(listener, shutdown)
        .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hello-server: {err}");
            ExitCode::FAILURE
        }
    }
}
