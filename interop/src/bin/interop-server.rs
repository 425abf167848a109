//! The interop server: `interop-server --port N` serves the standard `TestService` on
//! 127.0.0.1 (`--port 0` picks a free port). It prints `listening on 127.0.0.1:PORT` when
//! ready and stops gracefully on SIGINT or SIGTERM.

use std::process::ExitCode;

use rgrpc_interop::service::Interop;
use rgrpc_interop::testing::test_service_server::TestServiceServer;
use tokio::net::TcpListener;

const USAGE: &str = "usage: interop-server [--port N] [--use_tls=false]";

fn port(args: &[String]) -> Result<u16, String> {
    let mut port = 0;
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
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(port)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = match port(&args) {
        Ok(port) => port,
        Err(problem) => {
            eprintln!("interop-server: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
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
    let served = rgrpc::Server::builder()
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
