//! Faults under a live client: a server that restarts (cleanly or by crashing), a graceful
//! shutdown with calls in flight, and a replica killed under load behind a balanced
//! channel. Servers run on 127.0.0.1; replicas are processes of `hello-replica`, killed by
//! PID. Every wait is bounded.
//!
//! A server that goes away and comes back does so on a [`HeldPort`]: the test holds the
//! port for its whole length, so that meanwhile connections are refused and no other socket
//! can take it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use rgrpc::{Code, Context, ResponseSink, Status};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::{LIMIT, bounded, greeting, reply};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::net::{TcpListener, TcpSocket};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

/// How long a fault test keeps retrying before it gives up on a recovery: a hang detector,
/// far above the moments a reconnection takes (the balanced channel's retry pauses grow to
/// 5 s, but its replicas are never down long enough here for that).
const RECOVERY: Duration = LIMIT;
/// The pause between two attempts of a retry loop.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

// ---- server restart ------------------------------------------------------------------

/// A server stopped (gracefully) and started again on the same port: meanwhile calls fail
/// with UNAVAILABLE, then the same client, on the same channel, works again by itself.
#[tokio::test]
async fn a_client_reconnects_by_itself_after_a_server_restart() {
    let port = HeldPort::new();
    let server = LocalServer::start(&port).await;
    let addr = server.addr;
    let client = HelloServiceClient::new(
        rgrpc::Channel::connect(format!("http://{addr}"))
            .await
            .unwrap(),
    );
    assert_eq!(say_hello(&client, "before").await.unwrap(), "hello before");

    server.stop().await;
    for attempt in 0..3 {
        let status = say_hello(&client, "while down").await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::Unavailable,
            "attempt {attempt}: {status:?}"
        );
    }

    let _server = LocalServer::start(&port).await;
    let (reply, failed) = until_ok(|| say_hello(&client, "after")).await;
    assert_eq!(reply, "hello after");
    assert!(
        failed.iter().all(|code| *code == Code::Unavailable),
        "while reconnecting, calls may only fail with UNAVAILABLE: {failed:?}"
    );
}

/// A replica process killed with SIGKILL (no GOAWAY, no goodbye) while a call is in flight,
/// then started again on its port: the call in flight fails with UNAVAILABLE, so do calls
/// while it is down, and then the same client reaches the new process by itself.
#[tokio::test]
async fn a_client_reconnects_by_itself_after_a_server_crash() {
    let port = HeldPort::new();
    let mut first = Replica::start("first", &port).await;
    let client = HelloServiceClient::new(rgrpc::Channel::connect(first.uri()).await.unwrap());
    assert_eq!(say_hello(&client, "hi").await.unwrap(), "first: hi");

    let in_flight = tokio::spawn({
        let client = client.clone();
        async move {
            let mut call = client.say_hello(greeting("in flight"));
            call.metadata_mut()
                .insert("x-work-ms", "5000".parse().unwrap());
            call.metadata_mut()
                .insert("x-announce", "1".parse().unwrap());
            bounded("a call", call).await
        }
    });
    first.wait_for("started in flight").await;
    first.kill().await;
    let status = bounded("the call in flight", in_flight)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let status = say_hello(&client, "while down").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    let _second = Replica::start("second", &port).await;
    let (reply, failed) = until_ok(|| say_hello(&client, "hi")).await;
    assert_eq!(reply, "second: hi");
    assert!(
        failed.iter().all(|code| *code == Code::Unavailable),
        "while reconnecting, calls may only fail with UNAVAILABLE: {failed:?}"
    );
}

// ---- graceful shutdown ---------------------------------------------------------------

/// Calls in flight when the shutdown signal fires all finish, with all their data; calls
/// started after it are refused with UNAVAILABLE; the server ends once the last call is done.
#[tokio::test]
async fn graceful_shutdown_finishes_calls_in_flight_and_refuses_new_ones() {
    let gate = Arc::new(Gate::default());
    // Held, so that once the server stops listening nothing else can answer on its port.
    let port = HeldPort::new();
    let server = LocalServer::start_with(&port, GatedService(gate.clone())).await;
    let client = HelloServiceClient::new(
        rgrpc::Channel::connect(format!("http://{}", server.addr))
            .await
            .unwrap(),
    );
    const UNARY: usize = 3;
    const STREAMS: usize = 2;
    let mut unary = Vec::new();
    for i in 0..UNARY {
        let client = client.clone();
        unary.push(tokio::spawn(async move {
            say_hello(&client, &format!("gated {i}")).await
        }));
    }
    let mut streams = Vec::new();
    for _ in 0..STREAMS {
        let client = client.clone();
        streams.push(tokio::spawn(async move {
            let mut replies = client.lots_of_replies(greeting("gated")).await?;
            let mut got = Vec::new();
            while let Some(reply) = replies.message().await? {
                got.push(reply.reply);
            }
            Ok::<_, Status>(got)
        }));
    }
    gate.wait_entered(UNARY + STREAMS).await;

    let addr = server.addr;
    let stopped = server.signal_stop();
    // Until the client has seen the server's GOAWAY, a new call may still be accepted (and
    // must then be served); from then on every new call is refused.
    let (status, accepted) = until_err(|| say_hello(&client, "late")).await;
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    for reply in &accepted {
        assert_eq!(reply, "hello late");
    }
    let status = say_hello(&client, "later").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let error = rgrpc::Channel::connect(format!("http://{addr}"))
        .await
        .unwrap_err();
    assert_eq!(
        io_error_kind(&error),
        Some(std::io::ErrorKind::ConnectionRefused),
        "a new connection is refused: {error:?}"
    );
    assert!(
        !stopped.is_finished(),
        "the server waits for the calls in flight"
    );
    assert!(
        unary.iter().all(|call| !call.is_finished())
            && streams.iter().all(|call| !call.is_finished()),
        "the calls in flight wait at the gate"
    );

    gate.open();
    for (i, call) in unary.into_iter().enumerate() {
        let reply = bounded("a unary call in flight", call).await.unwrap();
        assert_eq!(reply.unwrap(), format!("hello gated {i}"));
    }
    for call in streams {
        let replies = bounded("a stream in flight", call).await.unwrap().unwrap();
        assert_eq!(
            replies,
            (0..STREAM_LENGTH)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
        );
    }
    bounded("the server to end", stopped).await.unwrap();
    let status = say_hello(&client, "after").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

// ---- scale-out -----------------------------------------------------------------------

/// How many tasks keep a call in flight at all times during the scale-out test.
const CONCURRENCY: usize = 16;
/// How many calls each replica answers in a phase of the scale-out test before the next.
const CALLS_PER_PHASE: usize = 50;

/// One client balancing over three replica processes, under continuous load from
/// [`CONCURRENCY`] tasks. All three take calls; one is killed (SIGKILL): only calls sent to
/// it before the client learnt it was gone fail, with UNAVAILABLE. Once the calls in flight
/// at the kill are over and the other two have answered a phase, no call fails: that
/// window is a condition, not a time. Started again on its port, the replica is
/// reconnected in the background and takes calls again, with no call failing meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_balanced_client_survives_a_replica_killed_under_load() {
    let ports = [HeldPort::new(), HeldPort::new(), HeldPort::new()];
    let mut replicas = Vec::new();
    for (name, port) in REPLICAS.iter().zip(&ports) {
        replicas.push(Replica::start(name, port).await);
    }
    let client = HelloServiceClient::new(
        rgrpc::Channel::balance(replicas.iter().map(Replica::uri)).unwrap(),
    );
    let load = Arc::new(Load::default());
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|task| {
            let (client, load) = (client.clone(), load.clone());
            tokio::spawn(async move { load.run(task, &client).await })
        })
        .collect();

    load.wait_until("every replica to take calls", |served| {
        served.iter().all(|n| *n >= CALLS_PER_PHASE)
    })
    .await;
    let before_kill = load.served();
    let victim = replicas.remove(1);
    load.killing.store(true, Ordering::SeqCst);
    let started_at_kill = load.started();
    victim.kill().await;
    // Once every task has started another call, the calls in flight at the kill are over:
    // from then on, no answer can come from the killed replica.
    bounded("the calls in flight at the kill to end", async {
        while load
            .started()
            .iter()
            .zip(&started_at_kill)
            .any(|(now, at_kill)| now <= at_kill)
        {
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    })
    .await;
    let settled = load.served();
    load.wait_until("the other two to take calls", |served| {
        served[0] >= settled[0] + CALLS_PER_PHASE && served[2] >= settled[2] + CALLS_PER_PHASE
    })
    .await;
    assert_eq!(
        load.served()[1],
        settled[1],
        "the killed replica answers nothing"
    );
    // A client that kept the dead replica in rotation would fail every third call from
    // here on; one that took it out fails none.
    load.settled.store(true, Ordering::SeqCst);
    let calls_then = load.served();
    load.wait_until("a phase with the replica gone", |served| {
        served[0] >= calls_then[0] + CALLS_PER_PHASE && served[2] >= calls_then[2] + CALLS_PER_PHASE
    })
    .await;

    let _back = Replica::start(REPLICAS[1], &ports[1]).await;
    load.wait_until("the restarted replica to take calls", |served| {
        served[1] >= settled[1] + CALLS_PER_PHASE
    })
    .await;
    load.stop.store(true, Ordering::SeqCst);
    for task in tasks {
        bounded("a load task", task).await.unwrap();
    }

    let failures = load.failures.lock().unwrap().clone();
    println!(
        "scale-out: answered by r0, r1, r2 before the kill {before_kill:?}, in all {:?}; \
         failed {}: {failures:?}",
        load.served(),
        failures.len(),
    );
    assert!(
        failures.iter().all(|failure| failure.after_the_kill),
        "calls failed before the kill: {failures:?}"
    );
    assert!(
        failures.iter().all(|failure| !failure.after_settling),
        "calls started after the client had taken the replica out failed: {failures:?}"
    );
    assert!(
        failures
            .iter()
            .all(|failure| failure.code == Code::Unavailable),
        "{failures:?}"
    );
}

/// A balanced channel whose replicas are all down fails calls at once with UNAVAILABLE
/// (it does not wait for one to come back), and recovers by itself when they start.
#[tokio::test]
async fn a_balanced_client_with_every_replica_down_fails_fast_then_recovers() {
    let ports = [HeldPort::new(), HeldPort::new()];
    let client = HelloServiceClient::new(
        rgrpc::Channel::balance(ports.iter().map(|port| format!("http://{}", port.addr))).unwrap(),
    );
    for attempt in 0..4 {
        let status = say_hello(&client, "anyone?").await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::Unavailable,
            "attempt {attempt}: {status:?}"
        );
    }
    let status = say_hello(&client, "anyone?").await.unwrap_err();
    assert!(
        status
            .message()
            .contains("none of the 2 replicas is reachable"),
        "once both are known down, calls fail without trying: {status:?}"
    );

    let _servers = [
        LocalServer::start(&ports[0]).await,
        LocalServer::start(&ports[1]).await,
    ];
    let (reply, failed) = until_ok(|| say_hello(&client, "back")).await;
    assert_eq!(reply, "hello back");
    assert!(
        failed.iter().all(|code| *code == Code::Unavailable),
        "while reconnecting, calls may only fail with UNAVAILABLE: {failed:?}"
    );
}

/// The names of the scale-out test's replicas; each answers `<name>: <greeting>`.
const REPLICAS: [&str; 3] = ["r0", "r1", "r2"];

/// A call of the scale-out load that failed.
#[derive(Clone, Debug)]
struct Failure {
    code: Code,
    /// It failed once the kill was under way.
    after_the_kill: bool,
    /// It started once the client had had every chance to take the dead replica out:
    /// the calls in flight at the kill were over and the others had answered a phase.
    after_settling: bool,
}

/// Continuous unary load, tallied by the replica that answered.
#[derive(Default)]
struct Load {
    served: [AtomicUsize; 3],
    /// How many calls each task has started.
    started: [AtomicUsize; CONCURRENCY],
    /// Set just before the kill.
    killing: AtomicBool,
    /// Set once the client has had every chance to take the dead replica out.
    settled: AtomicBool,
    stop: AtomicBool,
    failures: std::sync::Mutex<Vec<Failure>>,
}

impl Load {
    /// How many calls each replica answered so far.
    fn served(&self) -> [usize; 3] {
        self.served.each_ref().map(|n| n.load(Ordering::SeqCst))
    }

    /// How many calls each task has started so far.
    fn started(&self) -> [usize; CONCURRENCY] {
        self.started.each_ref().map(|n| n.load(Ordering::SeqCst))
    }

    /// Waits (bounded) until the answer counts satisfy `done`.
    async fn wait_until(&self, what: &str, done: impl Fn([usize; 3]) -> bool) {
        bounded(what, async {
            while !done(self.served()) {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        })
        .await;
    }

    /// Makes calls one after another until told to stop, checking every answer.
    async fn run(&self, task: usize, client: &HelloServiceClient) {
        for n in 0.. {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let after_settling = self.settled.load(Ordering::SeqCst);
            self.started[task].fetch_add(1, Ordering::SeqCst);
            let text = format!("{task}.{n}");
            match slow_hello(client, &text, Duration::from_millis(3)).await {
                Ok(reply) => {
                    let (name, echoed) = reply.split_once(": ").unwrap();
                    assert_eq!(echoed, text);
                    let replica = REPLICAS.iter().position(|r| *r == name).unwrap();
                    self.served[replica].fetch_add(1, Ordering::SeqCst);
                }
                Err(status) => {
                    self.failures.lock().unwrap().push(Failure {
                        code: status.code(),
                        after_the_kill: self.killing.load(Ordering::SeqCst),
                        after_settling,
                    });
                }
            }
        }
    }
}

// ---- helpers -------------------------------------------------------------------------

/// A unary call's reply text.
async fn say_hello(client: &HelloServiceClient, text: &str) -> Result<String, Status> {
    let response = bounded("a call", client.say_hello(greeting(text))).await?;
    Ok(response.into_inner().reply)
}

/// A unary call asking the server (a replica) to work for `work` first.
async fn slow_hello(
    client: &HelloServiceClient,
    text: &str,
    work: Duration,
) -> Result<String, Status> {
    let mut call = client.say_hello(greeting(text)).timeout(LIMIT);
    call.metadata_mut()
        .insert("x-work-ms", work.as_millis().to_string().parse().unwrap());
    Ok(bounded("a call", call).await?.into_inner().reply)
}

/// Retries `call` until it succeeds (bounded by [`RECOVERY`]): its answer and the codes of
/// the attempts that failed.
async fn until_ok<F, Fut>(call: F) -> (String, Vec<Code>)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<String, Status>>,
{
    let mut failed = Vec::new();
    let reply = tokio::time::timeout(RECOVERY, async {
        loop {
            match call().await {
                Ok(reply) => return reply,
                Err(status) => failed.push(status.code()),
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    })
    .await;
    let reply = reply.unwrap_or_else(|_| panic!("no recovery within {RECOVERY:?}: {failed:?}"));
    (reply, failed)
}

/// Retries `call` until it fails (bounded by [`RECOVERY`]): the status, and the answers of
/// the attempts that succeeded.
async fn until_err<F, Fut>(call: F) -> (Status, Vec<String>)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<String, Status>>,
{
    let mut accepted = Vec::new();
    let status = tokio::time::timeout(RECOVERY, async {
        loop {
            match call().await {
                Ok(reply) => accepted.push(reply),
                Err(status) => return status,
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    })
    .await;
    let status = status.unwrap_or_else(|_| panic!("never refused within {RECOVERY:?}"));
    (status, accepted)
}

/// A hello server in this process on a given port of 127.0.0.1 (or an OS-chosen one).
struct LocalServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl LocalServer {
    async fn start(port: &HeldPort) -> Self {
        Self::start_with(port, Echo).await
    }

    async fn start_with(port: &HeldPort, service: impl HelloService) -> Self {
        let listener = port.listen();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let router = rgrpc::Server::builder().add_service(HelloServiceServer::new(service));
        let task = tokio::spawn(async move {
            router
                .serve_with_shutdown(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self { addr, stop, task }
    }

    /// Fires the shutdown signal; the server's task ends once its calls are done.
    fn signal_stop(self) -> JoinHandle<()> {
        let _ = self.stop.send(());
        self.task
    }

    /// Shuts down gracefully and waits for the server to end.
    async fn stop(self) {
        bounded("server shutdown", self.signal_stop())
            .await
            .unwrap();
    }
}

/// A port of 127.0.0.1 that a test keeps for its whole length, to run servers on it one
/// after another: a socket bound to it with SO_REUSEPORT, never listening. The servers bind
/// it with SO_REUSEPORT too (this process's, and `hello-replica`); while none listens,
/// connections are refused. A port merely released between two servers could be taken
/// meanwhile, by another test's listener or any connection's local end.
struct HeldPort {
    addr: SocketAddr,
    _socket: TcpSocket,
}

impl HeldPort {
    fn new() -> Self {
        let socket = reusable_socket();
        socket
            .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        Self {
            addr,
            _socket: socket,
        }
    }

    /// A listener on the port, for a server of this process.
    fn listen(&self) -> TcpListener {
        let socket = reusable_socket();
        socket.bind(self.addr).unwrap();
        socket.listen(1024).unwrap()
    }
}

/// A TCP socket that may share its port with the other sockets of a [`HeldPort`].
fn reusable_socket() -> TcpSocket {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.set_reuseport(true).unwrap();
    socket
}

/// Replies `hello <greeting>`.
struct Echo;

impl HelloService for Echo {
    async fn say_hello(
        &self,
        _ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        Ok(reply(format!("hello {}", request.greeting)))
    }
}

/// How many messages a gated stream sends: half before the gate, half after.
const STREAM_LENGTH: usize = 6;

/// Holds calls in their handlers until the test opens it.
struct Gate {
    entered: AtomicUsize,
    open: Semaphore,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            entered: AtomicUsize::new(0),
            open: Semaphore::new(0),
        }
    }
}

impl Gate {
    async fn pass(&self) {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let _permit = self.open.acquire().await.unwrap();
    }

    async fn wait_entered(&self, calls: usize) {
        bounded("calls to reach their handlers", async {
            while self.entered.load(Ordering::SeqCst) < calls {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        })
        .await;
    }

    fn open(&self) {
        self.open.add_permits(Semaphore::MAX_PERMITS / 2);
    }
}

/// A hello service whose greetings starting with `gated` wait at the gate.
struct GatedService(Arc<Gate>);

impl HelloService for GatedService {
    async fn say_hello(
        &self,
        _ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        if request.greeting.starts_with("gated") {
            self.0.pass().await;
        }
        Ok(reply(format!("hello {}", request.greeting)))
    }

    async fn lots_of_replies(
        &self,
        _ctx: Context,
        _request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        for i in 0..STREAM_LENGTH {
            if i == STREAM_LENGTH / 2 {
                self.0.pass().await;
            }
            responses.send(reply(i.to_string())).await?;
        }
        Ok(())
    }
}

/// A `hello-replica` process, killed when dropped.
struct Replica {
    port: u16,
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Replica {
    /// Starts a replica named `name` on `port` and waits until it serves.
    async fn start(name: &str, held: &HeldPort) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hello-replica"))
            .arg(name)
            .arg(held.addr.port().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = bounded("the replica to start", stdout.next_line())
            .await
            .unwrap()
            .expect("the replica prints its port");
        let port = line.strip_prefix("port ").unwrap().parse().unwrap();
        assert_eq!(
            port,
            held.addr.port(),
            "the replica serves on the port held for it"
        );
        Self {
            port,
            child,
            stdout,
        }
    }

    /// Waits until the replica prints `line`.
    async fn wait_for(&mut self, line: &str) {
        let printed = bounded("the replica to print", self.stdout.next_line()).await;
        assert_eq!(printed.unwrap().as_deref(), Some(line));
    }

    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the process (SIGKILL, by its PID) and reaps it.
    async fn kill(mut self) {
        bounded("the replica to die", self.child.kill())
            .await
            .unwrap();
    }
}

/// The kind of the I/O error behind `error`, if one is.
fn io_error_kind(error: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cause = error.source();
    }
    None
}
