//! Every check of the request, before anything is generated.
//!
//! protoc guarantees a plugin a consistent request: files named and listed once, imports
//! present, every name defined once, every field's type defined and of the right kind. A
//! request from anywhere else may break any of these, and prost-build then panics or
//! writes code that cannot compile; so they are checked here, naming the file and the
//! element. So are names made only of underscores, which protoc accepts but which have no
//! Rust form: Rust casing drops the underscores and leaves an empty identifier.
//!
//! Then, for a consistent request, what this plugin adds: the files to generate are in the
//! request, are not editions, and leave out no file of a package being generated; and
//! their rpcs' types exist.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use prost_build::Module;
use prost_types::field_descriptor_proto::Type;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
};

use super::index::{Index, Kind, display, package_scope};
use crate::error::{self, Errors};

/// The references and Rust forms of names in `files`, sorted by name (so that the order
/// protoc lists files in never changes the errors).
pub(super) fn references(
    files: &[&FileDescriptorProto],
    to_generate: &HashSet<&str>,
    index: &Index<'_>,
    errors: &mut Errors,
) {
    for file in files {
        FileCheck {
            file,
            generated: to_generate.contains(file.name()),
            to_generate,
            index,
            errors,
        }
        .run();
    }
}

/// Files without a name, by their position in the request.
pub(super) fn names(all: &[FileDescriptorProto], errors: &mut Errors) {
    for (index, file) in all.iter().enumerate() {
        if file.name().is_empty() {
            errors.push(error::nameless_file(index));
        }
    }
}

/// Named files appear once and find their imports in the request.
pub(super) fn files(files: &[&FileDescriptorProto], errors: &mut Errors) {
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
pub(super) fn modules(
    files: &[&FileDescriptorProto],
    generating: &BTreeSet<&str>,
    errors: &mut Errors,
) {
    // Module → its packages, each with its first file (files come sorted by name).
    let mut by_module: BTreeMap<Module, BTreeMap<&str, &str>> = BTreeMap::new();
    for file in files {
        by_module
            .entry(Module::from_protobuf_package_name(file.package()))
            .or_default()
            .entry(file.package())
            .or_insert(file.name());
    }
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

/// One file's type references, and for a generated file the Rust form of its names.
struct FileCheck<'a, 'b> {
    file: &'a FileDescriptorProto,
    generated: bool,
    to_generate: &'b HashSet<&'a str>,
    index: &'b Index<'a>,
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
                        // Types missing from the request are checked by `generation`,
                        // which knows the well-known ones without their descriptors.
                        if self.index.get(type_name).is_some() {
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
        if self.index.get(field.type_name()).is_some() {
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
        let Some(definition) = self.index.get(type_name) else {
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

/// What this plugin needs of the files to generate (`wanted`, sorted, each once): each is in
/// the request and not an editions file, leaves out no file of a package being generated
/// (if `whole_packages`: one output file holds a package),
/// and (if services are generated) names rpc types that exist. Returns the files found.
pub(super) fn generation<'a>(
    wanted: &[&str],
    request: &super::Request<'a>,
    services: bool,
    whole_packages: bool,
    errors: &mut Errors,
) -> Vec<&'a FileDescriptorProto> {
    let mut found = Vec::with_capacity(wanted.len());
    for &name in wanted {
        let Some(&file) = request.by_name.get(name) else {
            errors.push(error::file_not_in_request(name));
            continue;
        };
        if file.syntax() == "editions" {
            errors.push(error::editions_unsupported(name));
            continue;
        }
        if whole_packages {
            check_left_out(file, request, errors);
        }
        if services {
            check_rpc_types(file, &request.index, errors);
        }
        found.push(file);
    }
    found
}

/// One output file holds a whole package, so a package's files are generated together:
/// a file that `file` depends on, directly or not, must be generated if its package is.
/// (prost-build, too, must see every message the generated ones reach, and is given the
/// files of packages not being generated, but not the left-out files of those that are.)
fn check_left_out(file: &FileDescriptorProto, request: &super::Request<'_>, errors: &mut Errors) {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut pending: Vec<&str> = file.dependency.iter().map(String::as_str).collect();
    while let Some(name) = pending.pop() {
        if !seen.insert(name) {
            continue;
        }
        let Some(dependency) = request.by_name.get(name) else {
            continue;
        };
        pending.extend(dependency.dependency.iter().map(String::as_str));
        if request.is_generated(name) || !request.generates_package(dependency.package()) {
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

/// Every rpc's input and output type is defined in the request or is a well-known type
/// (whose descriptors a request may leave out: they map to `prost_types`). One error per
/// rpc, the input's first.
fn check_rpc_types(file: &FileDescriptorProto, index: &Index<'_>, errors: &mut Errors) {
    for service in &file.service {
        let full_name = match file.package() {
            "" => service.name().to_owned(),
            package => format!("{package}.{}", service.name()),
        };
        for method in &service.method {
            let unknown = [method.input_type(), method.output_type()]
                .into_iter()
                .find(|fqn| !fqn.starts_with(".google.protobuf.") && index.get(fqn).is_none());
            if let Some(fqn) = unknown {
                let element = format!("{full_name}.{}", method.name());
                errors.push(error::unknown_type(file.name(), &element, fqn));
            }
        }
    }
}
