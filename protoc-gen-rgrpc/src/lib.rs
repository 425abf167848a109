//! `protoc-gen-rgrpc`: a protoc plugin generating gRPC services for the `rgrpc` runtime.
//!
//! # Use
//!
//! ```text
//! protoc --plugin=protoc-gen-rgrpc=path/to/protoc-gen-rgrpc \
//!        --rgrpc_out=src/generated --rgrpc_opt=server=false \
//!        -I proto proto/hello.proto
//! ```
//!
//! (With the binary on `PATH`, `--plugin` is not needed.)
//!
//! Without protoc, the same binary parses the `.proto` files itself (with protox) and writes
//! the same output:
//!
//! ```text
//! protoc-gen-rgrpc compile -I proto --opt server=false --out src/generated proto/hello.proto
//! ```
//!
//! From Rust (a build script, a tool), [`compile::run`] and [`compile::write`] do the same, with
//! typed [`Parameters`].
//!
//! # Output
//!
//! One file per proto package, named as prost-build names it: `hello.rs` for package
//! `hello`, `a.b.rs` for `a.b`, `_.rs` for files without a package. Each holds the
//! package's messages (prost), then for every service `Foo`:
//!
//! * `pub mod foo_client` with `FooClient`, the async client;
//! * `pub mod foo_server` with the trait `Foo` to implement and `FooServer<T>`, the tower
//!   service that serves it.
//!
//! Include each file in a module path matching its package, e.g.
//! `pub mod hello { include!("generated/hello.rs"); }`; types of other packages are reached
//! with relative `super::` paths, exactly as prost-build lays them out.
//!
//! With `layout=file`: one file per `.proto` at its own path (`a/b/x.proto` → `a/b/x.rs`),
//! and for each directory and package `a/b/<package>.mod.rs` including that directory's
//! files of the package. No name depends on more than one directory, so `buf generate`'s
//! per-directory runs (`strategy: directory`) never write the same file; include every
//! `.mod.rs` of a package in the package's module.
//!
//! # Parameters (`--rgrpc_opt=k=v,k2=v2`)
//!
//! | parameter | default | meaning | example |
//! |---|---|---|---|
//! | `blocking` | `true` | generate the blocking client | `blocking=false` |
//! | `boxed` | none | box the message fields at these paths | `boxed=.pkg.Tree.left` |
//! | `btree_map` | none | maps at these paths become `BTreeMap` (`.` for all) | `btree_map=.` |
//! | `bytes` | none | `bytes` fields at these paths become `bytes::Bytes` | `bytes=.pkg.Blob.data` |
//! | `client` | `true` | generate the async client | `client=false` |
//! | `descriptor_source_info` | `true` | keep the proto comments in the embedded descriptors, so reflection clients show them; `false` saves their bytes | `descriptor_source_info=false` |
//! | `descriptors` | `true` | embed in each server the serialized descriptors of its proto file and of every file it imports, which `rgrpc::Server` serves by reflection | `descriptors=false` |
//! | `enum_attribute` | none | the same as `type_attribute`, for enums only | `enum_attribute=.pkg.Color=#[derive(strum::EnumIter)]` |
//! | `extern_path` | none | take the types under a proto path from an existing Rust path, as prost-build's `extern_path` does; repeatable | `extern_path=.common.v1=::common_protos::v1` |
//! | `field_attribute` | none | prost-build's `field_attribute`: an attribute on matching fields | `field_attribute=.pkg.Msg.id=#[serde(rename = "ID")]` |
//! | `include_file` | none | also write a file that includes every generated package file, nested as modules | `include_file=mod.rs` |
//! | `layout` | `package` | `package`: one file per proto package (`a.b.rs`); `file`: one file per `.proto` at its path (`a/b/x.proto` → `a/b/x.rs`) plus one `a/b/<package>.mod.rs` per directory and package including them, safe under every `buf generate` strategy | `layout=file` |
//! | `message_attribute` | none | the same as `type_attribute`, for messages only | `message_attribute=.pkg.Msg=#[non_exhaustive]` |
//! | `messages` | `true` | generate the messages; `false` emits services only, for pairing with another message generator (use `extern_path` to find its messages) | `messages=false` |
//! | `runtime_path` | `::rgrpc` | the path generated code uses to reach the runtime (for example a re-export) | `runtime_path=::my_crate::rgrpc` |
//! | `server` | `true` | generate the server trait and service | `server=false` |
//! | `type_attribute` | none | prost-build's `type_attribute`: an attribute on matching messages and enums; repeatable | `type_attribute=.=#[derive(serde::Serialize\, serde::Deserialize)]` |
//!
//! A bare boolean key means `true`. A comma inside a value is written `\,`. Unknown keys
//! and bad values are errors listing the known keys.
//!
//! # Errors
//!
//! Problems with the input (bad parameters, unknown types, names that cannot be made Rust)
//! come back in `CodeGeneratorResponse.error`, all of them at once, and then no file is
//! written. The plugin never panics on input and never writes part of its output.

pub mod compile;
mod descriptors;
#[doc(hidden)]
pub use descriptors::well_known_module;
mod emit;
mod error;
mod include;
mod layout;
mod locations;
mod messages;
pub use messages::quiet_prost_panics;
mod model;
mod names;
mod params;
pub use params::Parameters;
mod prost_debug;
mod prost_docs;
mod render;
mod request;
mod resolve;
mod rust;
mod rustdoc;

use std::sync::atomic::{AtomicUsize, Ordering};

use prost_types::compiler::code_generator_response::{Feature, File};
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};
use quote::quote;

use crate::error::Errors;
use crate::params::{Layout, Params};
use crate::request::Request;

/// The `--rgrpc_opt` parameters as the usage text lists them: `blocking=BOOL, boxed=PATH, …`.
pub fn parameter_usage() -> String {
    params::usage_list()
}

/// The parameter table shown in this documentation and in the README, in Markdown; a test
/// keeps both equal to it.
pub fn parameter_table() -> String {
    params::markdown_table()
}

/// Generates the response to `request`: every file, or an error and no file.
pub fn generate(request: &CodeGeneratorRequest) -> CodeGeneratorResponse {
    respond(Params::parse(request.parameter()), request)
}

/// [`generate`] for a request from a driver: what the plugin binary answers on stdout.
///
/// protoc always sets `compiler_version`; buf sends none, and may run the plugin once per
/// directory (its default `strategy: directory`), where one file per package loses half of
/// a package spread over two directories with nothing but a warning from buf. No run can see
/// that, so a request without `compiler_version` must choose its `layout=`, and otherwise
/// gets an error explaining the choice.
pub fn generate_for_driver(request: &CodeGeneratorRequest) -> CodeGeneratorResponse {
    let params = Params::parse(request.parameter());
    if request.compiler_version.is_none()
        && !request.file_to_generate.is_empty()
        && params.as_ref().is_ok_and(|params| !params.layout_given)
    {
        return respond(Err(vec![error::LAYOUT_NOT_CHOSEN.to_owned()]), request);
    }
    respond(params, request)
}

/// [`generate`] with typed `parameters` in place of the request's parameter string.
pub(crate) fn generate_with(
    request: &CodeGeneratorRequest,
    parameters: &Parameters,
) -> CodeGeneratorResponse {
    respond(Params::from_parameters(parameters), request)
}

fn respond(
    params: Result<Params, Vec<String>>,
    request: &CodeGeneratorRequest,
) -> CodeGeneratorResponse {
    let files = params
        .map_err(|errors| Errors::from_iter(errors.iter().map(|e| error::invalid_parameter(e))))
        .and_then(|params| generate_files(request, &params));
    let (file, error) = match files {
        Ok(files) => (files, None),
        Err(errors) => (Vec::new(), Some(errors.to_string())),
    };
    CodeGeneratorResponse {
        error,
        // Editions are not declared: protoc then refuses editions files itself, with a
        // clear message, before we ever see them.
        supported_features: Some(Feature::Proto3Optional as u64),
        file,
    }
}

fn generate_files(request: &CodeGeneratorRequest, params: &Params) -> Result<Vec<File>, Errors> {
    let request = Request::new(request, params)?;
    let packages = model::build(&request, params)?;
    let messages = if params.messages {
        messages::generate(&request, params)?
    } else {
        Default::default()
    };

    // One unit per output file: a package, or with layout=file a proto file.
    let units: Vec<Unit<'_>> = match params.layout {
        Layout::Package => packages.iter().map(Unit::Package).collect(),
        Layout::File => packages
            .iter()
            .flat_map(|package| {
                package
                    .sources
                    .iter()
                    .map(move |source| Unit::File { package, source })
            })
            .collect(),
    };

    let mut files = Vec::new();
    // (proto package, file name) of every package file, for the include file.
    let mut written: Vec<(String, String)> = Vec::new();
    // Every proto file's output (layout=file), for the per-directory include files.
    let mut by_file: Vec<layout::Written> = Vec::new();
    let mut errors = Errors::default();
    for (unit, rendered) in units.iter().zip(render_units(params, &messages, &units)) {
        match rendered {
            Rendered::Nothing => {}
            Rendered::File { package, file } => {
                if let Unit::File { source, .. } = unit {
                    by_file.push(layout::Written {
                        package: package.clone(),
                        name: file.name().to_owned(),
                        source: (*source).clone(),
                    });
                }
                written.push((package, file.name().to_owned()));
                files.push(file);
            }
            Rendered::Failed(message) => errors.push(message),
        }
    }
    if params.layout == Layout::File {
        match layout::include_files(&by_file) {
            Ok(includes) => files.extend(includes.into_iter().map(|(name, content)| File {
                name: Some(name),
                content: Some(content),
                ..Default::default()
            })),
            Err(messages) => messages.into_iter().for_each(|m| errors.push(m)),
        }
    }
    if let Some(name) = &params.include_file {
        match include::render(name, &written) {
            Ok(content) => files.push(File {
                name: Some(name.clone()),
                content: Some(content),
                ..Default::default()
            }),
            Err(message) => errors.push(message),
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    errors.finish(files)
}

/// What one output file is made from.
#[derive(Clone, Copy)]
enum Unit<'a> {
    /// A whole package (`layout=package`).
    Package(&'a model::Package),
    /// One proto file of a package (`layout=file`).
    File {
        package: &'a model::Package,
        source: &'a String,
    },
}

/// What became of one unit.
enum Rendered {
    /// Neither messages nor services: no file.
    Nothing,
    File {
        package: String,
        file: File,
    },
    Failed(String),
}

/// Renders every unit's file, in the given order, on this thread and up to
/// [`MAX_WORKERS`]` - 1` helpers: pretty-printing is most of the plugin's time and each file
/// is independent. All share the one model and take units by index from one counter.
fn render_units(
    params: &Params,
    messages: &messages::Messages,
    units: &[Unit<'_>],
) -> Vec<Rendered> {
    let helpers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_WORKERS)
        .min(units.len())
        .saturating_sub(1);
    let next = AtomicUsize::new(0);
    let take_turns = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(unit) = units.get(index) else {
                return done;
            };
            done.push((index, render_unit(*unit, params, messages)));
        }
    };
    let mut done = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..helpers).map(|_| scope.spawn(take_turns)).collect();
        let mut all = take_turns();
        for handle in handles {
            match handle.join() {
                Ok(part) => all.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, rendered)| rendered).collect()
}

/// More threads than this gain nothing measurable on large corpora.
const MAX_WORKERS: usize = 4;

/// The generated-code contract this plugin writes for: every generated file with services
/// asserts `rgrpc::codegen::RGRPC_CODEGEN_V{CODEGEN_CONTRACT}`, which a runtime that
/// implements the contract defines.
pub const CODEGEN_CONTRACT: u32 = 1;

/// The `rgrpc` runtime this plugin generates code for, as a dependency requirement
/// (`rgrpc = "0.1"`). The plugin and the runtime are released together, with the
/// workspace's version, so it is this crate's own major.minor.
pub const RUNTIME_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION_MAJOR"),
    ".",
    env!("CARGO_PKG_VERSION_MINOR")
);

fn render_unit(unit: Unit<'_>, params: &Params, messages: &messages::Messages) -> Rendered {
    let runtime = &params.runtime_path;
    let (package, unit_messages, mut services, sources, name, what) = match unit {
        Unit::Package(package) => (
            package,
            messages.of_package(&package.proto_name),
            emit::services(&package.services, params, runtime),
            package.sources.as_slice(),
            package.file_name.clone(),
            format!("package {:?}", package.proto_name),
        ),
        Unit::File { package, source } => (
            package,
            messages.of_file(source),
            emit::services(
                package.services.iter().filter(|s| s.source == *source),
                params,
                runtime,
            ),
            std::slice::from_ref(source),
            layout::file_name(source),
            format!("file {source:?}"),
        ),
    };
    if unit_messages.is_none() && services.is_empty() {
        return Rendered::Nothing;
    }
    if !services.is_empty() {
        // Fails to compile, naming the symbol, against a runtime older than this plugin.
        let contract = quote::format_ident!("RGRPC_CODEGEN_V{CODEGEN_CONTRACT}");
        services = quote! {
            const _: () = #runtime::codegen::#contract;
            #services
        };
    }
    match render::file(&what, sources, unit_messages.as_deref(), services) {
        Ok(content) => Rendered::File {
            package: package.proto_name.clone(),
            file: File {
                name: Some(name),
                content: Some(content),
                ..Default::default()
            },
        },
        Err(message) => Rendered::Failed(message),
    }
}
