//! The builder outside cargo (`.out_dir`, no rerun lines): the files it writes are the
//! protoc plugin's goldens byte for byte, typed setters reach the generator as the raw
//! parameters do, and bad input fails with a located, readable error and no files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rgrpc_build::{Builder, Error};

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(case)
}

/// An empty directory of this test's own under cargo's scratch space.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("rgrpc-build")
        .join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir).expect("clear scratch dir");
    }
    fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// File name -> content of every file in `dir` (not recursive: output is flat here).
fn files(dir: &Path) -> BTreeMap<String, String> {
    fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| {
            let path = entry.expect("dir entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read_to_string(&path).expect("read file"))
        })
        .collect()
}

/// Every `.proto` file under `dir`, at any depth (the interop schema is in `grpc/testing/`).
fn find_protos(dir: &Path, protos: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read input dir") {
        let path = entry.expect("input entry").path();
        if path.is_dir() {
            find_protos(&path, protos);
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            protos.push(path);
        }
    }
}

/// Compiles every `.proto` of the fixture's input with `builder` into a fresh directory and
/// asserts the result equals `expected/`, file set and bytes.
fn assert_matches_golden(case: &str, builder: Builder) {
    let input = fixture(case).join("input");
    let mut protos = Vec::new();
    find_protos(&input, &mut protos);
    protos.sort();
    let out = scratch(case);
    builder
        .include(&input)
        .out_dir(&out)
        .emit_rerun_if_changed(false)
        .compile(&protos)
        .unwrap_or_else(|err| panic!("{case}: {err}"));
    let expected = files(&fixture(case).join("expected"));
    let actual = files(&out);
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{case}: file set"
    );
    for (name, content) in &expected {
        assert!(
            actual[name] == *content,
            "{case}/{name} differs from the golden file"
        );
    }
}

#[test]
fn defaults_give_the_hello_golden() {
    assert_matches_golden("hello", rgrpc_build::configure());
}

#[test]
fn a_file_descriptor_set_holds_every_file_with_its_comments() {
    use prost::Message as _;
    let input = fixture("interop").join("input");
    let out = scratch("descriptor-set");
    rgrpc_build::configure()
        .include(&input)
        .out_dir(&out)
        .emit_rerun_if_changed(false)
        .file_descriptor_set_path("sets/interop.bin")
        .compile(
            &["empty", "messages", "test"]
                .map(|name| input.join(format!("grpc/testing/{name}.proto"))),
        )
        .unwrap();
    let bytes = fs::read(out.join("sets/interop.bin")).unwrap();
    let set = prost_types::FileDescriptorSet::decode(bytes.as_slice()).unwrap();
    let mut names: Vec<&str> = set.file.iter().map(|file| file.name()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "grpc/testing/empty.proto",
            "grpc/testing/messages.proto",
            "grpc/testing/test.proto"
        ]
    );
    let test = set
        .file
        .iter()
        .find(|f| f.name() == "grpc/testing/test.proto");
    let comments = test.and_then(|f| f.source_code_info.as_ref()).unwrap();
    assert!(
        comments
            .location
            .iter()
            .any(|location| location.leading_comments()
                == " The service every interop server implements.\n"),
        "the comments are kept"
    );
    assert!(
        out.join("grpc.testing.rs").exists(),
        "the code is written too"
    );
}

#[test]
fn typed_setters_give_the_prost_options_golden() {
    // The fixture's params file, written with typed setters where there is one: their
    // values carry raw commas, which must reach the generator as the escaped `\,` did.
    let builder = rgrpc_build::configure()
        .include_file("mod.rs")
        .type_attribute(".options.Thing", "#[derive(PartialOrd)]")
        .parameter(
            r"message_attribute=.options.Thing=#[allow(clippy::struct_field_names\, dead_code)]",
        )
        .field_attribute(
            ".options.Thing.name",
            r#"#[doc = "The name, set by the caller."]"#,
        )
        .parameter(r#"enum_attribute=.options.Color=#[doc = "Colours."]"#)
        .parameter("btree_map=.options.Thing.counts,bytes=.options.Thing.blob")
        .parameter("boxed=.options.Thing.child");
    assert_matches_golden("prost_options", builder);
}

#[test]
fn typed_setters_give_the_services_only_golden() {
    let builder = rgrpc_build::configure()
        .messages(false)
        .extern_path(".relay", "crate::relay_messages")
        .include_file("mod.rs");
    assert_matches_golden("services_only", builder);
}

#[test]
fn the_raw_params_file_gives_the_same_goldens() {
    for case in ["prost_options", "services_only", "interop"] {
        let params = fs::read_to_string(fixture(case).join("params")).expect("read params");
        assert_matches_golden(case, rgrpc_build::configure().parameter(params.trim_end()));
    }
}

/// Writes `sources` (name, text) into a fresh include directory, compiles the first one,
/// and returns the error, checking nothing was written.
fn compile_error(test: &str, sources: &[(&str, &str)]) -> Error {
    let dir = scratch(test);
    let protos = dir.join("proto");
    let out = dir.join("out");
    fs::create_dir_all(&protos).unwrap();
    fs::create_dir_all(&out).unwrap();
    for (name, source) in sources {
        fs::write(protos.join(name), source).unwrap();
    }
    let error = rgrpc_build::configure()
        .include(&protos)
        .out_dir(&out)
        .emit_rerun_if_changed(false)
        .compile(&[protos.join(sources[0].0)])
        .expect_err("bad input must not compile");
    assert!(
        files(&out).is_empty(),
        "{test}: files written despite {error}"
    );
    // Returned from a build script's main, the error prints with Debug: it must read the same.
    assert_eq!(format!("{error:?}"), error.to_string());
    error
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let source = "syntax = \"proto3\";\npackage bad;\n\nmessage M {\n  string name = 1\n}\n";
    let error = compile_error("syntax", &[("bad.proto", source)]);
    assert!(matches!(error, Error::Compile(_)), "{error}");
    let message = error.to_string();
    // The missing `;` is noticed at the next token, the `}` opening line 6 (as protoc says).
    assert!(
        message.contains("bad.proto:6:1:"),
        "no location in {message:?}"
    );
    assert!(
        message.contains("'}'"),
        "offending token not named in {message:?}"
    );
}

#[test]
fn a_missing_import_is_named() {
    let source = "syntax = \"proto3\";\npackage bad;\nimport \"nowhere/gone.proto\";\n";
    let message = compile_error("import", &[("imports.proto", source)]).to_string();
    assert!(
        message.contains("imports.proto:3:1:"),
        "no location in {message:?}"
    );
    assert!(
        message.contains("nowhere/gone.proto"),
        "import not named in {message:?}"
    );
}

#[test]
fn an_unknown_type_is_named() {
    let source = "syntax = \"proto3\";\npackage bad;\nmessage M {\n  Missing field = 1;\n}\n";
    let message = compile_error("unknown_type", &[("types.proto", source)]).to_string();
    assert!(
        message.contains("types.proto:4:3:"),
        "no location in {message:?}"
    );
    assert!(message.contains("Missing"), "type not named in {message:?}");
}

#[test]
fn an_import_cycle_is_named() {
    let a = "syntax = \"proto3\";\npackage cycle;\nimport \"b.proto\";\n";
    let b = "syntax = \"proto3\";\npackage cycle;\nimport \"a.proto\";\n";
    let message = compile_error("cycle", &[("a.proto", a), ("b.proto", b)]).to_string();
    assert!(
        message.contains(".proto:3:1:"),
        "no location in {message:?}"
    );
    assert!(message.contains("cycle"), "cycle not named in {message:?}");
}

#[test]
fn bad_parameters_are_the_plugin_errors() {
    let dir = scratch("bad_params");
    let input = fixture("hello").join("input");
    let error = rgrpc_build::configure()
        .include(&input)
        .parameter("client=maybe,colour=blue")
        .out_dir(&dir)
        .emit_rerun_if_changed(false)
        .compile(&[input.join("hello.proto")])
        .expect_err("bad parameters must not compile");
    let message = error.to_string();
    assert!(
        message.contains(r#"unknown parameter "colour""#),
        "{message}"
    );
    assert!(message.contains("client"), "{message}");
    assert!(files(&dir).is_empty());
}
