//! HTTP/2 floods against a generated server: legitimate load of small frames is served,
//! real floods are cut off.
//!
//! h2 keeps received DATA frames until the application reads them, and closes the
//! connection (GOAWAY `ENHANCE_YOUR_CALM`) once unread small frames pass a budget of half
//! the connection window. rgrpc reads request bytes ahead of its handlers (bounded), so
//! frames that a client legitimately sent never pile up there; a peer that sends tiny or
//! empty frames at a call that does not read them, or resets streams as fast as it opens
//! them (Rapid Reset, CVE-2023-44487), still meets h2's limits.
//!
//! Each test drives a raw h2 client. It synchronises with the server by PING, whose answer
//! comes after every frame sent before it was processed, so nothing depends on timing. A
//! server that cuts a flooding client off may close the socket while the client is still
//! writing, and the client then sees a broken pipe rather than the GOAWAY; so the cut-off
//! is read where it happens, in h2's log of the GOAWAY frames it sends (at DEBUG). Only the
//! server ever sends one with `ENHANCE_YOUR_CALM` here. The tests take turns: tracing
//! decides once per log statement, for the whole process, whether anyone listens, and
//! recomputes it as subscribers come and go; with one test at a time, the one listening is
//! this test's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::{BufMut, Bytes, BytesMut};
use h2::Reason;
use h2::client::SendRequest;
use rgrpc::{Context, RequestStream, ResponseSink, Status};
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::raw::frame;
use support::{Running, bounded, greeting, reply};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

/// The server's default limit of concurrent streams per connection.
const STREAMS: usize = 200;
/// Small request messages per stream, each sent as a DATA frame of its own (as grpc-js does).
const MESSAGES: usize = 50;

/// Bidi handlers that read nothing until the test opens the gate, then echo every request;
/// `BidiHello` with `x-never-read` never reads at all.
struct Gated {
    gate: Arc<Semaphore>,
}

impl HelloService for Gated {
    async fn bidi_hello(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        if ctx.metadata().contains_key("x-never-read") {
            ctx.cancelled().await;
            return Ok(());
        }
        // Each handler takes a permit and gives it back: the gate stays open once opened.
        drop(self.gate.acquire().await.unwrap());
        while let Some(request) = requests.message().await? {
            responses.send(reply(request.greeting)).await?;
        }
        Ok(())
    }
}

/// A raw HTTP/2 connection to the server, with its connection task.
struct Raw {
    requests: SendRequest<Bytes>,
    ping: h2::PingPong,
    connection: JoinHandle<Result<(), h2::Error>>,
}

impl Raw {
    async fn connect(server: &Running) -> Self {
        let tcp = TcpStream::connect(server.addr).await.unwrap();
        let mut builder = h2::client::Builder::new();
        // The client's own guard against resetting many streams would close the
        // connection before the server's does (Rapid Reset test).
        builder.max_local_error_reset_streams(None);
        let (requests, mut connection) = bounded("h2 handshake", builder.handshake(tcp))
            .await
            .unwrap();
        let ping = connection.ping_pong().unwrap();
        let connection = tokio::spawn(connection);
        Self {
            requests,
            ping,
            connection,
        }
    }

    /// Opens a bidi call; `never_read` asks for the handler that reads nothing.
    async fn open(
        &mut self,
        never_read: bool,
    ) -> Result<(h2::client::ResponseFuture, h2::SendStream<Bytes>), h2::Error> {
        let mut request = http::Request::builder()
            .method("POST")
            .uri("http://127.0.0.1/hello.HelloService/BidiHello")
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        if never_read {
            request = request.header("x-never-read", "1");
        }
        let mut requests = bounded("h2 ready", self.requests.clone().ready()).await?;
        requests.send_request(request.body(()).unwrap(), false)
    }

    /// Waits until the server has processed every frame sent so far (its PING answer
    /// comes after them), or for the error that closed the connection.
    async fn sync(&mut self) -> Result<(), h2::Error> {
        bounded("PING answer", self.ping.ping(h2::Ping::opaque()))
            .await
            .map(drop)
    }

    /// Waits for the server to have read everything sent and closed the connection, then
    /// asserts it closed it with `ENHANCE_YOUR_CALM` for `why`.
    async fn assert_cut_off(mut self, frames: &SentFrames, why: &str) {
        let _ = self.sync().await;
        let _ = bounded("the connection's end", self.connection).await;
        frames.assert_cut_off(why);
    }
}

/// The frames h2 sends, as it logs them at DEBUG, collected while the guard lives. Tests
/// run on a single-threaded runtime, so the server's tasks log on the test's thread.
#[derive(Clone, Default)]
struct SentFrames(Arc<Mutex<Vec<u8>>>);

impl Write for SentFrames {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Held by each test for its whole run (see the module documentation).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl SentFrames {
    fn record() -> (Self, tracing::subscriber::DefaultGuard) {
        let frames = Self::default();
        let writer = frames.clone();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || writer.clone()),
            )
            .with(Targets::new().with_target("h2::codec::framed_write", tracing::Level::DEBUG));
        let guard = tracing::subscriber::set_default(subscriber);
        tracing::callsite::rebuild_interest_cache();
        (frames, guard)
    }

    /// The GOAWAY frames sent, as logged.
    fn goaways(&self) -> Vec<String> {
        let log = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        log.lines()
            .filter(|line| line.contains("GoAway"))
            .map(str::to_owned)
            .collect()
    }

    /// Asserts the server closed the connection with `ENHANCE_YOUR_CALM` for `why` (h2's
    /// debug data).
    fn assert_cut_off(&self, why: &str) {
        let goaways = self.goaways();
        assert!(
            goaways
                .iter()
                .any(|line| line.contains("error_code: ENHANCE_YOUR_CALM")
                    && line.contains(&format!("debug_data: b\"{why}\""))),
            "expected a GOAWAY ENHANCE_YOUR_CALM {why:?} from the server, got {goaways:?}"
        );
    }
}

/// A server of `service` on 127.0.0.1. The tests synchronise by PING far more often than
/// gRPC's keepalive policy lets a client ping, so the policy is off here (its own tests are
/// in `connection_management.rs`).
async fn serve(service: Gated) -> Running {
    let server = rgrpc::Server::builder()
        .keepalive_min_ping_interval(std::time::Duration::ZERO)
        .keepalive_permit_without_calls(true);
    Running::serve(server.add_service(HelloServiceServer::new(service))).await
}

fn server() -> (Arc<Semaphore>, Gated) {
    let gate = Arc::new(Semaphore::new(0));
    let service = Gated { gate: gate.clone() };
    (gate, service)
}

#[tokio::test]
async fn many_streams_of_small_frames_are_all_served() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (gate, service) = server();
    let server = serve(service).await;
    let mut raw = Raw::connect(&server).await;
    let mut calls = Vec::new();
    for stream in 0..STREAMS {
        let (response, mut body) = raw.open(false).await.unwrap();
        for message in 0..MESSAGES {
            let request = frame(&greeting(format!("{stream}.{message}")));
            body.send_data(Bytes::from(request), false).unwrap();
        }
        body.send_data(Bytes::new(), true).unwrap();
        calls.push(response);
    }
    // 10,000 frames of about 15 bytes are now at the server, and no handler has read one:
    // h2 alone would hold them against a budget of about 2,200 and close the connection.
    raw.sync().await.expect("the connection is still open");
    gate.add_permits(1);
    let mut echoed = 0;
    for response in calls {
        let response = bounded("response headers", response).await.unwrap();
        let mut body = response.into_body();
        let mut data = BytesMut::new();
        while let Some(chunk) = bounded("response data", body.data()).await {
            let chunk = chunk.unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
            data.put(chunk);
        }
        let trailers = bounded("trailers", body.trailers()).await.unwrap().unwrap();
        assert_eq!(trailers.get("grpc-status").unwrap(), "0", "{trailers:?}");
        // Every reply is a frame with a 5-byte prefix; count them.
        let mut rest = &data[..];
        while rest.len() >= 5 {
            let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            rest = &rest[5 + len..];
            echoed += 1;
        }
    }
    assert_eq!(echoed, STREAMS * MESSAGES);
}

#[tokio::test]
async fn tiny_frames_at_a_call_that_does_not_read_are_cut_off() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (frames, _recording) = SentFrames::record();
    let (_gate, service) = server();
    let server = serve(service).await;
    let mut raw = Raw::connect(&server).await;
    let (_response, mut body) = raw.open(true).await.unwrap();
    // 16 KiB are read ahead, then h2's budget of ~16,500 tiny frames: well under 100,000.
    for sent in 1..=100_000 {
        if body.send_data(Bytes::from_static(b"x"), false).is_err() {
            break;
        }
        if sent % 5_000 == 0 && raw.sync().await.is_err() {
            break;
        }
    }
    raw.assert_cut_off(&frames, "too_many_data_frames").await;
}

#[tokio::test]
async fn empty_frames_are_cut_off() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (frames, _recording) = SentFrames::record();
    let (_gate, service) = server();
    let server = serve(service).await;
    let mut raw = Raw::connect(&server).await;
    let (_response, mut body) = raw.open(true).await.unwrap();
    // h2 allows 100 empty, non-final DATA frames per connection: they carry nothing.
    for _ in 0..1_000 {
        if body.send_data(Bytes::new(), false).is_err() {
            break;
        }
    }
    raw.assert_cut_off(&frames, "too_many_data_frames").await;
}

#[tokio::test]
async fn rapid_reset_is_cut_off() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (frames, _recording) = SentFrames::record();
    let (_gate, service) = server();
    let server = serve(service).await;
    let mut raw = Raw::connect(&server).await;
    // Open and at once reset: on this single-threaded runtime nothing is written until
    // the loop yields, so the server reads the pairs in bursts and finds more reset streams
    // waiting to be accepted than it allows (20).
    for _ in 0..1_000 {
        match raw.open(false).await {
            Ok((_response, mut body)) => body.send_reset(Reason::CANCEL),
            Err(_) => break,
        }
    }
    raw.assert_cut_off(&frames, "too_many_resets").await;
    // The server itself is fine: a new connection is served.
    let client = server.client().await;
    let answer = bounded(
        "a call on a new connection",
        client.say_hello(greeting("ok")),
    )
    .await
    .unwrap_err();
    // Gated implements only BidiHello: the point is that the call reached the server.
    assert_eq!(answer.code(), rgrpc::Code::Unimplemented);
}
