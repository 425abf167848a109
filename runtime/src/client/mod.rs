//! The client side of a call: a shared [`Client`], per-call builders and what they return.
//!
//! A generated client method only names the route and the message types; it returns a
//! [`Call`] from this module. Awaiting the call runs it:
//!
//! | kind | request | awaiting gives |
//! |---|---|---|
//! | unary | one message | `Result<Response<Resp>, Status>` |
//! | server streaming | one message | `Result<ResponseStream<Resp>, Status>` |
//! | client streaming | a stream of messages | `Result<Response<Resp>, Status>` |
//! | bidi streaming | a stream of messages | `Result<ResponseStream<Resp>, Status>` |
//!
//! Calls that answer with a stream hand it over as soon as the call is sent, without
//! waiting for the server's headers or first message, so a bidi ping-pong cannot deadlock.

mod call;
mod response;
mod sizes;
mod stream;
mod watch;

pub(crate) use call::Requests;
pub use call::{Call, ClientStreamingCall, StreamingCall, UnaryCall, UnaryResponse};
pub use response::Response;
pub use stream::ResponseStream;

use futures_util::stream::BoxStream;
use tonic::client::Grpc;

use std::sync::Arc;

use self::sizes::MessageSizes;
use crate::channel::Channel;
use crate::intercept::client::ClientChain;

/// What every generated client wraps: a channel plus the gRPC protocol on top of it.
///
/// Cloning is cheap and clones share the channel, so clients can be stored in structs and
/// moved into tasks freely; every call takes `&self`.
///
/// Its message size limits apply to every call made through it (a call may set its own);
/// to give a generated client other limits than the defaults, build it `from_client`:
///
/// ```
/// # mod doctest { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/hello.rs")); }
/// # use doctest::{block_on, hello, MyHello};
/// use hello::hello_service_client::HelloServiceClient;
///
/// # block_on(async {
/// # let server = rgrpc::Server::builder()
/// #     .add_service(hello::hello_service_server::HelloServiceServer::new(MyHello))
/// #     .serve_in_process();
/// let channel = server.channel(); // or rgrpc::Channel::connect(uri).await?
/// let client = HelloServiceClient::from_client(
///     rgrpc::client::Client::new(channel).max_response_message_size(16 << 20),
/// );
/// # Ok(()) }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    grpc: Grpc<Channel>,
    sizes: MessageSizes,
    /// How every call compresses its requests unless it says otherwise.
    compression: Option<tonic::codec::CompressionEncoding>,
    /// The channel's service config: each call looks up its method's entry.
    service_config: Option<std::sync::Arc<crate::ServiceConfig>>,
    /// The channel's interceptors, then the client's own.
    interceptors: Option<Arc<ClientChain>>,
    /// The channel's target, for the interceptors added here.
    target: Arc<str>,
}

impl Client {
    /// A client sending its calls over `channel`.
    pub fn new(channel: Channel) -> Self {
        use tonic::codec::CompressionEncoding::{Gzip, Zstd};
        // Servers may compress their answers; `grpc-accept-encoding` says we read both.
        Self {
            service_config: channel.service_config().cloned(),
            interceptors: channel.interceptors().cloned(),
            target: channel.target().into(),
            grpc: Grpc::new(channel)
                .accept_compressed(Gzip)
                .accept_compressed(Zstd),
            sizes: MessageSizes::default(),
            compression: None,
        }
    }

    /// Compresses the request messages of every call with `encoding`, gzip or zstd
    /// (default: none); a call can choose otherwise
    /// ([`Call::compression`], [`Call::uncompressed`]). The server must decode it.
    pub fn compression(mut self, encoding: tonic::codec::CompressionEncoding) -> Self {
        self.compression = Some(encoding);
        self
    }

    /// Runs `interceptor` around every call made through this client (and its clones made
    /// after): before it is sent, and at the end of each of its attempts and of the call.
    /// They run after the channel's own
    /// ([`ChannelBuilder::interceptor`](crate::ChannelBuilder::interceptor)), in the order
    /// added; see [`crate::intercept`]. A generated client takes the result through
    /// `from_client`.
    pub fn interceptor(mut self, interceptor: impl crate::intercept::ClientInterceptor) -> Self {
        let target = &self.target;
        let chain = self
            .interceptors
            .get_or_insert_with(|| Arc::new(ClientChain::new(target)));
        Arc::make_mut(chain).push(interceptor);
        self
    }

    /// Refuses response messages larger than `bytes` (default 4 MiB, as in gRPC's other
    /// implementations): such a call ends with `RESOURCE_EXHAUSTED`, the message refused
    /// from its length prefix before any of it is buffered.
    pub fn max_response_message_size(mut self, bytes: usize) -> Self {
        self.sizes.max_response = bytes;
        self
    }

    /// Refuses to send request messages larger than `bytes` (default: no limit): such a
    /// call ends with `RESOURCE_EXHAUSTED`, and the message is not sent.
    pub fn max_request_message_size(mut self, bytes: usize) -> Self {
        self.sizes.max_request = bytes;
        self
    }

    /// Starts building a unary call to `path` (`"/package.Service/Method"`).
    ///
    /// On the wire, every call is one HTTP/2 stream: a `POST` to `path` with
    /// `content-type: application/grpc`, the request metadata and `grpc-timeout` as headers,
    /// then length-prefixed messages. A unary call sends `request` as the only message and
    /// half-closes; the server answers with one message and `grpc-status` in its trailers.
    pub fn unary<Req, Resp>(&self, path: &'static str, request: Req) -> UnaryCall<Req, Resp> {
        self.call(path, Requests::One(request))
    }

    /// Starts building a server-streaming call to `path`: `request` is the only message
    /// sent, then the server's messages arrive in order, then its status in the trailers.
    pub fn server_streaming<Req, Resp>(
        &self,
        path: &'static str,
        request: Req,
    ) -> StreamingCall<Req, Resp> {
        self.call(path, Requests::One(request))
    }

    /// Starts building a client-streaming call to `path`: each item of the request stream
    /// is sent as a message, and its end half-closes the call; the server answers once.
    pub fn client_streaming<Req, Resp>(
        &self,
        path: &'static str,
        requests: BoxStream<'static, Req>,
    ) -> ClientStreamingCall<Req, Resp> {
        self.call(path, Requests::Many(requests))
    }

    /// Starts building a call of any shape to `path`.
    pub(crate) fn call<Req, Resp, Answer>(
        &self,
        path: &'static str,
        requests: Requests<Req>,
    ) -> Call<Req, Resp, Answer> {
        Call::new(
            self.grpc.clone(),
            path,
            requests,
            self.sizes,
            self.compression,
        )
        .configured(
            self.service_config
                .as_ref()
                .and_then(|config| config.method_shared(path)),
        )
        .intercepted(self.interceptors.clone())
    }

    /// Starts building a bidirectional-streaming call to `path`: requests and responses
    /// flow independently on the one HTTP/2 stream, each direction ending on its own.
    pub fn bidi_streaming<Req, Resp>(
        &self,
        path: &'static str,
        requests: BoxStream<'static, Req>,
    ) -> StreamingCall<Req, Resp> {
        self.call(path, Requests::Many(requests))
    }
}
