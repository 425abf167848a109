//! The comments of a file's elements, by descriptor path (see `paths`): the proto text
//! of what becomes a service's or method's docs.

use std::collections::HashMap;

use prost_types::FileDescriptorProto;
use prost_types::source_code_info::Location;

/// A file's comments, looked up by descriptor path (e.g. `[6, 0, 2, 1]`: service 0, method 1).
pub(crate) struct Comments<'a> {
    by_path: HashMap<&'a [i32], &'a Location>,
}

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
            lines.extend(crate::rustdoc::comment_lines(text));
        }
        lines
    }
}
