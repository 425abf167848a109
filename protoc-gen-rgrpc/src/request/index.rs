//! The index of the request's names: every message, enum and service by fully-qualified
//! name (`.pkg.Msg.Nested`), with its kind, file and package. Built once; while building it
//! reports names defined twice and elements without a name.

use std::collections::HashMap;
use std::collections::HashSet;
use std::collections::hash_map::Entry;

use prost_types::{DescriptorProto, FileDescriptorProto, ServiceDescriptorProto};

use crate::error::{self, Errors};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
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

    pub(crate) fn with_article(self) -> &'static str {
        match self {
            Kind::Message => "a message",
            Kind::Enum => "an enum",
            Kind::Service => "a service",
        }
    }
}

/// What a fully-qualified name is, and where it is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Definition<'a> {
    pub(crate) kind: Kind,
    pub(crate) file: &'a str,
    pub(crate) package: &'a str,
}

/// Every definition of the request by fully-qualified name.
#[derive(Debug, Default)]
pub(crate) struct Index<'a> {
    definitions: HashMap<String, Definition<'a>>,
}

impl<'a> Index<'a> {
    /// Indexes `files` (in this order: the first definition of a name wins), reporting
    /// names defined twice (and rpcs defined twice in a service) and nameless elements.
    pub(crate) fn new(files: &[&'a FileDescriptorProto], errors: &mut Errors) -> Self {
        let mut index = Self::default();
        for &file in files {
            let mut collector = Collector {
                file,
                index: &mut index,
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
        index
    }

    /// The definition of `fqn` (`.pkg.Msg`), if the request has one.
    pub(crate) fn get(&self, fqn: &str) -> Option<&Definition<'a>> {
        self.definitions.get(fqn)
    }
}

struct Collector<'a, 'b> {
    file: &'a FileDescriptorProto,
    index: &'b mut Index<'a>,
    errors: &'b mut Errors,
}

impl Collector<'_, '_> {
    /// Defines `scope.name`; its full name, or `None` if it has no name or is a repeat.
    fn define(&mut self, scope: &str, name: &str, kind: Kind) -> Option<String> {
        let file = self.file.name();
        if name.is_empty() {
            self.errors
                .push(error::nameless(file, kind.word(), display(scope)));
            return None;
        }
        let fqn = format!("{scope}.{name}");
        match self.index.definitions.entry(fqn) {
            Entry::Occupied(first) => {
                let element = format!("{} {}", kind.word(), display(first.key()));
                self.errors.push(error::duplicate_definition(
                    file,
                    &element,
                    first.get().file,
                ));
                None
            }
            Entry::Vacant(slot) => {
                let fqn = slot.key().clone();
                slot.insert(Definition {
                    kind,
                    file,
                    package: self.file.package(),
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
        let file = self.file.name();
        let mut methods = HashSet::new();
        for method in &service.method {
            if method.name().is_empty() {
                self.errors
                    .push(error::nameless(file, "rpc", display(&fqn)));
            } else if !methods.insert(method.name()) {
                let element = format!("rpc {}.{}", display(&fqn), method.name());
                self.errors
                    .push(error::duplicate_definition(file, &element, file));
            }
        }
    }
}

/// `.pkg` for a package, `""` for none: the scope its top-level names are defined in.
pub(crate) fn package_scope(package: &str) -> String {
    match package {
        "" => String::new(),
        package => format!(".{package}"),
    }
}

/// A scope or full name as errors show it, without the leading dot.
pub(crate) fn display(fqn: &str) -> &str {
    fqn.strip_prefix('.').unwrap_or(fqn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::EnumDescriptorProto;

    fn message(name: &str, nested: Vec<DescriptorProto>) -> DescriptorProto {
        DescriptorProto {
            name: Some(name.to_owned()),
            nested_type: nested,
            enum_type: vec![EnumDescriptorProto {
                name: Some("Kind".to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn nested_names_are_indexed_with_kind_file_and_package() {
        let file = FileDescriptorProto {
            name: Some("a.proto".to_owned()),
            package: Some("pkg".to_owned()),
            message_type: vec![message("Outer", vec![message("Inner", vec![])])],
            ..Default::default()
        };
        let mut errors = Errors::default();
        let index = Index::new(&[&file], &mut errors);
        assert!(errors.finish(()).is_ok());
        let inner = index.get(".pkg.Outer.Inner").unwrap();
        assert_eq!(
            *inner,
            Definition {
                kind: Kind::Message,
                file: "a.proto",
                package: "pkg"
            }
        );
        assert_eq!(index.get(".pkg.Outer.Inner.Kind").unwrap().kind, Kind::Enum);
        assert!(index.get(".pkg.Inner").is_none());
    }
}
