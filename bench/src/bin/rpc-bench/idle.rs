//! Memory held by idle connections and idle streams: a holder process (the tonic client)
//! opens N HTTP/2 connections to a server, then one bidi stream on each (one message, one
//! reply, then left open), and the server's memory is read from `/proc` at each step.
//!
//! One stream per connection keeps every server under its per-connection stream limit
//! (rgrpc's default is 200) whatever N is.

use std::io::BufRead;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::child::{Launch, Process};
use crate::clients;
use crate::procfs::{self, Memory};
use crate::proto::tonic_hello::hello_service_client::HelloServiceClient;
use crate::proto::tonic_hello::{HelloRequest, HelloResponse};
use crate::servers::ServerStack;

/// How long the holder may take for a step (1,000 connections take well under a second).
const STEP_LIMIT: Duration = Duration::from_secs(120);
/// How long memory is left to settle before each reading.
const SETTLE: Duration = Duration::from_millis(500);

/// The server's memory at each step.
#[derive(Clone, Copy, Debug)]
pub struct IdleFigures {
    pub connections: usize,
    pub baseline: Memory,
    pub connected: Memory,
    pub streaming: Memory,
}

/// KiB per item between two readings.
fn per_item(before: u64, after: u64, items: usize) -> f64 {
    (after as f64 - before as f64) / items.max(1) as f64
}

impl IdleFigures {
    pub fn rss_per_connection(&self) -> f64 {
        per_item(
            self.baseline.rss_kib,
            self.connected.rss_kib,
            self.connections,
        )
    }

    pub fn dirty_per_connection(&self) -> f64 {
        per_item(
            self.baseline.private_dirty_kib,
            self.connected.private_dirty_kib,
            self.connections,
        )
    }

    pub fn rss_per_stream(&self) -> f64 {
        per_item(
            self.connected.rss_kib,
            self.streaming.rss_kib,
            self.connections,
        )
    }

    pub fn dirty_per_stream(&self) -> f64 {
        per_item(
            self.connected.private_dirty_kib,
            self.streaming.private_dirty_kib,
            self.connections,
        )
    }
}

/// Starts `stack`'s server (one worker thread, on `server`'s cores) and the holder (on
/// `holder`'s), and reads the server's memory before, with `connections` idle connections,
/// and with one idle stream on each.
pub fn measure(
    stack: ServerStack,
    connections: usize,
    server: &Launch,
    holder: &Launch,
) -> Result<IdleFigures, String> {
    let args = ["serve", "--server", stack.name(), "--threads", "1"].map(str::to_owned);
    let (server, addr) = Process::server(server.this(&args)?, &format!("{} server", stack.name()))?;
    let pid = server.pid();
    let args = [
        "hold".to_owned(),
        "--addr".to_owned(),
        addr,
        "--connections".to_owned(),
        connections.to_string(),
    ];
    let mut holder = Process::start(holder.this(&args)?, "holder")?;
    holder.expect("warmed", STEP_LIMIT)?;
    std::thread::sleep(SETTLE);
    let fds = procfs::open_fds(pid)?;
    let baseline = Memory::of(pid)?;

    holder.say("connect")?;
    holder.expect("connected", STEP_LIMIT)?;
    wait_for_fds(pid, fds + connections)?;
    std::thread::sleep(SETTLE);
    let connected = Memory::of(pid)?;

    holder.say("streams")?;
    holder.expect("streams open", STEP_LIMIT)?;
    std::thread::sleep(SETTLE);
    let streaming = Memory::of(pid)?;

    holder.stop()?;
    server.stop()?;
    Ok(IdleFigures {
        connections,
        baseline,
        connected,
        streaming,
    })
}

/// Waits (bounded) until the server has accepted every connection: its descriptors.
fn wait_for_fds(pid: u32, wanted: usize) -> Result<(), String> {
    for _ in 0..1000 {
        if procfs::open_fds(pid)? >= wanted {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(format!(
        "the server has {} descriptors open, not the {wanted} expected",
        procfs::open_fds(pid)?
    ))
}

/// Commands from the measuring process, one per stdin line; the channel closes with
/// stdin.
fn commands() -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel(4);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if sender.blocking_send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

async fn expect(commands: &mut mpsc::Receiver<String>, wanted: &str) -> Result<(), String> {
    match tokio::time::timeout(STEP_LIMIT * 5, commands.recv()).await {
        Ok(Some(command)) if command == wanted => Ok(()),
        Ok(Some(command)) => Err(format!("expected {wanted:?}, got {command:?}")),
        Ok(None) => Err(format!("stdin closed before {wanted:?}")),
        Err(_) => Err(format!("no {wanted:?} within {:?}", STEP_LIMIT * 5)),
    }
}

type Held = (mpsc::Sender<HelloRequest>, tonic::Streaming<HelloResponse>);

/// Opens a bidi stream on `channel`, has one message echoed, and keeps it open.
async fn idle_stream(channel: tonic::transport::Channel) -> Result<Held, String> {
    let (sender, receiver) = mpsc::channel(1);
    sender
        .send(HelloRequest {
            greeting: "idle".to_owned(),
        })
        .await
        .map_err(|_| "the stream closed")?;
    let mut replies = HelloServiceClient::new(channel)
        .bidi_hello(ReceiverStream::new(receiver))
        .await
        .map_err(|status| status.to_string())?
        .into_inner();
    replies
        .message()
        .await
        .map_err(|status| status.to_string())?
        .ok_or("no echo")?;
    Ok((sender, replies))
}

/// `rpc-bench hold`: warm the server up on a connection of its own (closed again), then at
/// each command open the connections, then the streams, reporting each step on stdout;
/// hold everything until stdin closes.
pub async fn hold(addr: String, connections: usize) -> Result<(), String> {
    let uri = format!("http://{addr}");
    let mut commands = commands();
    {
        let channel = clients::channel(uri.clone()).await?;
        HelloServiceClient::new(channel.clone())
            .say_hello(HelloRequest {
                greeting: "warm".to_owned(),
            })
            .await
            .map_err(|status| status.to_string())?;
        drop(idle_stream(channel).await?);
    }
    println!("warmed");

    expect(&mut commands, "connect").await?;
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections {
        let channel = clients::channel(uri.clone()).await.map_err(|problem| {
            format!(
                "{problem} (after {} connections; is `ulimit -n` high enough?)",
                channels.len()
            )
        })?;
        channels.push(channel);
    }
    println!("connected");

    expect(&mut commands, "streams").await?;
    let mut held = Vec::with_capacity(connections);
    for channel in &channels {
        held.push(idle_stream(channel.clone()).await?);
    }
    println!("streams open");

    // Held until the measuring process closes stdin (bounded, as every wait here).
    let _ = tokio::time::timeout(STEP_LIMIT * 5, commands.recv()).await;
    drop(held);
    drop(channels);
    Ok(())
}
