//! Writes generated files so that a reader never sees a half-written one: every file goes to
//! a temporary name beside its target first, and only when all are written are they renamed.

use std::fs;
use std::path::{Component, Path, PathBuf};

use super::{Error, GeneratedFile};

/// Writes `files` under `dir`; see [`super::write`].
pub(super) fn all(files: &[GeneratedFile], dir: &Path) -> Result<(), Error> {
    let mut targets = Vec::with_capacity(files.len());
    for file in files {
        targets.push((target(dir, &file.name)?, file.content.as_bytes()));
    }
    stage_then_rename(targets)
}

/// Writes `content` to `path`; see [`super::write_descriptor_set`].
pub(super) fn one(path: &Path, content: &[u8]) -> Result<(), Error> {
    stage_then_rename(vec![(path.to_path_buf(), content)])
}

/// Writes every target to a temporary name beside it, then renames them all.
fn stage_then_rename(mut targets: Vec<(PathBuf, &[u8])>) -> Result<(), Error> {
    // Unchanged files are skipped, so make and cargo do not see them as new.
    targets.retain(|(path, content)| fs::read(path).map_or(true, |old| old != *content));

    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(targets.len());
    for (path, content) in &targets {
        let temp = temp_name(path);
        let written = path
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| fs::write(&temp, content));
        if let Err(err) = written {
            let _ = fs::remove_file(&temp);
            discard(&staged);
            return Err(Error::io(path, err));
        }
        staged.push((temp, path.clone()));
    }
    for (index, (temp, path)) in staged.iter().enumerate() {
        if let Err(err) = fs::rename(temp, path) {
            discard(&staged[index..]);
            return Err(Error::io(path, err));
        }
    }
    Ok(())
}

/// `dir/name`, refusing names that would land outside `dir`.
fn target(dir: &Path, name: &str) -> Result<PathBuf, Error> {
    let relative = Path::new(name);
    let plain = relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)));
    if name.is_empty() || !plain {
        return Err(Error::file(
            name,
            "generated file name is not a relative path inside the output directory",
        ));
    }
    Ok(dir.join(relative))
}

/// A name beside `path` that no other writer uses: the process id tells concurrent runs apart.
fn temp_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".rgrpc-tmp-{}", std::process::id()));
    path.with_file_name(name)
}

fn discard(staged: &[(PathBuf, PathBuf)]) {
    for (temp, _) in staged {
        let _ = fs::remove_file(temp);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn file(name: &str, content: &str) -> GeneratedFile {
        GeneratedFile {
            name: name.to_owned(),
            content: content.to_owned(),
        }
    }

    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rgrpc-write-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(dir).unwrap();
                    names.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        names.sort();
        names
    }

    #[test]
    fn writes_nested_files_and_leaves_no_temporaries() {
        let dir = scratch("nested");
        let files = [file("a.rs", "a"), file("sub/dir/b.rs", "b")];
        all(&files, &dir).unwrap();
        assert_eq!(listing(&dir), ["a.rs", "sub/dir/b.rs"]);
        assert_eq!(fs::read_to_string(dir.join("sub/dir/b.rs")).unwrap(), "b");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_escaping_name_writes_nothing() {
        let dir = scratch("escape");
        for bad in ["../x.rs", "/abs.rs", "", "a/../../x.rs"] {
            let files = [file("ok.rs", "ok"), file(bad, "x")];
            let err = all(&files, &dir).unwrap_err().to_string();
            assert!(err.contains("not a relative path"), "{bad:?}: {err}");
            assert!(!dir.exists(), "{bad:?} wrote something");
        }
    }

    #[test]
    fn unchanged_files_keep_their_modification_time() {
        let dir = scratch("unchanged");
        all(&[file("a.rs", "same"), file("b.rs", "old")], &dir).unwrap();
        // Backdate both, so any rewrite would show whatever the clock's resolution.
        let past = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        for name in ["a.rs", "b.rs"] {
            let handle = fs::File::options()
                .write(true)
                .open(dir.join(name))
                .unwrap();
            handle.set_modified(past).unwrap();
        }
        all(&[file("a.rs", "same"), file("b.rs", "new")], &dir).unwrap();
        let stamp = |name: &str| fs::metadata(dir.join(name)).unwrap().modified().unwrap();
        assert_eq!(stamp("a.rs"), past);
        assert_ne!(stamp("b.rs"), past);
        assert_eq!(fs::read_to_string(dir.join("b.rs")).unwrap(), "new");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_leaves_old_content_and_no_temporaries() {
        let dir = scratch("failed");
        all(&[file("a.rs", "old")], &dir).unwrap();
        // `a.rs/b.rs` needs `a.rs` to be a directory: creating it fails after `z.rs` is staged.
        let files = [file("z.rs", "z"), file("a.rs/b.rs", "b")];
        assert!(all(&files, &dir).is_err());
        assert_eq!(listing(&dir), ["a.rs"]);
        assert_eq!(fs::read_to_string(dir.join("a.rs")).unwrap(), "old");
        fs::remove_dir_all(&dir).unwrap();
    }
}
