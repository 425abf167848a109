//! An index over the request's descriptors: which types exist, and the comments of each
//! service and method.

use std::collections::{BTreeSet, HashMap};

use prost_types::FileDescriptorProto;
use prost_types::source_code_info::Location;

/// Every message and enum the request defines, by fully-qualified name (`.pkg.Msg.Nested`).
#[derive(Debug, Default)]
pub(crate) struct TypeIndex {
    types: BTreeSet<String>,
}

impl TypeIndex {
    pub(crate) fn new(files: &[FileDescriptorProto]) -> Self {
        let mut index = Self::default();
        for file in files {
            let scope = match file.package() {
                "" => String::new(),
                package => format!(".{package}"),
            };
            for message in &file.message_type {
                index.add_message(&scope, message);
            }
            for en in &file.enum_type {
                index.types.insert(format!("{scope}.{}", en.name()));
            }
        }
        index
    }

    fn add_message(&mut self, scope: &str, message: &prost_types::DescriptorProto) {
        let name = format!("{scope}.{}", message.name());
        for nested in &message.nested_type {
            self.add_message(&name, nested);
        }
        for en in &message.enum_type {
            self.types.insert(format!("{name}.{}", en.name()));
        }
        self.types.insert(name);
    }

    pub(crate) fn contains(&self, fqn: &str) -> bool {
        self.types.contains(fqn)
    }
}

/// A file's comments, looked up by descriptor path (e.g. `[6, 0, 2, 1]`: service 0, method 1).
pub(crate) struct Comments<'a> {
    by_path: HashMap<&'a [i32], &'a Location>,
}

/// `FileDescriptorProto.service` and `ServiceDescriptorProto.method` field numbers.
pub(crate) const SERVICE_FIELD: i32 = 6;
pub(crate) const METHOD_FIELD: i32 = 2;

impl<'a> Comments<'a> {
    pub(crate) fn new(file: &'a FileDescriptorProto) -> Self {
        let by_path = file
            .source_code_info
            .iter()
            .flat_map(|info| &info.location)
            .map(|location| (location.path.as_slice(), location))
            .collect();
        Self { by_path }
    }

    /// The leading and trailing comment lines of the element at `path`, leading first.
    /// Detached comments are not documentation of the element, so they are left out.
    pub(crate) fn lines(&self, path: &[i32]) -> Vec<String> {
        let Some(location) = self.by_path.get(path) else {
            return Vec::new();
        };
        let mut lines: Vec<String> = Vec::new();
        for text in [&location.leading_comments, &location.trailing_comments]
            .into_iter()
            .flatten()
        {
            if !lines.is_empty() {
                lines.push(String::new());
            }
            // A bare CR ends a line too, as in CommonMark (and so in the messages' docs);
            // left inside a line it would make rustc refuse the `///` comment.
            let text = text.replace("\r\n", "\n").replace('\r', "\n");
            lines.extend(text.lines().map(str::to_owned));
        }
        lines
    }
}
