//! The blocking client: synchronous calls for programs without an async runtime.
//!
//! A generated `FooBlockingClient` has the same methods, per-call options and statuses as
//! the async `FooClient`; a call ends with `.call()` instead of `.await`:
//!
//! ```
//! # mod doctest { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/hello.rs")); }
//! # use doctest::{block_on, hello, MyHello};
//! use std::time::Duration;
//!
//! use hello::hello_service_client::HelloServiceBlockingClient;
//! use hello::hello_service_server::HelloServiceServer;
//! use hello::HelloRequest;
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//! #   let router = rgrpc::Server::builder().add_service(HelloServiceServer::new(MyHello));
//! #   let (channel, _server) = rgrpc::blocking::Channel::in_process(router)?;
//!     // let channel = rgrpc::blocking::Channel::connect("http://127.0.0.1:50051")?;
//!     let client = HelloServiceBlockingClient::new(channel);
//!     let request = HelloRequest { greeting: "world".into() };
//!     let response = client.say_hello(request).timeout(Duration::from_secs(1)).call()?;
//!     assert_eq!(response.into_inner().reply, "Hello, world!");
//!     Ok(())
//! }
//! ```
//!
//! | kind | call | `.call()` gives |
//! |---|---|---|
//! | unary | `client.say_hello(request)` | `Result<Response<Resp>, Status>` |
//! | server streaming | `client.lots_of_replies(request)` | `Result<Responses<Resp>, Status>`, an `Iterator` |
//! | client streaming | `client.lots_of_greetings(iterable)` | `Result<Response<Resp>, Status>` |
//! | bidi streaming | `client.bidi_hello()` | `Result<(RequestSender<Req>, Responses<Resp>), Status>` |
//!
//! The calls run on a small tokio runtime of rgrpc's own, started on first use. Calling
//! from inside an async runtime would block one of its threads (or deadlock a
//! single-threaded one), so it fails at once with `FAILED_PRECONDITION`: use the async
//! client there.

mod call;

pub use call::{BidiCall, Call, RequestSender, Responses};

use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime};
use tonic::Status;

use crate::channel::{Channel as AsyncChannel, ChannelBuilder, ConnectError};
use crate::client;
use crate::client::Requests;
use crate::server::{InProcessServer, Router};

/// The runtime all blocking clients share.
fn runtime() -> Result<&'static Runtime, String> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("rgrpc-blocking")
                .enable_all()
                .build()
                .map_err(|err| format!("cannot start the blocking client's runtime: {err}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Whether this thread runs inside an async runtime, where blocking would stall or
/// deadlock it: the one test behind every refusal of the blocking client.
fn inside_async_runtime() -> bool {
    Handle::try_current().is_ok()
}

/// Refuses to block inside an async runtime (see [`inside_async_runtime`]).
pub(crate) fn ensure_blocking_allowed() -> Result<(), Status> {
    if inside_async_runtime() {
        return Err(Status::failed_precondition(
            "a blocking rgrpc client was called from inside an async runtime, which it would \
             block; use the async client there (or call from a thread outside the runtime)",
        ));
    }
    Ok(())
}

/// A connection for blocking clients: an async [`crate::channel::Channel`] driven by rgrpc's own
/// runtime. Cheap to clone; clones share the connection.
#[derive(Clone, Debug)]
pub struct Channel {
    inner: AsyncChannel,
    runtime: Handle,
}

impl Channel {
    /// Connects to `uri` (e.g. `"http://127.0.0.1:50051"`), failing if the server cannot be
    /// reached now.
    pub fn connect(uri: impl Into<String>) -> Result<Self, ConnectError> {
        let uri = uri.into();
        let runtime = blocking_runtime(&uri)?;
        let inner = runtime.block_on(AsyncChannel::connect(uri))?;
        Ok(Self {
            inner,
            runtime: runtime.handle().clone(),
        })
    }

    /// A channel that connects on its first call; calls fail with `UNAVAILABLE` while the
    /// server cannot be reached.
    pub fn lazy(uri: impl Into<String>) -> Result<Self, ConnectError> {
        let uri = uri.into();
        let runtime = blocking_runtime(&uri)?;
        let _entered = runtime.enter();
        Ok(Self {
            inner: AsyncChannel::lazy(uri)?,
            runtime: runtime.handle().clone(),
        })
    }

    /// Connects with settings from [`AsyncChannel::builder`] (TLS, timeouts, the protocol:
    /// e.g. Connect over HTTP/1.1), failing if the server cannot be reached.
    pub fn connect_with(builder: ChannelBuilder) -> Result<Self, ConnectError> {
        let runtime = blocking_runtime(builder.uri())?;
        let inner = runtime.block_on(builder.connect())?;
        Ok(Self {
            inner,
            runtime: runtime.handle().clone(),
        })
    }

    /// [`Channel::lazy`] with settings from [`AsyncChannel::builder`].
    pub fn lazy_with(builder: ChannelBuilder) -> Result<Self, ConnectError> {
        let runtime = blocking_runtime(builder.uri())?;
        let _entered = runtime.enter();
        Ok(Self {
            inner: builder.connect_lazy()?,
            runtime: runtime.handle().clone(),
        })
    }

    /// Serves `router` inside this process on the blocking runtime, and returns a channel to
    /// it: blocking clients for unit tests, with no socket.
    pub fn in_process(router: Router) -> Result<(Self, InProcessServer), ConnectError> {
        let runtime = blocking_runtime("in-process")?;
        let _entered = runtime.enter();
        let server = router.serve_in_process();
        let channel = Self {
            inner: server.channel(),
            runtime: runtime.handle().clone(),
        };
        Ok((channel, server))
    }
}

/// The runtime a new blocking channel to `uri` runs on. Refused inside an async runtime,
/// before any connection is tried, with an error that says so rather than "cannot connect".
fn blocking_runtime(uri: &str) -> Result<&'static Runtime, ConnectError> {
    if inside_async_runtime() {
        return Err(ConnectError::not_attempted(
            uri,
            "a blocking channel was created inside an async runtime, which its calls would \
             block; use rgrpc::Channel and the async client there (or create it on a thread \
             outside the runtime)",
        ));
    }
    runtime().map_err(|problem| ConnectError::not_attempted(uri, problem))
}

/// What every generated blocking client wraps: the async client, and the runtime that
/// drives it.
#[derive(Clone, Debug)]
pub struct BlockingClient {
    client: client::Client,
    runtime: Handle,
}

impl BlockingClient {
    /// A blocking client sending its calls over `channel`.
    pub fn new(channel: Channel) -> Self {
        Self {
            client: client::Client::new(channel.inner),
            runtime: channel.runtime,
        }
    }

    /// Refuses response messages larger than `bytes` on every call (default 4 MiB), as
    /// [`Client::max_response_message_size`](client::Client::max_response_message_size).
    pub fn max_response_message_size(mut self, bytes: usize) -> Self {
        self.client = self.client.max_response_message_size(bytes);
        self
    }

    /// Refuses to send request messages larger than `bytes` on every call (default: no
    /// limit), as [`Client::max_request_message_size`](client::Client::max_request_message_size).
    pub fn max_request_message_size(mut self, bytes: usize) -> Self {
        self.client = self.client.max_request_message_size(bytes);
        self
    }

    /// Runs `interceptor` around every call, as
    /// [`Client::interceptor`](client::Client::interceptor): its `before` runs on the
    /// channel's runtime, while the calling thread blocks. The channel's own interceptors
    /// ([`ChannelBuilder::interceptor`](crate::ChannelBuilder::interceptor)) run first.
    pub fn interceptor(mut self, interceptor: impl crate::intercept::ClientInterceptor) -> Self {
        self.client = self.client.interceptor(interceptor);
        self
    }

    /// Compresses the request messages of every call with `encoding` (default: none), as
    /// [`Client::compression`](client::Client::compression).
    pub fn compression(mut self, encoding: tonic::codec::CompressionEncoding) -> Self {
        self.client = self.client.compression(encoding);
        self
    }

    /// Starts building a unary call to `path`.
    pub fn unary<Req, Resp>(
        &self,
        path: &'static str,
        request: Req,
    ) -> Call<Req, Resp, client::UnaryResponse> {
        Call::new(self.client.unary(path, request), self.runtime.clone())
    }

    /// Starts building a server-streaming call to `path`.
    pub fn server_streaming<Req, Resp>(
        &self,
        path: &'static str,
        request: Req,
    ) -> Call<Req, Resp, client::ResponseStream<Resp>> {
        Call::new(
            self.client.server_streaming(path, request),
            self.runtime.clone(),
        )
    }

    /// Starts building a client-streaming call to `path`, sending every item of `requests`.
    /// The iterator is drained on a thread of its own, so it may block (read a file, wait
    /// on a channel) without stalling the runtime.
    pub fn client_streaming<Req, Resp, I>(
        &self,
        path: &'static str,
        requests: I,
    ) -> Call<Req, Resp, client::UnaryResponse>
    where
        I: IntoIterator<Item = Req>,
        I::IntoIter: Send + 'static,
        Req: Send + 'static,
    {
        let requests = Requests::Many(Box::pin(call::iter_requests(requests.into_iter())));
        Call::new(self.client.call(path, requests), self.runtime.clone())
    }

    /// Starts building a bidirectional-streaming call to `path`; `.call()` gives the
    /// request sender and the responses.
    pub fn bidi_streaming<Req, Resp>(&self, path: &'static str) -> BidiCall<Req, Resp>
    where
        Req: Send + 'static,
    {
        BidiCall::new(&self.client, path, self.runtime.clone())
    }
}
