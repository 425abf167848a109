//! The interop server: `interop-server --port N` serves the standard `TestService` on
//! 127.0.0.1 (`--port 0` picks a free port). It prints `listening on 127.0.0.1:PORT` when
//! ready and stops gracefully on SIGINT or SIGTERM. `--cors-origin ORIGIN` (repeatable) lets
//! web pages of that origin call it, with the test metadata (interop/tests/browser.rs).

use std::process::ExitCode;

use rgrpc::server::{Cors, CorsError};
use rgrpc_interop::service::Interop;
use rgrpc_interop::testing::test_service_server::TestServiceServer;
use tokio::net::TcpListener;

const USAGE: &str = "usage: interop-server [--port N] [--use_tls=false] [--cors-origin ORIGIN]...";

/// What the command line asked for.
struct Options {
    port: u16,
    cors_origins: Vec<String>,
}

fn options(args: &[String]) -> Result<Options, String> {
    let mut port = 0;
    let mut cors_origins = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| rest.next().cloned());
        match flag {
            "--port" => {
                let text = value().ok_or("--port needs a value")?;
                port = text
                    .parse()
                    .map_err(|_| format!("--port must be 0-65535, got {text:?}"))?;
            }
            "--use_tls" => {
                if value().as_deref() != Some("false") {
                    return Err("only --use_tls=false is supported".to_owned());
                }
            }
            "--cors-origin" => cors_origins.push(value().ok_or("--cors-origin needs a value")?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Options { port, cors_origins })
}

/// Pages of `origins` may call, sending the test metadata the service reads and reading
/// what it echoes (for the Connect protocol, a unary call's trailers are `trailer-` headers).
fn cors(origins: &[String]) -> Result<Cors, CorsError> {
    Cors::origins(origins)?
        .allow_headers([
            "x-interop-sleep-ms",
            "x-grpc-test-echo-initial",
            "x-grpc-test-echo-trailing-bin",
        ])?
        .expose_headers([
            "x-grpc-test-echo-initial",
            "x-grpc-test-echo-trailing-bin",
            "trailer-x-grpc-test-echo-trailing-bin",
        ])
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Options { port, cors_origins } = match options(&args) {
        Ok(options) => options,
        Err(problem) => {
            eprintln!("interop-server: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut builder = rgrpc::Server::builder();
    if !cors_origins.is_empty() {
        match cors(&cors_origins) {
            Ok(cors) => builder = builder.cors(cors),
            Err(problem) => {
                eprintln!("interop-server: {problem}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("interop-server: cannot listen on 127.0.0.1:{port}: {err}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on {addr}"),
        Err(err) => {
            eprintln!("interop-server: {err}");
            return ExitCode::FAILURE;
        }
    }
    let served = builder
        .add_service(TestServiceServer::new(Interop))
        .serve_with_shutdown(listener, shutdown_signal())
        .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("interop-server: {err}");
            ExitCode::FAILURE
        }
    }
}

/// SIGINT or SIGTERM; if neither can be watched, the server runs until killed.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
