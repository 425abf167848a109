//! gRFC A66's server instruments, recorded by an interceptor.

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider};
use tonic::Status;

use super::a66;
use crate::intercept::{ServerCall, ServerCallEnd, ServerInterceptor};

/// A server interceptor that records gRFC A66's server metrics:
/// `grpc.server.call.started`, `grpc.server.call.duration`,
/// `grpc.server.call.sent_total_compressed_message_size` and
/// `grpc.server.call.rcvd_total_compressed_message_size`.
///
/// The instruments are made once, here; each call then adds one count and three
/// histogram records. Mount it with [`Server::interceptor`](crate::Server::interceptor)
/// (first, so that it sees the calls other interceptors reject) or on one service with
/// [`InterceptedService`](crate::server::InterceptedService).
#[derive(Clone, Debug)]
pub struct ServerMetrics {
    started: Counter<u64>,
    duration: Histogram<f64>,
    sent: Histogram<u64>,
    received: Histogram<u64>,
    unregistered_methods: bool,
}

impl ServerMetrics {
    /// Records on a meter of `provider`'s named `rgrpc` (with rgrpc's version), as A66 asks.
    pub fn new(provider: &(impl MeterProvider + ?Sized)) -> Self {
        Self::with_meter(&a66::meter(provider))
    }

    /// Records on `meter`.
    pub fn with_meter(meter: &Meter) -> Self {
        Self {
            started: meter
                .u64_counter("grpc.server.call.started")
                .with_unit("{call}")
                .with_description("The number of calls started, including those not yet ended.")
                .build(),
            duration: a66::latency(
                meter,
                "grpc.server.call.duration",
                "From the call's arrival to its end, as the server's transport sees it.",
            ),
            sent: a66::size(
                meter,
                "grpc.server.call.sent_total_compressed_message_size",
                "The response messages' bytes per call, compressed, without framing or metadata.",
            ),
            received: a66::size(
                meter,
                "grpc.server.call.rcvd_total_compressed_message_size",
                "The request messages' bytes per call, compressed, without framing or metadata.",
            ),
            unregistered_methods: false,
        }
    }

    /// Records the methods the server does not serve by their names rather than as
    /// `"other"` (the default). Any client can call any name: with this, a scanner can
    /// create as many series as it sends names.
    pub fn record_unregistered_methods(mut self, record: bool) -> Self {
        self.unregistered_methods = record;
        self
    }

    fn method(&self, path: &str, registered: bool) -> KeyValue {
        if registered || self.unregistered_methods {
            a66::method(path)
        } else {
            a66::other_method()
        }
    }
}

impl ServerInterceptor for ServerMetrics {
    async fn before(&self, call: &mut ServerCall) -> Result<(), Status> {
        let method = self.method(call.method(), call.is_registered());
        self.started.add(1, &[method]);
        Ok(())
    }

    fn after(&self, end: &ServerCallEnd<'_>) {
        let attributes = [
            self.method(end.method(), end.is_registered()),
            a66::status(end.code()),
        ];
        self.duration
            .record(end.duration().as_secs_f64(), &attributes);
        self.sent.record(end.sent().bytes, &attributes);
        self.received.record(end.received().bytes, &attributes);
    }
}
