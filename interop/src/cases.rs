//! The interop client's test cases, as grpc/grpc `doc/interop-test-descriptions.md`
//! describes them. Each returns `Err(reason)` on the first assertion that fails.

use std::time::Duration;

use rgrpc::metadata::{MetadataMap, MetadataValue};
use rgrpc::{CancellationToken, Channel, Code, Compression, Status};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::testing::test_service_client::TestServiceClient;
use crate::testing::unimplemented_service_client::UnimplementedServiceClient;
use crate::testing::{
    BoolValue, EchoStatus, Empty, ResponseParameters, SimpleRequest, StreamingInputCallRequest,
    StreamingOutputCallRequest,
};
use crate::zeros;

/// The outcome of one case: `Err` says what did not hold.
pub type Outcome = Result<(), String>;

/// Every case this client runs, in the order `all` runs them.
pub const CASES: &[&str] = &[
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "timeout_on_sleeping_server",
    "cancel_after_begin",
    "cancel_after_first_response",
    "client_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_unary",
    "server_compressed_streaming",
];

/// How long any call of a case may take unless the case sets its own deadline.
const CALL_LIMIT: Duration = Duration::from_secs(20);

const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
const ECHO_INITIAL_VALUE: &str = "test_initial_metadata_value";
const ECHO_TRAILING: &str = "x-grpc-test-echo-trailing-bin";
const ECHO_TRAILING_VALUE: &[u8] = &[0xab, 0xab, 0xab];
const SPECIAL_MESSAGE: &str = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";

/// Runs the case called `name` against the server behind `channel`.
pub async fn run(name: &str, channel: &Channel) -> Outcome {
    let client = TestServiceClient::new(channel.clone());
    match name {
        "empty_unary" => empty_unary(&client).await,
        "large_unary" => large_unary(&client).await,
        "client_streaming" => client_streaming(&client).await,
        "server_streaming" => server_streaming(&client).await,
        "ping_pong" => ping_pong(&client).await,
        "empty_stream" => empty_stream(&client).await,
        "custom_metadata" => custom_metadata(&client).await,
        "status_code_and_message" => status_code_and_message(&client).await,
        "special_status_message" => special_status_message(&client).await,
        "unimplemented_method" => unimplemented_method(&client).await,
        "unimplemented_service" => unimplemented_service(channel).await,
        "timeout_on_sleeping_server" => timeout_on_sleeping_server(&client).await,
        "cancel_after_begin" => cancel_after_begin(&client).await,
        "cancel_after_first_response" => cancel_after_first_response(&client).await,
        "client_compressed_unary" => client_compressed_unary(&client).await,
        "client_compressed_streaming" => client_compressed_streaming(&client).await,
        "server_compressed_unary" => server_compressed_unary(&client).await,
        "server_compressed_streaming" => server_compressed_streaming(&client).await,
        other => Err(format!("unknown test case {other:?}")),
    }
}

fn check(holds: bool, what: impl FnOnce() -> String) -> Outcome {
    if holds { Ok(()) } else { Err(what()) }
}

fn failed(what: &str, status: Status) -> String {
    format!("{what} failed: {:?} {:?}", status.code(), status.message())
}

fn expect_code<T>(what: &str, result: Result<T, Status>, code: Code) -> Outcome {
    match result {
        Err(status) if status.code() == code => Ok(()),
        Err(status) => Err(format!(
            "{what}: expected {code:?}, got {:?} {:?}",
            status.code(),
            status.message()
        )),
        // Not the answer itself: a large one would flood the report.
        Ok(_) => Err(format!("{what}: expected {code:?}, the call succeeded")),
    }
}

fn payload_len(payload: Option<&crate::testing::Payload>) -> usize {
    payload.map_or(0, |p| p.body.len())
}

/// The payload size of every message of a StreamingOutputCall, once it ended OK.
async fn payload_sizes(
    mut responses: rgrpc::ResponseStream<crate::testing::StreamingOutputCallResponse>,
) -> Result<Vec<usize>, String> {
    let mut received = Vec::new();
    while let Some(response) = responses
        .message()
        .await
        .map_err(|status| failed("StreamingOutputCall", status))?
    {
        received.push(payload_len(response.payload.as_ref()));
    }
    Ok(received)
}

fn output_request(sizes: &[i32], payload: usize) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: sizes
            .iter()
            .map(|&size| ResponseParameters {
                size,
                ..ResponseParameters::default()
            })
            .collect(),
        payload: Some(zeros(payload)),
        ..StreamingOutputCallRequest::default()
    }
}

fn large_request() -> SimpleRequest {
    SimpleRequest {
        response_size: 314_159,
        payload: Some(zeros(271_828)),
        ..SimpleRequest::default()
    }
}

async fn empty_unary(client: &TestServiceClient) -> Outcome {
    client
        .empty_call(Empty {})
        .timeout(CALL_LIMIT)
        .await
        .map(drop)
        .map_err(|status| failed("EmptyCall", status))
}

async fn large_unary(client: &TestServiceClient) -> Outcome {
    let response = client
        .unary_call(large_request())
        .timeout(CALL_LIMIT)
        .await
        .map_err(|status| failed("UnaryCall", status))?
        .into_inner();
    let body = response.payload.map(|p| p.body).unwrap_or_default();
    check(body.len() == 314_159, || {
        format!("payload of {} bytes, not 314159", body.len())
    })?;
    check(body.iter().all(|&b| b == 0), || {
        "payload is not all zeros".to_owned()
    })
}

async fn client_streaming(client: &TestServiceClient) -> Outcome {
    let requests = [27_182, 8, 1_828, 45_904].map(|size| StreamingInputCallRequest {
        payload: Some(zeros(size)),
        ..StreamingInputCallRequest::default()
    });
    let response = client
        .streaming_input_call(rgrpc::stream::iter(requests))
        .timeout(CALL_LIMIT)
        .await
        .map_err(|status| failed("StreamingInputCall", status))?
        .into_inner();
    check(response.aggregated_payload_size == 74_922, || {
        format!(
            "aggregated size {}, not 74922",
            response.aggregated_payload_size
        )
    })
}

async fn server_streaming(client: &TestServiceClient) -> Outcome {
    let sizes = [31_415, 9, 2_653, 58_979];
    let responses = client
        .streaming_output_call(output_request(&sizes, 0))
        .timeout(CALL_LIMIT)
        .await
        .map_err(|status| failed("StreamingOutputCall", status))?;
    let received = payload_sizes(responses).await?;
    check(received == [31_415, 9, 2_653, 58_979], || {
        format!("response sizes {received:?}")
    })
}

async fn ping_pong(client: &TestServiceClient) -> Outcome {
    let (sender, requests) = mpsc::channel(1);
    let mut responses = client
        .full_duplex_call(ReceiverStream::new(requests))
        .timeout(CALL_LIMIT)
        .await
        .map_err(|status| failed("FullDuplexCall", status))?;
    for (size, payload) in [(31_415, 27_182), (9, 8), (2_653, 1_828), (58_979, 45_904)] {
        sender
            .send(output_request(&[size], payload))
            .await
            .map_err(|_| "the call ended while sending".to_owned())?;
        let response = responses
            .message()
            .await
            .map_err(|status| failed("FullDuplexCall", status))?
            .ok_or_else(|| format!("no response for size {size}"))?;
        let got = payload_len(response.payload.as_ref());
        check(got == usize::try_from(size).unwrap_or(0), || {
            format!("response of {got} bytes, not {size}")
        })?;
    }
    drop(sender);
    let end = responses
        .message()
        .await
        .map_err(|status| failed("FullDuplexCall", status))?;
    check(end.is_none(), || "more responses than requests".to_owned())
}

async fn empty_stream(client: &TestServiceClient) -> Outcome {
    let mut responses = client
        .full_duplex_call(rgrpc::stream::empty())
        .timeout(CALL_LIMIT)
        .await
        .map_err(|status| failed("FullDuplexCall", status))?;
    let first = responses
        .message()
        .await
        .map_err(|status| failed("FullDuplexCall", status))?;
    check(first.is_none(), || "a response to no request".to_owned())
}

fn echo_metadata() -> MetadataMap {
    let mut metadata = MetadataMap::new();
    metadata.insert(ECHO_INITIAL, MetadataValue::from_static(ECHO_INITIAL_VALUE));
    metadata.insert_bin(
        ECHO_TRAILING,
        MetadataValue::from_bytes(ECHO_TRAILING_VALUE),
    );
    metadata
}

fn check_echo(what: &str, headers: &MetadataMap, trailers: Option<&MetadataMap>) -> Outcome {
    let initial = headers.get(ECHO_INITIAL).and_then(|v| v.to_str().ok());
    check(initial == Some(ECHO_INITIAL_VALUE), || {
        format!("{what}: initial metadata {ECHO_INITIAL} is {initial:?}")
    })?;
    let trailing = trailers
        .and_then(|t| t.get_bin(ECHO_TRAILING))
        .and_then(|v| v.to_bytes().ok());
    check(trailing.as_deref() == Some(ECHO_TRAILING_VALUE), || {
        format!("{what}: trailing metadata {ECHO_TRAILING} is {trailing:?}")
    })
}

async fn custom_metadata(client: &TestServiceClient) -> Outcome {
    let response = client
        .unary_call(large_request())
        .metadata(echo_metadata())
        .timeout(CALL_LIMIT)
        .await
        .map_err(|status| failed("UnaryCall", status))?;
    check_echo("UnaryCall", response.headers(), Some(response.trailers()))?;

    let request = output_request(&[314_159], 271_828);
    let mut responses = client
        .full_duplex_call(rgrpc::stream::iter([request]))
        .metadata(echo_metadata())
        .timeout(CALL_LIMIT)
        .await
        .map_err(|status| failed("FullDuplexCall", status))?;
    let headers = responses
        .headers()
        .await
        .map_err(|status| failed("FullDuplexCall", status))?
        .clone();
    while responses
        .message()
        .await
        .map_err(|status| failed("FullDuplexCall", status))?
        .is_some()
    {}
    check_echo("FullDuplexCall", &headers, responses.trailers())
}

async fn echo_status(client: &TestServiceClient, message: &str) -> Outcome {
    let status = EchoStatus {
        code: 2,
        message: message.to_owned(),
    };
    let request = SimpleRequest {
        response_status: Some(status.clone()),
        ..SimpleRequest::default()
    };
    let expect = |what: &str, got: Status| {
        check(
            got.code() == Code::Unknown && got.message() == message,
            || {
                format!(
                    "{what}: got {:?} {:?}, sent UNKNOWN {message:?}",
                    got.code(),
                    got.message()
                )
            },
        )
    };
    match client.unary_call(request).timeout(CALL_LIMIT).await {
        Ok(_) => return Err("UnaryCall succeeded instead of echoing the status".to_owned()),
        Err(got) => expect("UnaryCall", got)?,
    }
    let request = StreamingOutputCallRequest {
        response_status: Some(status),
        ..StreamingOutputCallRequest::default()
    };
    let mut responses = client
        .full_duplex_call(rgrpc::stream::iter([request]))
        .timeout(CALL_LIMIT)
        .await
        .map_err(|status| failed("FullDuplexCall", status))?;
    loop {
        match responses.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => {
                return Err("FullDuplexCall ended OK instead of echoing the status".to_owned());
            }
            Err(got) => return expect("FullDuplexCall", got),
        }
    }
}

async fn status_code_and_message(client: &TestServiceClient) -> Outcome {
    echo_status(client, "test status message").await
}

async fn special_status_message(client: &TestServiceClient) -> Outcome {
    let request = SimpleRequest {
        response_status: Some(EchoStatus {
            code: 2,
            message: SPECIAL_MESSAGE.to_owned(),
        }),
        ..SimpleRequest::default()
    };
    match client.unary_call(request).timeout(CALL_LIMIT).await {
        Ok(_) => Err("UnaryCall succeeded instead of echoing the status".to_owned()),
        Err(got) => check(
            got.code() == Code::Unknown && got.message() == SPECIAL_MESSAGE,
            || format!("got {:?} {:?}", got.code(), got.message()),
        ),
    }
}

async fn unimplemented_method(client: &TestServiceClient) -> Outcome {
    let result = client
        .unimplemented_call(Empty {})
        .timeout(CALL_LIMIT)
        .await;
    expect_code("TestService/UnimplementedCall", result, Code::Unimplemented)
}

async fn unimplemented_service(channel: &Channel) -> Outcome {
    let client = UnimplementedServiceClient::new(channel.clone());
    let result = client
        .unimplemented_call(Empty {})
        .timeout(CALL_LIMIT)
        .await;
    expect_code(
        "UnimplementedService/UnimplementedCall",
        result,
        Code::Unimplemented,
    )
}

async fn timeout_on_sleeping_server(client: &TestServiceClient) -> Outcome {
    let (sender, requests) = mpsc::channel(1);
    let mut responses = client
        .full_duplex_call(ReceiverStream::new(requests))
        .timeout(Duration::from_millis(1))
        .await
        .map_err(|status| failed("FullDuplexCall", status))?;
    // The deadline may already be gone; the send result does not matter, the status does.
    let _ = sender
        .send(StreamingOutputCallRequest {
            payload: Some(zeros(27_182)),
            ..StreamingOutputCallRequest::default()
        })
        .await;
    let mut result = Ok(None);
    for _ in 0..2 {
        result = responses.message().await;
        if result.is_err() {
            break;
        }
    }
    expect_code(
        "FullDuplexCall with a 1 ms deadline",
        result,
        Code::DeadlineExceeded,
    )?;
    drop(sender);

    // rgrpc's extension: a unary deadline, against a server sleeping 20 s before answering
    // (it stops early when the call ends).
    let mut metadata = MetadataMap::new();
    metadata.insert("x-interop-sleep-ms", MetadataValue::from_static("20000"));
    let started = std::time::Instant::now();
    let result = client
        .unary_call(SimpleRequest::default())
        .metadata(metadata)
        .timeout(Duration::from_millis(100))
        .await;
    expect_code(
        "UnaryCall on a sleeping server",
        result,
        Code::DeadlineExceeded,
    )?;
    // Not a speed check: a client that waited for the answer would take the full 20 s.
    check(started.elapsed() < Duration::from_secs(10), || {
        format!(
            "DEADLINE_EXCEEDED took {:?}: the client waited for the server",
            started.elapsed()
        )
    })
}

/// Lets the call reach the server before cancelling it: the server side of the matrix
/// checks that it saw the cancellation, so the call must exist there first.
const REACH_SERVER: Duration = Duration::from_millis(200);

async fn cancel_after_begin(client: &TestServiceClient) -> Outcome {
    let token = CancellationToken::new();
    let (sender, requests) = mpsc::channel::<StreamingInputCallRequest>(1);
    let call = client
        .streaming_input_call(ReceiverStream::new(requests))
        .cancellation(token.clone())
        .timeout(CALL_LIMIT);
    let call = tokio::spawn(std::future::IntoFuture::into_future(call));
    tokio::time::sleep(REACH_SERVER).await;
    token.cancel();
    let result = call
        .await
        .map_err(|err| format!("the call task failed: {err}"))?;
    drop(sender);
    expect_code(
        "StreamingInputCall cancelled after begin",
        result,
        Code::Cancelled,
    )
}

async fn cancel_after_first_response(client: &TestServiceClient) -> Outcome {
    let token = CancellationToken::new();
    let (sender, requests) = mpsc::channel(1);
    let mut responses = client
        .full_duplex_call(ReceiverStream::new(requests))
        .cancellation(token.clone())
        .timeout(CALL_LIMIT)
        .await
        .map_err(|status| failed("FullDuplexCall", status))?;
    sender
        .send(output_request(&[31_415], 27_182))
        .await
        .map_err(|_| "the call ended while sending".to_owned())?;
    responses
        .message()
        .await
        .map_err(|status| failed("FullDuplexCall", status))?
        .ok_or_else(|| "no first response".to_owned())?;
    token.cancel();
    let result = responses.message().await;
    drop(sender);
    expect_code(
        "FullDuplexCall cancelled after the first response",
        result,
        Code::Cancelled,
    )
}

fn flag(value: bool) -> Option<BoolValue> {
    Some(BoolValue { value })
}

/// The standard's client_compressed_unary: a probe that claims compression it did not use
/// must fail with INVALID_ARGUMENT; then a compressed and a plain call both succeed.
async fn client_compressed_unary(client: &TestServiceClient) -> Outcome {
    let request = |expect_compressed| SimpleRequest {
        expect_compressed: flag(expect_compressed),
        ..large_request()
    };
    let probe = client.unary_call(request(true)).timeout(CALL_LIMIT).await;
    expect_code("the uncompressed probe", probe, Code::InvalidArgument)?;
    for (compressed, what) in [(true, "compressed"), (false, "uncompressed")] {
        let call = client.unary_call(request(compressed)).timeout(CALL_LIMIT);
        let call = if compressed {
            call.compression(Compression::Gzip)
        } else {
            call
        };
        let response = call
            .await
            .map_err(|status| failed(&format!("the {what} UnaryCall"), status))?
            .into_inner();
        let got = payload_len(response.payload.as_ref());
        check(got == 314_159, || {
            format!("the {what} call's payload has {got} bytes, not 314159")
        })?;
    }
    Ok(())
}

/// The standard's client_compressed_streaming: the uncompressed probe must fail; then a
/// compressed stream of two messages adds up. rgrpc's client compresses every message of a
/// call, so the second one (`expect_compressed: false`, which the server does not check)
/// goes compressed too, where the standard sends it plain.
async fn client_compressed_streaming(client: &TestServiceClient) -> Outcome {
    let request = |size, expect_compressed| StreamingInputCallRequest {
        payload: Some(zeros(size)),
        expect_compressed: flag(expect_compressed),
    };
    let probe = client
        .streaming_input_call(rgrpc::stream::iter([request(27_182, true)]))
        .timeout(CALL_LIMIT)
        .await;
    expect_code("the uncompressed probe", probe, Code::InvalidArgument)?;
    let response = client
        .streaming_input_call(rgrpc::stream::iter([
            request(27_182, true),
            request(45_904, false),
        ]))
        .compression(Compression::Gzip)
        .timeout(CALL_LIMIT)
        .await
        .map_err(|status| failed("StreamingInputCall", status))?
        .into_inner();
    check(response.aggregated_payload_size == 73_086, || {
        format!(
            "aggregated size {}, not 73086",
            response.aggregated_payload_size
        )
    })
}

/// The standard's server_compressed_unary: the server compresses one answer and not the
/// other; both arrive whole. (Whether a response came compressed is the transport's
/// business here: rgrpc's client decodes both kinds alike.)
async fn server_compressed_unary(client: &TestServiceClient) -> Outcome {
    for compressed in [true, false] {
        let response = client
            .unary_call(SimpleRequest {
                response_compressed: flag(compressed),
                ..large_request()
            })
            .timeout(CALL_LIMIT)
            .await
            .map_err(|status| failed("UnaryCall", status))?
            .into_inner();
        let got = payload_len(response.payload.as_ref());
        check(got == 314_159, || {
            format!("response_compressed={compressed}: payload of {got} bytes, not 314159")
        })?;
    }
    Ok(())
}

/// The standard's server_compressed_streaming: a compressed message, then a plain one.
async fn server_compressed_streaming(client: &TestServiceClient) -> Outcome {
    let parameters =
        [(31_415, true), (92_653, false)].map(|(size, compressed)| ResponseParameters {
            size,
            compressed: flag(compressed),
            ..ResponseParameters::default()
        });
    let responses = client
        .streaming_output_call(StreamingOutputCallRequest {
            response_parameters: parameters.to_vec(),
            ..StreamingOutputCallRequest::default()
        })
        .timeout(CALL_LIMIT)
        .await
        .map_err(|status| failed("StreamingOutputCall", status))?;
    let received = payload_sizes(responses).await?;
    check(received == [31_415, 92_653], || {
        format!("response sizes {received:?}, not [31415, 92653]")
    })
}
