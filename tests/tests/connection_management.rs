//! Connection management on the server, over real HTTP/2 on 127.0.0.1: maximum connection
//! age (GOAWAY, calls in flight finish, the next call goes over a new connection) and its
//! grace (calls past it are cancelled), maximum idle time, gRPC's keepalive enforcement
//! (GOAWAY `ENHANCE_YOUR_CALM` "too_many_pings"), h2's two-phase GOAWAY, the drain timeout,
//! and health's `NOT_SERVING` ahead of the shutdown's GOAWAY.
//!
//! The wire-level tests speak HTTP/2 by hand (frames written and read over a `TcpStream`)
//! to see exactly which frames the server sends, and in which order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rgrpc::{Code, Context, Status};
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::greeter::Greeter;
use support::{LIMIT, Running, bounded, greeting, raw, reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};

// ---- a service that says which connection served it --------------------------------

/// Answers each call with the client's port (so which connection carried it); "gated"
/// waits for the gate first; "forever" never answers, and reports when its call is
/// cancelled.
#[derive(Clone)]
struct Ports {
    entered: mpsc::UnboundedSender<()>,
    gate: Arc<Notify>,
    cancelled: mpsc::UnboundedSender<()>,
    ports: Arc<Mutex<BTreeSet<u16>>>,
}

/// What a test learns from [`Ports`].
struct PortsProbe {
    entered: mpsc::UnboundedReceiver<()>,
    gate: Arc<Notify>,
    cancelled: mpsc::UnboundedReceiver<()>,
    ports: Arc<Mutex<BTreeSet<u16>>>,
}

fn ports() -> (Ports, PortsProbe) {
    let (entered, entered_rx) = mpsc::unbounded_channel();
    let (cancelled, cancelled_rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Notify::new());
    let ports = Arc::new(Mutex::new(BTreeSet::new()));
    let service = Ports {
        entered,
        gate: gate.clone(),
        cancelled,
        ports: ports.clone(),
    };
    let probe = PortsProbe {
        entered: entered_rx,
        gate,
        cancelled: cancelled_rx,
        ports,
    };
    (service, probe)
}

impl HelloService for Ports {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        let port = ctx.peer().map_or(0, |peer| peer.port());
        self.ports.lock().unwrap().insert(port);
        match request.greeting.as_str() {
            "gated" => {
                let _ = self.entered.send(());
                tokio::time::timeout(LIMIT, self.gate.notified())
                    .await
                    .map_err(|_| Status::deadline_exceeded("the gate never opened"))?;
            }
            "forever" => {
                // Reported from a task of its own: a cancelled handler is dropped, and
                // what it would have done after the await never runs.
                let (watched, cancelled) = (ctx.clone(), self.cancelled.clone());
                tokio::spawn(async move {
                    watched.cancelled().await;
                    let _ = cancelled.send(());
                });
                let _ = self.entered.send(());
                std::future::pending::<()>().await;
            }
            _ => {}
        }
        Ok(reply(port.to_string()))
    }
}

async fn serve_ports(server: rgrpc::Server) -> (Running, PortsProbe) {
    let (service, probe) = ports();
    let running = Running::serve(server.add_service(HelloServiceServer::new(service))).await;
    (running, probe)
}

async fn next_signal(what: &str, signals: &mut mpsc::UnboundedReceiver<()>) {
    bounded(what, signals.recv()).await.unwrap();
}

// ---- maximum age -----------------------------------------------------------------------

#[tokio::test]
async fn an_old_connection_finishes_its_call_and_the_next_call_takes_a_new_connection() {
    // A grace far above the test's run: the call in flight must finish within it.
    let server = rgrpc::Server::builder()
        .max_connection_age(Duration::from_millis(400))
        .max_connection_age_grace(LIMIT);
    let (server, mut probe) = serve_ports(server).await;
    let client = server.client().await;
    let first = bounded("a first call", client.say_hello(greeting("port?")))
        .await
        .unwrap()
        .into_inner()
        .reply;

    let gated = {
        let client = client.clone();
        tokio::spawn(async move { client.say_hello(greeting("gated")).await })
    };
    next_signal("the gated call", &mut probe.entered).await;

    // Past the age, the client's calls move to a new connection (from another port). A
    // call the client was about to send as it read the GOAWAY may fail, never having left
    // it (hyper's client gives it up): UNAVAILABLE, which a client retries.
    let mut failed = Vec::new();
    let second = bounded("a call on a new connection", async {
        loop {
            match client.say_hello(greeting("port?")).await {
                Ok(response) if response.get_ref().reply != first => {
                    return response.into_inner().reply;
                }
                Ok(_) => {}
                Err(status) => failed.push(status),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_ne!(second, first);
    assert!(
        failed
            .iter()
            .all(|status| status.code() == Code::Unavailable),
        "{failed:?}"
    );

    // The call in flight on the old connection still completes, there.
    probe.gate.notify_one();
    let gated = bounded("the gated call", gated).await.unwrap().unwrap();
    assert_eq!(gated.into_inner().reply, first);
    assert!(probe.ports.lock().unwrap().len() >= 2);
}

#[tokio::test]
async fn past_the_age_grace_the_handler_is_cancelled_and_the_client_gets_an_error() {
    let server = rgrpc::Server::builder()
        .max_connection_age(Duration::from_millis(200))
        .max_connection_age_grace(Duration::from_millis(200));
    let (server, mut probe) = serve_ports(server).await;
    let client = server.client().await;
    let call = tokio::spawn(async move { client.say_hello(greeting("forever")).await });
    next_signal("the endless call", &mut probe.entered).await;
    next_signal("the handler's cancellation", &mut probe.cancelled).await;
    let status = bounded("the endless call", call)
        .await
        .unwrap()
        .unwrap_err();
    assert_ne!(status.code(), Code::Ok, "{status:?}");
}

// ---- h2's two-phase GOAWAY --------------------------------------------------------------

/// A call the client starts after the first GOAWAY (last stream 2^31-1) but before it
/// answered the PING that goes with it is served: the final GOAWAY names it. The same
/// whichever asked for the GOAWAY: the connection's age, or the server's shutdown.
#[tokio::test]
async fn a_call_started_after_the_first_goaway_is_served() {
    let aging = rgrpc::Server::builder().max_connection_age(Duration::from_millis(100));
    let aging = Running::serve(aging.add_service(HelloServiceServer::new(Greeter))).await;
    let raw = RawConnection::connect(aging.addr).await;
    served_after_the_first_goaway(raw).await;

    let stopping =
        Running::serve(rgrpc::Server::builder().add_service(HelloServiceServer::new(Greeter)))
            .await;
    let mut raw = RawConnection::connect(stopping.addr).await;
    // The connection is up (the server answered) before the shutdown starts.
    raw.ping_answered().await;
    let stopped = tokio::spawn(stopping.shut_down());
    served_after_the_first_goaway(raw).await;
    bounded("the shutdown", stopped).await.unwrap();
}

async fn served_after_the_first_goaway(mut raw: RawConnection) {
    raw.ack_pings = false;
    let (first, ping) = raw.goaway_and_ping().await;
    assert_eq!(first.goaway().last_stream, 0x7fff_ffff, "{first:?}");
    assert_eq!(first.goaway().code, 0, "NO_ERROR");

    raw.unary(
        1,
        "/hello.HelloService/SayHello",
        &raw::frame(&greeting("late")),
    )
    .await;
    raw.send(PING, ACK, 0, &ping.payload).await;
    raw.ack_pings = true;
    let frames = raw.until_closed().await;
    let final_goaway = frames
        .iter()
        .find(|frame| frame.kind == GOAWAY)
        .expect("no final GOAWAY");
    assert_eq!(final_goaway.goaway().last_stream, 1);
    let data: Vec<u8> = frames
        .iter()
        .filter(|frame| frame.kind == DATA && frame.stream == 1)
        .flat_map(|frame| frame.payload.clone())
        .collect();
    assert_eq!(decode_reply(&data), "Hello, late!");
}

// ---- maximum idle time --------------------------------------------------------------------

#[tokio::test]
async fn an_idle_connection_is_closed_and_one_with_a_call_open_is_not() {
    let server = rgrpc::Server::builder().max_connection_idle(Duration::from_millis(500));
    let server = Running::serve(server.add_service(HelloServiceServer::new(Greeter))).await;
    let mut busy = RawConnection::connect(server.addr).await;
    busy.unary(
        1,
        "/hello.HelloService/SayHello",
        &raw::frame(&greeting("sleep")),
    )
    .await;

    let mut idle = RawConnection::connect(server.addr).await;
    let frames = idle.until_closed().await;
    assert!(
        frames.iter().any(|frame| frame.kind == GOAWAY),
        "closed without GOAWAY: {frames:?}"
    );

    // The busy one was connected longer, and is still open: it answers a PING, no GOAWAY.
    let frames = busy.ping_answered().await;
    assert!(
        frames.iter().all(|frame| frame.kind != GOAWAY),
        "{frames:?}"
    );
}

// ---- keepalive enforcement ----------------------------------------------------------------

#[tokio::test]
async fn a_client_pinging_too_often_gets_goaway_enhance_your_calm_too_many_pings() {
    // The default policy (5 minutes), with a call open so the rate alone is judged.
    let server =
        Running::serve(rgrpc::Server::builder().add_service(HelloServiceServer::new(Greeter)))
            .await;
    let mut raw = RawConnection::connect(server.addr).await;
    raw.unary(
        1,
        "/hello.HelloService/SayHello",
        &raw::frame(&greeting("sleep")),
    )
    .await;
    for n in 0..4u8 {
        raw.send(PING, 0, 0, &[n; 8]).await;
    }
    assert_too_many_pings(raw.until_closed().await);
}

#[tokio::test]
async fn pings_at_the_permitted_rate_are_answered() {
    let server = rgrpc::Server::builder()
        .keepalive_min_ping_interval(Duration::from_millis(50))
        .keepalive_permit_without_calls(true);
    let server = Running::serve(server.add_service(HelloServiceServer::new(Greeter))).await;
    let mut raw = RawConnection::connect(server.addr).await;
    assert_answered_at_a_permitted_rate(&mut raw).await;
}

#[tokio::test]
async fn pings_without_calls_are_strikes_unless_permitted() {
    // Not permitted (the default), no call open: the permitted rate is no excuse.
    let server = rgrpc::Server::builder().keepalive_min_ping_interval(Duration::from_millis(50));
    let server = Running::serve(server.add_service(HelloServiceServer::new(Greeter))).await;
    let mut raw = RawConnection::connect(server.addr).await;
    let mut frames = Vec::new();
    for n in 0..4u8 {
        frames.extend(raw.wait_for_ping_ack_or_goaway([n; 8]).await);
        tokio::time::sleep(PING_PAUSE).await;
    }
    frames.extend(raw.until_closed().await);
    assert_too_many_pings(frames);

    // With a call open, the same pings are fine.
    let mut raw = RawConnection::connect(server.addr).await;
    raw.unary(
        1,
        "/hello.HelloService/SayHello",
        &raw::frame(&greeting("sleep")),
    )
    .await;
    assert_answered_at_a_permitted_rate(&mut raw).await;
}

/// Between a PING's ACK and the next PING: far above the servers' 50 ms minimum. The
/// server reads each PING after the client got the previous one's ACK, so the pause is a
/// lower bound on what the server measures, however slow the machine.
const PING_PAUSE: Duration = Duration::from_millis(200);

/// Pings at a permitted rate, each answered, and no GOAWAY.
async fn assert_answered_at_a_permitted_rate(raw: &mut RawConnection) {
    for n in 0..5u8 {
        let frames = raw.wait_for_ping_ack_or_goaway([n; 8]).await;
        assert!(
            frames.iter().all(|frame| frame.kind != GOAWAY),
            "ping {n}: {frames:?}"
        );
        tokio::time::sleep(PING_PAUSE).await;
    }
}

fn assert_too_many_pings(frames: Vec<Frame>) {
    let goaway = frames
        .iter()
        .find(|frame| frame.kind == GOAWAY)
        .unwrap_or_else(|| panic!("no GOAWAY: {frames:?}"));
    let goaway = goaway.goaway();
    assert_eq!(goaway.code, ENHANCE_YOUR_CALM, "{goaway:?}");
    assert_eq!(goaway.debug, b"too_many_pings", "{goaway:?}");
}

// ---- shutdown -------------------------------------------------------------------------------

// On worker threads, so that the watch's task and the connection's may run at once: the
// order must not depend on which the scheduler runs first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_watch_reads_not_serving_before_the_goaway() {
    let server =
        Running::serve(rgrpc::Server::builder().add_service(HelloServiceServer::new(Greeter)))
            .await;
    let mut raw = RawConnection::connect(server.addr).await;
    // HealthCheckRequest { service: "" }: an empty message.
    raw.unary(1, "/grpc.health.v1.Health/Watch", &[0, 0, 0, 0, 0])
        .await;
    let serving = raw.next_data_on(1).await;
    assert_eq!(serving, [0, 0, 0, 0, 2, 0x08, 1], "SERVING");

    let stopped = tokio::spawn(server.shut_down());
    let frames = raw.until_closed().await;
    let not_serving = frames
        .iter()
        .position(|frame| frame.kind == DATA && frame.payload.ends_with(&[0, 0, 0, 0, 2, 0x08, 2]))
        .unwrap_or_else(|| panic!("no NOT_SERVING: {frames:?}"));
    let goaway = frames
        .iter()
        .position(|frame| frame.kind == GOAWAY)
        .unwrap_or_else(|| panic!("no GOAWAY: {frames:?}"));
    assert!(not_serving < goaway, "{frames:?}");
    bounded("the shutdown", stopped).await.unwrap();
}

#[tokio::test]
async fn the_drain_timeout_cancels_a_handler_that_never_ends_and_serving_returns() {
    let server = rgrpc::Server::builder().drain_timeout(Duration::from_millis(300));
    let (server, mut probe) = serve_ports(server).await;
    let client = server.client().await;
    let call = tokio::spawn(async move { client.say_hello(greeting("forever")).await });
    next_signal("the endless call", &mut probe.entered).await;

    // Returns: the bound is the test's, the drain's own is 300 ms.
    server.shut_down().await;
    next_signal("the handler's cancellation", &mut probe.cancelled).await;
    let status = bounded("the endless call", call)
        .await
        .unwrap()
        .unwrap_err();
    assert_ne!(status.code(), Code::Ok, "{status:?}");
}

#[tokio::test]
async fn the_drain_timeout_holds_in_process_too() {
    let (service, mut probe) = ports();
    let server = rgrpc::Server::builder()
        .drain_timeout(Duration::from_millis(300))
        .add_service(HelloServiceServer::new(service))
        .serve_in_process();
    let client =
        rgrpc_tests::hello::hello_service_client::HelloServiceClient::new(server.channel());
    let call = tokio::spawn(async move { client.say_hello(greeting("forever")).await });
    next_signal("the endless call", &mut probe.entered).await;

    bounded("the in-process shutdown", server.shutdown())
        .await
        .unwrap();
    next_signal("the handler's cancellation", &mut probe.cancelled).await;
    let status = bounded("the endless call", call)
        .await
        .unwrap()
        .unwrap_err();
    assert_ne!(status.code(), Code::Ok, "{status:?}");
}

// ---- HTTP/2 by hand -----------------------------------------------------------------------

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const ACK: u8 = 0x1;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ENHANCE_YOUR_CALM: u32 = 0xb;

#[derive(Debug, Clone)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

#[derive(Debug)]
struct GoAway {
    last_stream: u32,
    code: u32,
    debug: Vec<u8>,
}

impl Frame {
    fn goaway(&self) -> GoAway {
        assert_eq!(self.kind, GOAWAY);
        let word = |at: usize| u32::from_be_bytes(self.payload[at..at + 4].try_into().unwrap());
        GoAway {
            last_stream: word(0) & 0x7fff_ffff,
            code: word(4),
            debug: self.payload[8..].to_vec(),
        }
    }
}

/// A client connection written by hand: frames out, frames in; it answers the server's
/// SETTINGS and (unless told not to) its PINGs, as any client does.
struct RawConnection {
    stream: TcpStream,
    ack_pings: bool,
}

impl RawConnection {
    async fn connect(addr: SocketAddr) -> Self {
        let mut stream = bounded("connect", TcpStream::connect(addr)).await.unwrap();
        stream
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        let mut raw = Self {
            stream,
            ack_pings: true,
        };
        raw.send(SETTINGS, 0, 0, &[]).await;
        raw
    }

    async fn send(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let mut frame = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        frame.extend_from_slice(&[kind, flags]);
        frame.extend_from_slice(&stream.to_be_bytes());
        frame.extend_from_slice(payload);
        self.stream.write_all(&frame).await.unwrap();
    }

    /// Starts a call on `stream` to `path`, sending `body` (whole gRPC frames) and the end
    /// of the request.
    async fn unary(&mut self, stream: u32, path: &str, body: &[u8]) {
        let mut block = Vec::new();
        for (name, value) in [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "127.0.0.1"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ] {
            // HPACK: a literal field without indexing, new name, no Huffman coding.
            block.push(0);
            block.push(name.len() as u8);
            block.extend_from_slice(name.as_bytes());
            block.push(value.len() as u8);
            block.extend_from_slice(value.as_bytes());
        }
        self.send(HEADERS, END_HEADERS, stream, &block).await;
        self.send(DATA, END_STREAM, stream, body).await;
    }

    /// The next frame, or `None` once the server closed the connection.
    async fn next(&mut self) -> Option<Frame> {
        let mut header = [0u8; 9];
        match bounded("a frame", self.stream.read_exact(&mut header)).await {
            Ok(_) => {}
            Err(_) => return None,
        }
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0u8; length];
        if bounded("a frame's payload", self.stream.read_exact(&mut payload))
            .await
            .is_err()
        {
            return None;
        }
        let frame = Frame {
            kind: header[3],
            flags: header[4],
            stream: u32::from_be_bytes(header[5..9].try_into().unwrap()) & 0x7fff_ffff,
            payload,
        };
        if frame.kind == SETTINGS && frame.flags & ACK == 0 {
            self.send(SETTINGS, ACK, 0, &[]).await;
        }
        if frame.kind == PING && frame.flags & ACK == 0 && self.ack_pings {
            let payload = frame.payload.clone();
            // The server may have closed its side already.
            let mut ack = (8u32).to_be_bytes()[1..].to_vec();
            ack.extend_from_slice(&[PING, ACK, 0, 0, 0, 0]);
            ack.extend_from_slice(&payload);
            let _ = self.stream.write_all(&ack).await;
        }
        Some(frame)
    }

    /// Every frame until the server closes the connection.
    async fn until_closed(&mut self) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next().await {
            frames.push(frame);
        }
        frames
    }

    /// Frames up to the first GOAWAY and the PING after it (not answered).
    async fn goaway_and_ping(&mut self) -> (Frame, Frame) {
        let mut goaway = None;
        loop {
            let frame = self.next().await.expect("closed before the GOAWAY's PING");
            match frame.kind {
                GOAWAY => goaway = Some(frame),
                PING if frame.flags & ACK == 0 && goaway.is_some() => {
                    return (goaway.unwrap(), frame);
                }
                _ => {}
            }
        }
    }

    /// Sends a PING with `payload` and reads up to its ACK (or a GOAWAY); the frames read.
    async fn wait_for_ping_ack_or_goaway(&mut self, payload: [u8; 8]) -> Vec<Frame> {
        self.send(PING, 0, 0, &payload).await;
        let mut frames = Vec::new();
        while let Some(frame) = self.next().await {
            let done = frame.kind == GOAWAY
                || (frame.kind == PING && frame.flags & ACK != 0 && frame.payload == payload);
            frames.push(frame);
            if done {
                break;
            }
        }
        frames
    }

    /// Frames up to a fresh PING's ACK; fails if the connection closes first.
    async fn ping_answered(&mut self) -> Vec<Frame> {
        let payload = *b"still up";
        let frames = self.wait_for_ping_ack_or_goaway(payload).await;
        let last = frames.last().expect("closed before the PING's ACK");
        assert_eq!(
            (last.kind, &last.payload[..]),
            (PING, &payload[..]),
            "{frames:?}"
        );
        frames
    }

    /// The payload of the next DATA frame on `stream`.
    async fn next_data_on(&mut self, stream: u32) -> Vec<u8> {
        loop {
            let frame = self.next().await.expect("closed before DATA");
            if frame.kind == DATA && frame.stream == stream && !frame.payload.is_empty() {
                return frame.payload;
            }
        }
    }
}

/// The reply of a hello response sent as one gRPC frame.
fn decode_reply(data: &[u8]) -> String {
    use rgrpc::prost::Message;
    assert!(data.len() >= 5, "no response message: {data:?}");
    HelloResponse::decode(&data[5..]).unwrap().reply
}
