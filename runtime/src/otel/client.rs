//! gRFC A66's client instruments, recorded by an interceptor.

use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider};

use super::a66;
use crate::intercept::{AttemptEnd, AttemptStart, ClientCallEnd, ClientInterceptor};

/// A client interceptor that records gRFC A66's client metrics: per attempt
/// `grpc.client.attempt.started`, `grpc.client.attempt.duration`,
/// `grpc.client.attempt.sent_total_compressed_message_size` and
/// `grpc.client.attempt.rcvd_total_compressed_message_size`; per call
/// `grpc.client.call.duration`.
///
/// The instruments are made once, here. Each retry or hedge is an attempt of its own; the
/// call's duration runs from its start to the status its caller sees. `grpc.target` is the
/// channel's target as it was given. Mount it with
/// [`ChannelBuilder::interceptor`](crate::ChannelBuilder::interceptor) (first, so that it
/// sees the calls other interceptors reject) or
/// [`Client::interceptor`](crate::client::Client::interceptor).
#[derive(Clone, Debug)]
pub struct ClientMetrics {
    attempt_started: Counter<u64>,
    attempt_duration: Histogram<f64>,
    attempt_sent: Histogram<u64>,
    attempt_received: Histogram<u64>,
    call_duration: Histogram<f64>,
}

impl ClientMetrics {
    /// Records on a meter of `provider`'s named `rgrpc` (with rgrpc's version), as A66 asks.
    pub fn new(provider: &(impl MeterProvider + ?Sized)) -> Self {
        Self::with_meter(&a66::meter(provider))
    }

    /// Records on `meter`.
    pub fn with_meter(meter: &Meter) -> Self {
        Self {
            attempt_started: meter
                .u64_counter("grpc.client.attempt.started")
                .with_unit("{attempt}")
                .with_description(
                    "The number of call attempts started, including those not yet ended.",
                )
                .build(),
            attempt_duration: a66::latency(
                meter,
                "grpc.client.attempt.duration",
                "From an attempt's start to its end, picking a connection included.",
            ),
            attempt_sent: a66::size(
                meter,
                "grpc.client.attempt.sent_total_compressed_message_size",
                "The request messages' bytes per attempt, compressed, without framing or metadata.",
            ),
            attempt_received: a66::size(
                meter,
                "grpc.client.attempt.rcvd_total_compressed_message_size",
                "The response messages' bytes per attempt, compressed, without framing or metadata.",
            ),
            call_duration: a66::latency(
                meter,
                "grpc.client.call.duration",
                "From the call's start to the status its caller sees.",
            ),
        }
    }
}

impl ClientInterceptor for ClientMetrics {
    fn attempt_started(&self, attempt: &AttemptStart<'_>) {
        let attributes = [
            a66::static_method(attempt.static_method()),
            a66::target(attempt.shared_target()),
        ];
        self.attempt_started.add(1, &attributes);
    }

    fn attempt_ended(&self, attempt: &AttemptEnd<'_>) {
        let attributes = [
            a66::static_method(attempt.static_method()),
            a66::target(attempt.shared_target()),
            a66::status(attempt.code()),
        ];
        self.attempt_duration
            .record(attempt.duration().as_secs_f64(), &attributes);
        self.attempt_sent.record(attempt.sent().bytes, &attributes);
        self.attempt_received
            .record(attempt.received().bytes, &attributes);
    }

    fn after(&self, end: &ClientCallEnd<'_>) {
        let attributes = [
            a66::static_method(end.static_method()),
            a66::target(end.shared_target()),
            a66::status(end.code()),
        ];
        self.call_duration
            .record(end.duration().as_secs_f64(), &attributes);
    }
}
