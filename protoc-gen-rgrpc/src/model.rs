//! What the emitters work from: packages, services and methods with every Rust name and
//! type already decided. After `build`, no proto name is resolved or converted again.
//!
//! The model is plain data (`Send + Sync`): built once, then read by every rendering
//! thread.

use std::collections::BTreeMap;

use prost_types::FileDescriptorProto;

use crate::descriptors::{Descriptors, Encoded};
use crate::error::{self, Errors};
use crate::names;
use crate::params::Params;
use crate::request::paths::{FILE_SERVICE, SERVICE_METHOD, child};
use crate::request::{Comments, Request};
use crate::resolve;
use crate::rust::{RustIdent as Ident, RustType as Type};

/// One output file: a proto package and what it generates.
pub(crate) struct Package {
    /// The proto package, `""` for files without one.
    pub(crate) proto_name: String,
    /// The output file name, as prost-build names it (`a.b.rs`, `_.rs`).
    pub(crate) file_name: String,
    /// The proto files of this package being generated, sorted.
    pub(crate) sources: Vec<String>,
    pub(crate) services: Vec<Service>,
}

pub(crate) struct Service {
    /// The proto file declaring it (`layout=file` writes it to that file's output).
    pub(crate) source: String,
    /// `hello.HelloService`, as in route paths and `NamedService::NAME`.
    pub(crate) full_name: String,
    pub(crate) trait_ident: Ident,
    pub(crate) client_ident: Ident,
    /// The blocking client, `FooBlockingClient`.
    pub(crate) blocking_ident: Ident,
    /// The client trait for mocking, `FooApi`.
    pub(crate) api_ident: Ident,
    pub(crate) server_ident: Ident,
    pub(crate) client_module: Ident,
    pub(crate) server_module: Ident,
    pub(crate) docs: Vec<String>,
    pub(crate) deprecated: bool,
    pub(crate) methods: Vec<Method>,
    /// The serialized descriptors of its file and every file that imports, for reflection;
    /// empty without a server or with `descriptors=false`.
    pub(crate) file_descriptors: Vec<Encoded>,
}

pub(crate) struct Method {
    pub(crate) proto_name: String,
    pub(crate) ident: Ident,
    pub(crate) kind: MethodKind,
    /// `/hello.HelloService/SayHello`: from proto names, never Rust idents.
    pub(crate) route: String,
    pub(crate) input: Type,
    pub(crate) output: Type,
    pub(crate) docs: Vec<String>,
    pub(crate) deprecated: bool,
    /// A sentence for the docs when the proto declares an `idempotency_level`.
    pub(crate) idempotency: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MethodKind {
    Unary,
    ServerStreaming,
    ClientStreaming,
    Bidi,
}

impl MethodKind {
    fn new(client_streaming: bool, server_streaming: bool) -> Self {
        match (client_streaming, server_streaming) {
            (false, false) => Self::Unary,
            (false, true) => Self::ServerStreaming,
            (true, false) => Self::ClientStreaming,
            (true, true) => Self::Bidi,
        }
    }
}

/// Method names an rpc must not take on the generated client: its constructors, and the
/// methods of traits every client has (`Clone`, `Debug`) or gets from blanket impls
/// (`Into`, `From`, `ToOwned`, `Borrow`, `Any`), which an inherent method would shadow at
/// call sites (`client.clone()` must still clone). An rpc whose Rust name is one of these
/// gets the suffix `_rpc` (`rpc Clone` → `clone_rpc()`), on client and server alike so the
/// two stay symmetric. This list is part of the generated API: extend it only with care.
pub(crate) const RESERVED_CLIENT_METHODS: &[&str] = &[
    "borrow",
    "borrow_mut",
    "clone",
    "clone_from",
    "clone_into",
    "fmt",
    "from",
    "from_client",
    "into",
    "new",
    "to_owned",
    "try_from",
    "try_into",
    "type_id",
];

/// The suffix that moves a generated name out of the way of a reserved or taken one.
const ESCAPE_SUFFIX: &str = "_rpc";

/// Builds the model of every package with something to generate.
pub(crate) fn build(request: &Request<'_>, params: &Params) -> Result<Vec<Package>, Errors> {
    let mut errors = Errors::default();
    let mut packages: BTreeMap<String, Package> = BTreeMap::new();
    let mut descriptors = Descriptors::new(request, params.descriptor_source_info);
    for &file in request.to_generate() {
        let package = packages
            .entry(file.package().to_owned())
            .or_insert_with(|| Package {
                proto_name: file.package().to_owned(),
                file_name: prost_build::Module::from_protobuf_package_name(file.package())
                    .to_file_name_or("_"),
                sources: Vec::new(),
                services: Vec::new(),
            });
        package.sources.push(file.name().to_owned());
        if params.client || params.blocking || params.server {
            let comments = Comments::new(file);
            for (service_index, service) in file.service.iter().enumerate() {
                let builder = ServiceBuilder {
                    file,
                    comments: &comments,
                    params,
                    path: child(&[], FILE_SERVICE, service_index),
                };
                if let Some(mut service) = builder.build(service, &mut errors) {
                    if params.server && params.descriptors {
                        service.file_descriptors = descriptors.with_imports(file.name());
                    }
                    package.services.push(service);
                }
            }
        }
    }
    for package in packages.values_mut() {
        settle_modules(package, request.files(), &mut errors);
    }
    errors.finish(packages.into_values().collect())
}

struct ServiceBuilder<'a> {
    file: &'a FileDescriptorProto,
    comments: &'a Comments<'a>,
    params: &'a Params,
    path: Vec<i32>,
}

impl ServiceBuilder<'_> {
    fn build(
        &self,
        service: &prost_types::ServiceDescriptorProto,
        errors: &mut Errors,
    ) -> Option<Service> {
        let file = self.file.name();
        let full_name = match self.file.package() {
            "" => service.name().to_owned(),
            package => format!("{package}.{}", service.name()),
        };
        let camel = names::to_upper_camel(service.name());
        let snake = names::to_snake(service.name());
        let element = format!("service {full_name}");
        let idents = [
            camel.clone(),
            names::derived(&camel, "Client"),
            names::derived(&camel, "BlockingClient"),
            names::derived(&camel, "Api"),
            names::derived(&camel, "Server"),
            names::derived(&snake, "_client"),
            names::derived(&snake, "_server"),
        ]
        .map(|name| {
            Ident::new(&name).map_err(|problem| error::bad_ident(file, &element, &problem))
        });
        let [
            trait_ident,
            client_ident,
            blocking_ident,
            api_ident,
            server_ident,
            client_module,
            server_module,
        ] = idents;

        let mut methods: Vec<Method> = Vec::new();
        for (method_index, method) in service.method.iter().enumerate() {
            let path = child(&self.path, SERVICE_METHOD, method_index);
            match self.method(&full_name, method, &path) {
                Ok(method) => {
                    if let Some(earlier) = methods.iter().find(|m| m.ident == method.ident) {
                        errors.push(error::method_collision(
                            file,
                            &full_name,
                            &earlier.proto_name,
                            &method.proto_name,
                            &method.ident.to_string(),
                        ));
                    }
                    methods.push(method);
                }
                Err(message) => errors.push(message),
            }
        }
        let mut ok = |ident: Result<Ident, String>| ident.map_err(|e| errors.push(e)).ok();
        Some(Service {
            source: self.file.name().to_owned(),
            trait_ident: ok(trait_ident)?,
            client_ident: ok(client_ident)?,
            blocking_ident: ok(blocking_ident)?,
            api_ident: ok(api_ident)?,
            server_ident: ok(server_ident)?,
            client_module: ok(client_module)?,
            server_module: ok(server_module)?,
            docs: self.comments.lines(&self.path),
            deprecated: service.options.as_ref().is_some_and(|o| o.deprecated()),
            full_name,
            methods,
            file_descriptors: Vec::new(),
        })
    }

    fn method(
        &self,
        service: &str,
        method: &prost_types::MethodDescriptorProto,
        path: &[i32],
    ) -> Result<Method, String> {
        let file = self.file.name();
        let element = format!("{service}.{}", method.name());
        let mut snake = names::to_snake(method.name());
        if RESERVED_CLIENT_METHODS.contains(&names::unescape(&snake)) {
            snake = names::derived(&snake, ESCAPE_SUFFIX);
        }
        let ident = Ident::new(&snake)
            .map_err(|problem| error::bad_ident(file, &format!("rpc {element}"), &problem))?;
        let input = self.resolve(&element, method.input_type())?;
        let output = self.resolve(&element, method.output_type())?;
        Ok(Method {
            proto_name: method.name().to_owned(),
            ident,
            kind: MethodKind::new(method.client_streaming(), method.server_streaming()),
            route: format!("/{service}/{}", method.name()),
            input,
            output,
            docs: self.comments.lines(path),
            deprecated: method.options.as_ref().is_some_and(|o| o.deprecated()),
            idempotency: method
                .options
                .as_ref()
                .and_then(|o| idempotency(o.idempotency_level())),
        })
    }

    /// The Rust type of `fqn`, which the request stage found defined (or well-known).
    fn resolve(&self, element: &str, fqn: &str) -> Result<Type, String> {
        resolve::rust_type(
            fqn,
            self.file.package(),
            &self.params.runtime_path,
            &self.params.extern_paths,
        )
        .map_err(|problem| error::bad_ident(self.file.name(), &format!("rpc {element}"), &problem))
    }
}

fn idempotency(level: prost_types::method_options::IdempotencyLevel) -> Option<&'static str> {
    use prost_types::method_options::IdempotencyLevel;
    match level {
        IdempotencyLevel::IdempotencyUnknown => None,
        IdempotencyLevel::NoSideEffects => {
            Some("It has no side effects (`idempotency_level = NO_SIDE_EFFECTS`): safe to retry.")
        }
        IdempotencyLevel::Idempotent => {
            Some("It is idempotent (`idempotency_level = IDEMPOTENT`): safe to retry.")
        }
    }
}

/// Who already owns a module name in a package's module, besides our services.
enum Owner {
    /// prost-build's module for the nested types, enums or oneofs of a message.
    Message(String),
    /// The module of a sub-package (`a.b` is `b` inside `a`).
    Package(String),
}

impl Owner {
    fn describe(&self) -> String {
        match self {
            Owner::Message(message) => {
                format!("the module prost-build generates for message {message}")
            }
            Owner::Package(package) => format!("the module of package {package}"),
        }
    }
}

/// Gives every service module a name no one else in the package uses. A module whose name
/// prost-build or a sub-package already owns takes the suffix `_rpc` (`greeter_client` →
/// `greeter_client_rpc`): the rule depends only on the proto's names, never on declaration
/// order. Two services whose names map to the same module are a true ambiguity: an error.
fn settle_modules(package: &mut Package, files: &[FileDescriptorProto], errors: &mut Errors) {
    let source = package.sources.first().cloned().unwrap_or_default();
    let taken = taken_modules(&package.proto_name, files);
    let mut ours: BTreeMap<String, String> = BTreeMap::new();
    for service in &mut package.services {
        for module in [&mut service.client_module, &mut service.server_module] {
            let mut name = module.to_string();
            if taken.contains_key(&name) {
                name = names::derived(&name, ESCAPE_SUFFIX);
            }
            let clash = if let Some(owner) = taken.get(&name) {
                Some(error::module_collision(
                    &source,
                    &service.full_name,
                    &name,
                    &owner.describe(),
                ))
            } else {
                ours.get(&name).map(|earlier| {
                    error::service_collision(&source, earlier, &service.full_name, &name)
                })
            };
            if let Some(message) = clash {
                errors.push(message);
                continue;
            }
            match Ident::new(&name) {
                Ok(ident) => *module = ident,
                Err(problem) => {
                    errors.push(error::bad_ident(&source, &service.full_name, &problem));
                    continue;
                }
            }
            ours.insert(name, service.full_name.clone());
        }
    }
}

/// The module names prost-build's messages and the sub-packages use inside `package`.
fn taken_modules(package: &str, files: &[FileDescriptorProto]) -> BTreeMap<String, Owner> {
    let mut taken = BTreeMap::new();
    for file in files {
        if file.package() == package {
            for message in &file.message_type {
                let has_module = !message.nested_type.is_empty()
                    || !message.enum_type.is_empty()
                    || !message.oneof_decl.is_empty();
                if has_module {
                    taken.insert(
                        names::to_snake(message.name()),
                        Owner::Message(message.name().to_owned()),
                    );
                }
            }
        }
        let child = match package {
            "" => Some(file.package()),
            parent => file
                .package()
                .strip_prefix(parent)
                .and_then(|rest| rest.strip_prefix('.')),
        };
        if let Some(segment) = child
            .and_then(|c| c.split('.').next())
            .filter(|s| !s.is_empty())
        {
            taken.insert(
                names::to_snake(segment),
                Owner::Package(file.package().to_owned()),
            );
        }
    }
    taken
}
