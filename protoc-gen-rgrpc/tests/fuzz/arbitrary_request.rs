//! Arbitrary but well-formed `CodeGeneratorRequest`s: what protoc could send for some set
//! of `.proto` files, drawn from a seed so that any case can be replayed.
//!
//! "Well-formed" means what protoc guarantees a plugin: every name is a proto identifier
//! and unique in its scope (protoc's scoping, enum values included), every type reference
//! is fully qualified and resolves to a type of the same file or of a direct import,
//! imports are acyclic and listed, files come dependencies first, map fields come with
//! their entry message, proto3 `optional` fields with their synthetic oneof, oneof fields
//! are consecutive, proto3 enums start at 0 and proto3 messages use only open enums.
//! Within that, names are chosen to be awkward in Rust: keywords of both escaping kinds,
//! odd casing, leading and trailing underscores, names that collide once Rust-cased.

use std::collections::HashSet;

use fastrand::Rng;
use prost_types::compiler::CodeGeneratorRequest;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::source_code_info::Location;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, EnumOptions, EnumValueDescriptorProto, EnumValueOptions,
    FieldDescriptorProto, FieldOptions, FileDescriptorProto, MessageOptions, MethodDescriptorProto,
    MethodOptions, OneofDescriptorProto, ServiceDescriptorProto, ServiceOptions, SourceCodeInfo,
};

/// Package segments: both kinds of escaped keywords, odd casing, two that differ in case only.
#[rustfmt::skip]
const PACKAGE_WORDS: &[&str] = &[
    "a", "b", "c", "foo", "Foo", "v1", "type", "async", "self", "crate", "super", "mod", "gen",
    "my_pkg", "_p", "p1", "HTTP", "google", "r",
];

/// Message and enum names: keywords, odd casing, names equal once Rust-cased
/// (`FooBar`, `Foo_bar`), names of the Rust prelude and of what prost generates.
#[rustfmt::skip]
const TYPE_WORDS: &[&str] = &[
    "Foo", "Bar", "FooBar", "Foo_bar", "HTTPServer", "foo_bar_", "_leading", "A", "a", "a1b2",
    "snake_and_Camel", "type", "match", "self", "Self", "super", "crate", "async", "Option",
    "Result", "String", "Vec", "Box", "Default", "Message", "Request", "Response", "Empty",
    "Timestamp", "_1", "X_", "Kind", "Type", "Inner", "Outer", "Item",
];

/// Field and oneof names: keywords, odd casing, json-name twins (protoc refuses those
/// in one message, see `json_key`), names of methods prost derives.
#[rustfmt::skip]
const FIELD_WORDS: &[&str] = &[
    "type", "match", "self", "Self", "super", "crate", "extern", "fn", "r", "gen", "id", "name",
    "foo_bar", "fooBar", "FooBar", "foo_bar_", "_leading", "a1b2", "snake_and_Camel",
    "HTTPServer", "value", "key", "kind", "inner", "items", "x1", "default", "clone", "new",
    "encode", "merge", "clear",
];

/// Service names: keywords, and names like the generated `…Client`, `…Server`, `…Api`.
#[rustfmt::skip]
const SERVICE_WORDS: &[&str] = &[
    "HelloService", "Greeter", "Foo", "foo", "type", "Self", "self", "async", "Service",
    "Server", "Client", "HTTPServer", "_svc", "A", "snake_and_Camel", "Api", "Blocking",
];

/// Rpc names: keywords, names equal once Rust-cased, the client's reserved method names.
#[rustfmt::skip]
const METHOD_WORDS: &[&str] = &[
    "SayHello", "Get", "get", "GetFoo", "get_foo", "HTTPGet", "Clone", "clone", "new", "New",
    "Into", "into", "from", "Fmt", "type", "Self", "self", "super", "async", "Await", "Next",
    "Call", "ready", "poll_ready", "with_interceptor", "inner", "_x", "a", "A1b2", "Stream",
];

/// Enum value names (also used after the enum's own prefix): keywords, prelude names.
#[rustfmt::skip]
const ENUM_VALUE_WORDS: &[&str] = &[
    "UNSPECIFIED", "UNKNOWN", "RED", "GREEN", "type", "Self", "self", "A", "B2", "ONE", "value",
    "NONE", "Default", "None", "Some", "Ok", "Err",
];

/// Comment lines that are awkward for rustdoc or for the Markdown clean-up: fences,
/// HTML, links, escapes, comment terminators, non-ASCII text.
const COMMENT_LINES: &[&str] = &[
    " A plain sentence.",
    " ```",
    " ```rust",
    " fn main() { panic!() }",
    "     indented code",
    "\tTabbed",
    " <b>bold</b> and <T>",
    " Vec<u8> or a < b",
    " [link] and [text](http://x.y/z)",
    " `code` and ``a`b``",
    " \\ backslash \\",
    " */ /* ",
    " #[doc = \"x\"]",
    " \"quoted\" 'single'",
    " http://example.com/path?x=1",
    " <https://grpc.io>",
    " é ü 漢字 🙂",
    " trailing spaces   ",
    "",
    " - list",
    " 1. item",
    " > quote",
    " | a | b |",
    " # Heading",
    " {} {{}}",
    " rgrpc-doc:0",
    " /// nested doc",
    " <!-- html comment -->",
    " *emphasis* _under_ **strong**",
    " [^note]",
    // protoc passes control characters through: a bare CR, tab-likes, text direction.
    " bare\rCR and \r\r twice",
    " vt\u{b} ff\u{c} nul\u{0} bel\u{7} nel\u{85} ls\u{2028}",
    " ```\r code with a bare CR\r ```",
    " Trojan \u{202E}esrever\u{202C} \u{2066}isolate\u{2069}",
];

#[rustfmt::skip]
const SCALARS: &[Type] = &[
    Type::Double, Type::Float, Type::Int64, Type::Uint64, Type::Int32, Type::Fixed64,
    Type::Fixed32, Type::Bool, Type::String, Type::Bytes, Type::Uint32, Type::Sfixed32,
    Type::Sfixed64, Type::Sint32, Type::Sint64,
];

#[rustfmt::skip]
const MAP_KEYS: &[Type] = &[
    Type::Int32, Type::Int64, Type::Uint32, Type::Uint64, Type::Sint32, Type::Sint64,
    Type::Fixed32, Type::Fixed64, Type::Sfixed32, Type::Sfixed64, Type::Bool, Type::String,
];

/// Up to this many user files per request.
const MAX_FILES: usize = 4;
/// Messages nest at most this deep.
const MAX_DEPTH: u32 = 3;

/// The request for `seed`: the same seed always gives the same request.
pub fn request(seed: u64) -> CodeGeneratorRequest {
    Builder::new(seed).request()
}

/// A message or enum that fields and methods may refer to.
#[derive(Clone)]
struct Named {
    /// `.pkg.Outer.Inner`.
    fqn: String,
    /// The index of the defining file in `Builder::files`.
    file: usize,
    kind: Kind,
    /// An enum's value names (for proto2 defaults); empty for a message.
    values: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Message,
    /// `open`: defined in a proto3 file, so proto3 messages may use it.
    Enum {
        open: bool,
    },
}

struct Builder {
    rng: Rng,
    /// Every full name defined so far (`.a`, `.a.b`, `.a.b.Msg`, `.a.b.Msg.field`, ...):
    /// protoc's one symbol table, in which packages, types, fields, oneofs, enum values and
    /// services all share scopes.
    symbols: HashSet<String>,
    /// Types that may be referred to, in definition order.
    types: Vec<Named>,
    /// The finished files, dependencies first.
    files: Vec<FileDescriptorProto>,
    /// Names of the well-known type files in `files`.
    well_known: Vec<String>,
    /// Fresh-name counter, for when the word lists are exhausted in a scope.
    counter: u32,
}

/// What a file being built needs while its messages and services are made.
struct FileScope {
    index: usize,
    proto3: bool,
    /// Files whose types this one may use: itself and its direct imports.
    visible: Vec<usize>,
    comments: Vec<Location>,
}

impl Builder {
    fn new(seed: u64) -> Self {
        Self {
            rng: Rng::with_seed(seed),
            symbols: HashSet::new(),
            types: Vec::new(),
            files: Vec::new(),
            well_known: Vec::new(),
            counter: 0,
        }
    }

    fn request(mut self) -> CodeGeneratorRequest {
        if self.chance(30) {
            self.add_well_known();
        }
        let user_files = self.rng.usize(1..=MAX_FILES);
        // All packages first, so no type can take a name a package will need.
        let packages: Vec<String> = (0..user_files).map(|_| self.package()).collect();
        for package in &packages {
            self.define_package(package);
        }
        for package in packages {
            self.user_file(package);
        }
        let parameter = self.parameter();
        // (name, package) of every user file.
        let user: Vec<(String, String)> = self
            .files
            .iter()
            .filter(|f| !self.well_known.iter().any(|w| w == f.name()))
            .map(|f| (f.name().to_owned(), f.package().to_owned()))
            .collect();
        let file_to_generate = self.files_to_generate(&user);
        CodeGeneratorRequest {
            file_to_generate,
            parameter,
            proto_file: self.files,
            compiler_version: None,
        }
    }

    fn chance(&mut self, percent: u8) -> bool {
        self.rng.u8(..100) < percent
    }

    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[self.rng.usize(..words.len())]
    }

    /// A random proto identifier: a letter or `_`, then letters, digits and `_`; never
    /// only underscores (see `fresh`).
    fn random_ident(&mut self) -> String {
        const FIRST: &[u8] = b"abcxyzABCXYZ_";
        const REST: &[u8] = b"abcxyzABCXYZ_0123456789";
        let mut name = String::new();
        name.push(FIRST[self.rng.usize(..FIRST.len())] as char);
        for _ in 0..self.rng.usize(0..8) {
            name.push(REST[self.rng.usize(..REST.len())] as char);
        }
        if name.chars().all(|c| c == '_') {
            name.push('x');
        }
        name
    }

    /// A name from `words` (or random) that `free` accepts; a numbered one if none is.
    /// Rarely a name of underscores only: valid proto, but without a Rust form, so the
    /// plugin must refuse the request (clearly), and too many would leave few requests
    /// it accepts.
    fn fresh(&mut self, words: &[&str], mut free: impl FnMut(&Self, &str) -> bool) -> String {
        for _ in 0..20 {
            let name = match self.rng.u16(..1000) {
                0..2 => "_".to_owned(),
                2..3 => "__".to_owned(),
                3..750 => self.pick(words).to_owned(),
                _ => self.random_ident(),
            };
            if free(self, &name) {
                return name;
            }
        }
        loop {
            self.counter += 1;
            let name = format!("N{}", self.counter);
            if free(self, &name) {
                return name;
            }
        }
    }

    /// A name not yet defined in `scope` (`""` or `.pkg...`).
    fn fresh_in(&mut self, scope: &str, words: &[&str]) -> String {
        let scope = scope.to_owned();
        self.fresh(words, |b, name| {
            !b.symbols.contains(&format!("{scope}.{name}"))
        })
    }

    fn define(&mut self, fqn: String) {
        let fresh = self.symbols.insert(fqn);
        assert!(fresh, "the generator defined a name twice");
    }

    fn package(&mut self) -> String {
        let segments = match self.rng.u8(..100) {
            0..20 => 0,
            20..70 => 1,
            _ => self.rng.usize(2..=3),
        };
        // Rarely `_`, a segment without a Rust form (see `fresh`).
        let words: Vec<&str> = (0..segments)
            .map(|_| match self.rng.u8(..100) {
                0..2 => "_",
                2..85 => self.pick(PACKAGE_WORDS),
                _ => "x_1",
            })
            .collect();
        words.join(".")
    }

    /// Packages may be shared by files and nest (`a` and `a.b`); both are fine in protoc.
    fn define_package(&mut self, package: &str) {
        let mut prefix = String::new();
        for segment in package.split('.').filter(|s| !s.is_empty()) {
            prefix.push('.');
            prefix.push_str(segment);
            self.symbols.insert(prefix.clone());
        }
    }

    /// `google/protobuf/empty.proto` and `timestamp.proto`, as protoc includes them.
    fn add_well_known(&mut self) {
        self.define_package("google.protobuf");
        let timestamp_fields = vec![
            scalar_field("seconds", 1, Type::Int64, Label::Optional),
            scalar_field("nanos", 2, Type::Int32, Label::Optional),
        ];
        for (file, message, fields) in [
            ("google/protobuf/empty.proto", "Empty", Vec::new()),
            (
                "google/protobuf/timestamp.proto",
                "Timestamp",
                timestamp_fields,
            ),
        ] {
            let fqn = format!(".google.protobuf.{message}");
            self.define(fqn.clone());
            for field in &fields {
                self.define(format!("{fqn}.{}", field.name()));
            }
            self.types.push(Named {
                fqn,
                file: self.files.len(),
                kind: Kind::Message,
                values: Vec::new(),
            });
            self.well_known.push(file.to_owned());
            self.files.push(FileDescriptorProto {
                name: Some(file.to_owned()),
                package: Some("google.protobuf".to_owned()),
                message_type: vec![DescriptorProto {
                    name: Some(message.to_owned()),
                    field: fields,
                    ..Default::default()
                }],
                syntax: Some("proto3".to_owned()),
                ..Default::default()
            });
        }
    }

    fn user_file(&mut self, package: String) {
        let index = self.files.len();
        let name = match self.rng.u8(..3) {
            0 => format!("f{index}.proto"),
            1 => format!("dir/f{index}.proto"),
            _ => format!("dir/sub_{index}/Odd_Name{index}.proto"),
        };
        // Acyclic: a file imports only files before it, as protoc orders them.
        let dependencies: Vec<usize> = (0..index).filter(|_| self.chance(50)).collect();
        let proto3 = self.chance(75);
        let mut visible = dependencies.clone();
        visible.push(index);
        let mut scope = FileScope {
            index,
            proto3,
            visible,
            comments: Vec::new(),
        };
        let package_scope = match package.as_str() {
            "" => String::new(),
            p => format!(".{p}"),
        };

        let mut enum_type = Vec::new();
        for i in 0..self.rng.usize(0..=1) {
            enum_type.push(self.enumeration(&package_scope, &mut scope, vec![5, index_i32(i)]));
        }
        let mut message_type = Vec::new();
        for i in 0..self.rng.usize(0..=4) {
            message_type.push(self.message(&package_scope, &mut scope, 0, vec![4, index_i32(i)]));
        }
        let mut service = Vec::new();
        for i in 0..self.rng.usize(0..=2) {
            if let Some(s) = self.service(&package_scope, &mut scope, vec![6, index_i32(i)]) {
                service.push(s);
            }
        }
        let mut file = FileDescriptorProto {
            name: Some(name),
            package: (!package.is_empty()).then_some(package),
            dependency: dependencies
                .iter()
                .map(|&d| self.files[d].name().to_owned())
                .collect(),
            message_type,
            enum_type,
            service,
            source_code_info: Some(SourceCodeInfo {
                location: std::mem::take(&mut scope.comments),
            }),
            // protoc leaves `syntax` unset for proto2.
            syntax: proto3.then(|| "proto3".to_owned()),
            ..Default::default()
        };
        every_location(&mut file);
        self.files.push(file);
    }

    /// Sometimes a leading and a trailing comment for the element at `path`.
    fn comment(&mut self, scope: &mut FileScope, path: Vec<i32>) {
        if !self.chance(30) {
            return;
        }
        let mut text = || {
            let lines = self.rng.usize(1..=4);
            let mut text = String::new();
            for _ in 0..lines {
                text.push_str(self.pick(COMMENT_LINES));
                text.push('\n');
            }
            text
        };
        let leading = text();
        let trailing = text();
        let detached = vec![text(); self.rng.usize(0..=1)];
        scope.comments.push(Location {
            path,
            span: vec![0, 0, 1],
            leading_comments: Some(leading),
            trailing_comments: Some(trailing),
            leading_detached_comments: detached,
        });
    }

    fn enumeration(
        &mut self,
        scope: &str,
        file: &mut FileScope,
        path: Vec<i32>,
    ) -> EnumDescriptorProto {
        let name = self.fresh_in(scope, TYPE_WORDS);
        let fqn = format!("{scope}.{name}");
        self.define(fqn.clone());
        self.comment(file, path);
        let prefix = screaming(&name);
        let with_prefix = self.chance(50);
        // protoc refuses values equal once the enum's name is stripped and case ignored.
        let mut stripped: HashSet<String> = HashSet::new();
        let mut value = Vec::new();
        for number in 0..self.rng.i32(1..=4) {
            let scope = scope.to_owned();
            let prefix = prefix.clone();
            let name = self.fresh(ENUM_VALUE_WORDS, |b, word| {
                let name = if with_prefix {
                    format!("{prefix}_{word}")
                } else {
                    word.to_owned()
                };
                // Enum values are siblings of their enum (C++ scoping).
                !b.symbols.contains(&format!("{scope}.{name}"))
                    && !stripped.contains(&enum_value_key(&prefix, &name))
            });
            let name = if with_prefix {
                format!("{prefix}_{name}")
            } else {
                name
            };
            stripped.insert(enum_value_key(&prefix, &name));
            self.define(format!("{scope}.{name}"));
            value.push(EnumValueDescriptorProto {
                name: Some(name),
                // Proto3 enums must start at 0; gaps and negatives are fine.
                number: Some(if number == 0 { 0 } else { number * 3 - 7 }),
                options: self.chance(10).then(|| EnumValueOptions {
                    deprecated: Some(true),
                    ..Default::default()
                }),
            });
        }
        self.types.push(Named {
            fqn,
            file: file.index,
            kind: Kind::Enum { open: file.proto3 },
            values: value.iter().map(|v| v.name().to_owned()).collect(),
        });
        EnumDescriptorProto {
            name: Some(name),
            value,
            options: self.chance(10).then(|| EnumOptions {
                deprecated: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn message(
        &mut self,
        scope: &str,
        file: &mut FileScope,
        depth: u32,
        path: Vec<i32>,
    ) -> DescriptorProto {
        let name = self.fresh_in(scope, TYPE_WORDS);
        let fqn = format!("{scope}.{name}");
        self.define(fqn.clone());
        // Defined before its fields, so a message may contain itself (prost boxes it).
        self.types.push(Named {
            fqn: fqn.clone(),
            file: file.index,
            kind: Kind::Message,
            values: Vec::new(),
        });
        self.comment(file, path.clone());

        let mut message = DescriptorProto {
            name: Some(name),
            options: self.chance(10).then(|| MessageOptions {
                deprecated: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        if depth < MAX_DEPTH {
            for _ in 0..self.rng.usize(0..=2) {
                if self.chance(50) {
                    let mut nested_path = path.clone();
                    nested_path.extend([3, index_i32(message.nested_type.len())]);
                    let nested = self.message(&fqn, file, depth + 1, nested_path);
                    message.nested_type.push(nested);
                } else {
                    let mut enum_path = path.clone();
                    enum_path.extend([4, index_i32(message.enum_type.len())]);
                    let nested = self.enumeration(&fqn, file, enum_path);
                    message.enum_type.push(nested);
                }
            }
        }
        self.fields(&fqn, file, &path, &mut message);
        message
    }

    /// The message's fields: plain, repeated, maps, oneofs (consecutive) and proto3 optional.
    fn fields(
        &mut self,
        fqn: &str,
        file: &mut FileScope,
        path: &[i32],
        message: &mut DescriptorProto,
    ) {
        let mut json_keys: HashSet<String> = HashSet::new();
        let mut number = 0;
        let oneofs = if self.chance(30) {
            self.rng.usize(1..=2)
        } else {
            0
        };
        let count = self.rng.usize(0..=6);
        // Where each oneof's group of fields goes among the plain fields.
        let mut groups: Vec<usize> = (0..oneofs).map(|_| self.rng.usize(0..=count)).collect();
        groups.sort_unstable();
        let mut group = 0;
        for position in 0..=count {
            while groups.get(group) == Some(&position) {
                let oneof = self.fresh_in(fqn, FIELD_WORDS);
                self.define(format!("{fqn}.{oneof}"));
                message.oneof_decl.push(OneofDescriptorProto {
                    name: Some(oneof),
                    options: None,
                });
                let index = index_i32(message.oneof_decl.len() - 1);
                for _ in 0..self.rng.usize(1..=3) {
                    let mut field = self.field(fqn, &mut json_keys, &mut number);
                    field.r#type = Some(self.singular_type(file, &mut field) as i32);
                    field.label = Some(Label::Optional as i32);
                    field.oneof_index = Some(index);
                    message.field.push(field);
                }
                group += 1;
            }
            if position == count {
                break;
            }
            let mut field = self.field(fqn, &mut json_keys, &mut number);
            let kind = self.rng.u8(..100);
            if kind < 15 && self.map(fqn, file, &mut field, message) {
                // A map field, its entry added to the nested types.
            } else {
                let field_type = self.singular_type(file, &mut field);
                field.r#type = Some(field_type as i32);
                field.label = Some(if kind < 35 {
                    Label::Repeated
                } else if !file.proto3 && kind < 45 {
                    Label::Required
                } else {
                    Label::Optional
                } as i32);
                if file.proto3 && (35..55).contains(&kind) {
                    // Its synthetic oneof is added once the real ones are all in.
                    field.proto3_optional = Some(true);
                }
                if !file.proto3 && kind >= 35 && self.chance(30) {
                    field.default_value = self.default_value(&field);
                }
            }
            let mut field_path = path.to_vec();
            field_path.extend([2, index_i32(message.field.len())]);
            self.comment(file, field_path);
            message.field.push(field);
        }
        self.synthetic_oneofs(fqn, message);
    }

    /// The oneof of each proto3 `optional` field, after every real one, named as protoc
    /// names them; a field whose oneof name is taken by another symbol stays plain.
    fn synthetic_oneofs(&mut self, fqn: &str, message: &mut DescriptorProto) {
        let mut taken: HashSet<String> = message
            .field
            .iter()
            .map(|f| f.name().to_owned())
            .chain(message.oneof_decl.iter().map(|o| o.name().to_owned()))
            .collect();
        for field in &mut message.field {
            if field.proto3_optional != Some(true) {
                continue;
            }
            let mut name = field.name().to_owned();
            if !name.starts_with('_') {
                name.insert(0, '_');
            }
            while taken.contains(&name) {
                name.insert(0, 'X');
            }
            taken.insert(name.clone());
            let symbol = format!("{fqn}.{name}");
            if self.symbols.contains(&symbol) {
                field.proto3_optional = None;
                continue;
            }
            self.define(symbol);
            field.oneof_index = Some(index_i32(message.oneof_decl.len()));
            message.oneof_decl.push(OneofDescriptorProto {
                name: Some(name),
                options: None,
            });
        }
    }

    /// A proto2 default for `field`, written as protoc writes it (bytes C-escaped, other
    /// text as is); `None` for messages.
    fn default_value(&mut self, field: &FieldDescriptorProto) -> Option<String> {
        let value = match field.r#type() {
            Type::Message | Type::Group => return None,
            Type::Enum => {
                let values = &self
                    .types
                    .iter()
                    .find(|t| t.fqn == field.type_name())?
                    .values;
                values[self.rng.usize(..values.len())].clone()
            }
            Type::Bool => self.pick(&["true", "false"]).to_owned(),
            Type::Double | Type::Float => self
                .pick(&["0", "-1.5", "1e10", "inf", "-inf", "nan"])
                .to_owned(),
            Type::Int32 | Type::Sint32 | Type::Sfixed32 => self
                .pick(&["0", "-2147483648", "2147483647", "42"])
                .to_owned(),
            Type::Int64 | Type::Sint64 | Type::Sfixed64 => self
                .pick(&["-9223372036854775808", "9223372036854775807", "-1"])
                .to_owned(),
            Type::Uint32 | Type::Fixed32 => self.pick(&["0", "4294967295"]).to_owned(),
            Type::Uint64 | Type::Fixed64 => self.pick(&["18446744073709551615", "7"]).to_owned(),
            Type::String => self
                .pick(&[
                    "",
                    "plain",
                    "with \"quotes\"",
                    r"back\slash",
                    "é ✓ 🙂",
                    "new\nline",
                    "#[x]",
                ])
                .to_owned(),
            Type::Bytes => self
                .pick(&["", "abc", r"\000\001\377", r#"\"\'\\"#, r"\n\r\t"])
                .to_owned(),
        };
        Some(value)
    }

    /// A field with a fresh name and number, its type still to be chosen.
    fn field(
        &mut self,
        fqn: &str,
        json_keys: &mut HashSet<String>,
        number: &mut i32,
    ) -> FieldDescriptorProto {
        let scope = fqn.to_owned();
        let taken = json_keys.clone();
        let name = self.fresh(FIELD_WORDS, |b, name| {
            !b.symbols.contains(&format!("{scope}.{name}")) && !taken.contains(&json_key(name))
        });
        json_keys.insert(json_key(&name));
        self.define(format!("{fqn}.{name}"));
        // Field numbers: mostly consecutive, sometimes a jump (19000-19999 is reserved).
        *number += if self.chance(10) { 1000 } else { 1 };
        if (19000..20000).contains(number) {
            *number = 20000;
        }
        FieldDescriptorProto {
            json_name: Some(json_name(&name)),
            name: Some(name),
            number: Some(*number),
            options: self.chance(10).then(|| FieldOptions {
                deprecated: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// A scalar, enum or message type for a non-map field, setting `type_name` if needed.
    fn singular_type(&mut self, file: &FileScope, field: &mut FieldDescriptorProto) -> Type {
        let roll = self.rng.u8(..100);
        if roll < 25 {
            if let Some(target) = self.visible(file, |kind| kind == Kind::Message) {
                field.type_name = Some(target);
                return Type::Message;
            }
        } else if roll < 40 {
            let proto3 = file.proto3;
            let usable = |kind| matches!(kind, Kind::Enum { open } if open || !proto3);
            if let Some(target) = self.visible(file, usable) {
                field.type_name = Some(target);
                return Type::Enum;
            }
        }
        SCALARS[self.rng.usize(..SCALARS.len())]
    }

    /// Makes `field` a map, adding its entry message to `message`; false if the entry's
    /// name is taken.
    fn map(
        &mut self,
        fqn: &str,
        file: &FileScope,
        field: &mut FieldDescriptorProto,
        message: &mut DescriptorProto,
    ) -> bool {
        let entry_name = map_entry_name(field.name());
        let entry_fqn = format!("{fqn}.{entry_name}");
        if self.symbols.contains(&entry_fqn) {
            return false;
        }
        self.define(entry_fqn.clone());
        let key_type = MAP_KEYS[self.rng.usize(..MAP_KEYS.len())];
        let key = scalar_field("key", 1, key_type, Label::Optional);
        let mut value = scalar_field("value", 2, Type::Double, Label::Optional);
        value.r#type = Some(self.singular_type(file, &mut value) as i32);
        self.define(format!("{entry_fqn}.key"));
        self.define(format!("{entry_fqn}.value"));
        message.nested_type.push(DescriptorProto {
            name: Some(entry_name),
            field: vec![key, value],
            options: Some(MessageOptions {
                map_entry: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        });
        field.label = Some(Label::Repeated as i32);
        field.r#type = Some(Type::Message as i32);
        field.type_name = Some(entry_fqn);
        true
    }

    /// A visible type accepted by `wanted`, fully qualified.
    fn visible(&mut self, file: &FileScope, wanted: impl Fn(Kind) -> bool) -> Option<String> {
        let candidates: Vec<&Named> = self
            .types
            .iter()
            .filter(|t| file.visible.contains(&t.file))
            .filter(|t| wanted(t.kind))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let index = self.rng.usize(..candidates.len());
        Some(candidates[index].fqn.clone())
    }

    fn service(
        &mut self,
        scope: &str,
        file: &mut FileScope,
        path: Vec<i32>,
    ) -> Option<ServiceDescriptorProto> {
        let messages: Vec<String> = self
            .types
            .iter()
            .filter(|t| t.kind == Kind::Message && file.visible.contains(&t.file))
            .map(|t| t.fqn.clone())
            .collect();
        if messages.is_empty() {
            return None;
        }
        let name = self.fresh_in(scope, SERVICE_WORDS);
        let service_fqn = format!("{scope}.{name}");
        self.define(service_fqn.clone());
        self.comment(file, path.clone());
        let mut method = Vec::new();
        for i in 0..self.rng.usize(1..=4) {
            let method_name = self.fresh_in(&service_fqn, METHOD_WORDS);
            self.define(format!("{service_fqn}.{method_name}"));
            let mut method_path = path.clone();
            method_path.extend([2, index_i32(i)]);
            self.comment(file, method_path);
            let input = messages[self.rng.usize(..messages.len())].clone();
            let output = messages[self.rng.usize(..messages.len())].clone();
            let options = self.chance(20).then(|| MethodOptions {
                deprecated: self.rng.bool().then_some(true),
                idempotency_level: Some(self.rng.i32(0..=2)),
                ..Default::default()
            });
            method.push(MethodDescriptorProto {
                name: Some(method_name),
                input_type: Some(input),
                output_type: Some(output),
                client_streaming: self.rng.bool().then_some(true),
                server_streaming: self.rng.bool().then_some(true),
                options,
            });
        }
        Some(ServiceDescriptorProto {
            name: Some(name),
            method,
            options: self.chance(10).then(|| ServiceOptions {
                deprecated: Some(true),
                ..Default::default()
            }),
        })
    }

    /// A random `--rgrpc_opt` string made only of valid options.
    fn parameter(&mut self) -> Option<String> {
        let mut items: Vec<String> = Vec::new();
        for key in ["client", "server", "blocking", "messages"] {
            match self.rng.u8(..100) {
                0..10 => items.push(format!("{key}=false")),
                10..15 => items.push(format!("{key}=true")),
                15..18 => items.push(key.to_owned()),
                _ => {}
            }
        }
        if self.chance(10) {
            let path = self.pick(&["::my::rgrpc", "crate::rt", "::rgrpc"]);
            items.push(format!("runtime_path={path}"));
        }
        if self.chance(20) {
            let name = self.pick(&["mod.rs", "gen/all.rs", "protos.rs", "_.rs"]);
            items.push(format!("include_file={name}"));
        } else if self.chance(15) {
            // (With include_file, layout=file is refused: that is the other branch's case.)
            let layout = self.pick(&["file", "package"]);
            items.push(format!("layout={layout}"));
        }
        if self.chance(10) {
            let proto = self.some_package_or_type();
            items.push(format!("extern_path={proto}=::ext::x"));
        }
        let paths = [".", ".a", "Foo", ".foo.Bar.baz"];
        for (percent, option) in [
            (10, "btree_map"),
            (10, "bytes"),
            (10, "boxed"),
            (5, "type_attribute"),
            (5, "message_attribute"),
            (5, "enum_attribute"),
            (5, "field_attribute"),
        ] {
            if !self.chance(percent) {
                continue;
            }
            let path = match self.some_field_path() {
                Some(field) if self.chance(50) => field,
                _ => self.pick(&paths).to_owned(),
            };
            let item = match option {
                "btree_map" | "bytes" | "boxed" => format!("{option}={path}"),
                _ => {
                    let attribute = self.pick(&[
                        "#[allow(dead_code)]",
                        r"#[derive(Hash\, Eq)]",
                        r#"#[doc = "a\,b"]"#,
                        "#[non_exhaustive] #[allow(unused)]",
                    ]);
                    format!("{option}={path}={attribute}")
                }
            };
            items.push(item);
        }
        self.rng.shuffle(&mut items);
        (!items.is_empty() || self.chance(50)).then(|| items.join(","))
    }

    /// The fully-qualified name of some defined package or type. Not a map entry's
    /// (protoc may name one with a leading digit, `_1x` → `1xEntry`, which is no proto
    /// identifier, so `extern_path` rightly refuses it).
    fn some_package_or_type(&mut self) -> String {
        let mut names: Vec<&String> = self
            .symbols
            .iter()
            .filter(|name| {
                !name
                    .split('.')
                    .any(|s| s.starts_with(|c: char| c.is_ascii_digit()))
            })
            .collect();
        names.sort();
        match names.len() {
            0 => ".ext".to_owned(),
            len => names[self.rng.usize(..len)].clone(),
        }
    }

    /// `.pkg.Msg.field` of some field, for the prost-build path options.
    fn some_field_path(&mut self) -> Option<String> {
        let mut fields: Vec<String> = Vec::new();
        for file in &self.files {
            let scope = match file.package() {
                "" => String::new(),
                p => format!(".{p}"),
            };
            for message in &file.message_type {
                for field in &message.field {
                    fields.push(format!("{scope}.{}.{}", message.name(), field.name()));
                }
            }
        }
        self.rng.choice(fields)
    }

    /// A non-empty subset of the user files, usually whole packages: protoc generates
    /// what is on its command line, and a package split between generated and not is a
    /// (clear) error the plugin reports, so it is kept rare.
    fn files_to_generate(&mut self, user: &[(String, String)]) -> Vec<String> {
        let mut chosen: Vec<String> = user
            .iter()
            .filter(|_| self.chance(60))
            .map(|(name, _)| name.clone())
            .collect();
        if chosen.is_empty() {
            chosen.push(user[user.len() - 1].0.clone());
        }
        if self.chance(90) {
            let packages: HashSet<&str> = user
                .iter()
                .filter(|(name, _)| chosen.contains(name))
                .map(|(_, package)| package.as_str())
                .collect();
            for (name, package) in user {
                if packages.contains(package.as_str()) && !chosen.contains(name) {
                    chosen.push(name.clone());
                }
            }
        }
        self.rng.shuffle(&mut chosen);
        chosen
    }
}

fn scalar_field(name: &str, number: i32, r#type: Type, label: Label) -> FieldDescriptorProto {
    FieldDescriptorProto {
        name: Some(name.to_owned()),
        number: Some(number),
        label: Some(label as i32),
        r#type: Some(r#type as i32),
        json_name: Some(json_name(name)),
        ..Default::default()
    }
}

fn index_i32(index: usize) -> i32 {
    i32::try_from(index).expect("small index")
}

/// protoc's `ToJsonName`: underscores dropped, the letter after each capitalized.
fn json_name(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Field names equal under this are refused by protoc (proto3 json name conflicts); this
/// is stricter than protoc, never looser.
fn json_key(name: &str) -> String {
    name.replace('_', "").to_ascii_lowercase()
}

/// protoc's map entry name: `foo_bar` → `FooBarEntry`.
fn map_entry_name(field: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out.push_str("Entry");
    out
}

/// `HTTPServer` → `HTTPSERVER`, `FooBar` → `FOO_BAR`: an enum's name as a value prefix.
fn screaming(name: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// What protoc compares enum values by: the enum's prefix stripped, underscores and case
/// ignored (again stricter than protoc).
fn enum_value_key(prefix: &str, value: &str) -> String {
    let key = |s: &str| s.replace('_', "").to_ascii_lowercase();
    let value = key(value);
    let prefix = key(prefix);
    match value.strip_prefix(&prefix) {
        Some(rest) if !rest.is_empty() => rest.to_owned(),
        _ => value,
    }
}

/// protoc sends a location for every element (the commented ones made in `comment`):
/// adds the others, without comments.
fn every_location(file: &mut FileDescriptorProto) {
    fn message(path: Vec<i32>, descriptor: &DescriptorProto, paths: &mut Vec<Vec<i32>>) {
        let child = |kind: i32, index: usize| [&path[..], &[kind, index_i32(index)]].concat();
        for index in 0..descriptor.field.len() {
            paths.push(child(2, index));
        }
        for (index, nested) in descriptor.nested_type.iter().enumerate() {
            message(child(3, index), nested, paths);
        }
        for (index, nested) in descriptor.enum_type.iter().enumerate() {
            enumeration(child(4, index), nested, paths);
        }
        for index in 0..descriptor.oneof_decl.len() {
            paths.push(child(8, index));
        }
        paths.push(path);
    }
    fn enumeration(path: Vec<i32>, enumeration: &EnumDescriptorProto, paths: &mut Vec<Vec<i32>>) {
        for index in 0..enumeration.value.len() {
            paths.push([&path[..], &[2, index_i32(index)]].concat());
        }
        paths.push(path);
    }
    let mut paths = vec![Vec::new()];
    for (index, nested) in file.message_type.iter().enumerate() {
        message(vec![4, index_i32(index)], nested, &mut paths);
    }
    for (index, nested) in file.enum_type.iter().enumerate() {
        enumeration(vec![5, index_i32(index)], nested, &mut paths);
    }
    for (index, service) in file.service.iter().enumerate() {
        paths.push(vec![6, index_i32(index)]);
        for method in 0..service.method.len() {
            paths.push(vec![6, index_i32(index), 2, index_i32(method)]);
        }
    }
    let Some(info) = file.source_code_info.as_mut() else {
        return;
    };
    for path in paths {
        if !info.location.iter().any(|l| l.path == path) {
            info.location.push(Location {
                path,
                span: vec![0, 0, 1],
                ..Default::default()
            });
        }
    }
}
