//! One replica of the fleet service, as its own process (the scenarios run it in a server
//! host's namespace with `ip netns exec`):
//!
//! ```text
//! fleet-replica --name s1 --listen 10.1.2.11:50051 [--delay-ms N]
//!     [--max-concurrent-streams N] [--max-connection-age-ms N]
//!     [--max-connection-age-grace-ms N] [--drain-timeout-ms N]
//! ```
//!
//! It prints `listening <addr>` once it accepts connections, serves the fleet service and
//! the health service, and on SIGTERM shuts down gracefully (printing `draining`, then
//! `stopped`): the health service turns NOT_SERVING, connections get GOAWAY, calls in
//! flight finish within the drain timeout.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use rgrpc::Server;
use rgrpc_fleet::flags::Flags;
use rgrpc_fleet::proto::fleet_server::FleetServer;
use rgrpc_fleet::replica::{Replica, announce};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

const FLAGS: &[&str] = &[
    "name",
    "listen",
    "delay-ms",
    "max-concurrent-streams",
    "max-connection-age-ms",
    "max-connection-age-grace-ms",
    "drain-timeout-ms",
];

/// The replica's settings, from its flags.
#[derive(Debug)]
struct Options {
    name: String,
    listen: SocketAddr,
    delay: Duration,
    max_concurrent_streams: Option<u32>,
    max_connection_age: Option<Duration>,
    max_connection_age_grace: Option<Duration>,
    drain_timeout: Option<Duration>,
}

impl Options {
    fn from_args() -> Result<Self, String> {
        let flags = Flags::parse("fleet-replica", FLAGS, std::env::args().skip(1))?;
        Ok(Self {
            name: flags.required("name")?.to_owned(),
            listen: flags
                .parsed("listen")?
                .ok_or("fleet-replica: --listen is required")?,
            delay: flags.millis("delay-ms")?.unwrap_or_default(),
            max_concurrent_streams: flags.parsed("max-concurrent-streams")?,
            max_connection_age: flags.millis("max-connection-age-ms")?,
            max_connection_age_grace: flags.millis("max-connection-age-grace-ms")?,
            drain_timeout: flags.millis("drain-timeout-ms")?,
        })
    }

    /// The server these options describe.
    fn server(&self) -> Server {
        let mut server = Server::builder();
        if let Some(max) = self.max_concurrent_streams {
            server = server.max_concurrent_streams(max);
        }
        if let Some(age) = self.max_connection_age {
            server = server.max_connection_age(age);
        }
        if let Some(grace) = self.max_connection_age_grace {
            server = server.max_connection_age_grace(grace);
        }
        if let Some(timeout) = self.drain_timeout {
            server = server.drain_timeout(timeout);
        }
        server
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match Options::from_args() {
        Ok(options) => options,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    match serve(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("fleet-replica: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let mut terminate = signal(SignalKind::terminate())?;
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", options.listen))?;
    announce(&format!("listening {}", listener.local_addr()?));
    let replica = Replica::new(options.name.clone(), options.delay);
    options
        .server()
        .add_service(FleetServer::new(replica))
        .serve_with_shutdown(listener, async move {
            terminate.recv().await;
            announce("draining");
        })
        .await?;
    announce("stopped");
    Ok(())
}
