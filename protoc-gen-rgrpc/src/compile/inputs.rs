//! Maps the files given on the command line to include-relative names (`proto/a/b.proto` with
//! `-I proto` is `a/b.proto`), the names protoc puts in `file_to_generate`.
//!
//! Like protoc, the mapping is lexical (no symlinks are followed: a fixture directory of
//! symlinks is still its own include root), a file must be under some include directory, and a
//! file hidden by one of the same name in an earlier include directory is an error, since the
//! earlier one is what imports would see.

use std::path::{Component, Path, PathBuf};

use protox::file::{
    ChainFileResolver, File, FileResolver, GoogleFileResolver, IncludeFileResolver,
};

use super::Error;

/// Finds the well-known types (`google/protobuf/*.proto`) among protox's built-in copies,
/// and every other file by name in `includes`.
///
/// The built-in copies win even over a copy in an include directory: trees such as
/// googleapis ship a newer `descriptor.proto` in syntax protox cannot parse
/// (`extensions N [declaration = …]`), and the generated code never depends on which copy
/// was read, since the well-known types map to `prost-types`.
pub(super) fn resolver(includes: &[PathBuf]) -> impl FileResolver + 'static {
    let mut chain = ChainFileResolver::new();
    chain.add(GoogleFileResolver::new());
    for include in includes {
        chain.add(IncludeFileResolver::new(include.clone()));
    }
    ByName(chain)
}

/// Opens files by include-relative name only. protox would otherwise re-read a name such as
/// `a/x.proto` as a path under an include directory `a` (giving `x.proto`); [`name_of`] has
/// already made every name.
struct ByName(ChainFileResolver);

impl FileResolver for ByName {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        self.0.open_file(name)
    }
}

/// The include-relative name of `file`.
pub(super) fn name_of(file: &Path, includes: &[PathBuf]) -> Result<String, Error> {
    if !file.is_file() {
        // protoc also accepts a name relative to an include directory (`-I proto hello.proto`).
        return virtual_name(file, includes).ok_or_else(|| Error::file(file, "file not found"));
    }
    let file_path = absolute(file)?;
    for (index, include) in includes.iter().enumerate() {
        let Some(name) = absolute(include)
            .ok()
            .and_then(|include| file_path.strip_prefix(include).ok().and_then(to_name))
        else {
            continue;
        };
        if let Some(earlier) = includes[..index]
            .iter()
            .map(|earlier| earlier.join(&name))
            .find(|path| path.is_file())
        {
            return Err(Error::file(
                file,
                format!(
                    "shadowed by {} (the include directories are searched in order; pass that \
                     file, or reorder -I)",
                    earlier.display()
                ),
            ));
        }
        return Ok(name);
    }
    let searched: Vec<String> = includes.iter().map(|i| i.display().to_string()).collect();
    Err(Error::file(
        file,
        format!(
            "not under any include directory (searched: {}); add -I for the directory its \
             imports are relative to",
            searched.join(", ")
        ),
    ))
}

/// `file` read as a name relative to the include directories, if one of them has it.
fn virtual_name(file: &Path, includes: &[PathBuf]) -> Option<String> {
    let name = to_name(file)?;
    includes
        .iter()
        .any(|include| include.join(&name).is_file())
        .then_some(name)
}

/// `a/b.proto` from the components of `path`; `None` unless all are plain names (`.` skipped).
fn to_name(path: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// `path` made absolute against the current directory, `.` and `..` resolved lexically.
fn absolute(path: &Path) -> Result<PathBuf, Error> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        let cwd = std::env::current_dir().map_err(|err| Error::io(".", err))?;
        cwd.join(path)
    };
    let mut normal = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    Ok(normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_slash_separated_plain_components() {
        assert_eq!(
            to_name(Path::new("a/./b.proto")).as_deref(),
            Some("a/b.proto")
        );
        assert_eq!(to_name(Path::new("../b.proto")), None);
        assert_eq!(to_name(Path::new("/b.proto")), None);
        assert_eq!(to_name(Path::new(".")), None);
    }

    #[test]
    fn absolute_resolves_dots_lexically() {
        let got = absolute(Path::new("/x/./y/../z.proto")).ok();
        assert_eq!(got, Some(PathBuf::from("/x/z.proto")));
    }
}
