//! Middleware: async interceptors on both sides of a call, and what they observe.
//!
//! An interceptor is a value that sees calls go by. On a server
//! ([`ServerInterceptor`]) it runs before the handler, may reject the call, add
//! extensions the handler reads and set response metadata, and it is told how each call
//! ended. On a client ([`ClientInterceptor`]) it runs before the call is sent, may change
//! its metadata (an access token, say, fetched asynchronously), and it is told how each
//! attempt and each call ended. Both kinds are plain traits with `async fn`s; generated
//! code does not change.
//!
//! # Order
//!
//! Interceptors form a chain, like nested middleware: the `before` hooks run in the order
//! the interceptors were added, and stop at the first that rejects the call; the end hooks
//! run in the reverse order, and only for interceptors whose `before` ran (the one that
//! rejected included). On a server, the whole server's interceptors
//! ([`Server::interceptor`](crate::Server::interceptor)) come before a service's own
//! ([`InterceptedService`](crate::server::InterceptedService)). On a client, the
//! channel's ([`ChannelBuilder::interceptor`](crate::ChannelBuilder::interceptor)) come
//! before the client's ([`Client::interceptor`](crate::client::Client::interceptor)).
//!
//! # Cost
//!
//! A server or client with no interceptor pays nothing for them: no hook, no counting, no
//! allocation. With one, each call pays for counting its messages (the 5-byte gRPC
//! prefixes are read as the bytes go by) and for one boxed future per interceptor.

pub(crate) mod client;
pub(crate) mod meter;
pub(crate) mod server;

pub use client::{AttemptEnd, AttemptStart, ClientCall, ClientCallEnd, ClientInterceptor};
pub use server::{ServerCall, ServerCallEnd, ServerInterceptor};

use tonic::Code;

/// How a call (or one attempt of it) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Ending {
    /// With status `OK`.
    Ok,
    /// With an error status other than the two below.
    Error,
    /// Its deadline passed (`DEADLINE_EXCEEDED`).
    DeadlineExceeded,
    /// It was cancelled: by the caller, by a peer that reset the stream or went away
    /// (`CANCELLED`).
    Cancelled,
}

impl Ending {
    /// How a call that ended with `code` ended.
    pub fn of(code: Code) -> Self {
        match code {
            Code::Ok => Ending::Ok,
            Code::DeadlineExceeded => Ending::DeadlineExceeded,
            Code::Cancelled => Ending::Cancelled,
            _ => Ending::Error,
        }
    }
}

/// The messages one side sent or received in a call (or an attempt).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Messages {
    /// How many messages.
    pub count: u64,
    /// Their total size on the wire: compressed when they were, without the 5-byte gRPC
    /// prefix of each (what gRFC A66's `…_total_compressed_message_size` counts).
    pub bytes: u64,
}
