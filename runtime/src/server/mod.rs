//! The server side of a call: what handlers receive, and serving generated services.
//!
//! A generated service trait's handlers get a [`Context`] and, by call shape, the request
//! message or a [`RequestStream`], plus a [`ResponseSink`] for streamed answers:
//!
//! | kind | handler arguments | handler returns |
//! |---|---|---|
//! | unary | `ctx, request` | `Result<Resp, Status>` |
//! | server streaming | `ctx, request, sink` | `Result<(), Status>` |
//! | client streaming | `ctx, requests` | `Result<Resp, Status>` |
//! | bidi streaming | `ctx, requests, sink` | `Result<(), Status>` |
//!
//! Returning ends the call: `Ok` sends status OK, `Err(status)` sends that status, at any
//! point of a stream. Either way the trailing metadata set on the context goes with it.

mod builder;
mod call_state;
pub(crate) mod context;
pub(crate) mod dispatch;
pub(crate) mod driver;
mod in_process;
mod inbox;
mod intercept;
mod outbox;
pub(crate) mod protocol;
mod response_compression;
mod router;
pub(crate) mod settings;
mod streams;
pub(crate) mod transport;
mod wake_flag;

pub use builder::Server;
pub use context::Context;
pub use in_process::InProcessServer;
pub use intercept::{Intercepted, InterceptedService, Interceptor, intercept};
pub use response_compression::ResponseCompression;
pub use router::{DescribedService, GrpcService, Router, Undescribed};
pub use settings::{Limited, MessageLimits};
pub use streams::{RequestStream, ResponseSink};
pub use transport::{Cors, CorsError, ServeError};
