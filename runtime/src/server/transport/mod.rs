//! The server's front door: accepting connections, speaking HTTP on them, and routing each
//! request to its service. rgrpc serves on hyper directly rather than through
//! `tonic::transport::Server`.
//!
//! Why: profiling a unary call under a tonic load generator (callgrind) put about a fifth of
//! the server's instructions in tonic's server stack rather than in HTTP/2 or rgrpc: an axum
//! router matching the path with its URL-parameter machinery, tonic's own `grpc-timeout`
//! layer (which rgrpc's driver does again, for the whole call), its error-recovery layer,
//! and three layers of boxed, error-mapping body wrappers around every response. Here a
//! request goes from hyper to a service name lookup to the generated service, and the
//! response body from rgrpc's driver to hyper with one box.
//!
//! * [`connection`]: one connection: its TLS handshake, hyper's HTTP/2 settings, and
//!   its end.
//! * [`listen`]: the accept loops, for TCP and for in-process pipes, and draining.
//! * [`lifetime`]: when a connection ends: drain, maximum age and idle time.
//! * [`ping_policy`]: keepalive enforcement, the pings a client may send.
//! * [`open_calls`]: the calls open on a connection, counted when that is needed.
//! * [`routes`]: the route table, from `/package.Service/Method` to a service.
//! * [`peer`]: who is calling, as the handler's context sees it, whichever server (rgrpc's
//!   or tonic's) accepted the connection.
//!
//! Generated services stay tower services: they still mount in `tonic::transport::Server`,
//! with tower layers, and tonic services mount here.

pub(crate) mod connection;
mod cors;
mod error;
pub(crate) mod lifetime;
mod linger;
pub(crate) mod listen;
mod open_calls;
pub(crate) mod peer;
pub(crate) mod ping_policy;
pub(crate) mod routes;
#[cfg(feature = "tls")]
pub(crate) mod tls;
pub(crate) mod unix;

pub use cors::{Cors, CorsError};
pub use error::ServeError;
