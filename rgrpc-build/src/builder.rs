//! [`Builder`]: what to compile, with which parameters, to where.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use protoc_gen_rgrpc::{Parameters, compile};

use crate::{Error, rerun};

/// Starts a [`Builder`] with the plugin's defaults: every parameter at its default, output
/// to `$OUT_DIR`, `cargo:rerun-if-changed` lines printed.
pub fn configure() -> Builder {
    Builder::default()
}

/// What to compile and how; [`Builder::compile`] runs it.
///
/// Setters take and return the builder so a build script reads as one chain, and `compile`
/// borrows it so one configuration can compile several groups of files.
#[derive(Debug, Clone)]
pub struct Builder {
    includes: Vec<PathBuf>,
    /// The plugin parameters, typed; handed to the plugin as they are.
    parameters: Parameters,
    out_dir: Option<PathBuf>,
    /// Where to write the `FileDescriptorSet`, if anywhere.
    descriptor_set_path: Option<PathBuf>,
    emit_rerun_if_changed: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            includes: Vec::new(),
            parameters: Parameters::new(),
            out_dir: None,
            descriptor_set_path: None,
            emit_rerun_if_changed: true,
        }
    }
}

impl Builder {
    /// Adds a directory to search for the files to compile and their imports, like protoc's
    /// `-I`; directories are searched in the order added.
    pub fn include(mut self, dir: impl AsRef<Path>) -> Self {
        self.includes.push(dir.as_ref().to_path_buf());
        self
    }

    /// Appends plugin parameters as written for `--rgrpc_opt` (`"server=false,btree_map=."`),
    /// commas and `\,` escapes included; they follow the ones already set, in order.
    /// The plugin checks them with the typed settings when [`compile`](Self::compile) runs,
    /// and a bad one fails it with the plugin's message.
    pub fn parameter(self, parameter: impl Into<String>) -> Self {
        self.with(|parameters| parameters.raw(parameter))
    }

    /// Whether to generate the async client (`client=`; default `true`).
    pub fn client(self, enable: bool) -> Self {
        self.with(|parameters| parameters.client(enable))
    }

    /// Whether to generate the server trait and service (`server=`; default `true`).
    pub fn server(self, enable: bool) -> Self {
        self.with(|parameters| parameters.server(enable))
    }

    /// Whether to generate the blocking client (`blocking=`; default `true`).
    pub fn blocking(self, enable: bool) -> Self {
        self.with(|parameters| parameters.blocking(enable))
    }

    /// Whether to generate the prost messages (`messages=`; default `true`); `false` emits
    /// services only, for pairing with another message generator through
    /// [`extern_path`](Self::extern_path).
    pub fn messages(self, enable: bool) -> Self {
        self.with(|parameters| parameters.messages(enable))
    }

    /// Where generated code finds the runtime (`runtime_path=`; default `::rgrpc`), for a
    /// crate that reaches rgrpc through a re-export.
    pub fn runtime_path(self, path: &str) -> Self {
        self.with(|parameters| parameters.runtime_path(path))
    }

    /// Takes the types under a proto package or type from existing Rust code instead of
    /// generating them (`extern_path=`): `.extern_path(".common.v1", "::common::v1")`.
    pub fn extern_path(self, proto_path: &str, rust_path: &str) -> Self {
        self.with(|parameters| parameters.extern_path(proto_path, rust_path))
    }

    /// Also writes `name`, one file that includes every generated package file nested as
    /// modules (`include_file=`), so the crate needs one `include!` whatever the packages.
    pub fn include_file(self, name: &str) -> Self {
        self.with(|parameters| parameters.include_file(name))
    }

    /// An attribute on the messages and enums matching `path` (prost-build's
    /// `type_attribute`): `.type_attribute(".", "#[derive(serde::Serialize)]")`. Commas in
    /// the attribute need no escaping.
    pub fn type_attribute(self, path: &str, attribute: &str) -> Self {
        self.with(|parameters| parameters.type_attribute(path, attribute))
    }

    /// An attribute on the fields matching `path` (prost-build's `field_attribute`).
    pub fn field_attribute(self, path: &str, attribute: &str) -> Self {
        self.with(|parameters| parameters.field_attribute(path, attribute))
    }

    /// Writes to `dir` instead of `$OUT_DIR`, for generating outside a build script (code
    /// that is checked in, or a test).
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Also writes the compiled files' descriptors, imports and comments included, as one
    /// serialized `FileDescriptorSet` to `path` (relative to the output directory), as
    /// tonic-build's `file_descriptor_set_path` and protoc's `--descriptor_set_out
    /// --include_imports --include_source_info` do: for tools that read one. rgrpc's own
    /// reflection needs none: each generated server embeds its descriptors.
    pub fn file_descriptor_set_path(mut self, path: impl AsRef<Path>) -> Self {
        self.descriptor_set_path = Some(path.as_ref().to_path_buf());
        self
    }

    /// Whether [`compile`](Self::compile) prints `cargo:rerun-if-changed` lines (default
    /// `true`); turn it off when not running as a build script.
    pub fn emit_rerun_if_changed(mut self, enable: bool) -> Self {
        self.emit_rerun_if_changed = enable;
        self
    }

    /// The parameter string the plugin receives, as `--rgrpc_opt` would pass it.
    pub fn parameter_string(&self) -> String {
        self.parameters.to_string()
    }

    /// Parses `files` and everything they import, generates the Rust code, and writes one
    /// file per proto package to the output directory; then prints `cargo:rerun-if-changed`
    /// for each file read and each include directory.
    ///
    /// `files` are paths on disk, under one of the [`include`](Self::include) directories.
    /// Nothing is written when any file fails to parse or generate; the error names the
    /// file, line and column.
    pub fn compile(&self, files: &[impl AsRef<Path>]) -> Result<(), Error> {
        let out_dir = out_dir(self.out_dir.as_deref(), std::env::var_os("OUT_DIR"))?;
        let options = compile::Options {
            includes: self.includes.clone(),
            files: files
                .iter()
                .map(|file| file.as_ref().to_path_buf())
                .collect(),
            parameters: self.parameters.clone(),
        };
        let output = compile::run(&options)?;
        if let Some(path) = &self.descriptor_set_path {
            compile::write_descriptor_set(&output, &out_dir.join(path))?;
        }
        compile::write(&output, &out_dir)?;
        if self.emit_rerun_if_changed {
            for line in rerun::lines(&output.inputs, &self.includes, Path::exists) {
                println!("{line}");
            }
        }
        Ok(())
    }

    fn with(mut self, add: impl FnOnce(Parameters) -> Parameters) -> Self {
        self.parameters = add(std::mem::take(&mut self.parameters));
        self
    }
}

/// The output directory: the one given to [`Builder::out_dir`], else `$OUT_DIR` (passed in
/// so this can be tested without touching the process environment).
fn out_dir(explicit: Option<&Path>, env: Option<OsString>) -> Result<PathBuf, Error> {
    match (explicit, env) {
        (Some(dir), _) => Ok(dir.to_path_buf()),
        (None, Some(dir)) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        (None, _) => Err(Error::OutDirUnset),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_dir_prefers_the_explicit_one() {
        let dir = out_dir(Some(Path::new("gen")), Some("target/out".into()));
        assert_eq!(dir.unwrap(), Path::new("gen"));
        let dir = out_dir(None, Some("target/out".into()));
        assert_eq!(dir.unwrap(), Path::new("target/out"));
    }

    #[test]
    fn no_out_dir_is_an_error_saying_what_to_do() {
        for env in [None, Some(OsString::new())] {
            let error = out_dir(None, env).unwrap_err();
            assert!(matches!(error, Error::OutDirUnset));
            let message = error.to_string();
            assert!(message.starts_with("OUT_DIR is not set"), "{message}");
            assert!(message.contains(".out_dir(path)"), "{message}");
            // A build script's `main` prints errors with Debug: it must read the same.
            assert_eq!(format!("{error:?}"), message);
        }
    }

    #[test]
    fn compile_without_out_dir_fails_before_reading_anything() {
        // Unit tests do not run as a build script, so OUT_DIR is unset here; the files do not
        // exist, so an error other than OutDirUnset would mean the front end ran first.
        if std::env::var_os("OUT_DIR").is_some() {
            return;
        }
        let error = configure()
            .include("no-such-dir")
            .compile(&["no-such-dir/x.proto"])
            .unwrap_err();
        assert!(matches!(error, Error::OutDirUnset), "{error}");
    }

    #[test]
    fn typed_setters_write_the_plugin_parameters_in_order() {
        let builder = configure()
            .client(false)
            .parameter("btree_map=.")
            .server(true)
            .blocking(false)
            .messages(true)
            .runtime_path("::my::rgrpc")
            .extern_path(".common.v1", "::common::v1")
            .include_file("protos.rs")
            .type_attribute(".", "#[derive(Hash, Eq)]")
            .field_attribute(".pkg.Msg.id", "#[serde(rename = \"ID\")]");
        assert_eq!(
            builder.parameter_string(),
            "client=false,btree_map=.,server=true,blocking=false,messages=true,\
             runtime_path=::my::rgrpc,extern_path=.common.v1=::common::v1,\
             include_file=protos.rs,type_attribute=.=#[derive(Hash\\, Eq)],\
             field_attribute=.pkg.Msg.id=#[serde(rename = \"ID\")]"
        );
        assert_eq!(configure().parameter_string(), "");
    }
}
