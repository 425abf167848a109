//! OpenTelemetry (the `otel` feature): gRFC A66's metrics as both sides record them through
//! `rgrpc::otel::{ServerMetrics, ClientMetrics}`, read back from the SDK's in-memory
//! exporter; and W3C trace context carried through a chain of calls and servers, read back
//! from its in-memory span exporter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use opentelemetry::trace::{SpanId, TracerProvider};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use rgrpc::otel::{ClientMetrics, ServerMetrics};
use rgrpc::{CancellationToken, Code, Context, Status};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::raw::{Raw, frame, frame_with, request_to};
use support::scripted::{Scripted, Step, config};
use support::{LIMIT, Running, bounded, greeting, reply};
use tokio::sync::mpsc;
use tonic::codec::CompressionEncoding::Gzip;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

/// gRFC A66's latency buckets, in seconds, as the proposal lists them.
const A66_LATENCY: [f64; 41] = [
    0.0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005,
    0.006, 0.008, 0.01, 0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16,
    0.2, 0.25, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
];

/// gRFC A66's size buckets, in bytes, as the proposal lists them.
const A66_SIZE: [f64; 14] = [
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

const SAY_HELLO: &str = "hello.HelloService/SayHello";

/// The encoded size of a `HelloRequest` or `HelloResponse` with a short text: a tag byte,
/// a length byte, the text.
fn encoded(text: &str) -> u64 {
    2 + text.len() as u64
}

/// Echoes the greeting (compressed when the request was); on "sleep…" reports that its
/// handler started, then outlasts every bound of the test.
struct Echo {
    started: mpsc::UnboundedSender<()>,
}

impl HelloService for Echo {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        if request.greeting.starts_with("sleep") {
            let _ = self.started.send(());
            tokio::time::sleep(LIMIT * 2).await;
        }
        if ctx.request_compressed() {
            ctx.set_response_compression(Some(Gzip))?;
        }
        Ok(reply(request.greeting))
    }
}

fn echo() -> (Echo, mpsc::UnboundedReceiver<()>) {
    let (started, receiver) = mpsc::unbounded_channel();
    (Echo { started }, receiver)
}

// ---- reading the metrics back ----

/// A meter provider whose metrics the test reads back.
struct Recorded {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
}

/// One data point of one metric: its attributes, and its value.
#[derive(Clone, Debug)]
struct Point {
    unit: String,
    description: String,
    attributes: BTreeMap<String, String>,
    value: Value,
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Sum(u64),
    Histogram {
        count: u64,
        sum: f64,
        bounds: Vec<f64>,
    },
}

/// Every point of every rgrpc metric, by metric name.
type Snapshot = BTreeMap<String, Vec<Point>>;

impl Recorded {
    fn new() -> Self {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        Self { provider, exporter }
    }

    /// What has been recorded so far (cumulative).
    fn snapshot(&self) -> Snapshot {
        self.provider.force_flush().unwrap();
        let exported = self.exporter.get_finished_metrics().unwrap();
        self.exporter.reset();
        let mut snapshot = Snapshot::new();
        let Some(latest) = exported.last() else {
            return snapshot;
        };
        for scope in latest.scope_metrics() {
            assert_eq!(
                scope.scope().name(),
                "rgrpc",
                "A66: the meter names the library"
            );
            assert_eq!(scope.scope().version(), Some(env!("CARGO_PKG_VERSION")));
            for metric in scope.metrics() {
                let points = snapshot.entry(metric.name().to_owned()).or_default();
                let mut add = |attributes: BTreeMap<String, String>, value| {
                    points.push(Point {
                        unit: metric.unit().to_owned(),
                        description: metric.description().to_owned(),
                        attributes,
                        value,
                    })
                };
                match metric.data() {
                    AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                        for point in sum.data_points() {
                            add(attributes(point.attributes()), Value::Sum(point.value()));
                        }
                    }
                    AggregatedMetrics::U64(MetricData::Histogram(histogram)) => {
                        for point in histogram.data_points() {
                            add(
                                attributes(point.attributes()),
                                Value::Histogram {
                                    count: point.count(),
                                    sum: point.sum() as f64,
                                    bounds: point.bounds().collect(),
                                },
                            );
                        }
                    }
                    AggregatedMetrics::F64(MetricData::Histogram(histogram)) => {
                        for point in histogram.data_points() {
                            add(
                                attributes(point.attributes()),
                                Value::Histogram {
                                    count: point.count(),
                                    sum: point.sum(),
                                    bounds: point.bounds().collect(),
                                },
                            );
                        }
                    }
                    other => panic!("{}: unexpected data {other:?}", metric.name()),
                }
            }
        }
        snapshot
    }

    /// Waits (bounded) until `done` holds of what was recorded, and returns that.
    async fn until(&self, what: &str, done: impl Fn(&Snapshot) -> bool) -> Snapshot {
        bounded(what, async {
            loop {
                let snapshot = self.snapshot();
                if done(&snapshot) {
                    return snapshot;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
    }
}

fn attributes<'a>(
    attributes: impl Iterator<Item = &'a opentelemetry::KeyValue>,
) -> BTreeMap<String, String> {
    attributes
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

/// Attributes from pairs.
fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

/// The point of metric `name` with exactly `attributes`, if there is one.
fn point(snapshot: &Snapshot, name: &str, attributes: &BTreeMap<String, String>) -> Option<Point> {
    snapshot
        .get(name)?
        .iter()
        .find(|point| &point.attributes == attributes)
        .cloned()
}

/// The point of metric `name` with exactly `attributes`; the metric's other points are
/// listed if there is none.
#[track_caller]
fn the_point(snapshot: &Snapshot, name: &str, attributes: &BTreeMap<String, String>) -> Point {
    point(snapshot, name, attributes).unwrap_or_else(|| {
        panic!(
            "{name}: no point with {attributes:?}; it has {:#?}",
            snapshot.get(name)
        )
    })
}

/// The count of a counter's point, or of a histogram's.
fn count(point: &Point) -> u64 {
    match &point.value {
        Value::Sum(sum) => *sum,
        Value::Histogram { count, .. } => *count,
    }
}

/// Whether metric `name` has a point with `attributes` that counted `n`.
fn counted(snapshot: &Snapshot, name: &str, attributes: &BTreeMap<String, String>, n: u64) -> bool {
    point(snapshot, name, attributes).is_some_and(|point| count(&point) == n)
}

/// A histogram point's count and sum, with its unit and A66's bucket boundaries checked.
#[track_caller]
fn histogram(point: &Point, unit: &str, bounds: &[f64]) -> (u64, f64) {
    assert_eq!(point.unit, unit, "{point:?}");
    assert!(!point.description.is_empty(), "{point:?}");
    match &point.value {
        Value::Histogram {
            count,
            sum,
            bounds: actual,
            ..
        } => {
            assert_eq!(actual, bounds, "A66's bucket boundaries");
            (*count, *sum)
        }
        Value::Sum(_) => panic!("a histogram was expected: {point:?}"),
    }
}

/// A size histogram's count and total bytes.
#[track_caller]
fn sizes(snapshot: &Snapshot, name: &str, attributes: &BTreeMap<String, String>) -> (u64, u64) {
    let (count, sum) = histogram(&the_point(snapshot, name, attributes), "By", &A66_SIZE);
    (count, sum as u64)
}

/// A latency histogram's count.
#[track_caller]
fn latencies(snapshot: &Snapshot, name: &str, attributes: &BTreeMap<String, String>) -> u64 {
    histogram(&the_point(snapshot, name, attributes), "s", &A66_LATENCY).0
}

/// A counter's value, with its unit checked.
#[track_caller]
fn counter(
    snapshot: &Snapshot,
    name: &str,
    unit: &str,
    attributes: &BTreeMap<String, String>,
) -> u64 {
    let point = the_point(snapshot, name, attributes);
    assert_eq!(point.unit, unit, "{point:?}");
    assert!(!point.description.is_empty(), "{point:?}");
    match point.value {
        Value::Sum(sum) => sum,
        Value::Histogram { .. } => panic!("a counter was expected: {point:?}"),
    }
}

/// A server that records A66's server metrics on `recorded`, serving `service`.
async fn server_with(recorded: &Recorded, service: impl HelloService) -> Running {
    Running::serve(
        rgrpc::Server::builder()
            .interceptor(ServerMetrics::new(&recorded.provider))
            .add_service(HelloServiceServer::new(service)),
    )
    .await
}

/// The target a client of `addr` reports.
fn target_of(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// A client of `addr` that records A66's client metrics on `recorded`.
async fn client_with(recorded: &Recorded, addr: SocketAddr) -> HelloServiceClient {
    let channel = rgrpc::Channel::builder(target_of(addr))
        .interceptor(ClientMetrics::new(&recorded.provider))
        .connect()
        .await
        .unwrap();
    HelloServiceClient::new(channel)
}

// ---- metrics ----

#[tokio::test]
async fn an_ok_call_is_recorded_with_a66_names_units_attributes_and_buckets() {
    let recorded = Recorded::new();
    let (service, _started) = echo();
    let server = server_with(&recorded, service).await;
    let client = client_with(&recorded, server.addr).await;
    let answer = bounded("call", client.say_hello(greeting("hello")))
        .await
        .unwrap();
    assert_eq!(answer.into_inner().reply, "hello");

    let target = target_of(server.addr);
    let on_server = attrs(&[("grpc.method", SAY_HELLO), ("grpc.status", "OK")]);
    let on_client = attrs(&[
        ("grpc.method", SAY_HELLO),
        ("grpc.target", &target),
        ("grpc.status", "OK"),
    ]);
    let snapshot = recorded
        .until("the call's end on both sides", |s| {
            counted(s, "grpc.server.call.duration", &on_server, 1)
                && counted(s, "grpc.client.call.duration", &on_client, 1)
        })
        .await;
    let names: Vec<&str> = snapshot.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "grpc.client.attempt.duration",
            "grpc.client.attempt.rcvd_total_compressed_message_size",
            "grpc.client.attempt.sent_total_compressed_message_size",
            "grpc.client.attempt.started",
            "grpc.client.call.duration",
            "grpc.server.call.duration",
            "grpc.server.call.rcvd_total_compressed_message_size",
            "grpc.server.call.sent_total_compressed_message_size",
            "grpc.server.call.started",
        ]
    );
    for points in snapshot.values() {
        assert_eq!(points.len(), 1, "one series each: {points:#?}");
    }

    // Client: the attempt's start without a status, its end and the call's with one.
    let started = attrs(&[("grpc.method", SAY_HELLO), ("grpc.target", &target)]);
    assert_eq!(
        counter(
            &snapshot,
            "grpc.client.attempt.started",
            "{attempt}",
            &started
        ),
        1
    );
    assert_eq!(
        latencies(&snapshot, "grpc.client.attempt.duration", &on_client),
        1
    );
    assert_eq!(
        latencies(&snapshot, "grpc.client.call.duration", &on_client),
        1
    );
    let request = encoded("hello");
    assert_eq!(
        sizes(
            &snapshot,
            "grpc.client.attempt.sent_total_compressed_message_size",
            &on_client
        ),
        (1, request)
    );
    assert_eq!(
        sizes(
            &snapshot,
            "grpc.client.attempt.rcvd_total_compressed_message_size",
            &on_client
        ),
        (1, request)
    );

    // Server: the call's start with its method alone, its end with the status.
    let method = attrs(&[("grpc.method", SAY_HELLO)]);
    assert_eq!(
        counter(&snapshot, "grpc.server.call.started", "{call}", &method),
        1
    );
    assert_eq!(
        latencies(&snapshot, "grpc.server.call.duration", &on_server),
        1
    );
    assert_eq!(
        sizes(
            &snapshot,
            "grpc.server.call.rcvd_total_compressed_message_size",
            &on_server
        ),
        (1, request)
    );
    assert_eq!(
        sizes(
            &snapshot,
            "grpc.server.call.sent_total_compressed_message_size",
            &on_server
        ),
        (1, request)
    );
}

#[test]
fn the_published_bucket_boundaries_are_a66s() {
    assert_eq!(rgrpc::otel::LATENCY_BOUNDARIES, A66_LATENCY);
    assert_eq!(rgrpc::otel::SIZE_BOUNDARIES, A66_SIZE);
}

#[tokio::test]
async fn a_call_past_its_deadline_is_recorded_deadline_exceeded_by_the_client() {
    let recorded = Recorded::new();
    let (service, mut started) = echo();
    // The server records nothing here: which side ends the call first is a race.
    let server = Running::start(service).await;
    let client = client_with(&recorded, server.addr).await;
    let status = bounded(
        "call",
        client
            .say_hello(greeting("sleep"))
            .timeout(Duration::from_millis(100)),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    bounded("handler started", started.recv()).await.unwrap();

    let target = target_of(server.addr);
    let expired = attrs(&[
        ("grpc.method", SAY_HELLO),
        ("grpc.target", &target),
        ("grpc.status", "DEADLINE_EXCEEDED"),
    ]);
    let snapshot = recorded
        .until("the attempt's end", |s| {
            counted(s, "grpc.client.attempt.duration", &expired, 1)
        })
        .await;
    assert_eq!(
        latencies(&snapshot, "grpc.client.call.duration", &expired),
        1
    );
    assert_eq!(
        sizes(
            &snapshot,
            "grpc.client.attempt.sent_total_compressed_message_size",
            &expired
        ),
        (1, encoded("sleep"))
    );
    assert_eq!(
        sizes(
            &snapshot,
            "grpc.client.attempt.rcvd_total_compressed_message_size",
            &expired
        ),
        (1, 0)
    );
}

#[tokio::test]
async fn a_call_past_its_deadline_is_recorded_deadline_exceeded_by_the_server() {
    let recorded = Recorded::new();
    let (service, _started) = echo();
    let server = server_with(&recorded, service).await;
    // A raw client that never gives up: the server's deadline ends the call.
    let mut raw = Raw::connect(server.addr).await;
    let answer = bounded(
        "call",
        raw.exchange(
            request_to("/hello.HelloService/SayHello", &[("grpc-timeout", "100m")]),
            &frame(&greeting("sleep")),
        ),
    )
    .await;
    assert_eq!(answer.grpc_status(), Some(Code::DeadlineExceeded));

    let expired = attrs(&[
        ("grpc.method", SAY_HELLO),
        ("grpc.status", "DEADLINE_EXCEEDED"),
    ]);
    let snapshot = recorded
        .until("the call's end", |s| {
            counted(s, "grpc.server.call.duration", &expired, 1)
        })
        .await;
    assert_eq!(
        sizes(
            &snapshot,
            "grpc.server.call.rcvd_total_compressed_message_size",
            &expired
        ),
        (1, encoded("sleep"))
    );
    assert_eq!(
        sizes(
            &snapshot,
            "grpc.server.call.sent_total_compressed_message_size",
            &expired
        ),
        (1, 0)
    );
}

#[tokio::test]
async fn a_call_the_client_cancels_is_recorded_cancelled_on_both_sides() {
    let recorded = Recorded::new();
    let (service, mut started) = echo();
    let server = server_with(&recorded, service).await;
    let client = client_with(&recorded, server.addr).await;
    let token = CancellationToken::new();
    let call = tokio::spawn(
        client
            .say_hello(greeting("sleep"))
            .cancellation(token.clone())
            .into_future(),
    );
    bounded("handler started", started.recv()).await.unwrap();
    token.cancel();
    let status = bounded("cancelled call", call).await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");

    let target = target_of(server.addr);
    let on_client = attrs(&[
        ("grpc.method", SAY_HELLO),
        ("grpc.target", &target),
        ("grpc.status", "CANCELLED"),
    ]);
    let on_server = attrs(&[("grpc.method", SAY_HELLO), ("grpc.status", "CANCELLED")]);
    let snapshot = recorded
        .until("the call's end on both sides", |s| {
            counted(s, "grpc.client.attempt.duration", &on_client, 1)
                && counted(s, "grpc.server.call.duration", &on_server, 1)
        })
        .await;
    assert_eq!(
        latencies(&snapshot, "grpc.client.call.duration", &on_client),
        1
    );
    assert_eq!(
        sizes(
            &snapshot,
            "grpc.server.call.rcvd_total_compressed_message_size",
            &on_server
        ),
        (1, encoded("sleep"))
    );
    assert_eq!(
        sizes(
            &snapshot,
            "grpc.server.call.sent_total_compressed_message_size",
            &on_server
        ),
        (1, 0)
    );
}

#[tokio::test]
async fn a_method_the_server_does_not_serve_is_recorded_as_other() {
    let recorded = Recorded::new();
    // A second provider, whose server metrics keep unregistered names.
    let named = Recorded::new();
    let (service, _started) = echo();
    let server = Running::serve(
        rgrpc::Server::builder()
            .interceptor(ServerMetrics::new(&recorded.provider))
            .interceptor(ServerMetrics::new(&named.provider).record_unregistered_methods(true))
            .add_service(HelloServiceServer::new(service)),
    )
    .await;
    let channel = rgrpc::Channel::builder(target_of(server.addr))
        .interceptor(ClientMetrics::new(&recorded.provider))
        .connect()
        .await
        .unwrap();
    let client = rgrpc::client::Client::new(channel);
    let status = bounded(
        "call",
        client.unary::<HelloRequest, HelloResponse>("/hello.Elsewhere/Missing", greeting("x")),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");

    let on_server = attrs(&[("grpc.method", "other"), ("grpc.status", "UNIMPLEMENTED")]);
    let target = target_of(server.addr);
    let on_client = attrs(&[
        ("grpc.method", "hello.Elsewhere/Missing"),
        ("grpc.target", &target),
        ("grpc.status", "UNIMPLEMENTED"),
    ]);
    let snapshot = recorded
        .until("the call's end on both sides", |s| {
            counted(s, "grpc.server.call.duration", &on_server, 1)
                && counted(s, "grpc.client.call.duration", &on_client, 1)
        })
        .await;
    assert_eq!(
        counter(
            &snapshot,
            "grpc.server.call.started",
            "{call}",
            &attrs(&[("grpc.method", "other")])
        ),
        1
    );
    assert_eq!(snapshot["grpc.server.call.duration"].len(), 1);
    assert_eq!(
        latencies(&snapshot, "grpc.client.attempt.duration", &on_client),
        1
    );

    let named_method = attrs(&[
        ("grpc.method", "hello.Elsewhere/Missing"),
        ("grpc.status", "UNIMPLEMENTED"),
    ]);
    named
        .until("the name kept when asked to", |s| {
            counted(s, "grpc.server.call.duration", &named_method, 1)
        })
        .await;
}

/// What one call of a 10,000-byte greeting recorded, both sides: the client's bytes sent
/// and received, the server's received and sent.
async fn sizes_of_a_call(compressed: bool) -> [u64; 4] {
    let recorded = Recorded::new();
    let (service, _started) = echo();
    let server = server_with(&recorded, service).await;
    let client = client_with(&recorded, server.addr).await;
    let text = "a".repeat(10_000);
    let mut call = client.say_hello(greeting(text.clone()));
    if compressed {
        call = call.compression(Gzip);
    }
    let answer = bounded("call", call).await.unwrap();
    assert_eq!(answer.into_inner().reply, text);

    let target = target_of(server.addr);
    let on_server = attrs(&[("grpc.method", SAY_HELLO), ("grpc.status", "OK")]);
    let on_client = attrs(&[
        ("grpc.method", SAY_HELLO),
        ("grpc.target", &target),
        ("grpc.status", "OK"),
    ]);
    let snapshot = recorded
        .until("the call's end on both sides", |s| {
            counted(s, "grpc.server.call.duration", &on_server, 1)
                && counted(s, "grpc.client.attempt.duration", &on_client, 1)
        })
        .await;
    let bytes = |name: &str, attributes| {
        let (count, bytes) = sizes(&snapshot, name, attributes);
        assert_eq!(count, 1, "{name}");
        bytes
    };
    [
        bytes(
            "grpc.client.attempt.sent_total_compressed_message_size",
            &on_client,
        ),
        bytes(
            "grpc.client.attempt.rcvd_total_compressed_message_size",
            &on_client,
        ),
        bytes(
            "grpc.server.call.rcvd_total_compressed_message_size",
            &on_server,
        ),
        bytes(
            "grpc.server.call.sent_total_compressed_message_size",
            &on_server,
        ),
    ]
}

#[tokio::test]
async fn message_sizes_are_the_bytes_on_the_wire_compressed_or_not() {
    // A tag byte, a 2-byte length, 10,000 bytes of text: each way.
    let plain = 10_003;
    assert_eq!(sizes_of_a_call(false).await, [plain; 4]);

    let [client_sent, client_received, server_received, server_sent] = sizes_of_a_call(true).await;
    // Both sides saw the same compressed bytes go by each way, far fewer than the message's.
    assert_eq!(client_sent, server_received);
    assert_eq!(server_sent, client_received);
    for compressed in [client_sent, server_sent] {
        assert!(
            0 < compressed && compressed < plain / 10,
            "{compressed} bytes compressed, {plain} plain"
        );
    }
}

#[tokio::test]
async fn the_server_counts_exactly_the_compressed_bytes_a_raw_client_sent() {
    let recorded = Recorded::new();
    let (service, _started) = echo();
    let server = server_with(&recorded, service).await;
    let message = prost::Message::encode_to_vec(&greeting("a".repeat(10_000)));
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&message).unwrap();
    let compressed = gzip.finish().unwrap();
    let mut raw = Raw::connect(server.addr).await;
    let answer = bounded(
        "call",
        raw.exchange(
            request_to("/hello.HelloService/SayHello", &[("grpc-encoding", "gzip")]),
            &frame_with(1, compressed.len() as u32, &compressed),
        ),
    )
    .await;
    assert_eq!(answer.grpc_status(), Some(Code::Ok));

    let on_server = attrs(&[("grpc.method", SAY_HELLO), ("grpc.status", "OK")]);
    let snapshot = recorded
        .until("the call's end", |s| {
            counted(s, "grpc.server.call.duration", &on_server, 1)
        })
        .await;
    assert_eq!(
        sizes(
            &snapshot,
            "grpc.server.call.rcvd_total_compressed_message_size",
            &on_server
        ),
        (1, compressed.len() as u64)
    );
}

#[tokio::test]
async fn a_retried_call_is_recorded_as_two_attempts_of_one_call() {
    let recorded = Recorded::new();
    let service = Scripted::new(|n| match n {
        0 => Step::Fail(Code::Unavailable, None),
        _ => Step::Succeed,
    });
    let server = server_with(&recorded, service.clone()).await;
    let retries = config(
        r#"{"methodConfig": [{"name": [{}], "retryPolicy": {
            "maxAttempts": 2, "initialBackoff": "0.01s", "maxBackoff": "0.01s",
            "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#,
    );
    let channel = rgrpc::Channel::builder(target_of(server.addr))
        .service_config(retries)
        .interceptor(ClientMetrics::new(&recorded.provider))
        .connect()
        .await
        .unwrap();
    let client = HelloServiceClient::new(channel);
    bounded("retried call", client.say_hello(greeting("a")))
        .await
        .unwrap();
    assert_eq!(service.calls(), 2);

    let target = target_of(server.addr);
    let with = |status| {
        attrs(&[
            ("grpc.method", SAY_HELLO),
            ("grpc.target", &target),
            ("grpc.status", status),
        ])
    };
    let on_server = |status| attrs(&[("grpc.method", SAY_HELLO), ("grpc.status", status)]);
    let snapshot = recorded
        .until("both attempts' ends", |s| {
            counted(s, "grpc.client.call.duration", &with("OK"), 1)
                && counted(s, "grpc.server.call.duration", &on_server("OK"), 1)
                && counted(s, "grpc.server.call.duration", &on_server("UNAVAILABLE"), 1)
        })
        .await;
    let started = attrs(&[("grpc.method", SAY_HELLO), ("grpc.target", &target)]);
    assert_eq!(
        counter(
            &snapshot,
            "grpc.client.attempt.started",
            "{attempt}",
            &started
        ),
        2
    );
    for status in ["UNAVAILABLE", "OK"] {
        assert_eq!(
            latencies(&snapshot, "grpc.client.attempt.duration", &with(status)),
            1,
            "{status}"
        );
        assert_eq!(
            sizes(
                &snapshot,
                "grpc.client.attempt.sent_total_compressed_message_size",
                &with(status)
            ),
            (1, encoded("a")),
            "{status}"
        );
    }
    // One call, one duration: its final status's.
    assert_eq!(snapshot["grpc.client.call.duration"].len(), 1);
    assert_eq!(
        counter(
            &snapshot,
            "grpc.server.call.started",
            "{call}",
            &attrs(&[("grpc.method", SAY_HELLO)])
        ),
        2
    );
}

// ---- traces ----

/// Forwards every greeting to the next server, from a task of its own (which does not run
/// in the handler's span: only `propagate` links the two calls).
struct Forward {
    next: HelloServiceClient,
}

impl HelloService for Forward {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        let next = self.next.clone();
        let forwarded = tokio::spawn(async move {
            next.say_hello(request)
                .propagate(&ctx)
                .await
                .map(rgrpc::Response::into_inner)
        });
        forwarded
            .await
            .map_err(|error| Status::internal(error.to_string()))?
    }
}

/// A finished span's `tracing` field `name`, as the layer recorded it.
fn field(span: &SpanData, name: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == name)
        .map(|kv| kv.value.to_string())
}

#[tokio::test]
async fn a_trace_runs_through_a_chain_of_calls_and_servers() {
    // The subscriber is this thread's, and the test's runtime has only this thread: every
    // span of the clients and servers below goes to it.
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    // rgrpc's spans and the test's, not those of the HTTP/2 stack beneath.
    let only_ours = Targets::new()
        .with_target("rgrpc", Level::INFO)
        .with_target("otel", Level::INFO);
    let subscriber = tracing_subscriber::registry()
        .with(only_ours)
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("otel-test")));
    // tracing caches process-wide whether a span is enabled, decided when the first thread
    // reaches it; while a single subscriber is registered, from that thread's alone, so the
    // other tests of this file (which have none) could turn rgrpc's spans off for this one.
    // With a second registered, every registered subscriber has its say.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    let _default = tracing::subscriber::set_default(subscriber);

    let (service, _started) = echo();
    let c = Running::start(service).await;
    let b = Running::start(Forward {
        next: c.client().await,
    })
    .await;
    let a = b.client().await;

    let root = tracing::info_span!("test");
    let call = root.in_scope(|| a.say_hello(greeting("through")).into_future());
    let answer = bounded(
        "call through B to C",
        tracing::Instrument::instrument(call, root.clone()),
    )
    .await
    .unwrap();
    assert_eq!(answer.into_inner().reply, "through");
    drop(root);

    let spans = bounded("every span's end", async {
        loop {
            let spans = exporter.get_finished_spans().unwrap();
            let calls = spans.iter().filter(|span| span.name == "grpc").count();
            if calls == 4 && spans.iter().any(|span| span.name == "test") {
                return spans;
            }
            assert!(calls <= 4, "{spans:#?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let root = spans.iter().find(|span| span.name == "test").unwrap();
    let trace = root.span_context.trace_id();
    let child_of = |parent: &SpanData, side: &str| -> SpanData {
        let children: Vec<&SpanData> = spans
            .iter()
            .filter(|span| span.parent_span_id == parent.span_context.span_id())
            .collect();
        assert_eq!(children.len(), 1, "one child of {parent:#?}: {children:#?}");
        let child = children[0].clone();
        assert_eq!(child.name, "grpc");
        assert_eq!(field(&child, "side").as_deref(), Some(side), "{child:#?}");
        assert_eq!(
            field(&child, "method").as_deref(),
            Some("/hello.HelloService/SayHello")
        );
        assert_eq!(
            child.span_context.trace_id(),
            trace,
            "one trace: {child:#?}"
        );
        // A server's parent came over the wire.
        assert_eq!(child.parent_span_is_remote, side == "server", "{child:#?}");
        child
    };
    assert_eq!(root.parent_span_id, SpanId::INVALID);
    let client_a = child_of(root, "client");
    let server_b = child_of(&client_a, "server");
    let client_b = child_of(&server_b, "client");
    let server_c = child_of(&client_b, "server");
    assert!(
        spans
            .iter()
            .all(|span| span.parent_span_id != server_c.span_context.span_id()),
        "the chain ends at C"
    );
    provider.shutdown().unwrap();
}
