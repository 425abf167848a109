//! What rgrpc's server and client run with around each call, for measuring what middleware
//! costs: `RPC_BENCH_MIDDLEWARE` unset (nothing, the default), `noop` (one interceptor of
//! each kind whose hooks do nothing: the interceptor machinery alone), or `otel` (gRFC A66
//! metrics on an OpenTelemetry SDK meter provider whose reader aggregates every record and
//! exports once an hour; needs the bench's `otel` feature).

use rgrpc::intercept::{ClientInterceptor, ServerInterceptor};

/// The environment variable that chooses.
pub const VARIABLE: &str = "RPC_BENCH_MIDDLEWARE";

/// Does nothing, on either side.
struct Noop;

impl ServerInterceptor for Noop {}
impl ClientInterceptor for Noop {}

/// The chosen middleware, read once from the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Middleware {
    None,
    Noop,
    #[cfg(feature = "otel")]
    Otel,
}

impl Middleware {
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(VARIABLE).as_deref() {
            Err(_) | Ok("") => Ok(Middleware::None),
            Ok("noop") => Ok(Middleware::Noop),
            #[cfg(feature = "otel")]
            Ok("otel") => Ok(Middleware::Otel),
            Ok(other) => Err(format!(
                "{VARIABLE}={other:?} is not known (known: noop, otel with the bench's `otel` feature)"
            )),
        }
    }

    pub fn server(self, server: rgrpc::Server) -> rgrpc::Server {
        match self {
            Middleware::None => server,
            Middleware::Noop => server.interceptor(Noop),
            #[cfg(feature = "otel")]
            Middleware::Otel => server.interceptor(rgrpc::otel::ServerMetrics::new(&provider())),
        }
    }

    pub fn client(self, client: rgrpc::client::Client) -> rgrpc::client::Client {
        match self {
            Middleware::None => client,
            Middleware::Noop => client.interceptor(Noop),
            #[cfg(feature = "otel")]
            Middleware::Otel => client.interceptor(rgrpc::otel::ClientMetrics::new(&provider())),
        }
    }
}

/// A meter provider whose reader aggregates every record, as a program's would, and
/// exports once an hour (never, in a benchmark).
#[cfg(feature = "otel")]
fn provider() -> opentelemetry_sdk::metrics::SdkMeterProvider {
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
    let reader = PeriodicReader::builder(InMemoryMetricExporter::default())
        .with_interval(std::time::Duration::from_secs(3600))
        .build();
    opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(reader)
        .build()
}
