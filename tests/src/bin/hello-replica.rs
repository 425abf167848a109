//! One replica of the hello service, as its own process, for the fault tests to start and
//! kill: `hello-replica <name> [port]`.
//!
//! It serves on 127.0.0.1 (an OS-chosen port unless one is given), prints `port <n>` on
//! stdout once it accepts connections, and answers `SayHello` with `<name>: <greeting>` so
//! a client can tell which replica served each call. It binds with SO_REUSEPORT, so that a
//! test may hold the port (bound, never listening) while no replica serves on it, and run
//! one replica after another there. A request may ask for slow work with
//! the metadata `x-work-ms`, and with `x-announce` to have `started <greeting>` printed on
//! stdout when its handler starts. It exits when its stdin closes, so a test that dies
//! without killing it leaves no server behind.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use rgrpc::{Context, Status};
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use tokio::io::AsyncReadExt;
use tokio::net::TcpSocket;

/// The longest work a request may ask for, so a replica never holds a call for long.
const MAX_WORK: Duration = Duration::from_secs(5);

struct Replica {
    name: String,
}

impl HelloService for Replica {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        let work_ms = ctx
            .metadata()
            .get("x-work-ms")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        if ctx.metadata().contains_key("x-announce") {
            let mut stdout = std::io::stdout();
            writeln!(stdout, "started {}", request.greeting)
                .and_then(|()| stdout.flush())
                .map_err(|err| Status::internal(format!("cannot announce the call: {err}")))?;
        }
        tokio::time::sleep(Duration::from_millis(work_ms).min(MAX_WORK)).await;
        Ok(HelloResponse {
            reply: format!("{}: {}", self.name, request.greeting),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(name), port) = (args.next(), args.next()) else {
        eprintln!("usage: hello-replica <name> [port]");
        return ExitCode::FAILURE;
    };
    let port = match port.map(|port| port.parse::<u16>()).transpose() {
        Ok(port) => port.unwrap_or(0),
        Err(err) => {
            eprintln!("hello-replica: bad port: {err}");
            return ExitCode::FAILURE;
        }
    };
    match serve(name, port).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hello-replica: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(name: String, port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    let listener = socket.listen(1024)?;
    let port = listener.local_addr()?.port();
    let mut stdout = std::io::stdout();
    writeln!(stdout, "port {port}")?;
    stdout.flush()?;
    rgrpc::Server::builder()
        .add_service(HelloServiceServer::new(Replica { name }))
        .serve_with_shutdown(listener, stdin_closed())
        .await?;
    Ok(())
}

/// Completes when stdin reaches its end: the parent closed it or died.
async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 64];
    while let Ok(read) = stdin.read(&mut buffer).await {
        if read == 0 {
            break;
        }
    }
}
