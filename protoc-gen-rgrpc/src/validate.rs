//! Checks of the request as a whole, before anything is generated.
//!
//! protoc guarantees a plugin a consistent request: files named and listed once, imports
//! present, every name defined once, every field's type defined and of the right kind. A
//! request from anywhere else may break any of these, and prost-build then panics or
//! writes code that cannot compile; so they are checked here, naming the file and the
//! element. So are names made only of underscores, which protoc accepts but which have no
//! Rust form: Rust casing drops the underscores and leaves an empty identifier.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

use prost_build::Module;
use prost_types::field_descriptor_proto::Type;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    ServiceDescriptorProto,
};

use crate::error::{self, Errors};

/// Every problem of `files` that would otherwise surface as a panic or as bad code;
/// `to_generate` are the files whose names become Rust.
pub(crate) fn request(files: &[FileDescriptorProto], to_generate: &[String]) -> Result<(), Errors> {
    let to_generate: HashSet<&str> = to_generate.iter().map(String::as_str).collect();
    let mut errors = Errors::default();
    for (index, file) in files.iter().enumerate() {
        if file.name().is_empty() {
            errors.push(error::nameless_file(index));
        }
    }
    // By name, so that the order protoc lists files in never changes the other errors.
    let mut files: Vec<&FileDescriptorProto> = files.iter().collect();
    files.sort_by_key(|file| file.name());
    check_files(&files, &mut errors);
    check_modules(&files, &to_generate, &mut errors);
    let definitions = collect_definitions(&files, &mut errors);
    for file in files {
        FileCheck {
            file,
            generated: to_generate.contains(file.name()),
            to_generate: &to_generate,
            definitions: &definitions,
            errors: &mut errors,
        }
        .run();
    }
    errors.finish(())
}

/// Named files appear once and find their imports in the request.
fn check_files(files: &[&FileDescriptorProto], errors: &mut Errors) {
    let names: HashSet<&str> = files.iter().map(|file| file.name()).collect();
    let mut seen = HashSet::new();
    for file in files {
        if file.name().is_empty() {
            continue;
        }
        if !seen.insert(file.name()) {
            errors.push(error::duplicate_file(file.name()));
        }
        for dependency in &file.dependency {
            if !names.contains(dependency.as_str()) {
                errors.push(error::missing_dependency(file.name(), dependency));
            }
        }
    }
}

/// Distinct packages of the request become distinct Rust modules, if one is generated:
/// Rust casing makes `Foo` and `foo` both `foo`, and prost-build would then write both
/// into one module (and we into one file).
fn check_modules(files: &[&FileDescriptorProto], to_generate: &HashSet<&str>, errors: &mut Errors) {
    // Module → its packages, each with its first file (files come sorted by name).
    let mut by_module: BTreeMap<Module, BTreeMap<&str, &str>> = BTreeMap::new();
    for file in files {
        by_module
            .entry(Module::from_protobuf_package_name(file.package()))
            .or_default()
            .entry(file.package())
            .or_insert(file.name());
    }
    let generating: HashSet<&str> = files
        .iter()
        .filter(|file| to_generate.contains(file.name()))
        .map(|file| file.package())
        .collect();
    for (module, packages) in by_module {
        let mut packages = packages.into_iter();
        let (Some(first), Some(second)) = (packages.next(), packages.next()) else {
            continue;
        };
        let mut all = [first, second].into_iter().chain(packages);
        if all.any(|(package, _)| generating.contains(package)) {
            let rust = module.parts().collect::<Vec<_>>().join("::");
            errors.push(error::package_module_clash(first, second, &rust));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Message,
    Enum,
    Service,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Message => "message",
            Kind::Enum => "enum",
            Kind::Service => "service",
        }
    }

    fn with_article(self) -> &'static str {
        match self {
            Kind::Message => "a message",
            Kind::Enum => "an enum",
            Kind::Service => "a service",
        }
    }
}

/// What a fully-qualified name (`.pkg.Msg`) is, and in which file.
#[derive(Debug)]
struct Definition<'a> {
    kind: Kind,
    file: &'a str,
}

type Definitions<'a> = HashMap<String, Definition<'a>>;

/// Every message, enum and service by fully-qualified name; reports names defined twice
/// (and rpcs defined twice in a service) and elements without a name.
fn collect_definitions<'a>(
    files: &[&'a FileDescriptorProto],
    errors: &mut Errors,
) -> Definitions<'a> {
    let mut definitions = Definitions::new();
    for &file in files {
        let mut collector = Collector {
            file: file.name(),
            definitions: &mut definitions,
            errors,
        };
        let scope = package_scope(file.package());
        for message in &file.message_type {
            collector.message(&scope, message);
        }
        for enumeration in &file.enum_type {
            collector.define(&scope, enumeration.name(), Kind::Enum);
        }
        for service in &file.service {
            collector.service(&scope, service);
        }
    }
    definitions
}

struct Collector<'a, 'b> {
    file: &'a str,
    definitions: &'b mut Definitions<'a>,
    errors: &'b mut Errors,
}

impl Collector<'_, '_> {
    /// Defines `scope.name`; its full name, or `None` if it has no name or is a repeat.
    fn define(&mut self, scope: &str, name: &str, kind: Kind) -> Option<String> {
        if name.is_empty() {
            self.errors
                .push(error::nameless(self.file, kind.word(), display(scope)));
            return None;
        }
        let fqn = format!("{scope}.{name}");
        match self.definitions.entry(fqn) {
            Entry::Occupied(first) => {
                let element = format!("{} {}", kind.word(), display(first.key()));
                self.errors.push(error::duplicate_definition(
                    self.file,
                    &element,
                    first.get().file,
                ));
                None
            }
            Entry::Vacant(slot) => {
                let fqn = slot.key().clone();
                slot.insert(Definition {
                    kind,
                    file: self.file,
                });
                Some(fqn)
            }
        }
    }

    fn message(&mut self, scope: &str, message: &DescriptorProto) {
        let Some(fqn) = self.define(scope, message.name(), Kind::Message) else {
            return;
        };
        for nested in &message.nested_type {
            self.message(&fqn, nested);
        }
        for enumeration in &message.enum_type {
            self.define(&fqn, enumeration.name(), Kind::Enum);
        }
    }

    fn service(&mut self, scope: &str, service: &ServiceDescriptorProto) {
        let Some(fqn) = self.define(scope, service.name(), Kind::Service) else {
            return;
        };
        let mut methods = HashSet::new();
        for method in &service.method {
            if method.name().is_empty() {
                self.errors
                    .push(error::nameless(self.file, "rpc", display(&fqn)));
            } else if !methods.insert(method.name()) {
                let element = format!("rpc {}.{}", display(&fqn), method.name());
                self.errors
                    .push(error::duplicate_definition(self.file, &element, self.file));
            }
        }
    }
}

/// One file's type references, and for a generated file the Rust form of its names.
struct FileCheck<'a, 'b> {
    file: &'a FileDescriptorProto,
    generated: bool,
    to_generate: &'b HashSet<&'a str>,
    definitions: &'b Definitions<'a>,
    errors: &'b mut Errors,
}

impl FileCheck<'_, '_> {
    fn run(&mut self) {
        let package = self.file.package();
        if self.generated
            && !package.is_empty()
            && let Some(segment) = package.split('.').find(|s| !has_rust_form(s))
        {
            let element = format!("package {package}");
            self.errors
                .push(error::no_rust_form(self.file.name(), &element, segment));
        }
        let scope = package_scope(package);
        for message in &self.file.message_type {
            self.message(&scope, message);
        }
        for enumeration in &self.file.enum_type {
            self.enumeration(&scope, enumeration);
        }
        if self.generated {
            for service in &self.file.service {
                // Nameless services and rpcs are reported with the definitions.
                if !service.name().is_empty() {
                    self.rust_form("service", display(&scope), service.name());
                }
                let service_name = format!("{scope}.{}", service.name());
                for method in &service.method {
                    if !method.name().is_empty() {
                        self.rust_form("rpc", display(&service_name), method.name());
                    }
                    let element = format!("rpc {}.{}", display(&service_name), method.name());
                    for type_name in [method.input_type(), method.output_type()] {
                        // Types missing from the request are the model's to report: it
                        // knows the well-known ones without their descriptors.
                        if self.definitions.contains_key(type_name) {
                            self.reference(&element, type_name, Kind::Message);
                        }
                    }
                }
            }
        }
    }

    fn message(&mut self, scope: &str, message: &DescriptorProto) {
        let fqn = format!("{scope}.{}", message.name());
        if self.generated && !message.name().is_empty() {
            self.rust_form("message", display(scope), message.name());
        }
        for field in &message.field {
            if self.generated {
                self.rust_form("field", display(&fqn), field.name());
            }
            self.field_type(&fqn, field);
        }
        if self.generated {
            for oneof in &message.oneof_decl {
                self.rust_form("oneof", display(&fqn), oneof.name());
            }
        }
        for nested in &message.nested_type {
            self.message(&fqn, nested);
        }
        for enumeration in &message.enum_type {
            self.enumeration(&fqn, enumeration);
        }
    }

    fn enumeration(&mut self, scope: &str, enumeration: &EnumDescriptorProto) {
        if !self.generated {
            return;
        }
        if !enumeration.name().is_empty() {
            self.rust_form("enum", display(scope), enumeration.name());
        }
        let fqn = format!("{scope}.{}", enumeration.name());
        for value in &enumeration.value {
            self.rust_form("enum value", display(&fqn), value.name());
        }
    }

    /// A message or enum field's type is defined, and is a message or enum as it says.
    fn field_type(&mut self, message: &str, field: &FieldDescriptorProto) {
        let expected = match field.r#type() {
            Type::Message | Type::Group => Kind::Message,
            Type::Enum => Kind::Enum,
            _ => return,
        };
        let element = format!("field {}.{}", display(message), field.name());
        if self.definitions.contains_key(field.type_name()) {
            self.reference(&element, field.type_name(), expected);
        } else {
            self.errors.push(error::unknown_element_type(
                self.file.name(),
                &element,
                field.type_name(),
            ));
        }
    }

    /// `type_name`, defined, is of the `expected` kind; and if this file is generated
    /// while the type's file is not, the type's names have a Rust form (the names of
    /// generated files are checked where they are defined).
    fn reference(&mut self, element: &str, type_name: &str, expected: Kind) {
        let Some(definition) = self.definitions.get(type_name) else {
            return;
        };
        if definition.kind != expected {
            self.errors.push(error::wrong_type_kind(
                self.file.name(),
                element,
                type_name,
                definition.kind.with_article(),
                expected.with_article(),
            ));
            return;
        }
        let elsewhere = !self.to_generate.contains(definition.file);
        if self.generated && elsewhere {
            let element = format!("{element}: type {type_name:?}");
            for segment in type_name.split('.').skip(1) {
                if !has_rust_form(segment) {
                    self.errors
                        .push(error::no_rust_form(self.file.name(), &element, segment));
                    return;
                }
            }
        }
    }

    /// Reports `name` (of a `kind` in `scope`) if it is empty or has no Rust form.
    fn rust_form(&mut self, kind: &str, scope: &str, name: &str) {
        let file = self.file.name();
        if name.is_empty() {
            self.errors.push(error::nameless(file, kind, scope));
        } else if !has_rust_form(name) {
            let element = match scope {
                "" => format!("{kind} {name}"),
                scope => format!("{kind} {scope}.{name}"),
            };
            self.errors.push(error::no_rust_form(file, &element, name));
        }
    }
}

/// Rust casing (heck's, as prost-build uses it) keeps letters and digits and drops the
/// rest; a name without any becomes an empty identifier.
fn has_rust_form(name: &str) -> bool {
    name.chars().any(char::is_alphanumeric)
}

/// `.pkg` for a package, `""` for none: the scope its top-level names are defined in.
fn package_scope(package: &str) -> String {
    match package {
        "" => String::new(),
        package => format!(".{package}"),
    }
}

/// A scope or full name as errors show it, without the leading dot.
fn display(fqn: &str) -> &str {
    fqn.strip_prefix('.').unwrap_or(fqn)
}
