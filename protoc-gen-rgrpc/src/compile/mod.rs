//! Generating without protoc: `.proto` files are parsed by a pure-Rust front end (protox) into
//! the same `CodeGeneratorRequest` protoc would send, then handed to [`generate`](crate::generate).
//!
//! This is what `protoc-gen-rgrpc compile` and build scripts use; the output is byte-identical
//! to the protoc path for every fixture (see `tests/frontend.rs`).
//!
//! ```no_run
//! use protoc_gen_rgrpc::Parameters;
//! use protoc_gen_rgrpc::compile::{self, Options};
//!
//! let output = compile::run(&Options {
//!     includes: vec!["proto".into()],
//!     files: vec!["proto/hello.proto".into()],
//!     parameters: Parameters::new().server(false),
//! })?;
//! compile::write(&output, "src/generated".as_ref())?;
//! # Ok::<(), compile::Error>(())
//! ```

mod assemble;
mod error;
mod inputs;
mod write;

use std::path::{Path, PathBuf};

use prost::Message as _;
use prost_types::FileDescriptorSet;
use prost_types::compiler::CodeGeneratorRequest;

use crate::Parameters;

pub use self::error::Error;

/// What to compile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Include directories, searched in order for the files and their imports (protoc's `-I`).
    /// Empty means the current directory, as with protoc. The well-known types
    /// (`google/protobuf/*.proto`) are always available, from built-in copies that take
    /// precedence over copies in these directories.
    pub includes: Vec<PathBuf>,
    /// The files to generate for, as paths under one of `includes` (like protoc's arguments).
    pub files: Vec<PathBuf>,
    /// The plugin parameters: typed, or as given to `--rgrpc_opt`
    /// (`Parameters::new().raw("server=false,include_file=mod.rs")`).
    pub parameters: Parameters,
}

/// The generated files, every .proto file read (for cargo's rerun-if-changed), and their
/// descriptors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// Generated files, sorted by name, as the plugin returns them to protoc.
    pub files: Vec<GeneratedFile>,
    /// Every `.proto` file read from disk, imports included (not the built-in well-known types).
    pub inputs: Vec<PathBuf>,
    /// The descriptors of the files compiled and of everything they import, with source
    /// info: what `protoc --include_imports --include_source_info -o` writes, for tools
    /// that read a `FileDescriptorSet` ([`write_descriptor_set`]).
    pub descriptor_set: FileDescriptorSet,
}

/// One generated file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the output directory, '/'-separated (e.g. `hello.rs`).
    pub name: String,
    /// The file's full content.
    pub content: String,
}

/// Parses `options.files` (and their imports) and generates code for them, exactly as
/// `protoc --rgrpc_out` would.
///
/// # Errors
///
/// A file that is missing or not under any include directory, a `.proto` that does not parse
/// or does not check (unknown type, duplicate name, missing import, import cycle), located at
/// `file:line:column`; or the generator's own error (bad parameter, name collision).
pub fn run(options: &Options) -> Result<Output, Error> {
    let (request, inputs) = parse(options)?;
    let response = crate::generate_with(&request, &options.parameters);
    let descriptor_set = FileDescriptorSet {
        file: request.proto_file,
    };
    if let Some(message) = response.error {
        return Err(Error::generator(message));
    }
    let files = response
        .file
        .into_iter()
        .map(|file| GeneratedFile {
            name: file.name.unwrap_or_default(),
            content: file.content.unwrap_or_default(),
        })
        .collect();
    Ok(Output {
        files,
        inputs,
        descriptor_set,
    })
}

/// The `CodeGeneratorRequest` protoc would send the plugin for `options` (what [`run`] hands
/// to [`generate`](crate::generate)), for tools that want the descriptors themselves.
///
/// # Errors
///
/// As [`run`], without the generator's errors.
pub fn request(options: &Options) -> Result<CodeGeneratorRequest, Error> {
    parse(options).map(|(request, _)| request)
}

/// Parses the files: the request, and the paths of every `.proto` read.
fn parse(options: &Options) -> Result<(CodeGeneratorRequest, Vec<PathBuf>), Error> {
    let includes = if options.includes.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        options.includes.clone()
    };
    let mut names: Vec<String> = Vec::with_capacity(options.files.len());
    for file in &options.files {
        let name = inputs::name_of(file, &includes)?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        return Err(Error::usage("no .proto file to compile"));
    }

    let mut compiler = protox::Compiler::with_file_resolver(inputs::resolver(&includes));
    compiler.include_imports(true).include_source_info(true);
    compiler
        .open_files(&names)
        .map_err(|err| error::from_protox(&err, &includes))?;
    let inputs = compiler
        .files()
        .filter_map(|file| file.path().map(Path::to_path_buf))
        .collect();
    let request = assemble::request(
        compiler.file_descriptor_set(),
        names,
        options.parameters.to_string(),
    );
    Ok((request, inputs))
}

/// Writes `output.files` under `dir` (creating subdirectories), all-or-nothing as far as
/// possible (write to temp names then rename), never half-written.
///
/// A file whose content is unchanged is left untouched, so its modification time (which make
/// and cargo look at) only moves when it really changed.
///
/// # Errors
///
/// A generated name that would escape `dir` (absolute, or with `..`), or an I/O error; then no
/// file is written, except that a failure while renaming leaves the files renamed before it
/// complete (each in its new version) and the others in their old one.
pub fn write(output: &Output, dir: &Path) -> Result<(), Error> {
    write::all(&output.files, dir)
}

/// Writes `output.descriptor_set`, encoded, to `path` (creating its directory), as
/// [`write()`] writes a file: whole or not at all, and untouched when unchanged.
///
/// # Errors
///
/// An I/O error, naming `path`.
pub fn write_descriptor_set(output: &Output, path: &Path) -> Result<(), Error> {
    write::one(path, &output.descriptor_set.encode_to_vec())
}
