//! Server reflection, `grpc.reflection.v1` and `grpc.reflection.v1alpha`: how grpcurl,
//! `buf curl`, Postman and grpcui list a server's services and call them with no `.proto`
//! file at hand.
//!
//! [`Server`](crate::Server) serves both versions for every service it serves, from the
//! descriptors the plugin embeds in generated code; `.reflection(false)` turns them off.
//! For `tonic::transport::Server`, build them from the generated servers:
//!
//! ```
//! # mod doctest { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/hello.rs")); }
//! # use doctest::{hello, MyHello};
//! use hello::hello_service_server::HelloServiceServer;
//! use rgrpc::reflection::Reflection;
//!
//! let hello = HelloServiceServer::new(MyHello);
//! let reflection = Reflection::new().with(&hello);
//! let router = rgrpc::tonic::transport::Server::builder()
//!     .add_service(hello)
//!     .add_service(reflection.v1())
//!     .add_service(reflection.v1alpha());
//! # drop(router);
//! ```

mod schema;

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use prost::Message;
use tonic::server::NamedService;

use self::schema::Schema;
use crate::server::DescribedService;
use crate::{Context, RequestStream, ResponseSink, Status};

/// `grpc.reflection.v1`, as protoc-gen-rgrpc generates it.
#[allow(missing_docs)]
pub mod v1 {
    include!("../generated/grpc.reflection.v1.rs");
}

/// `grpc.reflection.v1alpha`, as protoc-gen-rgrpc generates it: the version older clients
/// (grpcurl before 1.8.8, grpcio-reflection's client) speak.
#[allow(missing_docs)]
pub mod v1alpha {
    include!("../generated/grpc.reflection.v1alpha.rs");
}

use v1::server_reflection_request::MessageRequest;
use v1::server_reflection_response::MessageResponse;

/// The reflection services of a set of services: build it with [`with`](Self::with), serve
/// [`v1`](Self::v1) and [`v1alpha`](Self::v1alpha). Both reflection services list and
/// describe themselves too. Cheap to clone.
#[derive(Clone)]
pub struct Reflection {
    inner: Arc<Inner>,
}

struct Inner {
    /// Each service's name and files, as added.
    services: Vec<(&'static str, &'static [&'static [u8]])>,
    /// Built from `services` on the first request: a server that is never asked pays
    /// nothing at start-up.
    schema: OnceLock<Schema>,
}

/// The services described, not their bytes.
impl std::fmt::Debug for Reflection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = self.inner.services.iter().map(|(name, _)| name);
        f.debug_struct("Reflection")
            .field("services", &names.collect::<Vec<_>>())
            .finish()
    }
}

impl Default for Reflection {
    fn default() -> Self {
        Self::new()
    }
}

impl Reflection {
    /// Reflection describing only itself.
    pub fn new() -> Self {
        let reflection = Self {
            inner: Arc::new(Inner {
                services: Vec::new(),
                schema: OnceLock::new(),
            }),
        };
        reflection
            .with_described::<v1::server_reflection_server::ServerReflectionServer<Self>>()
            .with_described::<v1alpha::server_reflection_server::ServerReflectionServer<Self>>()
    }

    /// Also describes `service` (any generated `…Server`).
    pub fn with<S: NamedService + DescribedService>(self, _service: &S) -> Self {
        self.with_described::<S>()
    }

    fn with_described<S: NamedService + DescribedService>(self) -> Self {
        self.with_files(S::NAME, S::FILE_DESCRIPTORS)
    }

    /// Also describes the service `name`, declared in the first of `files` (serialized
    /// `FileDescriptorProto`s, then the files it imports).
    pub(crate) fn with_files(self, name: &'static str, files: &'static [&'static [u8]]) -> Self {
        let mut services = self.inner.services.clone();
        services.push((name, files));
        Self {
            inner: Arc::new(Inner {
                services,
                schema: OnceLock::new(),
            }),
        }
    }

    /// `grpc.reflection.v1.ServerReflection`, to serve.
    pub fn v1(&self) -> v1::server_reflection_server::ServerReflectionServer<Self> {
        v1::server_reflection_server::ServerReflectionServer::new(self.clone())
    }

    /// `grpc.reflection.v1alpha.ServerReflection`, to serve.
    pub fn v1alpha(&self) -> v1alpha::server_reflection_server::ServerReflectionServer<Self> {
        v1alpha::server_reflection_server::ServerReflectionServer::new(self.clone())
    }

    fn schema(&self) -> &Schema {
        self.inner
            .schema
            .get_or_init(|| Schema::new(&self.inner.services))
    }

    /// The answer to one request of a stream; `sent` holds the files this stream has sent.
    fn answer(
        &self,
        request: v1::ServerReflectionRequest,
        sent: &mut HashSet<String>,
    ) -> v1::ServerReflectionResponse {
        let schema = self.schema();
        let files = |name: &str, sent: &mut HashSet<String>| {
            MessageResponse::FileDescriptorResponse(v1::FileDescriptorResponse {
                file_descriptor_proto: schema
                    .file_with_imports(name, sent)
                    .into_iter()
                    .map(<[u8]>::to_vec)
                    .collect(),
            })
        };
        let response = match &request.message_request {
            Some(MessageRequest::ListServices(_)) => {
                MessageResponse::ListServicesResponse(v1::ListServiceResponse {
                    service: schema
                        .services()
                        .iter()
                        .map(|name| v1::ServiceResponse {
                            name: (*name).to_owned(),
                        })
                        .collect(),
                })
            }
            Some(MessageRequest::FileByFilename(name)) if schema.has_file(name) => {
                files(name, sent)
            }
            Some(MessageRequest::FileByFilename(name)) => not_found(format!("file {name:?}")),
            Some(MessageRequest::FileContainingSymbol(symbol)) => {
                match schema.file_containing_symbol(symbol) {
                    Some(file) => files(file, sent),
                    None => not_found(format!("symbol {symbol:?}")),
                }
            }
            Some(MessageRequest::FileContainingExtension(extension)) => {
                let (message, number) = (&extension.containing_type, extension.extension_number);
                match schema.file_containing_extension(message, number) {
                    Some(file) => files(file, sent),
                    None => not_found(format!("extension {number} of {message:?}")),
                }
            }
            Some(MessageRequest::AllExtensionNumbersOfType(message)) => {
                match schema.extension_numbers(message) {
                    Some(numbers) => {
                        MessageResponse::AllExtensionNumbersResponse(v1::ExtensionNumberResponse {
                            base_type_name: message.clone(),
                            extension_number: numbers,
                        })
                    }
                    None => not_found(format!("message type {message:?}")),
                }
            }
            None => MessageResponse::ErrorResponse(v1::ErrorResponse {
                error_code: crate::Code::InvalidArgument as i32,
                error_message: "the request asks for nothing: message_request is not set"
                    .to_owned(),
            }),
        };
        v1::ServerReflectionResponse {
            valid_host: request.host.clone(),
            original_request: Some(request),
            message_response: Some(response),
        }
    }
}

/// The answer for a name this server does not know.
fn not_found(what: String) -> MessageResponse {
    MessageResponse::ErrorResponse(v1::ErrorResponse {
        error_code: crate::Code::NotFound as i32,
        error_message: format!("{what} is not known to this server's reflection"),
    })
}

impl v1::server_reflection_server::ServerReflection for Reflection {
    async fn server_reflection_info(
        &self,
        _ctx: Context,
        mut requests: RequestStream<v1::ServerReflectionRequest>,
        responses: ResponseSink<v1::ServerReflectionResponse>,
    ) -> Result<(), Status> {
        let mut sent = HashSet::new();
        while let Some(request) = requests.message().await? {
            responses.send(self.answer(request, &mut sent)).await?;
        }
        Ok(())
    }
}

/// v1alpha is v1 under another package: the messages are the same on the wire, so each
/// request is read as v1, answered, and the answer read back as v1alpha.
impl v1alpha::server_reflection_server::ServerReflection for Reflection {
    async fn server_reflection_info(
        &self,
        _ctx: Context,
        mut requests: RequestStream<v1alpha::ServerReflectionRequest>,
        responses: ResponseSink<v1alpha::ServerReflectionResponse>,
    ) -> Result<(), Status> {
        let mut sent = HashSet::new();
        while let Some(request) = requests.message().await? {
            let answer = self.answer(same_on_the_wire(&request)?, &mut sent);
            responses.send(same_on_the_wire(&answer)?).await?;
        }
        Ok(())
    }
}

/// `message` as the message type `B` with the same fields.
fn same_on_the_wire<A: Message, B: Message + Default>(message: &A) -> Result<B, Status> {
    B::decode(message.encode_to_vec().as_slice())
        .map_err(|err| Status::internal(format!("reflection v1alpha: {err}")))
}
