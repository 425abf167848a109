//! The scenarios: what load each puts on a server, what one operation of it is, and (for
//! the ones the Rust load generator runs) the load itself.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::budget::Budget;
use crate::clients::Client;
use crate::wire::Wire;

/// Concurrent calls (or streams) of the `_c64` scenarios, all on one connection.
const CONCURRENCY: usize = 64;
/// Messages per call of the short server streams (the measure).
const SHORT_STREAM: usize = 10;
/// Messages per call of the long streams.
const LONG_STREAM: usize = 1000;
/// The large-message size: 1 MiB each way.
const LARGE: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    UnaryC1,
    UnaryC64,
    ServerStreamC64x10,
    ServerStream1000,
    ClientStream1000,
    BidiC1,
    BidiC64,
    LargeUnary,
    H2loadUnaryC1,
    H2loadUnaryC64,
    ConnectProtoC1,
    ConnectProtoC64,
    ConnectProtoH1C1,
    ConnectProtoH1C64,
    ConnectJsonC1,
    ConnectJsonC64,
    GrpcWebC1,
    GrpcWebC64,
    GrpcWebH1C1,
    GrpcWebH1C64,
}

/// Who generates a scenario's load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generator {
    /// `rpc-bench load`: the tonic client (rgrpc's in the clients table).
    Ours,
    /// h2load, unary `SayHello` calls.
    H2load(H2loadLoad),
}

/// What h2load sends, how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct H2loadLoad {
    pub wire: Wire,
    /// HTTP/1.1 (`h2load --h1`) rather than HTTP/2 with prior knowledge.
    pub http1: bool,
    /// Calls at a time: over HTTP/2, streams on one connection; over HTTP/1.1, connections
    /// with one call each at a time (as browsers do; no pipelining).
    pub concurrency: usize,
}

impl H2loadLoad {
    /// `gRPC-Web over HTTP/1.1, 64 connections`.
    pub fn describe(self) -> String {
        if self.http1 {
            format!(
                "{} over HTTP/1.1, {} connection{}",
                self.wire.name(),
                self.concurrency,
                if self.concurrency == 1 { "" } else { "s" }
            )
        } else {
            format!(
                "{} over HTTP/2, {} stream{} on one connection",
                self.wire.name(),
                self.concurrency,
                if self.concurrency == 1 { "" } else { "s" }
            )
        }
    }
}

impl Scenario {
    /// The gRPC scenarios of the servers, clients and scaling tables, in their order.
    pub const GRPC: [Scenario; 10] = [
        Scenario::UnaryC1,
        Scenario::UnaryC64,
        Scenario::ServerStreamC64x10,
        Scenario::ServerStream1000,
        Scenario::ClientStream1000,
        Scenario::BidiC1,
        Scenario::BidiC64,
        Scenario::LargeUnary,
        Scenario::H2loadUnaryC1,
        Scenario::H2loadUnaryC64,
    ];

    /// The protocols table: every protocol h2load can send, gRPC first as the reference.
    pub const PROTOCOLS: [Scenario; 12] = [
        Scenario::H2loadUnaryC1,
        Scenario::H2loadUnaryC64,
        Scenario::GrpcWebC1,
        Scenario::GrpcWebC64,
        Scenario::GrpcWebH1C1,
        Scenario::GrpcWebH1C64,
        Scenario::ConnectProtoC1,
        Scenario::ConnectProtoC64,
        Scenario::ConnectProtoH1C1,
        Scenario::ConnectProtoH1C64,
        Scenario::ConnectJsonC1,
        Scenario::ConnectJsonC64,
    ];

    /// Every scenario once.
    fn every() -> impl Iterator<Item = Scenario> {
        Scenario::GRPC.into_iter().chain(
            Scenario::PROTOCOLS
                .into_iter()
                .filter(|s| !Scenario::GRPC.contains(s)),
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::UnaryC1 => "unary_c1",
            Scenario::UnaryC64 => "unary_c64",
            Scenario::ServerStreamC64x10 => "server_stream_c64x10",
            Scenario::ServerStream1000 => "server_stream_1000",
            Scenario::ClientStream1000 => "client_stream_1000",
            Scenario::BidiC1 => "bidi_c1",
            Scenario::BidiC64 => "bidi_c64",
            Scenario::LargeUnary => "large_unary_1mib",
            Scenario::H2loadUnaryC1 => "h2load_unary_c1",
            Scenario::H2loadUnaryC64 => "h2load_unary_c64",
            Scenario::ConnectProtoC1 => "connect_proto_c1",
            Scenario::ConnectProtoC64 => "connect_proto_c64",
            Scenario::ConnectProtoH1C1 => "connect_proto_h1_c1",
            Scenario::ConnectProtoH1C64 => "connect_proto_h1_c64",
            Scenario::ConnectJsonC1 => "connect_json_c1",
            Scenario::ConnectJsonC64 => "connect_json_c64",
            Scenario::GrpcWebC1 => "grpc_web_c1",
            Scenario::GrpcWebC64 => "grpc_web_c64",
            Scenario::GrpcWebH1C1 => "grpc_web_h1_c1",
            Scenario::GrpcWebH1C64 => "grpc_web_h1_c64",
        }
    }

    pub fn parse(text: &str) -> Result<Scenario, String> {
        Scenario::every()
            .find(|s| s.name() == text)
            .ok_or_else(|| format!("unknown scenario {text:?}"))
    }

    /// `a,b,c` as scenarios; `grpc` and `protocols` name the two sets, `all` every
    /// scenario.
    pub fn parse_list(text: &str) -> Result<Vec<Scenario>, String> {
        match text {
            "all" => Ok(Scenario::every().collect()),
            "grpc" => Ok(Scenario::GRPC.to_vec()),
            "protocols" => Ok(Scenario::PROTOCOLS.to_vec()),
            _ => text.split(',').map(Scenario::parse).collect(),
        }
    }

    pub fn generator(self) -> Generator {
        let h2load = |wire, http1, concurrency| {
            Generator::H2load(H2loadLoad {
                wire,
                http1,
                concurrency,
            })
        };
        match self {
            Scenario::H2loadUnaryC1 => h2load(Wire::Grpc, false, 1),
            Scenario::H2loadUnaryC64 => h2load(Wire::Grpc, false, CONCURRENCY),
            Scenario::GrpcWebC1 => h2load(Wire::GrpcWeb, false, 1),
            Scenario::GrpcWebC64 => h2load(Wire::GrpcWeb, false, CONCURRENCY),
            Scenario::GrpcWebH1C1 => h2load(Wire::GrpcWeb, true, 1),
            Scenario::GrpcWebH1C64 => h2load(Wire::GrpcWeb, true, CONCURRENCY),
            Scenario::ConnectProtoC1 => h2load(Wire::ConnectProto, false, 1),
            Scenario::ConnectProtoC64 => h2load(Wire::ConnectProto, false, CONCURRENCY),
            Scenario::ConnectProtoH1C1 => h2load(Wire::ConnectProto, true, 1),
            Scenario::ConnectProtoH1C64 => h2load(Wire::ConnectProto, true, CONCURRENCY),
            Scenario::ConnectJsonC1 => h2load(Wire::ConnectJson, false, 1),
            Scenario::ConnectJsonC64 => h2load(Wire::ConnectJson, false, CONCURRENCY),
            Scenario::UnaryC1
            | Scenario::UnaryC64
            | Scenario::ServerStreamC64x10
            | Scenario::ServerStream1000
            | Scenario::ClientStream1000
            | Scenario::BidiC1
            | Scenario::BidiC64
            | Scenario::LargeUnary => Generator::Ours,
        }
    }

    /// For h2load's scenarios in another protocol than gRPC: the gRPC scenario of the same
    /// concurrency, to compare with.
    pub fn grpc_reference(self) -> Option<Scenario> {
        let Generator::H2load(load) = self.generator() else {
            return None;
        };
        if load.wire == Wire::Grpc {
            return None;
        }
        Scenario::PROTOCOLS.into_iter().find(|other| {
            other.generator()
                == Generator::H2load(H2loadLoad {
                    wire: Wire::Grpc,
                    http1: false,
                    concurrency: load.concurrency,
                })
        })
    }

    /// What one operation is: rates, CPU and latencies are per operation.
    pub fn operation(self) -> &'static str {
        match self {
            Scenario::ServerStreamC64x10 | Scenario::ServerStream1000 => "message",
            Scenario::ClientStream1000 => "message",
            Scenario::BidiC1 | Scenario::BidiC64 => "round trip",
            _ => "call",
        }
    }

    /// What a latency measures: a whole call, or one round trip of a bidi call.
    pub fn latency_of(self) -> &'static str {
        match self {
            Scenario::BidiC1 | Scenario::BidiC64 => "round trip",
            _ => "call",
        }
    }

    /// What the rate counts.
    pub fn unit(self) -> &'static str {
        match self {
            Scenario::LargeUnary => "MiB/s each way",
            _ => match self.operation() {
                "message" => "msg/s",
                "round trip" => "round trips/s",
                _ => "calls/s",
            },
        }
    }
}

/// What one run counted: operations, and the latency of each call or round trip.
#[derive(Debug, Default)]
pub struct Tally {
    pub operations: u64,
    pub latencies: Vec<Duration>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.operations += other.operations;
        self.latencies.extend(other.latencies);
    }
}

/// Runs `scenario`'s load from `client` while `budget` lasts.
pub async fn drive(scenario: Scenario, client: &Client, budget: &Budget) -> Result<Tally, String> {
    match scenario {
        Scenario::UnaryC1 => unary(client.clone(), budget.clone(), 1).await,
        Scenario::UnaryC64 => concurrently(client, budget, |c, b| unary(c, b, 1)).await,
        Scenario::ServerStreamC64x10 => {
            concurrently(client, budget, |c, b| server_stream(c, b, SHORT_STREAM)).await
        }
        Scenario::ServerStream1000 => {
            server_stream(client.clone(), budget.clone(), LONG_STREAM).await
        }
        Scenario::ClientStream1000 => client_stream(client.clone(), budget.clone()).await,
        Scenario::BidiC1 => ping_pong(client.clone(), budget.clone()).await,
        Scenario::BidiC64 => concurrently(client, budget, ping_pong).await,
        Scenario::LargeUnary => unary(client.clone(), budget.clone(), LARGE).await,
        _ => Err(format!(
            "{} is h2load's load, not rpc-bench's",
            scenario.name()
        )),
    }
}

/// [`CONCURRENCY`] copies of one load, sharing the budget and the connection.
async fn concurrently<F, Fut>(client: &Client, budget: &Budget, load: F) -> Result<Tally, String>
where
    F: Fn(Client, Budget) -> Fut,
    Fut: Future<Output = Result<Tally, String>> + Send + 'static,
{
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| tokio::spawn(load(client.clone(), budget.clone())))
        .collect();
    let mut tally = Tally::default();
    for task in tasks {
        tally.add(task.await.map_err(|err| err.to_string())??);
    }
    Ok(tally)
}

/// Unary echoes of `size` bytes, each checked.
async fn unary(client: Client, budget: Budget, size: usize) -> Result<Tally, String> {
    let text = "u".repeat(size);
    let mut tally = Tally::default();
    while budget.take() {
        let started = Instant::now();
        let len = client.unary(text.clone()).await?;
        if len != size {
            return Err(format!("an echo of {size} bytes came back as {len}"));
        }
        tally.latencies.push(started.elapsed());
        tally.operations += 1;
    }
    Ok(tally)
}

/// Server-streaming calls of `length` replies each; an operation is a reply.
async fn server_stream(client: Client, budget: Budget, length: usize) -> Result<Tally, String> {
    let mut tally = Tally::default();
    while budget.take() {
        let started = Instant::now();
        let received = client.server_streaming(length).await?;
        if received != length {
            return Err(format!("{received} of {length} replies arrived"));
        }
        tally.latencies.push(started.elapsed());
        tally.operations += length as u64;
    }
    Ok(tally)
}

/// Client-streaming calls of [`LONG_STREAM`] requests each; an operation is a request.
async fn client_stream(client: Client, budget: Budget) -> Result<Tally, String> {
    let mut tally = Tally::default();
    while budget.take() {
        let started = Instant::now();
        client.client_streaming(LONG_STREAM).await?;
        tally.latencies.push(started.elapsed());
        tally.operations += LONG_STREAM as u64;
    }
    Ok(tally)
}

/// One bidi call, ping-pong; an operation is a round trip.
async fn ping_pong(client: Client, budget: Budget) -> Result<Tally, String> {
    let mut latencies = Vec::new();
    client.ping_pong(&budget, &mut latencies).await?;
    Ok(Tally {
        operations: latencies.len() as u64,
        latencies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_has_its_own_name() {
        let names: Vec<&str> = Scenario::every().map(Scenario::name).collect();
        for name in &names {
            assert_eq!(Scenario::parse(name).unwrap().name(), *name);
        }
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert_eq!(Scenario::parse_list("all").unwrap().len(), names.len());
        assert_eq!(
            Scenario::parse_list("protocols").unwrap(),
            Scenario::PROTOCOLS
        );
        assert!(Scenario::parse("nope").is_err());
    }

    #[test]
    fn http1_loads_use_connections() {
        let Generator::H2load(load) = Scenario::GrpcWebH1C64.generator() else {
            panic!("h2load's scenario");
        };
        assert!(load.http1);
        assert_eq!(load.describe(), "gRPC-Web over HTTP/1.1, 64 connections");
        assert_eq!(
            Scenario::GrpcWebH1C64.grpc_reference(),
            Some(Scenario::H2loadUnaryC64)
        );
        assert_eq!(
            Scenario::ConnectJsonC1.grpc_reference(),
            Some(Scenario::H2loadUnaryC1)
        );
        assert_eq!(Scenario::H2loadUnaryC1.grpc_reference(), None);
        assert_eq!(Scenario::UnaryC1.grpc_reference(), None);
    }
}
