//! Client-side health checking (gRFC A17): a `grpc.health.v1.Health/Watch` call on each
//! ready subchannel's own connection; only a subchannel whose server says SERVING takes
//! calls. A server without the health service (UNIMPLEMENTED) is taken as healthy.

use http::uri::PathAndQuery;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::body::Body;
use tonic::client::Grpc;

use super::backoff::{Backoff, ConnectionBackoff};
use super::connect::Sender;
use super::subchannel::Health;
use crate::health::ServingStatus;
use crate::health::v1::{HealthCheckRequest, HealthCheckResponse};

const WATCH: &str = "/grpc.health.v1.Health/Watch";

/// Watches `service`'s health over `sender`'s connection, telling `report` each verdict,
/// until `stop` is cancelled (the connection ended or the subchannel was removed). A failed
/// watch is started again after a backoff pause, at once if it had received an answer.
pub(crate) async fn watch(
    sender: Sender,
    origin: http::Uri,
    service: String,
    backoff: ConnectionBackoff,
    stop: CancellationToken,
    report: impl Fn(Health) + Send + 'static,
) {
    let transport = tower::service_fn(move |request: http::Request<Body>| {
        let mut sender = sender.clone();
        async move { sender.send_request(request).await }
    });
    let mut pauses = Backoff::new(backoff);
    loop {
        report(Health::Unknown);
        let mut grpc = Grpc::with_origin(transport.clone(), origin.clone());
        let watched = tokio::select! {
            () = stop.cancelled() => return,
            watched = watch_once(&mut grpc, &service, &report) => watched,
        };
        match watched {
            Ended::Unimplemented => {
                tracing::info!(
                    %origin,
                    "the server does not implement grpc.health.v1.Health/Watch; \
                     health checking is off for this connection"
                );
                report(Health::Unchecked);
                return;
            }
            Ended::AfterAnswers(why) => {
                tracing::debug!(%origin, "the health check ended: {why}; watching again");
                report(Health::NotServing);
                pauses = Backoff::new(backoff);
            }
            Ended::WithoutAnswer(why) => {
                tracing::debug!(%origin, "the health check failed: {why}");
                report(Health::NotServing);
                let due = pauses.after_failure();
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep_until(due) => {}
                }
            }
        }
    }
}

enum Ended {
    Unimplemented,
    AfterAnswers(String),
    WithoutAnswer(String),
}

/// One Watch call: reports each answer; how it ended.
async fn watch_once<T>(grpc: &mut Grpc<T>, service: &str, report: &impl Fn(Health)) -> Ended
where
    T: tonic::client::GrpcService<Body>,
    T::ResponseBody: http_body::Body + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let failed = |status: tonic::Status, answered: bool| match status.code() {
        Code::Unimplemented if !answered => Ended::Unimplemented,
        _ if answered => Ended::AfterAnswers(status.to_string()),
        _ => Ended::WithoutAnswer(status.to_string()),
    };
    if let Err(error) = grpc.ready().await {
        return Ended::WithoutAnswer(error.into().to_string());
    }
    let request = tonic::Request::new(HealthCheckRequest {
        service: service.to_owned(),
    });
    let codec = tonic_prost::ProstCodec::<HealthCheckRequest, HealthCheckResponse>::default();
    let mut answers = match grpc
        .server_streaming(request, PathAndQuery::from_static(WATCH), codec)
        .await
    {
        Ok(answers) => answers.into_inner(),
        Err(status) => return failed(status, false),
    };
    let mut answered = false;
    loop {
        match answers.message().await {
            Ok(Some(answer)) => {
                answered = true;
                let serving = answer.status == ServingStatus::Serving as i32;
                report(if serving {
                    Health::Serving
                } else {
                    Health::NotServing
                });
            }
            Ok(None) => return failed(tonic::Status::unavailable("the watch ended"), answered),
            Err(status) => return failed(status, answered),
        }
    }
}
