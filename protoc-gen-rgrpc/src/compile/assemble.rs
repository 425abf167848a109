//! Assembles the `CodeGeneratorRequest` protoc would send for the same files, so the
//! generator cannot tell the two front ends apart.

use std::collections::{HashMap, HashSet};

use prost_types::compiler::CodeGeneratorRequest;
use prost_types::{FileDescriptorProto, FileDescriptorSet};

/// `to_generate` in the given order; `proto_file` in protoc's order: for each file to
/// generate, its imports depth-first (in declaration order), then the file itself.
pub(super) fn request(
    set: FileDescriptorSet,
    to_generate: Vec<String>,
    parameter: String,
) -> CodeGeneratorRequest {
    let mut by_name: HashMap<String, FileDescriptorProto> = set
        .file
        .into_iter()
        .map(|file| (file.name().to_owned(), file))
        .collect();
    let mut order = Vec::with_capacity(by_name.len());
    let mut seen = HashSet::new();
    for name in &to_generate {
        visit(name, &by_name, &mut seen, &mut order);
    }
    let proto_file = order
        .iter()
        .filter_map(|name| by_name.remove(name))
        .collect();
    CodeGeneratorRequest {
        file_to_generate: to_generate,
        // protoc leaves the field unset when no parameter is given.
        parameter: Some(parameter).filter(|p| !p.is_empty()),
        proto_file,
        compiler_version: None,
    }
}

/// Post-order depth-first walk of the imports. protox has already refused cycles; `seen` is
/// marked before recursing all the same, so a cycle could not loop here.
fn visit(
    name: &str,
    files: &HashMap<String, FileDescriptorProto>,
    seen: &mut HashSet<String>,
    order: &mut Vec<String>,
) {
    if !seen.insert(name.to_owned()) {
        return;
    }
    let Some(file) = files.get(name) else {
        return;
    };
    for dependency in &file.dependency {
        visit(dependency, files, seen, order);
    }
    order.push(name.to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, deps: &[&str]) -> FileDescriptorProto {
        FileDescriptorProto {
            name: Some(name.to_owned()),
            dependency: deps.iter().map(|d| (*d).to_owned()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn imports_come_first_in_declaration_order() {
        let set = FileDescriptorSet {
            file: vec![
                file("z.proto", &["b.proto", "a.proto"]),
                file("a.proto", &[]),
                file("b.proto", &["a.proto"]),
                file("unused.proto", &[]),
            ],
        };
        let request = request(set, vec!["z.proto".into()], String::new());
        let names: Vec<&str> = request.proto_file.iter().map(|f| f.name()).collect();
        assert_eq!(names, ["a.proto", "b.proto", "z.proto"]);
        assert_eq!(request.file_to_generate, ["z.proto"]);
        assert_eq!(request.parameter, None);
    }

    #[test]
    fn a_cycle_does_not_loop() {
        let set = FileDescriptorSet {
            file: vec![file("a.proto", &["b.proto"]), file("b.proto", &["a.proto"])],
        };
        let request = request(set, vec!["a.proto".into()], "server=false".into());
        assert_eq!(request.proto_file.len(), 2);
        assert_eq!(request.parameter.as_deref(), Some("server=false"));
    }
}
