//! What the emitters work from: packages, services and methods with every Rust name and
//! type already decided. After `build`, no proto name is resolved or converted again.

use std::collections::{BTreeMap, BTreeSet};

use prost_types::FileDescriptorProto;
use syn::{Ident, Type};

use crate::descriptor::{Comments, METHOD_FIELD, SERVICE_FIELD, TypeIndex};
use crate::error::{self, Errors};
use crate::names;
use crate::params::Params;
use crate::resolve;

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
pub(crate) fn build(
    files: &[FileDescriptorProto],
    to_generate: &[String],
    params: &Params,
) -> Result<Vec<Package>, Errors> {
    let mut errors = Errors::default();
    let index = TypeIndex::new(files);
    let by_name: BTreeMap<&str, &FileDescriptorProto> =
        files.iter().map(|file| (file.name(), file)).collect();

    let generated: BTreeSet<&str> = to_generate.iter().map(String::as_str).collect();
    let generating: BTreeSet<&str> = generated
        .iter()
        .filter_map(|name| by_name.get(name))
        .map(|file| file.package())
        .collect();
    let mut packages: BTreeMap<String, Package> = BTreeMap::new();
    // Sorted, so that the order protoc lists files in never changes the output.
    let mut wanted: Vec<&String> = to_generate.iter().collect();
    wanted.sort();
    wanted.dedup();
    for name in wanted {
        let Some(file) = by_name.get(name.as_str()) else {
            errors.push(error::file_not_in_request(name));
            continue;
        };
        if file.syntax() == "editions" {
            errors.push(error::editions_unsupported(name));
            continue;
        }
        check_left_out(file, &by_name, &generated, &generating, &mut errors);
        let package = packages
            .entry(file.package().to_owned())
            .or_insert_with(|| Package {
                proto_name: file.package().to_owned(),
                file_name: prost_build::Module::from_protobuf_package_name(file.package())
                    .to_file_name_or("_"),
                sources: Vec::new(),
                services: Vec::new(),
            });
        package.sources.push(name.clone());
        if params.client || params.blocking || params.server {
            let comments = Comments::new(file);
            for (service_index, service) in file.service.iter().enumerate() {
                let builder = ServiceBuilder {
                    file,
                    comments: &comments,
                    index: &index,
                    params,
                    path: vec![SERVICE_FIELD, index_i32(service_index)],
                };
                if let Some(service) = builder.build(service, &mut errors) {
                    package.services.push(service);
                }
            }
        }
    }
    for package in packages.values_mut() {
        settle_modules(package, files, &mut errors);
    }
    errors.finish(packages.into_values().collect())
}

/// One output file holds a whole package, so a package's files are generated together:
/// a file that `file` depends on, directly or not, must be generated if its package is.
/// (prost-build, too, must see every message the generated ones reach, and is given the
/// files of packages not being generated, but not the left-out files of those that are.)
fn check_left_out(
    file: &FileDescriptorProto,
    by_name: &BTreeMap<&str, &FileDescriptorProto>,
    generated: &BTreeSet<&str>,
    generating: &BTreeSet<&str>,
    errors: &mut Errors,
) {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut pending: Vec<&str> = file.dependency.iter().map(String::as_str).collect();
    while let Some(name) = pending.pop() {
        if !seen.insert(name) {
            continue;
        }
        let Some(dependency) = by_name.get(name) else {
            continue;
        };
        pending.extend(dependency.dependency.iter().map(String::as_str));
        if generated.contains(name) || !generating.contains(dependency.package()) {
            continue;
        }
        if file.dependency.iter().any(|d| d == name) && dependency.package() == file.package() {
            errors.push(error::package_split(file.name(), name, file.package()));
        } else {
            errors.push(error::package_left_out(
                file.name(),
                name,
                dependency.package(),
            ));
        }
    }
}

fn index_i32(index: usize) -> i32 {
    // A descriptor cannot hold 2^31 services or methods: protoc's own limits are far lower.
    i32::try_from(index).unwrap_or(i32::MAX)
}

struct ServiceBuilder<'a> {
    file: &'a FileDescriptorProto,
    comments: &'a Comments<'a>,
    index: &'a TypeIndex,
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
            names::ident(&name).map_err(|problem| error::bad_ident(file, &element, &problem))
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
            let mut path = self.path.clone();
            path.extend([METHOD_FIELD, index_i32(method_index)]);
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
        let ident = names::ident(&snake)
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

    fn resolve(&self, element: &str, fqn: &str) -> Result<Type, String> {
        let file = self.file.name();
        let well_known = fqn.starts_with(".google.protobuf.");
        if !well_known && !self.index.contains(fqn) {
            return Err(error::unknown_type(file, element, fqn));
        }
        let source = resolve::rust_type(
            fqn,
            self.file.package(),
            &self.params.runtime_path,
            &self.params.extern_paths,
        );
        syn::parse_str(&source).map_err(|err| {
            error::bad_ident(
                file,
                &format!("rpc {element}"),
                &format!("type {fqn:?} → `{source}`: {err}"),
            )
        })
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
            match names::ident(&name) {
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
