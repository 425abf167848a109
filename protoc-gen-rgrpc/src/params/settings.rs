//! [`Parameters`]: the plugin's parameters as typed settings, for Rust callers (build
//! scripts, `rgrpc-build`) that would otherwise write a `--rgrpc_opt` string for the plugin
//! to parse back; and that string, for protoc and for display.

use std::fmt;

/// Plugin parameters, in the order given: typed settings, and `--rgrpc_opt` strings.
///
/// Nothing is checked when a setting is added; [`compile::run`](crate::compile::run)
/// checks them all, exactly as it checks the same parameters written for `--rgrpc_opt`,
/// and reports every problem at once. Its [`Display`](fmt::Display) is that
/// `--rgrpc_opt` string, commas in values escaped as `\,`.
///
/// ```
/// use protoc_gen_rgrpc::Parameters;
///
/// let parameters = Parameters::new()
///     .server(false)
///     .type_attribute(".", "#[derive(Hash, Eq)]")
///     .raw("btree_map=.");
/// assert_eq!(
///     parameters.to_string(),
///     r"server=false,type_attribute=.=#[derive(Hash\, Eq)],btree_map=."
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parameters {
    pub(super) entries: Vec<Entry>,
}

/// One call that added to [`Parameters`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Entry {
    /// Parameters as written for `--rgrpc_opt`: parsed when checked.
    Raw(String),
    Setting(Setting),
}

/// One parameter with its value as the caller gave it; each variant is the key of the same
/// name in [`KNOWN`](super::KNOWN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Setting {
    Blocking(bool),
    Boxed(String),
    BTreeMap(String),
    Bytes(String),
    Client(bool),
    DescriptorSourceInfo(bool),
    Descriptors(bool),
    EnumAttribute { path: String, attribute: String },
    ExternPath { proto: String, rust: String },
    FieldAttribute { path: String, attribute: String },
    IncludeFile(String),
    Layout(String),
    MessageAttribute { path: String, attribute: String },
    Messages(bool),
    RuntimePath(String),
    Server(bool),
    TypeAttribute { path: String, attribute: String },
}

impl Setting {
    /// The parameter's key, as `--rgrpc_opt` spells it.
    pub(super) fn key(&self) -> &'static str {
        match self {
            Setting::Blocking(_) => "blocking",
            Setting::Boxed(_) => "boxed",
            Setting::BTreeMap(_) => "btree_map",
            Setting::Bytes(_) => "bytes",
            Setting::Client(_) => "client",
            Setting::DescriptorSourceInfo(_) => "descriptor_source_info",
            Setting::Descriptors(_) => "descriptors",
            Setting::EnumAttribute { .. } => "enum_attribute",
            Setting::ExternPath { .. } => "extern_path",
            Setting::FieldAttribute { .. } => "field_attribute",
            Setting::IncludeFile(_) => "include_file",
            Setting::Layout(_) => "layout",
            Setting::MessageAttribute { .. } => "message_attribute",
            Setting::Messages(_) => "messages",
            Setting::RuntimePath(_) => "runtime_path",
            Setting::Server(_) => "server",
            Setting::TypeAttribute { .. } => "type_attribute",
        }
    }

    /// The value as `--rgrpc_opt` writes it, unescaped.
    fn value(&self) -> String {
        match self {
            Setting::Blocking(on)
            | Setting::Client(on)
            | Setting::DescriptorSourceInfo(on)
            | Setting::Descriptors(on)
            | Setting::Messages(on)
            | Setting::Server(on) => on.to_string(),
            Setting::Boxed(value)
            | Setting::BTreeMap(value)
            | Setting::Bytes(value)
            | Setting::IncludeFile(value)
            | Setting::Layout(value)
            | Setting::RuntimePath(value) => value.clone(),
            Setting::ExternPath {
                proto: path,
                rust: attribute,
            }
            | Setting::EnumAttribute { path, attribute }
            | Setting::FieldAttribute { path, attribute }
            | Setting::MessageAttribute { path, attribute }
            | Setting::TypeAttribute { path, attribute } => format!("{path}={attribute}"),
        }
    }
}

impl Parameters {
    /// No parameter: every one at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds parameters as written for `--rgrpc_opt` (`"server=false,btree_map=."`), commas
    /// and `\,` escapes included.
    pub fn raw(mut self, parameters: impl Into<String>) -> Self {
        self.entries.push(Entry::Raw(parameters.into()));
        self
    }

    fn set(mut self, setting: Setting) -> Self {
        self.entries.push(Entry::Setting(setting));
        self
    }

    /// Whether to generate the async client (`client`, default `true`).
    pub fn client(self, enable: bool) -> Self {
        self.set(Setting::Client(enable))
    }

    /// Whether to generate the server trait and service (`server`, default `true`).
    pub fn server(self, enable: bool) -> Self {
        self.set(Setting::Server(enable))
    }

    /// Whether to generate the blocking client (`blocking`, default `true`).
    pub fn blocking(self, enable: bool) -> Self {
        self.set(Setting::Blocking(enable))
    }

    /// Whether to embed each server's file descriptors for reflection (`descriptors`, default
    /// `true`).
    pub fn descriptors(self, enable: bool) -> Self {
        self.set(Setting::Descriptors(enable))
    }

    /// Whether embedded descriptors keep the proto comments (`descriptor_source_info`,
    /// default `true`).
    pub fn descriptor_source_info(self, enable: bool) -> Self {
        self.set(Setting::DescriptorSourceInfo(enable))
    }

    /// Whether to generate the messages (`messages`, default `true`).
    pub fn messages(self, enable: bool) -> Self {
        self.set(Setting::Messages(enable))
    }

    /// The path generated code reaches the runtime by (`runtime_path`, default `::rgrpc`).
    pub fn runtime_path(self, path: impl Into<String>) -> Self {
        self.set(Setting::RuntimePath(path.into()))
    }

    /// Types under `proto_path` are the Rust types under `rust_path` (`extern_path`).
    pub fn extern_path(self, proto_path: impl Into<String>, rust_path: impl Into<String>) -> Self {
        self.set(Setting::ExternPath {
            proto: proto_path.into(),
            rust: rust_path.into(),
        })
    }

    /// Also writes a file including every generated package file (`include_file`).
    pub fn include_file(self, name: impl Into<String>) -> Self {
        self.set(Setting::IncludeFile(name.into()))
    }

    /// How the output is cut into files (`layout`): `"package"` (the default) or `"file"`.
    pub fn layout(self, layout: impl Into<String>) -> Self {
        self.set(Setting::Layout(layout.into()))
    }

    /// An attribute on matching messages and enums (`type_attribute`).
    pub fn type_attribute(self, path: impl Into<String>, attribute: impl Into<String>) -> Self {
        self.set(Setting::TypeAttribute {
            path: path.into(),
            attribute: attribute.into(),
        })
    }

    /// An attribute on matching fields (`field_attribute`).
    pub fn field_attribute(self, path: impl Into<String>, attribute: impl Into<String>) -> Self {
        self.set(Setting::FieldAttribute {
            path: path.into(),
            attribute: attribute.into(),
        })
    }

    /// An attribute on matching messages (`message_attribute`).
    pub fn message_attribute(self, path: impl Into<String>, attribute: impl Into<String>) -> Self {
        self.set(Setting::MessageAttribute {
            path: path.into(),
            attribute: attribute.into(),
        })
    }

    /// An attribute on matching enums (`enum_attribute`).
    pub fn enum_attribute(self, path: impl Into<String>, attribute: impl Into<String>) -> Self {
        self.set(Setting::EnumAttribute {
            path: path.into(),
            attribute: attribute.into(),
        })
    }

    /// Maps at `path` become `BTreeMap` (`btree_map`).
    pub fn btree_map(self, path: impl Into<String>) -> Self {
        self.set(Setting::BTreeMap(path.into()))
    }

    /// `bytes` fields at `path` become `bytes::Bytes` (`bytes`).
    pub fn bytes(self, path: impl Into<String>) -> Self {
        self.set(Setting::Bytes(path.into()))
    }

    /// Message fields at `path` are boxed (`boxed`).
    pub fn boxed(self, path: impl Into<String>) -> Self {
        self.set(Setting::Boxed(path.into()))
    }
}

/// The `--rgrpc_opt` string: every entry in order, joined by commas; empty raw entries are
/// dropped rather than sent as empty items.
impl fmt::Display for Parameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for entry in &self.entries {
            let item = match entry {
                Entry::Raw(raw) if raw.is_empty() => continue,
                Entry::Raw(raw) => raw.clone(),
                Entry::Setting(setting) => item(setting.key(), &setting.value()),
            };
            if !first {
                f.write_str(",")?;
            }
            first = false;
            f.write_str(&item)?;
        }
        Ok(())
    }
}

/// `key=value` with the value escaped for [`split_params`](super::split_params): every
/// comma and backslash gets a backslash, so one that happens to precede a comma is not
/// read as an escape.
fn item(key: &str, value: &str) -> String {
    let mut item = String::with_capacity(key.len() + 1 + value.len());
    item.push_str(key);
    item.push('=');
    for c in value.chars() {
        if matches!(c, ',' | '\\') {
            item.push('\\');
        }
        item.push(c);
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_escape_commas_and_backslashes_and_split_back_unchanged() {
        for value in [
            ".=#[derive(Hash, Eq)]",
            r#".=#[doc = "a\,b"]"#,
            r"a\",
            "plain",
        ] {
            let written = item("type_attribute", value);
            assert_eq!(
                super::super::split_params(&written),
                [format!("type_attribute={value}")],
                "{written}"
            );
        }
        assert_eq!(
            item("type_attribute", ".=#[derive(Hash, Eq)]"),
            r"type_attribute=.=#[derive(Hash\, Eq)]"
        );
    }

    #[test]
    fn display_keeps_order_and_drops_empty_raw_entries() {
        let parameters = Parameters::new()
            .server(false)
            .raw("")
            .raw("btree_map=.")
            .type_attribute(".", "#[derive(A, B)]");
        assert_eq!(
            parameters.to_string(),
            r"server=false,btree_map=.,type_attribute=.=#[derive(A\, B)]"
        );
        assert_eq!(Parameters::new().to_string(), "");
    }
}
