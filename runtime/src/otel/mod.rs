//! OpenTelemetry (with the `otel` feature): the metrics of gRFC A66 as interceptors, and
//! W3C trace context propagation of each call's span.
//!
//! # Metrics
//!
//! [`ServerMetrics`] is a [`ServerInterceptor`](crate::intercept::ServerInterceptor) and
//! [`ClientMetrics`] a [`ClientInterceptor`](crate::intercept::ClientInterceptor): each
//! records gRFC A66's instruments on the meter provider it is given (never a global one),
//! with A66's names, units and attributes (`grpc.method`, `grpc.status`, `grpc.target`).
//! Their histograms carry A66's bucket boundaries ([`LATENCY_BOUNDARIES`],
//! [`SIZE_BOUNDARIES`]) as advice, which the OpenTelemetry SDK applies unless a view says
//! otherwise. Methods a server does not serve are recorded as `"other"`, so a scanner
//! cannot multiply the series. Add them first, so that they see calls that later
//! interceptors reject:
//!
//! ```
//! # mod doctest { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/hello.rs")); }
//! # use doctest::{block_on, hello, MyHello};
//! use hello::hello_service_client::HelloServiceClient;
//! use hello::hello_service_server::HelloServiceServer;
//! use hello::HelloRequest;
//! use opentelemetry_sdk::metrics::SdkMeterProvider;
//! use rgrpc::otel::{ClientMetrics, ServerMetrics};
//!
//! // The program's provider, with its readers and exporters.
//! let provider = SdkMeterProvider::builder().build();
//! # block_on(async {
//! let server = rgrpc::Server::builder()
//!     .interceptor(ServerMetrics::new(&provider))
//!     .add_service(HelloServiceServer::new(MyHello))
//!     .serve_in_process();
//! let client = HelloServiceClient::from_client(
//!     rgrpc::client::Client::new(server.channel()).interceptor(ClientMetrics::new(&provider)),
//! );
//! client.say_hello(HelloRequest::default()).await?;
//! # Ok(()) }).unwrap();
//! ```
//!
//! # Traces
//!
//! Every call has a `tracing` span (`grpc`, on both sides). With a
//! [`tracing-opentelemetry`](https://docs.rs/tracing-opentelemetry) layer in the program's
//! subscriber, those spans are OpenTelemetry spans, and rgrpc carries their context across
//! calls in the W3C `traceparent` and `tracestate` headers: a client call sends its span's
//! context, and a server call's span takes the context it receives as its parent. A call a
//! handler makes with [`Call::propagate`](crate::client::Call::propagate) is a child of
//! the handler's call. No global propagator is needed; without such a layer nothing is sent.

mod a66;
mod client;
pub(crate) mod propagation;
mod server;

pub use a66::{LATENCY_BOUNDARIES, SIZE_BOUNDARIES};
pub use client::ClientMetrics;
pub use server::ServerMetrics;
