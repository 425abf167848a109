//! The interop server's `TestService`: every standard server feature, plus the header
//! `x-interop-sleep-ms` on UnaryCall so any client can test a unary deadline.

use std::time::Duration;

use rgrpc::metadata::MetadataMap;
use rgrpc::{Code, Compression, Context, RequestStream, ResponseSink, Status};

use crate::testing::test_service_server::TestService;
use crate::testing::{
    BoolValue, EchoStatus, Empty, PayloadType, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingInputCallResponse, StreamingOutputCallRequest,
    StreamingOutputCallResponse,
};
use crate::zeros;

/// Request metadata echoed back as initial metadata.
const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
/// Request metadata echoed back as trailing metadata.
const ECHO_TRAILING: &str = "x-grpc-test-echo-trailing-bin";
/// rgrpc's extension: how long UnaryCall sleeps before answering.
const SLEEP_MS: &str = "x-interop-sleep-ms";

/// The interop `TestService`.
#[derive(Debug, Default)]
pub struct Interop;

/// Echoes the test metadata: initial now (to go with the response headers), trailing with
/// the final status, OK or not.
fn echo_metadata(ctx: &Context) -> Result<(), Status> {
    if let Some(value) = ctx.metadata().get(ECHO_INITIAL) {
        let mut headers = MetadataMap::new();
        headers.insert(ECHO_INITIAL, value.clone());
        ctx.set_headers(headers)?;
    }
    if let Some(value) = ctx.metadata().get_bin(ECHO_TRAILING) {
        let mut trailers = MetadataMap::new();
        trailers.insert_bin(ECHO_TRAILING, value.clone());
        ctx.set_trailers(trailers);
    }
    Ok(())
}

/// `google.rpc.Status`, the payload of `grpc-status-details-bin` (and of Connect's error
/// details once the server maps it).
#[derive(Clone, PartialEq, ::rgrpc::prost::Message)]
#[prost(prost_path = "::rgrpc::prost")]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<rgrpc::prost_types::Any>,
}

/// The status a request asks the server to end with, if any. It carries one detail: the
/// request's own `EchoStatus`, so a client can test that details travel and decode (as
/// the Connect conformance server echoes its request in error details). Clients that read
/// only the code and message, as the standard cases do, see no difference.
fn requested_status(status: Option<&EchoStatus>) -> Option<Status> {
    status.filter(|echo| echo.code != 0).map(|echo| {
        let code = Code::from_i32(echo.code);
        let details = RpcStatus {
            code: echo.code,
            message: echo.message.clone(),
            details: vec![rgrpc::prost_types::Any {
                type_url: "type.googleapis.com/grpc.testing.EchoStatus".to_owned(),
                value: rgrpc::prost::Message::encode_to_vec(echo),
            }],
        };
        Status::with_details(
            code,
            echo.message.clone(),
            rgrpc::prost::Message::encode_to_vec(&details).into(),
        )
    })
}

fn payload_size(size: i32) -> Result<usize, Status> {
    usize::try_from(size)
        .map_err(|_| Status::invalid_argument(format!("payload size {size} is negative")))
}

fn check_payload_type(response_type: i32) -> Result<(), Status> {
    if response_type == PayloadType::Compressable as i32 {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "response type {response_type} is not supported (only COMPRESSABLE)"
        )))
    }
}

fn is_set(flag: Option<&BoolValue>) -> bool {
    flag.is_some_and(|flag| flag.value)
}

/// The `expect_compressed` check: a request that says it was sent compressed must have
/// arrived compressed (the standard's probe sends it uncompressed and expects this error).
fn check_compressed(ctx: &Context, expect_compressed: Option<&BoolValue>) -> Result<(), Status> {
    if is_set(expect_compressed) && !ctx.request_compressed() {
        return Err(Status::invalid_argument(
            "expect_compressed is true but the request message arrived uncompressed",
        ));
    }
    Ok(())
}

/// The call compresses its responses (gzip) if any of them asks to be; each message then
/// says for itself through `ResponseParameters.compressed`.
fn compress_if_asked(ctx: &Context, parameters: &[ResponseParameters]) -> Result<(), Status> {
    if parameters.iter().any(|p| is_set(p.compressed.as_ref())) {
        ctx.set_response_compression(Some(Compression::Gzip))?;
    }
    Ok(())
}

/// Sends one response per parameter set, each after its `interval_us`. When the call ends
/// (deadline, cancellation) the handler's future is dropped, so the sleeps stop with it.
async fn respond(
    ctx: &Context,
    parameters: &[ResponseParameters],
    responses: &ResponseSink<StreamingOutputCallResponse>,
) -> Result<(), Status> {
    for parameter in parameters {
        ctx.set_message_compression(is_set(parameter.compressed.as_ref()));
        let interval = u64::try_from(parameter.interval_us).unwrap_or(0);
        if interval > 0 {
            tokio::time::sleep(Duration::from_micros(interval)).await;
        }
        let payload = zeros(payload_size(parameter.size)?);
        responses
            .send(StreamingOutputCallResponse {
                payload: Some(payload),
            })
            .await?;
    }
    Ok(())
}

/// Answers one request of a duplex call: its responses, or the status it asks for.
async fn answer(
    ctx: &Context,
    request: &StreamingOutputCallRequest,
    responses: &ResponseSink<StreamingOutputCallResponse>,
) -> Result<(), Status> {
    if let Some(status) = requested_status(request.response_status.as_ref()) {
        return Err(status);
    }
    check_payload_type(request.response_type)?;
    respond(ctx, &request.response_parameters, responses).await
}

impl Interop {
    async fn answer_unary(
        &self,
        ctx: Context,
        request: SimpleRequest,
    ) -> Result<SimpleResponse, Status> {
        echo_metadata(&ctx)?;
        check_compressed(&ctx, request.expect_compressed.as_ref())?;
        if is_set(request.response_compressed.as_ref()) {
            ctx.set_response_compression(Some(Compression::Gzip))?;
        }
        if let Some(sleep) = ctx.metadata().get(SLEEP_MS) {
            let millis: u64 = sleep
                .to_str()
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| {
                    Status::invalid_argument(format!("{SLEEP_MS} must be a number of milliseconds"))
                })?;
            // Dropped at the deadline or on cancellation, like the whole handler.
            tokio::time::sleep(Duration::from_millis(millis)).await;
        }
        if let Some(status) = requested_status(request.response_status.as_ref()) {
            return Err(status);
        }
        check_payload_type(request.response_type)?;
        Ok(SimpleResponse {
            payload: Some(zeros(payload_size(request.response_size)?)),
            ..SimpleResponse::default()
        })
    }
}

impl TestService for Interop {
    async fn empty_call(&self, _ctx: Context, _request: Empty) -> Result<Empty, Status> {
        Ok(Empty {})
    }

    async fn unary_call(
        &self,
        ctx: Context,
        request: SimpleRequest,
    ) -> Result<SimpleResponse, Status> {
        self.answer_unary(ctx, request).await
    }

    async fn cacheable_unary_call(
        &self,
        ctx: Context,
        request: SimpleRequest,
    ) -> Result<SimpleResponse, Status> {
        self.answer_unary(ctx, request).await
    }

    async fn streaming_output_call(
        &self,
        ctx: Context,
        request: StreamingOutputCallRequest,
        responses: ResponseSink<StreamingOutputCallResponse>,
    ) -> Result<(), Status> {
        echo_metadata(&ctx)?;
        check_payload_type(request.response_type)?;
        compress_if_asked(&ctx, &request.response_parameters)?;
        respond(&ctx, &request.response_parameters, &responses).await?;
        match requested_status(request.response_status.as_ref()) {
            Some(status) => Err(status),
            None => Ok(()),
        }
    }

    async fn streaming_input_call(
        &self,
        ctx: Context,
        mut requests: RequestStream<StreamingInputCallRequest>,
    ) -> Result<StreamingInputCallResponse, Status> {
        let mut total: usize = 0;
        while let Some(request) = requests.message().await? {
            check_compressed(&ctx, request.expect_compressed.as_ref())?;
            total += request.payload.map_or(0, |payload| payload.body.len());
        }
        let aggregated_payload_size = i32::try_from(total).map_err(|_| {
            Status::out_of_range(format!("{total} payload bytes do not fit an int32"))
        })?;
        Ok(StreamingInputCallResponse {
            aggregated_payload_size,
        })
    }

    async fn full_duplex_call(
        &self,
        ctx: Context,
        mut requests: RequestStream<StreamingOutputCallRequest>,
        responses: ResponseSink<StreamingOutputCallResponse>,
    ) -> Result<(), Status> {
        echo_metadata(&ctx)?;
        while let Some(request) = requests.message().await? {
            answer(&ctx, &request, &responses).await?;
        }
        Ok(())
    }

    async fn half_duplex_call(
        &self,
        ctx: Context,
        mut requests: RequestStream<StreamingOutputCallRequest>,
        responses: ResponseSink<StreamingOutputCallResponse>,
    ) -> Result<(), Status> {
        echo_metadata(&ctx)?;
        let mut all = Vec::new();
        while let Some(request) = requests.message().await? {
            all.push(request);
        }
        for request in &all {
            answer(&ctx, request, &responses).await?;
        }
        Ok(())
    }
}
