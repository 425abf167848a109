//! What gRFC A66 fixes: the meter's scope, the instruments' names and units, the
//! attributes, and the histograms' bucket boundaries.

use std::sync::Arc;

use opentelemetry::metrics::{Histogram, Meter, MeterProvider};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use tonic::Code;

/// The bucket boundaries of A66's latency histograms (`grpc.*.duration`), in seconds.
pub const LATENCY_BOUNDARIES: [f64; 41] = [
    0.0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005,
    0.006, 0.008, 0.01, 0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16,
    0.2, 0.25, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
];

/// The bucket boundaries of A66's size histograms
/// (`grpc.*.{sent,rcvd}_total_compressed_message_size`), in bytes.
pub const SIZE_BOUNDARIES: [f64; 14] = [
    0.0,
    1024.0,
    2048.0,
    4096.0,
    16384.0,
    65536.0,
    262144.0,
    1048576.0,
    4194304.0,
    16777216.0,
    67108864.0,
    268435456.0,
    1073741824.0,
    4294967296.0,
];

pub(super) const METHOD: &str = "grpc.method";
pub(super) const STATUS: &str = "grpc.status";
pub(super) const TARGET: &str = "grpc.target";

/// The meter A66's instruments are made on: named after the library, with its version.
pub(super) fn meter(provider: &(impl MeterProvider + ?Sized)) -> Meter {
    provider.meter_with_scope(
        InstrumentationScope::builder("rgrpc")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build(),
    )
}

/// A latency histogram, in seconds.
pub(super) fn latency(
    meter: &Meter,
    name: &'static str,
    description: &'static str,
) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(LATENCY_BOUNDARIES.to_vec())
        .build()
}

/// A size histogram, in bytes.
pub(super) fn size(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<u64> {
    meter
        .u64_histogram(name)
        .with_unit("By")
        .with_description(description)
        .with_boundaries(SIZE_BOUNDARIES.to_vec())
        .build()
}

/// `grpc.method` for a method given as on the wire (`/package.Service/Method`): A66
/// spells it without the leading slash.
pub(super) fn method(path: &str) -> KeyValue {
    let name = path.strip_prefix('/').unwrap_or(path);
    KeyValue::new(METHOD, Value::from(Arc::<str>::from(name)))
}

/// `grpc.method` for a client's method, whose name is static: no allocation.
pub(super) fn static_method(path: &'static str) -> KeyValue {
    KeyValue::new(METHOD, path.strip_prefix('/').unwrap_or(path))
}

/// `grpc.method` for methods a server does not serve.
pub(super) fn other_method() -> KeyValue {
    KeyValue::new(METHOD, "other")
}

/// `grpc.status`: the code's canonical name (`DEADLINE_EXCEEDED`).
pub(super) fn status(code: Code) -> KeyValue {
    KeyValue::new(STATUS, crate::call::status::canonical_name(code))
}

/// `grpc.target`: the channel's target.
pub(super) fn target(target: &Arc<str>) -> KeyValue {
    KeyValue::new(TARGET, Value::from(target.clone()))
}
