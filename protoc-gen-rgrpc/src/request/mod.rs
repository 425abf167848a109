//! The request stage: the `CodeGeneratorRequest` checked and indexed once, before anything
//! is generated. Every later stage (the model, prost-build's messages) asks it which files
//! and packages are generated, what a name is, and which files a generated one reaches; no
//! later stage walks the descriptors to find out, or reports a problem of the request.

mod check;
mod comments;
mod index;
pub(crate) mod paths;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use prost_types::FileDescriptorProto;
use prost_types::compiler::CodeGeneratorRequest;

pub(crate) use self::comments::Comments;
use self::index::Index;
use crate::error::Errors;
use crate::params::{Layout, Params};

/// A request that passed every check, indexed.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    /// Every file, in the order of the request.
    files: &'a [FileDescriptorProto],
    /// Every file by name.
    by_name: BTreeMap<&'a str, &'a FileDescriptorProto>,
    /// The files to generate, sorted by name (so that the order protoc lists them in never
    /// changes the output), each once.
    to_generate: Vec<&'a FileDescriptorProto>,
    /// The names of the files to generate.
    generated: BTreeSet<&'a str>,
    /// The proto packages of the files to generate: one output file each.
    packages: BTreeSet<&'a str>,
    /// The files to generate and every file they import, directly or not.
    closure: BTreeSet<&'a str>,
    index: Index<'a>,
}

impl<'a> Request<'a> {
    /// Checks and indexes `request`. The checks run in two rounds, each reporting all its
    /// errors: first that the request is consistent (what protoc guarantees), then, only for
    /// a consistent one, that this plugin can generate the files asked for (see `check`).
    pub(crate) fn new(request: &'a CodeGeneratorRequest, params: &Params) -> Result<Self, Errors> {
        let files = request.proto_file.as_slice();
        let generated: BTreeSet<&str> = request
            .file_to_generate
            .iter()
            .map(String::as_str)
            .collect();
        let packages: BTreeSet<&str> = files
            .iter()
            .filter(|file| generated.contains(file.name()))
            .map(|file| file.package())
            .collect();

        let mut errors = Errors::default();
        check::names(files, &mut errors);
        // By name, so that the order protoc lists files in never changes the errors.
        let mut sorted: Vec<&FileDescriptorProto> = files.iter().collect();
        sorted.sort_by_key(|file| file.name());
        check::files(&sorted, &mut errors);
        check::modules(&sorted, &packages, &mut errors);
        let index = Index::new(&sorted, &mut errors);
        let to_generate_set: HashSet<&str> = generated.iter().copied().collect();
        check::references(&sorted, &to_generate_set, &index, &mut errors);
        errors.finish(())?;

        let mut request = Self {
            files,
            by_name: files.iter().map(|file| (file.name(), file)).collect(),
            to_generate: Vec::new(),
            closure: BTreeSet::new(),
            generated,
            packages,
            index,
        };
        let mut errors = Errors::default();
        let wanted: Vec<&str> = request.generated.iter().copied().collect();
        let services = params.client || params.blocking || params.server;
        // With layout=file each file's code stands alone, so a package may be generated in
        // parts (buf's `strategy: directory` runs once per directory).
        let whole_packages = params.layout == Layout::Package;
        request.to_generate =
            check::generation(&wanted, &request, services, whole_packages, &mut errors);
        request.closure = request.dependency_closure();
        errors.finish(request)
    }

    /// The names of the files to generate and of every file they import, directly or not.
    fn dependency_closure(&self) -> BTreeSet<&'a str> {
        let mut closure = BTreeSet::new();
        let mut pending: Vec<&str> = self.generated.iter().copied().collect();
        while let Some(name) = pending.pop() {
            if closure.insert(name)
                && let Some(file) = self.by_name.get(name)
            {
                pending.extend(file.dependency.iter().map(String::as_str));
            }
        }
        closure
    }

    /// Every file of the request, in its order.
    pub(crate) fn files(&self) -> &'a [FileDescriptorProto] {
        self.files
    }

    /// The file named `name`, generated or imported.
    pub(crate) fn file(&self, name: &str) -> Option<&'a FileDescriptorProto> {
        self.by_name.get(name).copied()
    }

    /// The files to generate, sorted by name.
    pub(crate) fn to_generate(&self) -> &[&'a FileDescriptorProto] {
        &self.to_generate
    }

    /// Whether the file `name` is one to generate.
    pub(crate) fn is_generated(&self, name: &str) -> bool {
        self.generated.contains(name)
    }

    /// Whether `package` has a file to generate, and so an output file.
    pub(crate) fn generates_package(&self, package: &str) -> bool {
        self.packages.contains(package)
    }

    /// The proto packages with a file to generate.
    pub(crate) fn packages(&self) -> &BTreeSet<&'a str> {
        &self.packages
    }

    /// Whether the file `name` is generated or imported, directly or not, by one that is.
    pub(crate) fn is_reached(&self, name: &str) -> bool {
        self.closure.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, package: &str, imports: &[&str]) -> FileDescriptorProto {
        FileDescriptorProto {
            name: Some(name.to_owned()),
            package: Some(package.to_owned()),
            dependency: imports.iter().map(|i| (*i).to_owned()).collect(),
            ..Default::default()
        }
    }

    fn request(files: Vec<FileDescriptorProto>, to_generate: &[&str]) -> CodeGeneratorRequest {
        CodeGeneratorRequest {
            file_to_generate: to_generate.iter().map(|n| (*n).to_owned()).collect(),
            proto_file: files,
            ..Default::default()
        }
    }

    #[test]
    fn the_closure_holds_what_generated_files_reach_and_nothing_else() {
        let request = request(
            vec![
                file("c.proto", "other", &[]),
                file("b.proto", "other", &["c.proto"]),
                file("a.proto", "pkg", &["b.proto"]),
                file("unrelated.proto", "other", &[]),
            ],
            &["a.proto", "a.proto"],
        );
        let request = Request::new(&request, &Params::default()).unwrap();
        assert_eq!(
            request.closure.iter().copied().collect::<Vec<_>>(),
            ["a.proto", "b.proto", "c.proto"]
        );
        assert_eq!(request.to_generate().len(), 1);
        assert!(request.generates_package("pkg"));
        assert!(!request.generates_package("other"));
    }

    #[test]
    fn a_left_out_file_of_a_generated_package_is_reported() {
        let request = request(
            vec![
                file("c.proto", "pkg", &[]),
                file("b.proto", "other", &["c.proto"]),
                file("a.proto", "pkg", &["b.proto"]),
            ],
            &["a.proto"],
        );
        let errors = Request::new(&request, &Params::default()).unwrap_err();
        assert_eq!(
            errors.to_string(),
            "a.proto: depends on c.proto, which is not being generated although its package \
             \"pkg\" is; one output file holds a whole package, so generate c.proto too"
        );
    }

    #[test]
    fn generation_is_checked_only_for_a_consistent_request() {
        // The missing import is a consistency error; the missing file to generate would be
        // the next round's, and is not reported with it.
        let request = request(vec![file("a.proto", "pkg", &["gone.proto"])], &["x.proto"]);
        let errors = Request::new(&request, &Params::default()).unwrap_err();
        assert_eq!(
            errors.to_string(),
            "a.proto: imports gone.proto, whose descriptor is missing from the request"
        );
    }
}
