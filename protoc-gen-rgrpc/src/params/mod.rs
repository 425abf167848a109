//! Plugin parameters: the one table of known keys ([`KNOWN`]), and the `--rgrpc_opt` string
//! or typed [`Parameters`] checked into the settings the generator reads ([`Params`]).
//!
//! protoc hands the plugin every `--rgrpc_opt` joined into one string, e.g.
//! `client=false,server=true,runtime_path=::my::rgrpc`. Parsing is strict (unknown keys,
//! duplicates and bad values are errors) because a silently ignored typo such as
//! `sever=false` would generate code the user did not ask for; and it reports every problem
//! at once so a user fixes their build invocation in one round trip.
//!
//! # Parameters
//!
//! Given at most once:
//!
//! - `client=false`: do not generate the async client (default `true`; a bare `client`
//!   means `true`, as for every boolean).
//! - `server=false`: do not generate the server trait and service (default `true`).
//! - `messages=false`: do not generate the prost messages (default `true`).
//! - `runtime_path=::my::rgrpc`: where generated code finds the runtime crate (default
//!   `::rgrpc`).
//! - `include_file=protos.rs`: also write one file that includes every generated package
//!   file, nested as modules by package.
//! - `layout=file`: one output file per `.proto` file, plus per directory and package a
//!   file including them (default `layout=package`: one file per package); see [`Layout`].
//!
//! Repeatable, kept in the order given:
//!
//! - `extern_path=.google.protobuf=::prost_types`: the proto package or type is already
//!   generated elsewhere; refer to it by this Rust path instead of generating it.
//! - `type_attribute=.my.pkg.Msg=#[derive(Hash)]`: prost-build's `type_attribute`, an
//!   attribute on matching messages and enums.
//! - `message_attribute=.=#[non_exhaustive]`: an attribute on matching messages only.
//! - `enum_attribute=.my.pkg.Kind=#[derive(Hash)]`: an attribute on matching enums only.
//! - `field_attribute=Msg.name=#[serde(rename = "n")]`: an attribute on matching fields.
//! - `btree_map=.my.pkg.Msg.labels`: generate matching map fields as `BTreeMap`.
//! - `bytes=.my.pkg.Msg.payload`: generate matching bytes fields as `bytes::Bytes`.
//! - `boxed=.my.pkg.Tree.left`: box matching message fields.
//!
//! The paths of the prost-build options use prost-build's matching: `.` matches everything,
//! `.pkg.Msg` a fully qualified type (and `.pkg.Msg.field` a field), and a path without the
//! leading dot such as `Msg.field` matches by suffix.
//!
//! # Escaping
//!
//! Attributes contain commas (`#[derive(Hash, Eq)]`), which would split the parameter
//! string. As in protoc-gen-prost, `\,` is a comma that does not split and `\\` is a
//! backslash; any other backslash is kept as written. protoc passes the option string
//! through verbatim, so only the shell needs quoting:
//! `--rgrpc_opt='type_attribute=.=#[derive(serde::Serialize\, serde::Deserialize)]'`.

mod settings;

pub use self::settings::Parameters;
use self::settings::{Entry, Setting};
use crate::error::param;
use crate::rust::RustPath;

/// How often a key may appear in the parameter string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Occurs {
    /// A setting: a second mention is an error even with the same value, because two values
    /// for one setting mean the build invocation is not what its author thinks.
    Once,
    /// A list entry (one extern path, one attribute): each mention adds to the list.
    Many,
}

/// A parameter the plugin accepts, with what the usage text, the library documentation and
/// the README say about it.
#[derive(Debug)]
pub(crate) struct Parameter {
    pub(crate) name: &'static str,
    occurs: Occurs,
    /// The value's placeholder in the usage text.
    value: &'static str,
    /// The default, as the table shows it.
    default: &'static str,
    meaning: &'static str,
    example: &'static str,
}

/// The parameters the plugin accepts, sorted by name: the one table behind the parser, the
/// "known" list in error messages, the usage text ([`usage_list`]) and the table in the
/// library documentation and the README ([`markdown_table`], kept equal by a test).
///
/// This list is part of the plugin's documented API: removing or renaming an entry breaks
/// users' build scripts. [`Params::parse`] refuses any key not listed here before
/// dispatching on it.
const KNOWN: &[Parameter] = &[
    Parameter {
        name: "blocking",
        occurs: Occurs::Once,
        value: "BOOL",
        default: "`true`",
        meaning: "generate the blocking client",
        example: "`blocking=false`",
    },
    Parameter {
        name: "boxed",
        occurs: Occurs::Many,
        value: "PATH",
        default: "none",
        meaning: "box the message fields at these paths",
        example: "`boxed=.pkg.Tree.left`",
    },
    Parameter {
        name: "btree_map",
        occurs: Occurs::Many,
        value: "PATH",
        default: "none",
        meaning: "maps at these paths become `BTreeMap` (`.` for all)",
        example: "`btree_map=.`",
    },
    Parameter {
        name: "bytes",
        occurs: Occurs::Many,
        value: "PATH",
        default: "none",
        meaning: "`bytes` fields at these paths become `bytes::Bytes`",
        example: "`bytes=.pkg.Blob.data`",
    },
    Parameter {
        name: "client",
        occurs: Occurs::Once,
        value: "BOOL",
        default: "`true`",
        meaning: "generate the async client",
        example: "`client=false`",
    },
    Parameter {
        name: "descriptor_source_info",
        occurs: Occurs::Once,
        value: "BOOL",
        default: "`true`",
        meaning: "keep the proto comments in the embedded descriptors, so reflection clients \
            show them; `false` saves their bytes",
        example: "`descriptor_source_info=false`",
    },
    Parameter {
        name: "descriptors",
        occurs: Occurs::Once,
        value: "BOOL",
        default: "`true`",
        meaning: "embed in each server the serialized descriptors of its proto file and \
            of every file it imports, which `rgrpc::Server` serves by reflection",
        example: "`descriptors=false`",
    },
    Parameter {
        name: "enum_attribute",
        occurs: Occurs::Many,
        value: "PATH=ATTR",
        default: "none",
        meaning: "the same as `type_attribute`, for enums only",
        example: "`enum_attribute=.pkg.Color=#[derive(strum::EnumIter)]`",
    },
    Parameter {
        name: "extern_path",
        occurs: Occurs::Many,
        value: "PROTO=RUST",
        default: "none",
        meaning: "take the types under a proto path from an existing Rust path, as \
            prost-build's `extern_path` does; repeatable",
        example: "`extern_path=.common.v1=::common_protos::v1`",
    },
    Parameter {
        name: "field_attribute",
        occurs: Occurs::Many,
        value: "PATH=ATTR",
        default: "none",
        meaning: "prost-build's `field_attribute`: an attribute on matching fields",
        example: "`field_attribute=.pkg.Msg.id=#[serde(rename = \"ID\")]`",
    },
    Parameter {
        name: "include_file",
        occurs: Occurs::Once,
        value: "NAME",
        default: "none",
        meaning: "also write a file that includes every generated package file, nested as \
            modules",
        example: "`include_file=mod.rs`",
    },
    Parameter {
        name: "layout",
        occurs: Occurs::Once,
        value: "package|file",
        default: "`package`",
        meaning: "`package`: one file per proto package (`a.b.rs`); `file`: one file per \
            `.proto` at its path (`a/b/x.proto` → `a/b/x.rs`) plus one `a/b/<package>.mod.rs` \
            per directory and package including them, safe under every `buf generate` strategy",
        example: "`layout=file`",
    },
    Parameter {
        name: "message_attribute",
        occurs: Occurs::Many,
        value: "PATH=ATTR",
        default: "none",
        meaning: "the same as `type_attribute`, for messages only",
        example: "`message_attribute=.pkg.Msg=#[non_exhaustive]`",
    },
    Parameter {
        name: "messages",
        occurs: Occurs::Once,
        value: "BOOL",
        default: "`true`",
        meaning: "generate the messages; `false` emits services only, for pairing with \
            another message generator (use `extern_path` to find its messages)",
        example: "`messages=false`",
    },
    Parameter {
        name: "runtime_path",
        occurs: Occurs::Once,
        value: "PATH",
        default: "`::rgrpc`",
        meaning: "the path generated code uses to reach the runtime (for example a re-export)",
        example: "`runtime_path=::my_crate::rgrpc`",
    },
    Parameter {
        name: "server",
        occurs: Occurs::Once,
        value: "BOOL",
        default: "`true`",
        meaning: "generate the server trait and service",
        example: "`server=false`",
    },
    Parameter {
        name: "type_attribute",
        occurs: Occurs::Many,
        value: "PATH=ATTR",
        default: "none",
        meaning: "prost-build's `type_attribute`: an attribute on matching messages and \
            enums; repeatable",
        example: "`type_attribute=.=#[derive(serde::Serialize\\, serde::Deserialize)]`",
    },
];

/// The parameters as the usage text lists them: `blocking=BOOL, boxed=PATH, ...`.
pub(crate) fn usage_list() -> String {
    KNOWN
        .iter()
        .map(|p| format!("{}={}", p.name, p.value))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The parameter table of the library documentation and the README, in Markdown.
pub(crate) fn markdown_table() -> String {
    let mut table =
        String::from("| parameter | default | meaning | example |\n|---|---|---|---|\n");
    for p in KNOWN {
        table.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            p.name, p.default, p.meaning, p.example
        ));
    }
    table
}

/// Default for [`Params::runtime_path`]: the runtime crate under its published name.
const DEFAULT_RUNTIME_CRATE: &str = "rgrpc";

/// How the output is cut into files (`layout=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// One file per proto package, named as prost-build names it (`a.b.rs`): the default.
    Package,
    /// One file per `.proto` at its own path (`a/b/x.proto` → `a/b/x.rs`), and per directory
    /// and package one file including that directory's files of the package
    /// (`a/b/a.b.mod.rs`). A buf `strategy: directory` run generates exactly one
    /// directory, so no two runs ever write the same name.
    File,
}

/// Settings that change what the plugin generates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Params {
    /// Generate the async client (`client=false` turns it off). Default true.
    pub(crate) client: bool,
    /// Generate the server trait and service (`server=false`). Default true.
    pub(crate) server: bool,
    /// Generate the blocking client (`blocking=false` turns it off). Default true.
    pub(crate) blocking: bool,
    /// Generate the prost messages (`messages=false` emits services only, for users who pair
    /// rgrpc with another message generator). Default true.
    pub(crate) messages: bool,
    /// Embed each server's file descriptors, for reflection (`descriptors=false`). Default
    /// true.
    pub(crate) descriptors: bool,
    /// Keep the comments in embedded descriptors (`descriptor_source_info=false`). Default
    /// true.
    pub(crate) descriptor_source_info: bool,
    /// Absolute path of the runtime crate in generated code (`runtime_path=::my_rgrpc`).
    /// Default `::rgrpc`. Always starts with `::` or `crate`, without generic arguments.
    pub(crate) runtime_path: RustPath,
    /// Proto packages or types generated elsewhere, as `(proto path, Rust path)` in the order
    /// given (`extern_path=.google.protobuf=::prost_types`, repeatable). Types under a proto
    /// path are referred to through the Rust path instead of being generated, so messages
    /// shared between crates are one Rust type rather than two incompatible copies.
    ///
    /// The proto path is fully qualified (`.my.pkg`, `.my.pkg.Msg`: a leading `.`, then
    /// identifiers separated by `.`) because that is how descriptors name types, so it can be
    /// compared with them as a string or prefix. Each proto path appears at most once, as an
    /// ambiguous mapping has no right answer. The Rust path parses as a `syn::Path` whose
    /// generic arguments, if any, are types.
    pub(crate) extern_paths: Vec<ExternPath>,
    /// Name of an extra output file that includes every generated package file, nested as
    /// modules by package (`include_file=protos.rs`), so a user includes one file instead of
    /// one per package and gets the module tree that cross-package paths expect. `None`
    /// (default) writes no such file.
    ///
    /// Always a relative `/`-separated path ending in `.rs` with no empty, `.` or `..`
    /// segments: protoc refuses output names outside the output directory, and checking here
    /// names the parameter at fault.
    pub(crate) include_file: Option<String>,
    /// How output files are cut (`layout=`). Default [`Layout::Package`].
    pub(crate) layout: Layout,
    /// Whether `layout=` was given: a request from a driver other than protoc must choose.
    pub(crate) layout_given: bool,
    /// prost-build settings passed through to message generation, in the order given
    /// (`type_attribute=…`, `bytes=…`, … all repeatable). Order is kept because prost-build
    /// emits attributes in the order they were added.
    pub(crate) prost: Vec<ProstOption>,
}

/// One `extern_path`: types under the proto path `proto` (`.my.pkg`) are at `rust`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExternPath {
    pub(crate) proto: String,
    pub(crate) rust: RustPath,
}

/// `(proto path, Rust path)` pairs as extern paths, for tests.
#[cfg(test)]
pub(crate) fn externs(pairs: &[(&str, &str)]) -> Vec<ExternPath> {
    pairs
        .iter()
        .map(|(proto, rust)| ExternPath {
            proto: (*proto).to_owned(),
            rust: RustPath::parse(rust),
        })
        .collect()
}

/// One prost-build setting from the parameter string; each variant is the
/// `prost_build::Config` method of the same name with its arguments.
///
/// Paths use prost-build's matching syntax (`.`, `.pkg.Msg`, `.pkg.Msg.field`, or a suffix
/// such as `Msg.field`) and are only checked to be non-empty and free of whitespace, since
/// prost-build decides what they match. Attributes are checked to parse as one or more outer
/// attributes, so a typo is reported against the parameter rather than as a syntax error in
/// generated code; they are kept as written, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProstOption {
    /// `type_attribute=PATH=ATTR`: an attribute on matching messages and enums.
    TypeAttribute { path: String, attribute: String },
    /// `field_attribute=PATH=ATTR`: an attribute on matching fields.
    FieldAttribute { path: String, attribute: String },
    /// `message_attribute=PATH=ATTR`: an attribute on matching messages only.
    MessageAttribute { path: String, attribute: String },
    /// `enum_attribute=PATH=ATTR`: an attribute on matching enums only.
    EnumAttribute { path: String, attribute: String },
    /// `btree_map=PATH`: matching map fields become `BTreeMap` instead of `HashMap`.
    BTreeMap(String),
    /// `bytes=PATH`: matching bytes fields become `bytes::Bytes` instead of `Vec<u8>`.
    Bytes(String),
    /// `boxed=PATH`: matching message fields are boxed.
    Boxed(String),
}

impl Default for Params {
    fn default() -> Self {
        Params {
            client: true,
            server: true,
            blocking: true,
            messages: true,
            descriptors: true,
            descriptor_source_info: true,
            runtime_path: RustPath::extern_crate(DEFAULT_RUNTIME_CRATE),
            extern_paths: Vec::new(),
            include_file: None,
            layout: Layout::Package,
            layout_given: false,
            prost: Vec::new(),
        }
    }
}

impl Params {
    /// Parse the protoc parameter string, collecting every error rather than stopping at the
    /// first.
    ///
    /// Items are separated by `,` (see [`split_params`] for `\,`) and trimmed; empty items (a
    /// trailing comma, `a,,b`) are ignored. An item is `key=value` or a bare `key`, which sets
    /// a boolean key to true. Whitespace around the key and the value is trimmed too, and so
    /// is whitespace around each half of a `path=value` value; whitespace inside a value
    /// (an attribute's) is kept.
    pub(crate) fn parse(s: &str) -> Result<Params, Vec<String>> {
        Self::from_parameters(&Parameters::new().raw(s))
    }

    /// Checks `parameters` in order, typed settings exactly as the same items written in a
    /// parameter string, collecting every error.
    pub(crate) fn from_parameters(parameters: &Parameters) -> Result<Params, Vec<String>> {
        let mut params = Params::default();
        let mut errors = Vec::new();
        let mut occurrences = Occurrences::default();
        for entry in &parameters.entries {
            match entry {
                Entry::Setting(setting) => {
                    occurrences.note(setting.key(), &mut errors);
                    if let Err(error) = params.apply(setting) {
                        errors.push(error);
                    }
                }
                Entry::Raw(raw) => {
                    for item in split_params(raw) {
                        let item = item.trim();
                        if item.is_empty() {
                            continue;
                        }
                        let (key, value) = match item.split_once('=') {
                            Some((key, value)) => (key.trim(), Some(value.trim())),
                            None => (item, None),
                        };
                        if !KNOWN.iter().any(|known| known.name == key) {
                            errors.push(unknown(key));
                            continue;
                        }
                        occurrences.note(key, &mut errors);
                        let applied = Setting::from_item(key, value)
                            .and_then(|setting| params.apply(&setting));
                        if let Err(error) = applied {
                            errors.push(error);
                        }
                    }
                }
            }
        }
        // One include file per run is the silent loss layout=file exists to avoid: under
        // buf's `strategy: directory` every directory's run would write it.
        if params.layout == Layout::File && params.include_file.is_some() {
            errors.push(param::include_file_with_file_layout());
        }
        if errors.is_empty() {
            Ok(params)
        } else {
            Err(errors)
        }
    }

    /// Sets one setting, or adds to a repeatable key's list, after checking its value.
    fn apply(&mut self, setting: &Setting) -> Result<(), String> {
        let key = setting.key();
        match setting {
            Setting::Client(on) => self.client = *on,
            Setting::Server(on) => self.server = *on,
            Setting::Blocking(on) => self.blocking = *on,
            Setting::Messages(on) => self.messages = *on,
            Setting::Descriptors(on) => self.descriptors = *on,
            Setting::DescriptorSourceInfo(on) => self.descriptor_source_info = *on,
            Setting::RuntimePath(value) => self.runtime_path = parse_runtime_path(key, value)?,
            Setting::IncludeFile(value) => {
                self.include_file = Some(parse_include_file(key, value)?);
            }
            Setting::Layout(value) => {
                self.layout = parse_layout(key, value)?;
                self.layout_given = true;
            }
            Setting::ExternPath { proto, rust } => {
                let mapping = parse_extern_path(key, proto, rust)?;
                // The repeat is still recorded (the result is discarded on error anyway), so
                // that a third mention finds two earlier ones and is not reported again.
                let proto = &mapping.proto;
                let earlier = self.extern_paths.iter().filter(|e| e.proto == *proto);
                let error = (earlier.count() == 1).then(|| param::mapped_twice(key, proto));
                self.extern_paths.push(mapping);
                if let Some(error) = error {
                    return Err(error);
                }
            }
            Setting::TypeAttribute { path, attribute } => {
                let (path, attribute) = parse_path_attribute(key, path, attribute)?;
                self.prost
                    .push(ProstOption::TypeAttribute { path, attribute });
            }
            Setting::FieldAttribute { path, attribute } => {
                let (path, attribute) = parse_path_attribute(key, path, attribute)?;
                self.prost
                    .push(ProstOption::FieldAttribute { path, attribute });
            }
            Setting::MessageAttribute { path, attribute } => {
                let (path, attribute) = parse_path_attribute(key, path, attribute)?;
                self.prost
                    .push(ProstOption::MessageAttribute { path, attribute });
            }
            Setting::EnumAttribute { path, attribute } => {
                let (path, attribute) = parse_path_attribute(key, path, attribute)?;
                self.prost
                    .push(ProstOption::EnumAttribute { path, attribute });
            }
            Setting::BTreeMap(path) => self
                .prost
                .push(ProstOption::BTreeMap(parse_prost_path(key, path)?)),
            Setting::Bytes(path) => self
                .prost
                .push(ProstOption::Bytes(parse_prost_path(key, path)?)),
            Setting::Boxed(path) => self
                .prost
                .push(ProstOption::Boxed(parse_prost_path(key, path)?)),
        }
        Ok(())
    }
}

/// Which keys of [`Occurs::Once`] were seen, so a second mention is an error, reported
/// once per key.
#[derive(Default)]
struct Occurrences {
    seen: [bool; KNOWN.len()],
    reported: [bool; KNOWN.len()],
}

impl Occurrences {
    fn note(&mut self, key: &str, errors: &mut Vec<String>) {
        let Some(index) = KNOWN.iter().position(|known| known.name == key) else {
            return;
        };
        if KNOWN[index].occurs == Occurs::Many {
            return;
        }
        if !self.seen[index] {
            self.seen[index] = true;
        } else if !self.reported[index] {
            errors.push(param::repeated(key));
            self.reported[index] = true;
        }
    }
}

impl Setting {
    /// The setting an item `key=value` of a parameter string names (`value` is `None` for
    /// a bare key), or what is wrong with its form; its value is checked when applied.
    fn from_item(key: &str, value: Option<&str>) -> Result<Setting, String> {
        let pair = |expects: fn(&str, &str) -> String| {
            let value = needs_value(key, value)?;
            let (left, right) = value.split_once('=').ok_or_else(|| expects(key, value))?;
            Ok::<_, String>((left.to_owned(), right.to_owned()))
        };
        let attribute = || pair(param::not_path_attribute);
        Ok(match key {
            "client" => Setting::Client(parse_bool(key, value)?),
            "server" => Setting::Server(parse_bool(key, value)?),
            "blocking" => Setting::Blocking(parse_bool(key, value)?),
            "messages" => Setting::Messages(parse_bool(key, value)?),
            "descriptors" => Setting::Descriptors(parse_bool(key, value)?),
            "descriptor_source_info" => Setting::DescriptorSourceInfo(parse_bool(key, value)?),
            "runtime_path" => Setting::RuntimePath(needs_value(key, value)?.to_owned()),
            "include_file" => Setting::IncludeFile(needs_value(key, value)?.to_owned()),
            "layout" => Setting::Layout(needs_value(key, value)?.to_owned()),
            "extern_path" => {
                let (proto, rust) = pair(param::not_extern_path)?;
                Setting::ExternPath { proto, rust }
            }
            "type_attribute" => {
                let (path, attribute) = attribute()?;
                Setting::TypeAttribute { path, attribute }
            }
            "field_attribute" => {
                let (path, attribute) = attribute()?;
                Setting::FieldAttribute { path, attribute }
            }
            "message_attribute" => {
                let (path, attribute) = attribute()?;
                Setting::MessageAttribute { path, attribute }
            }
            "enum_attribute" => {
                let (path, attribute) = attribute()?;
                Setting::EnumAttribute { path, attribute }
            }
            "btree_map" => Setting::BTreeMap(needs_value(key, value)?.to_owned()),
            "bytes" => Setting::Bytes(needs_value(key, value)?.to_owned()),
            "boxed" => Setting::Boxed(needs_value(key, value)?.to_owned()),
            // Unreachable while KNOWN and this match agree; a test checks they do.
            _ => return Err(unknown(key)),
        })
    }
}

/// Split the raw parameter string at every `,` not escaped as `\,`, unescaping `\,` to `,`
/// and `\\` to `\`.
///
/// The escape exists because attribute values contain commas (`#[derive(Hash, Eq)]`) and
/// protoc offers no quoting; `\,` is protoc-gen-prost's convention, so attribute options
/// carry over between the two plugins unchanged. A backslash before anything else (or at the
/// end) is kept as written, so attribute string literals such as `"a\"b"` need no double
/// escaping; only a literal `\\` must be written `\\\\`. Items are returned untrimmed and may
/// be empty; the caller decides what whitespace and empty items mean.
pub(crate) fn split_params(s: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut item = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next_if(|next| matches!(next, ',' | '\\')) {
                Some(escaped) => item.push(escaped),
                None => item.push('\\'),
            },
            ',' => items.push(std::mem::take(&mut item)),
            c => item.push(c),
        }
    }
    items.push(item);
    items
}

/// The error for a key not in [`KNOWN`].
fn unknown(key: &str) -> String {
    let known: Vec<&str> = KNOWN.iter().map(|p| p.name).collect();
    param::unknown(key, &known)
}

/// The value of a key that has no meaning bare; an empty value is as missing as none.
fn needs_value<'a>(key: &str, value: Option<&'a str>) -> Result<&'a str, String> {
    match value {
        None | Some("") => Err(param::needs_value(key)),
        Some(value) => Ok(value),
    }
}

/// A boolean value: `true`, `false`, or absent (a bare key means true).
fn parse_bool(key: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(param::not_bool(key, other)),
    }
}

/// An absolute Rust path (`:: my :: rgrpc` is `::my::rgrpc`).
///
/// Absolute means a leading `::` (an extern crate) or a first segment `crate`, because the
/// generated code is included in arbitrary modules where a relative path would resolve
/// differently. Generic arguments and keyword segments (`self`, `super`, `gen` …) are refused.
fn parse_runtime_path(key: &str, value: &str) -> Result<RustPath, String> {
    let value = needs_value(key, Some(value.trim()))?;
    let invalid = || param::not_absolute_path(key, value);
    let path =
        syn::parse::Parser::parse_str(syn::Path::parse_mod_style, value).map_err(|_| invalid())?;
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let starts_with_crate = segments.first().is_some_and(|first| first == "crate");
    // Exactly one of the two anchors: `::crate::x` is as wrong as `x`.
    let absolute = path.leading_colon.is_some() != starts_with_crate;
    let skip = usize::from(starts_with_crate);
    // syn lets through keywords it does not know (2024's `gen`) and `self`/`super`/`crate`
    // anywhere; the naming table knows them all. Raw segments (`r#gen`) print with `r#` and
    // pass.
    let plain = segments
        .iter()
        .skip(skip)
        .all(|segment| !crate::names::is_keyword(segment));
    if !(absolute && plain) {
        return Err(invalid());
    }
    // `parse_mod_style` admits no generic arguments, so the conversion cannot refuse it.
    RustPath::from_syn(&path).ok_or_else(invalid)
}

/// `package` or `file`, for `layout`.
fn parse_layout(key: &str, value: &str) -> Result<Layout, String> {
    match value.trim() {
        "package" => Ok(Layout::Package),
        "file" => Ok(Layout::File),
        other => Err(param::not_layout(key, other)),
    }
}

/// An output file name: relative, `/`-separated, without empty, `.` or `..` segments, and
/// ending in `.rs` after a non-empty stem.
///
/// These are protoc's rules for plugin output names (it rejects anything that could land
/// outside the output directory) plus the extension, because the file is Rust meant for
/// `include!`. Checking here turns protoc's late, generic refusal into an error naming the
/// parameter.
fn parse_include_file(key: &str, value: &str) -> Result<String, String> {
    let value = needs_value(key, Some(value.trim()))?;
    // Checked first: on Windows `a\..\b.rs` would escape, and its segments look fine.
    if value.contains('\\') {
        return Err(param::not_slash_separated(key, value));
    }
    if value
        .split('/')
        .any(|segment| matches!(segment, "" | "." | ".."))
    {
        return Err(param::not_relative(key, value));
    }
    let file = value.rsplit('/').next().unwrap_or(value);
    if file.strip_suffix(".rs").is_none_or(str::is_empty) {
        return Err(param::not_rs_file(key, value));
    }
    Ok(value.to_owned())
}

/// `PROTO_PATH=RUST_PATH` for `extern_path`, each half trimmed.
///
/// The proto path must be fully qualified (a leading `.` and identifier segments) because it
/// is matched against descriptor type names, which always are; a relative or misspelled path
/// would silently match nothing. The Rust path must parse as a `syn::Path` because it is
/// spliced into generated code.
fn parse_extern_path(key: &str, proto: &str, rust: &str) -> Result<ExternPath, String> {
    let (proto, rust) = match (proto.trim(), rust.trim()) {
        ("", _) | (_, "") => return Err(param::not_extern_path(key, &format!("{proto}={rust}"))),
        halves => halves,
    };
    let Some(relative) = proto.strip_prefix('.') else {
        return Err(param::proto_path_relative(key, proto));
    };
    for segment in relative.split('.') {
        if segment.is_empty() {
            return Err(param::proto_path_empty_segment(key, proto));
        }
        if !is_proto_identifier(segment) {
            return Err(param::proto_path_bad_segment(key, proto, segment));
        }
    }
    let Ok(path) = syn::parse_str::<syn::Path>(rust) else {
        return Err(param::rust_path_invalid(key, rust));
    };
    let Some(rust) = RustPath::from_syn(&path) else {
        return Err(param::rust_path_generics(key, rust));
    };
    Ok(ExternPath {
        proto: proto.to_owned(),
        rust,
    })
}

/// Whether `s` is a protobuf identifier (`[A-Za-z_][A-Za-z0-9_]*`), the only thing a package
/// or type name segment can be.
fn is_proto_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `PATH=ATTR` for the `*_attribute` keys, each half trimmed (whitespace inside the attribute
/// is kept). Split at the first `=`: paths never contain one, attributes often do
/// (`#[serde(rename = "x")]`).
fn parse_path_attribute(
    key: &str,
    path: &str,
    attribute: &str,
) -> Result<(String, String), String> {
    let (path, attribute) = match (path.trim(), attribute.trim()) {
        ("", _) | (_, "") => {
            return Err(param::not_path_attribute(
                key,
                &format!("{path}={attribute}"),
            ));
        }
        halves => halves,
    };
    check_prost_path(key, path)?;
    check_attribute(key, attribute)?;
    Ok((path.to_owned(), attribute.to_owned()))
}

/// The `PATH` of `btree_map`, `bytes` and `boxed`.
fn parse_prost_path(key: &str, path: &str) -> Result<String, String> {
    let path = needs_value(key, Some(path.trim()))?;
    check_prost_path(key, path)?;
    Ok(path.to_owned())
}

/// A prost-build match path: anything non-empty without whitespace, since prost-build owns
/// the matching rules; whitespace can never match a proto name and is most likely a
/// mis-split item.
fn check_prost_path(key: &str, path: &str) -> Result<(), String> {
    if path.contains(char::is_whitespace) {
        return Err(param::path_whitespace(key, path));
    }
    Ok(())
}

/// One or more outer attributes (`#[derive(Hash)] #[serde(default)]`, or a `/** doc */`).
///
/// prost-build pastes attributes into generated code as text, so anything else would
/// surface as a syntax error in a generated file far from the parameter that caused it.
/// Parsed with `Attribute::parse_outer` over the whole value rather than as the prefix of a
/// dummy item, so trailing tokens (`#[x] pub`) and inner attributes are refused too.
fn check_attribute(key: &str, attribute: &str) -> Result<(), String> {
    let invalid = |reason: &dyn std::fmt::Display| param::attribute_invalid(key, attribute, reason);
    let attributes = syn::parse::Parser::parse_str(syn::Attribute::parse_outer, attribute)
        .map_err(|error| invalid(&error))?;
    // Only comments (`// x`) parse as zero attributes.
    if attributes.is_empty() {
        return Err(invalid(&"expected an attribute such as #[derive(Debug)]"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The known list as the unknown-key error spells it, written out so a change to KNOWN
    /// shows up here as a change to the user-visible message.
    const KNOWN_LIST: &str = "blocking, boxed, btree_map, bytes, client, descriptor_source_info, descriptors, enum_attribute, extern_path, \
        field_attribute, include_file, layout, message_attribute, messages, runtime_path, server, \
        type_attribute";

    fn ok(s: &str) -> Params {
        Params::parse(s).unwrap_or_else(|errors| panic!("{s:?}: {errors:?}"))
    }

    fn errors(s: &str) -> Vec<String> {
        Params::parse(s).err().unwrap_or_default()
    }

    fn unknown_error(key: &str) -> String {
        format!("unknown parameter {key:?} (known: {KNOWN_LIST})")
    }

    fn type_attribute(path: &str, attribute: &str) -> ProstOption {
        ProstOption::TypeAttribute {
            path: path.to_owned(),
            attribute: attribute.to_owned(),
        }
    }

    fn path(rust: &str) -> RustPath {
        RustPath::parse(rust)
    }

    /// A valid item for each key; a second, different one for repeatable keys.
    fn samples(key: &str) -> [String; 2] {
        match key {
            "runtime_path" => ["runtime_path=::x".to_owned(), "runtime_path=::y".to_owned()],
            "include_file" => [
                "include_file=x.rs".to_owned(),
                "include_file=y.rs".to_owned(),
            ],
            "layout" => ["layout=file".to_owned(), "layout=package".to_owned()],
            "extern_path" => [
                "extern_path=.x=::x".to_owned(),
                "extern_path=.y=::y".to_owned(),
            ],
            _ if key.ends_with("_attribute") => [format!("{key}=.=#[x]"), format!("{key}=.=#[y]")],
            "btree_map" | "bytes" | "boxed" => [format!("{key}=.x"), format!("{key}=.y")],
            _ => [key.to_owned(), key.to_owned()],
        }
    }

    #[test]
    fn the_readme_and_the_library_docs_show_the_parameter_table() {
        let table = markdown_table();
        let readme = include_str!("../../../README.md");
        assert!(
            readme.contains(&table),
            "README.md's parameter table differs from params::KNOWN; it should read:\n{table}"
        );
        let documented: String = table.lines().map(|line| format!("//! {line}\n")).collect();
        assert!(
            include_str!("../lib.rs").contains(&documented),
            "lib.rs's parameter table differs from params::KNOWN; it should read:\n{documented}"
        );
        for p in KNOWN {
            assert!(usage_list().contains(&format!("{}=", p.name)));
        }
    }

    #[test]
    fn known_is_sorted_and_every_entry_is_handled() {
        assert!(KNOWN.is_sorted_by_key(|p| p.name), "KNOWN must stay sorted");
        for Parameter {
            name: key, occurs, ..
        } in KNOWN
        {
            let [first, second] = samples(key);
            assert!(
                Params::parse(&first).is_ok(),
                "{key} is in KNOWN but not handled"
            );
            let value = first.split_once('=').map(|(_, value)| value);
            let setting = Setting::from_item(key, value)
                .unwrap_or_else(|error| panic!("{key} is in KNOWN but has no setting: {error}"));
            assert_eq!(
                setting.key(),
                *key,
                "the setting of {key} names another key"
            );
            let twice = Params::parse(&format!("{first},{second}"));
            match occurs {
                Occurs::Once => assert_eq!(
                    twice,
                    Err(vec![format!("parameter {key:?} given more than once")])
                ),
                Occurs::Many => assert!(twice.is_ok(), "{key} should be repeatable: {twice:?}"),
            }
        }
    }

    #[test]
    fn typed_settings_are_checked_as_the_same_items_written_out() {
        let typed = Parameters::new()
            .client(false)
            .raw("btree_map=.,client=true")
            .runtime_path(" ::my::rgrpc ")
            .extern_path(".a", "::a")
            .extern_path(".a", "::b")
            .type_attribute(".", "#[derive(Hash, Eq)]")
            .field_attribute("", "#[x]")
            .include_file("x");
        let written = typed.to_string();
        assert_eq!(
            Params::from_parameters(&typed),
            Params::parse(&written),
            "{written}"
        );
        assert_eq!(
            Params::from_parameters(&typed).unwrap_err(),
            [
                r#"parameter "client" given more than once"#,
                r#"parameter "extern_path" maps ".a" twice"#,
                r#"parameter "field_attribute" expects path=#[attribute], got "=#[x]""#,
                r#"parameter "include_file" expects a file name ending in ".rs", got "x""#,
            ]
        );
    }

    #[test]
    fn layout_takes_package_or_file_and_file_refuses_an_include_file() {
        assert_eq!(ok("layout=file").layout, Layout::File);
        assert_eq!(ok("layout = package").layout, Layout::Package);
        assert_eq!(
            errors("layout=files"),
            [r#"parameter "layout" expects package or file, got "files""#]
        );
        assert_eq!(
            errors("layout=file,include_file=mod.rs"),
            [
                "include_file cannot be used with layout=file: under buf's `strategy: directory` \
              every directory's run would write the same include file and buf would keep only \
              one; include the per-directory `<package>.mod.rs` files instead"
            ]
        );
        assert!(Params::parse("layout=package,include_file=mod.rs").is_ok());
    }

    #[test]
    fn defaults() {
        let expected = Params {
            client: true,
            server: true,
            blocking: true,
            messages: true,
            descriptors: true,
            descriptor_source_info: true,
            runtime_path: path("::rgrpc"),
            extern_paths: Vec::new(),
            include_file: None,
            layout: Layout::Package,
            layout_given: false,
            prost: Vec::new(),
        };
        assert_eq!(Params::default(), expected);
        assert_eq!(ok(""), expected);
        assert_eq!(ok("   "), expected);
        assert_eq!(ok(","), expected);
        assert_eq!(ok(" , ,, "), expected);
    }

    #[test]
    fn each_key() {
        let defaults = Params::default();
        assert_eq!(
            ok("client=false"),
            Params {
                client: false,
                ..defaults.clone()
            }
        );
        assert_eq!(
            ok("server=false"),
            Params {
                server: false,
                ..defaults.clone()
            }
        );
        assert_eq!(
            ok("messages=false"),
            Params {
                messages: false,
                ..defaults.clone()
            }
        );
        assert_eq!(ok("client=true,server=true,messages=true"), defaults);
        assert_eq!(
            ok("runtime_path=::my_rgrpc"),
            Params {
                runtime_path: path("::my_rgrpc"),
                ..defaults.clone()
            }
        );
        assert_eq!(
            ok("include_file=protos.rs"),
            Params {
                include_file: Some("protos.rs".to_owned()),
                ..defaults.clone()
            }
        );
        assert_eq!(
            ok("extern_path=.google.protobuf=::prost_types"),
            Params {
                extern_paths: externs(&[(".google.protobuf", "::prost_types")]),
                ..defaults.clone()
            }
        );
        for (item, expected) in [
            (
                "type_attribute=.my.pkg.Msg=#[derive(Hash)]",
                type_attribute(".my.pkg.Msg", "#[derive(Hash)]"),
            ),
            (
                "field_attribute=Msg.name=#[serde(default)]",
                ProstOption::FieldAttribute {
                    path: "Msg.name".to_owned(),
                    attribute: "#[serde(default)]".to_owned(),
                },
            ),
            (
                "message_attribute=.=#[non_exhaustive]",
                ProstOption::MessageAttribute {
                    path: ".".to_owned(),
                    attribute: "#[non_exhaustive]".to_owned(),
                },
            ),
            (
                "enum_attribute=.my.pkg.Kind=#[derive(Hash)]",
                ProstOption::EnumAttribute {
                    path: ".my.pkg.Kind".to_owned(),
                    attribute: "#[derive(Hash)]".to_owned(),
                },
            ),
            (
                "btree_map=.my.pkg.Msg.labels",
                ProstOption::BTreeMap(".my.pkg.Msg.labels".to_owned()),
            ),
            ("bytes=.", ProstOption::Bytes(".".to_owned())),
            (
                "boxed=Tree.left",
                ProstOption::Boxed("Tree.left".to_owned()),
            ),
        ] {
            assert_eq!(
                ok(item),
                Params {
                    prost: vec![expected],
                    ..defaults.clone()
                },
                "{item:?}"
            );
        }
    }

    #[test]
    fn all_keys_together() {
        assert_eq!(
            ok("client=false,server=true,messages=false,runtime_path=::my::rgrpc"),
            Params {
                client: false,
                server: true,
                messages: false,
                runtime_path: path("::my::rgrpc"),
                ..Params::default()
            }
        );
        // Repeatable keys interleaved with single ones keep their own order.
        assert_eq!(
            ok(concat!(
                r"bytes=.a.M.data,extern_path=.b=::b,client=false,",
                r"type_attribute=.=#[derive(Hash\, Eq)],include_file=all.rs,",
                r"extern_path=.c.D=crate::c::D,boxed=.a.M.next,",
                r"field_attribute=.a.M.x=#[serde(rename = 'x')],",
                r"message_attribute=.a=#[non_exhaustive],enum_attribute=.a.E=#[repr(i32)],",
                r"btree_map=.,server=false,blocking=false,messages=false,runtime_path=crate::rt,",
                r"layout=package,descriptors=false,descriptor_source_info=false"
            )),
            Params {
                client: false,
                server: false,
                blocking: false,
                messages: false,
                descriptors: false,
                descriptor_source_info: false,
                runtime_path: path("crate::rt"),
                extern_paths: externs(&[(".b", "::b"), (".c.D", "crate::c::D")]),
                include_file: Some("all.rs".to_owned()),
                layout: Layout::Package,
                layout_given: true,
                prost: vec![
                    ProstOption::Bytes(".a.M.data".to_owned()),
                    type_attribute(".", "#[derive(Hash, Eq)]"),
                    ProstOption::Boxed(".a.M.next".to_owned()),
                    ProstOption::FieldAttribute {
                        path: ".a.M.x".to_owned(),
                        attribute: "#[serde(rename = 'x')]".to_owned(),
                    },
                    ProstOption::MessageAttribute {
                        path: ".a".to_owned(),
                        attribute: "#[non_exhaustive]".to_owned(),
                    },
                    ProstOption::EnumAttribute {
                        path: ".a.E".to_owned(),
                        attribute: "#[repr(i32)]".to_owned(),
                    },
                    ProstOption::BTreeMap(".".to_owned()),
                ],
            }
        );
    }

    #[test]
    fn bare_bool_key_means_true() {
        assert_eq!(ok("client"), Params::default());
        assert_eq!(
            ok("client=false,server,messages"),
            Params {
                client: false,
                ..Params::default()
            }
        );
    }

    #[test]
    fn whitespace_and_empty_items() {
        let expected = Params {
            client: false,
            runtime_path: path("::my::rgrpc"),
            ..Params::default()
        };
        assert_eq!(
            ok(" client = false , runtime_path = ::my::rgrpc "),
            expected
        );
        assert_eq!(ok("client=false,runtime_path=::my::rgrpc,"), expected);
        assert_eq!(ok(",client=false,,runtime_path=::my::rgrpc,,"), expected);
        assert_eq!(ok("client=false,runtime_path=:: my :: rgrpc"), expected);
    }

    #[test]
    fn whitespace_in_two_part_values() {
        // Ends of each half are trimmed; the inside of an attribute is kept as written.
        assert_eq!(
            ok(r" type_attribute = .my.Msg = #[derive(A\,  B)]  #[x] , bytes = .b "),
            Params {
                prost: vec![
                    type_attribute(".my.Msg", "#[derive(A,  B)]  #[x]"),
                    ProstOption::Bytes(".b".to_owned()),
                ],
                ..Params::default()
            }
        );
        assert_eq!(
            ok(" extern_path = .my.pkg = ::other :: pkg "),
            Params {
                extern_paths: externs(&[(".my.pkg", "::other :: pkg")]),
                ..Params::default()
            }
        );
    }

    #[test]
    fn runtime_path_forms() {
        for (value, expected) in [
            ("::rgrpc", "::rgrpc"),
            ("::my::rgrpc", "::my::rgrpc"),
            ("crate", "crate"),
            ("crate::rgrpc", "crate::rgrpc"),
            ("crate :: vendored :: rgrpc", "crate::vendored::rgrpc"),
            ("::r#async::rgrpc", "::r#async::rgrpc"),
        ] {
            assert_eq!(
                ok(&format!("runtime_path={value}"))
                    .runtime_path
                    .to_string(),
                expected,
                "{value:?}"
            );
        }
    }

    #[test]
    fn unknown_key() {
        for (input, key) in [
            ("foo", "foo"),
            ("foo=1", "foo"),
            ("Client=false", "Client"),
            ("=true", ""),
            ("extern_paths=.a=::a", "extern_paths"),
            ("type_attributes=.=#[x]", "type_attributes"),
            (r"cli\,ent", "cli,ent"),
        ] {
            assert_eq!(errors(input), [unknown_error(key)], "{input:?}");
        }
        assert_eq!(
            errors("foo"),
            [
                "unknown parameter \"foo\" (known: blocking, boxed, btree_map, bytes, client, descriptor_source_info, \
                 descriptors, enum_attribute, extern_path, field_attribute, include_file, layout, \
                 message_attribute, messages, runtime_path, server, type_attribute)"
            ]
        );
    }

    #[test]
    fn invalid_bool() {
        for (input, got) in [
            ("client=yes", "yes"),
            ("client=", ""),
            ("client=TRUE", "TRUE"),
            ("client=1", "1"),
            ("client=true=false", "true=false"),
        ] {
            assert_eq!(
                errors(input),
                [format!(
                    r#"parameter "client" expects true or false, got "{got}""#
                )],
                "{input:?}"
            );
        }
        assert_eq!(
            errors("server=no"),
            [r#"parameter "server" expects true or false, got "no""#]
        );
        assert_eq!(
            errors("messages=off"),
            [r#"parameter "messages" expects true or false, got "off""#]
        );
    }

    #[test]
    fn duplicate_key() {
        assert_eq!(
            errors("client,client=false"),
            [r#"parameter "client" given more than once"#]
        );
        // Reported once per key however many repeats, even when the values agree.
        assert_eq!(
            errors("client=true,client=true,client=true"),
            [r#"parameter "client" given more than once"#]
        );
        assert_eq!(
            errors("runtime_path=::a,runtime_path=::a"),
            [r#"parameter "runtime_path" given more than once"#]
        );
        assert_eq!(
            errors("include_file=a.rs,include_file=b.rs,include_file=a.rs"),
            [r#"parameter "include_file" given more than once"#]
        );
    }

    #[test]
    fn invalid_runtime_path() {
        for value in [
            "not a path",
            "rgrpc",
            "my::rgrpc",
            "::",
            "::rgrpc::",
            "::rgrpc<T>",
            "::Vec::<u8>",
            "crate::crate",
            "::crate",
            "self::rgrpc",
            "super::rgrpc",
            "::self",
            "$crate::rgrpc",
            "::type",
            "::gen::rgrpc",
            "::async",
            "::_",
            "::extern",
            "::1abc",
            "\"::rgrpc\"",
        ] {
            assert_eq!(
                errors(&format!("runtime_path={value}")),
                [format!(
                    "parameter \"runtime_path\" expects an absolute Rust path such as ::rgrpc, got {value:?}"
                )],
                "{value:?}"
            );
        }
    }

    #[test]
    fn needs_a_value() {
        for key in [
            "runtime_path",
            "include_file",
            "extern_path",
            "type_attribute",
            "field_attribute",
            "message_attribute",
            "enum_attribute",
            "btree_map",
            "bytes",
            "boxed",
        ] {
            for input in [key.to_owned(), format!("{key}="), format!("{key} = ")] {
                assert_eq!(
                    errors(&input),
                    [format!("parameter {key:?} needs a value")],
                    "{input:?}"
                );
            }
        }
    }

    #[test]
    fn split_params_escapes() {
        for (input, expected) in [
            ("", &[""][..]),
            ("a", &["a"]),
            ("a,b", &["a", "b"]),
            ("a,", &["a", ""]),
            (",a", &["", "a"]),
            ("a,,b", &["a", "", "b"]),
            (" a , b ", &[" a ", " b "]),
            (r"a\,b", &["a,b"]),
            (r"a\,", &["a,"]),
            (r"\,", &[","]),
            (r"a\\b", &[r"a\b"]),
            // `\\` is one backslash, so the comma after it separates.
            (r"a\\,b", &[r"a\", "b"]),
            (r"a\\\,b", &[r"a\,b"]),
            (r"a\\\\,b", &[r"a\\", "b"]),
            // Any other backslash, including a trailing one, is kept as written.
            (r"a\", &[r"a\"]),
            (r"\", &[r"\"]),
            (r"a\\\", &[r"a\\"]),
            (r"a\b", &[r"a\b"]),
            (r"\n\t", &[r"\n\t"]),
            (r##"#[doc = "a\"b"]"##, &[r##"#[doc = "a\"b"]"##]),
            (r"x=#[derive(A\, B)],y", &["x=#[derive(A, B)]", "y"]),
            ("ü,€", &["ü", "€"]),
        ] {
            assert_eq!(split_params(input), expected, "{input:?}");
        }
    }

    #[test]
    fn attributes_with_commas_and_equals() {
        for (input, path, attribute) in [
            (
                r"type_attribute=.=#[derive(serde::Serialize\, serde::Deserialize)]",
                ".",
                "#[derive(serde::Serialize, serde::Deserialize)]",
            ),
            (
                r#"type_attribute=.my.pkg.Msg=#[serde(rename_all = "camelCase")]"#,
                ".my.pkg.Msg",
                r##"#[serde(rename_all = "camelCase")]"##,
            ),
            (
                r#"type_attribute=Msg=#[serde(rename = "a\,b"\, default)]"#,
                "Msg",
                r##"#[serde(rename = "a,b", default)]"##,
            ),
            (
                "type_attribute=.=#[derive(Hash)] #[derive(Eq)]",
                ".",
                "#[derive(Hash)] #[derive(Eq)]",
            ),
            ("type_attribute=.=/** Docs. */", ".", "/** Docs. */"),
            ("type_attribute=.=/// Docs.", ".", "/// Docs."),
            (
                r##"type_attribute=.=#[doc = "a\"b"]"##,
                ".",
                r##"#[doc = "a\"b"]"##,
            ),
            (
                r#"type_attribute=.=#[doc = "a\\\\b"]"#,
                ".",
                r##"#[doc = "a\\b"]"##,
            ),
        ] {
            assert_eq!(
                ok(input).prost,
                [type_attribute(path, attribute)],
                "{input:?}"
            );
        }
    }

    #[test]
    fn repeatable_keys_keep_order() {
        assert_eq!(
            ok(r"type_attribute=.b=#[b],type_attribute=.a=#[a],type_attribute=.b=#[b]").prost,
            [
                type_attribute(".b", "#[b]"),
                type_attribute(".a", "#[a]"),
                type_attribute(".b", "#[b]"),
            ]
        );
        assert_eq!(
            ok("extern_path=.z=::z,extern_path=.a.b=::ab,extern_path=.a=crate::a").extern_paths,
            externs(&[(".z", "::z"), (".a.b", "::ab"), (".a", "crate::a")])
        );
    }

    #[test]
    fn extern_path_forms() {
        for (value, proto, rust) in [
            (
                ".google.protobuf=::prost_types",
                ".google.protobuf",
                "::prost_types",
            ),
            (
                ".my.pkg=::other_crate::pkg",
                ".my.pkg",
                "::other_crate::pkg",
            ),
            (
                ".my.pkg=crate::generated::pkg",
                ".my.pkg",
                "crate::generated::pkg",
            ),
            (".my.pkg.Msg=::other::Msg", ".my.pkg.Msg", "::other::Msg"),
            (".my_pkg._v1=other", ".my_pkg._v1", "other"),
            (
                ".pkg.Wrapper=::w::Wrapper<u8>",
                ".pkg.Wrapper",
                "::w::Wrapper<u8>",
            ),
            (".pkg=::r#async::pkg", ".pkg", "::r#async::pkg"),
        ] {
            assert_eq!(
                ok(&format!("extern_path={value}")).extern_paths,
                externs(&[(proto, rust)]),
                "{value:?}"
            );
        }
    }

    #[test]
    fn invalid_extern_path() {
        for (value, error) in [
            (
                "foo",
                r#"parameter "extern_path" expects .proto.path=rust::path, got "foo""#,
            ),
            (
                ".foo",
                r#"parameter "extern_path" expects .proto.path=rust::path, got ".foo""#,
            ),
            (
                "=::foo",
                r#"parameter "extern_path" expects .proto.path=rust::path, got "=::foo""#,
            ),
            (
                ".foo=",
                r#"parameter "extern_path" expects .proto.path=rust::path, got ".foo=""#,
            ),
            (
                ".foo = ",
                r#"parameter "extern_path" expects .proto.path=rust::path, got ".foo =""#,
            ),
            (
                "foo=::foo",
                r#"parameter "extern_path": proto path "foo" must start with ".""#,
            ),
            (
                "foo.bar=::foo",
                r#"parameter "extern_path": proto path "foo.bar" must start with ".""#,
            ),
            (
                ".=::foo",
                r#"parameter "extern_path": proto path "." has an empty segment"#,
            ),
            (
                "..foo=::foo",
                r#"parameter "extern_path": proto path "..foo" has an empty segment"#,
            ),
            (
                ".foo.=::foo",
                r#"parameter "extern_path": proto path ".foo." has an empty segment"#,
            ),
            (
                ".foo..bar=::foo",
                r#"parameter "extern_path": proto path ".foo..bar" has an empty segment"#,
            ),
            (
                ".my.p-kg=::foo",
                r#"parameter "extern_path": proto path ".my.p-kg" has an invalid segment "p-kg""#,
            ),
            (
                ".my.1pkg=::foo",
                r#"parameter "extern_path": proto path ".my.1pkg" has an invalid segment "1pkg""#,
            ),
            (
                ".my pkg=::foo",
                r#"parameter "extern_path": proto path ".my pkg" has an invalid segment "my pkg""#,
            ),
            (
                ".foo=not a path",
                r#"parameter "extern_path": rust path "not a path" is not a valid Rust path"#,
            ),
            (
                ".foo=::foo::",
                r#"parameter "extern_path": rust path "::foo::" is not a valid Rust path"#,
            ),
            (
                ".foo=::foo=bar",
                r#"parameter "extern_path": rust path "::foo=bar" is not a valid Rust path"#,
            ),
            (
                ".foo=::type",
                r#"parameter "extern_path": rust path "::type" is not a valid Rust path"#,
            ),
            (
                ".foo=::w::W<'a>",
                r#"parameter "extern_path": rust path "::w::W<'a>" has generic arguments other than types"#,
            ),
        ] {
            assert_eq!(
                errors(&format!("extern_path={value}")),
                [error],
                "{value:?}"
            );
        }
    }

    #[test]
    fn extern_path_mapped_twice() {
        // The same proto path is an error even to the same Rust path, once per proto path.
        assert_eq!(
            errors("extern_path=.foo=::a,extern_path=.foo=::b"),
            [r#"parameter "extern_path" maps ".foo" twice"#]
        );
        assert_eq!(
            errors(concat!(
                "extern_path=.foo=::a,extern_path=.bar=::b,extern_path=.foo=::a,",
                "extern_path=.foo=::a,extern_path=.bar=::b"
            )),
            [
                r#"parameter "extern_path" maps ".foo" twice"#,
                r#"parameter "extern_path" maps ".bar" twice"#,
            ]
        );
        // Nested paths are distinct mappings (prost-build picks the longest match).
        assert!(Params::parse("extern_path=.foo=::a,extern_path=.foo.Bar=::b").is_ok());
    }

    #[test]
    fn include_file_forms() {
        for value in [
            "protos.rs",
            "gen/protos.rs",
            "a/b/c.rs",
            "my.protos.rs",
            "_.rs",
            "..rs",
            "a..b.rs",
        ] {
            assert_eq!(
                ok(&format!("include_file={value}")).include_file.as_deref(),
                Some(value),
                "{value:?}"
            );
        }
    }

    #[test]
    fn invalid_include_file() {
        let relative = |value: &str| {
            format!(
                "parameter \"include_file\" expects a relative path without empty, \".\" or \"..\" segments, got {value:?}"
            )
        };
        let extension = |value: &str| {
            format!(
                "parameter \"include_file\" expects a file name ending in \".rs\", got {value:?}"
            )
        };
        let separator = |value: &str| {
            format!("parameter \"include_file\" expects \"/\" as the path separator, got {value:?}")
        };
        for (value, error) in [
            ("protos", extension("protos")),
            ("protos.rs.txt", extension("protos.rs.txt")),
            ("protos.RS", extension("protos.RS")),
            (".rs", extension(".rs")),
            ("gen/.rs", extension("gen/.rs")),
            ("/protos.rs", relative("/protos.rs")),
            ("../protos.rs", relative("../protos.rs")),
            ("gen/../../protos.rs", relative("gen/../../protos.rs")),
            ("./protos.rs", relative("./protos.rs")),
            ("gen//protos.rs", relative("gen//protos.rs")),
            ("gen/", relative("gen/")),
            (r"gen\protos.rs", separator(r"gen\protos.rs")),
            (r"..\protos.rs", separator(r"..\protos.rs")),
            (r"C:\protos.rs", separator(r"C:\protos.rs")),
        ] {
            assert_eq!(
                errors(&format!("include_file={value}")),
                [error],
                "{value:?}"
            );
        }
    }

    #[test]
    fn invalid_prost_option() {
        for (input, error) in [
            (
                "type_attribute=.foo",
                r#"parameter "type_attribute" expects path=#[attribute], got ".foo""#,
            ),
            (
                "field_attribute==#[x]",
                r#"parameter "field_attribute" expects path=#[attribute], got "=#[x]""#,
            ),
            (
                "message_attribute=.foo=",
                r#"parameter "message_attribute" expects path=#[attribute], got ".foo=""#,
            ),
            (
                "enum_attribute=.foo = ",
                r#"parameter "enum_attribute" expects path=#[attribute], got ".foo =""#,
            ),
            (
                "type_attribute=.my Msg=#[x]",
                r#"parameter "type_attribute": path ".my Msg" must not contain whitespace"#,
            ),
            (
                "type_attribute=#[derive(Debug)]",
                r##"parameter "type_attribute" expects path=#[attribute], got "#[derive(Debug)]""##,
            ),
            (
                "type_attribute=.=#[derive(",
                r##"parameter "type_attribute": attribute "#[derive(" is not valid Rust: cannot parse string into token stream"##,
            ),
            (
                "field_attribute=.=derive(Debug)",
                r#"parameter "field_attribute": attribute "derive(Debug)" is not valid Rust: unexpected token"#,
            ),
            (
                "message_attribute=.=#![allow(x)]",
                r##"parameter "message_attribute": attribute "#![allow(x)]" is not valid Rust: expected square brackets"##,
            ),
            (
                "enum_attribute=.=#[x] pub",
                r##"parameter "enum_attribute": attribute "#[x] pub" is not valid Rust: unexpected token"##,
            ),
            (
                "type_attribute=.=#[x] struct S; //",
                r##"parameter "type_attribute": attribute "#[x] struct S; //" is not valid Rust: unexpected token"##,
            ),
            (
                "type_attribute=.=// #[x]",
                r##"parameter "type_attribute": attribute "// #[x]" is not valid Rust: expected an attribute such as #[derive(Debug)]"##,
            ),
            (
                "btree_map=.my Msg",
                r#"parameter "btree_map": path ".my Msg" must not contain whitespace"#,
            ),
            (
                "bytes=.a\t.b",
                r#"parameter "bytes": path ".a\t.b" must not contain whitespace"#,
            ),
            (
                "boxed=a b",
                r#"parameter "boxed": path "a b" must not contain whitespace"#,
            ),
        ] {
            assert_eq!(errors(input), [error], "{input:?}");
        }
    }

    #[test]
    fn unescaped_comma_in_attribute() {
        // The mistake the escape exists for: the second half becomes an unknown key.
        assert_eq!(
            errors("type_attribute=.=#[derive(A, B)]"),
            [
                r##"parameter "type_attribute": attribute "#[derive(A" is not valid Rust: cannot parse string into token stream"##
                    .to_owned(),
                unknown_error("B)]"),
            ]
        );
    }

    #[test]
    fn all_errors_collected_in_input_order() {
        assert_eq!(
            errors(
                "foo,client=yes,server=false,client,runtime_path=not a path,bar=1,runtime_path,\
                 extern_path=foo,bytes,include_file=x,extern_path=.a=::a,extern_path=.a=::b,\
                 include_file=y.rs,type_attribute=.=#[x"
            ),
            [
                unknown_error("foo"),
                r#"parameter "client" expects true or false, got "yes""#.to_owned(),
                r#"parameter "client" given more than once"#.to_owned(),
                r#"parameter "runtime_path" expects an absolute Rust path such as ::rgrpc, got "not a path""#.to_owned(),
                unknown_error("bar"),
                r#"parameter "runtime_path" given more than once"#.to_owned(),
                r#"parameter "runtime_path" needs a value"#.to_owned(),
                r#"parameter "extern_path" expects .proto.path=rust::path, got "foo""#.to_owned(),
                r#"parameter "bytes" needs a value"#.to_owned(),
                r#"parameter "include_file" expects a file name ending in ".rs", got "x""#.to_owned(),
                r#"parameter "extern_path" maps ".a" twice"#.to_owned(),
                r#"parameter "include_file" given more than once"#.to_owned(),
                r##"parameter "type_attribute": attribute "#[x" is not valid Rust: cannot parse string into token stream"##.to_owned(),
            ]
        );
    }
}
