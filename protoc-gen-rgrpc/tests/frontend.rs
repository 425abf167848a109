//! The path without protoc (`compile`, protox as the front end) against the protoc path:
//! byte-identical output for every golden fixture and the interop schema, the same
//! descriptors as protoc, and located errors (never a panic) for bad `.proto` input.
//!
//! Documented differences, each asserted here:
//! - editions: protoc refuses the file after printing its own warning; `compile` stops at the
//!   `edition` line with the generator's words and the location;
//! - generator errors: protoc prefixes the first line with `--rgrpc_out: `;
//! - source info: protox lists the same locations (same paths, spans and comments) in another
//!   order, and has none for the built-in well-known types; neither changes the output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/process.rs"]
mod process;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use prost::Message;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use protoc_gen_rgrpc::Parameters;
use protoc_gen_rgrpc::compile::{self, Options};
use similar::TextDiff;

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-rgrpc");

/// Relative '/'-separated path -> content (CRLF normalised).
type FileSet = BTreeMap<String, String>;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Sorted `fixtures/*` cases (directories with `input/`), as the golden harness lists them.
fn cases() -> Vec<String> {
    let mut cases: Vec<String> = fs::read_dir(repo().join("fixtures"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("input").is_dir())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "fixtures not found: {cases:?}");
    cases
}

/// All files under `root` (following symlinks), by relative name.
fn read_tree(root: &Path) -> FileSet {
    let mut files = FileSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(root).unwrap();
                let name = name.to_string_lossy().replace('\\', "/");
                let text = fs::read_to_string(&path).unwrap().replace("\r\n", "\n");
                files.insert(name, text);
            }
        }
    }
    files
}

/// The case's `.proto` files, include-relative and sorted.
fn protos(input: &Path) -> Vec<String> {
    read_tree(input)
        .into_keys()
        .filter(|name| name.ends_with(".proto"))
        .collect()
}

/// The trimmed `params` file, or "".
fn params(case_dir: &Path) -> String {
    fs::read_to_string(case_dir.join("params"))
        .map(|text| text.trim().to_owned())
        .unwrap_or_default()
}

/// The options for a fixture case: its input directory as the include root, its files given
/// as paths (so the path → name mapping is exercised), its parameters.
fn case_options(case: &str) -> Options {
    let case_dir = repo().join("fixtures").join(case);
    let input = case_dir.join("input");
    Options {
        files: protos(&input).iter().map(|name| input.join(name)).collect(),
        includes: vec![input],
        parameters: Parameters::new().raw(params(&case_dir)),
    }
}

fn as_set(output: &compile::Output) -> FileSet {
    output
        .files
        .iter()
        .map(|file| (file.name.clone(), file.content.replace("\r\n", "\n")))
        .collect()
}

/// "" if equal, else a readable account of the differences.
fn differences(expected: &FileSet, actual: &FileSet) -> String {
    let mut report = String::new();
    let names: std::collections::BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    for name in names {
        match (expected.get(name), actual.get(name)) {
            (Some(e), Some(a)) if e == a => {}
            (Some(e), Some(a)) => {
                let diff = TextDiff::from_lines(e, a);
                let mut unified = diff.unified_diff();
                let header = unified.header(&format!("expected/{name}"), &format!("actual/{name}"));
                report.push_str(&format!("{header}\n"));
            }
            (Some(_), None) => report.push_str(&format!("missing: {name}\n")),
            (None, _) => report.push_str(&format!("extra: {name}\n")),
        }
    }
    report
}

/// `compile::run`, failing the test (not the process) if it panics.
fn run_no_panic(options: &Options) -> Result<compile::Output, compile::Error> {
    std::panic::catch_unwind(|| compile::run(options))
        .unwrap_or_else(|_| panic!("compile::run panicked on {options:?}"))
}

const EDITIONS: &str = "protobuf editions are not supported (proto2 and proto3 are)";

#[test]
fn every_fixture_matches_its_golden_without_protoc() {
    let mut failures = Vec::new();
    let all = cases();
    for case in &all {
        let options = case_options(case);
        let expected_dir = repo().join("fixtures").join(case).join("expected");
        let expected = read_tree(&expected_dir);
        match (run_no_panic(&options), expected.get("error.txt")) {
            (Ok(output), None) => {
                let diff = differences(&expected, &as_set(&output));
                if !diff.is_empty() {
                    failures.push(format!("{case}:\n{diff}"));
                }
            }
            (Err(err), Some(_)) if case == "editions_refused" => {
                // protoc warns, then our generator refuses; compile stops at the line itself.
                let path = options.includes[0].join("modern.proto");
                let want = format!("{}:3:1: {EDITIONS} (near `edition`)", path.display());
                assert_eq!(err.to_string(), want);
                assert!(expected["error.txt"].contains(EDITIONS));
            }
            (Err(err), Some(text)) => {
                // protoc puts `--rgrpc_out: ` before the plugin's error text.
                let protoc_form = format!("--rgrpc_out: {err}\n");
                if &protoc_form != text {
                    failures.push(format!("{case}: error\n{protoc_form}\nvs expected\n{text}"));
                }
            }
            (Ok(output), Some(_)) => failures.push(format!(
                "{case}: expected an error, got {:?}",
                as_set(&output).keys().collect::<Vec<_>>()
            )),
            (Err(err), None) => failures.push(format!("{case}: unexpected error: {err}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from protoc's output:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn interop_schema_from_proto_dir_matches_golden() {
    let proto = repo().join("proto");
    let testing = proto.join("grpc/testing");
    let options = Options {
        includes: vec![proto],
        files: ["empty", "messages", "test"]
            .map(|f| testing.join(format!("{f}.proto")))
            .to_vec(),
        parameters: Parameters::new().include_file("mod.rs"),
    };
    let output = run_no_panic(&options).unwrap();
    let expected = read_tree(&repo().join("fixtures/interop/expected"));
    assert_eq!(differences(&expected, &as_set(&output)), "");
    // Every file read is reported for rerun-if-changed; the well-known types are built in.
    let mut inputs: Vec<String> = output
        .inputs
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    inputs.sort();
    assert_eq!(inputs, ["empty.proto", "messages.proto", "test.proto"]);
}

#[test]
fn inputs_include_imports_and_names_are_include_relative() {
    let input = repo().join("fixtures/packages/input");
    let options = Options {
        includes: vec![input.clone()],
        files: vec![input.join("plain.proto")],
        parameters: Parameters::new(),
    };
    let output = run_no_panic(&options).unwrap();
    let read = ["c/common.proto", "a/b/things.proto", "plain.proto"];
    assert_eq!(output.inputs, read.map(|name| input.join(name)));
    assert_eq!(
        output.files.len(),
        1,
        "only plain.proto's package is generated"
    );
    let request = compile::request(&options).unwrap();
    assert_eq!(request.file_to_generate, ["plain.proto"]);
    assert_eq!(request.parameter, None);
    // A name relative to an include directory is accepted too, as protoc accepts it.
    let by_name = Options {
        files: vec!["plain.proto".into()],
        ..options
    };
    assert_eq!(compile::request(&by_name).unwrap(), request);
}

#[test]
fn checked_in_hello_is_the_golden_and_what_compile_writes() {
    let golden = fs::read_to_string(repo().join("fixtures/hello/expected/hello.rs")).unwrap();
    let checked_in =
        fs::read_to_string(repo().join("examples/hello/src/generated/hello.rs")).unwrap();
    assert!(
        checked_in == golden,
        "examples/hello/src/generated/hello.rs is stale"
    );
    let options = Options {
        includes: vec![repo().join("proto")],
        files: vec![repo().join("proto/hello.proto")],
        parameters: Parameters::new(),
    };
    let output = run_no_panic(&options).unwrap();
    assert_eq!(output.files.len(), 1);
    assert_eq!(output.files[0].name, "hello.rs");
    assert!(
        output.files[0].content == golden,
        "compile differs from the golden"
    );
}

/// protoc's descriptor set for `files` under `include`, with source info and imports.
fn protoc_descriptors(include: &Path, files: &[String]) -> FileDescriptorSet {
    let out = std::env::temp_dir().join(format!(
        "rgrpc-frontend-{}-{}.binpb",
        std::process::id(),
        include
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
    ));
    let mut protoc = rgrpc_dev::protoc_command().unwrap();
    protoc
        .arg("--include_imports")
        .arg("--include_source_info")
        .arg(format!("--descriptor_set_out={}", out.display()))
        .arg("-I")
        .arg(include)
        .args(files)
        .arg("-I")
        .arg(rgrpc_dev::well_known_include().unwrap());
    let output = process::run_bounded(&mut protoc, b"");
    assert!(
        output.status.success(),
        "protoc failed on {include:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bytes = fs::read(&out).unwrap();
    let _ = fs::remove_file(&out);
    FileDescriptorSet::decode(bytes.as_slice()).unwrap()
}

/// The file with its source locations sorted (protox orders them differently), and none for
/// the built-in well-known types (protox has none for them).
fn comparable(file: &FileDescriptorProto) -> FileDescriptorProto {
    let mut file = file.clone();
    if file.name().starts_with("google/protobuf/") {
        file.source_code_info = None;
    }
    if let Some(info) = &mut file.source_code_info {
        info.location
            .sort_by(|a, b| (&a.path, &a.span).cmp(&(&b.path, &b.span)));
    }
    file
}

#[test]
fn descriptors_match_protoc_for_every_fixture() {
    let mut compared = 0;
    for case in cases() {
        if case == "editions_refused" {
            continue; // protox cannot parse editions; see the fixture test above
        }
        let options = case_options(&case);
        let input = &options.includes[0];
        let reference = protoc_descriptors(input, &protos(input));
        let request = compile::request(&options).unwrap();
        let names = |files: &[FileDescriptorProto]| -> Vec<String> {
            files.iter().map(|f| f.name().to_owned()).collect()
        };
        assert_eq!(
            names(&request.proto_file),
            names(&reference.file),
            "{case}: file order"
        );
        for (ours, theirs) in request.proto_file.iter().zip(&reference.file) {
            assert!(
                comparable(ours) == comparable(theirs),
                "{case}: {} differs from protoc's descriptor",
                ours.name()
            );
            let has_info = ours.source_code_info.is_some();
            assert_eq!(has_info, !ours.name().starts_with("google/protobuf/"));
        }
        compared += 1;
    }
    assert!(compared >= 10);
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rgrpc-frontend-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn cli(args: &[&str]) -> std::process::Output {
    process::run_bounded(Command::new(PLUGIN).arg("compile").args(args), b"")
}

#[test]
fn cli_writes_the_same_files_as_protoc() {
    for case in ["interop", "prost_options"] {
        let options = case_options(case);
        let out = scratch(&format!("cli-{case}"));
        let mut args: Vec<String> = vec!["-I".into(), options.includes[0].display().to_string()];
        args.push(format!("--opt={}", options.parameters));
        args.extend(["--out".into(), out.display().to_string()]);
        args.extend(options.files.iter().map(|f| f.display().to_string()));
        let output = cli(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{case}: {stderr}");
        assert!(output.stdout.is_empty() && stderr.is_empty(), "{stderr}");
        let expected = read_tree(&repo().join("fixtures").join(case).join("expected"));
        assert_eq!(differences(&expected, &read_tree(&out)), "", "{case}");
        fs::remove_dir_all(&out).unwrap();
    }
}

#[test]
fn cli_error_exits_1_with_the_location_and_writes_nothing() {
    let out = scratch("cli-error");
    let include = repo().join("fixtures/frontend_errors/syntax");
    let file = include.join("missing_semicolon.proto");
    let output = cli(&[
        "-I",
        include.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let want = format!(
        "{}:7:3: expected ';' or '[', but found 'int32' (near `int32`)\n",
        file.display()
    );
    assert_eq!(String::from_utf8_lossy(&output.stderr), want);
    assert!(!out.exists(), "nothing is written on error");
}

#[test]
fn cli_usage_errors_exit_2_and_help_exits_0() {
    for (args, message) in [
        (&["hello.proto"][..], "--out DIR is required"),
        (&["--out"], "--out needs a value"),
        (
            &["--bogus", "--out", "x", "a.proto"],
            "unknown option \"--bogus\"",
        ),
    ] {
        let output = cli(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = format!("protoc-gen-rgrpc compile: {message}\n");
        assert!(stderr.starts_with(&first), "{stderr}");
        assert!(
            stderr.contains("--out DIR FILE.proto"),
            "usage follows: {stderr}"
        );
    }
    let help = cli(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--proto_path") && text.contains("--opt"),
        "{text}"
    );
}

/// The error for `files` under `include` (dirs relative to fixtures/frontend_errors), with
/// that directory's path replaced by `<DIR>`.
fn error_for(include: &[&str], file: &str) -> String {
    let root = repo().join("fixtures/frontend_errors");
    let options = Options {
        includes: include.iter().map(|dir| root.join(dir)).collect(),
        files: vec![root.join(file)],
        parameters: Parameters::new(),
    };
    let err = run_no_panic(&options).expect_err("bad input must be an error");
    let text = err.to_string();
    text.replace(&format!("{}/", root.display()), "<DIR>/")
}

#[test]
fn syntax_errors_point_at_the_token() {
    assert_eq!(
        error_for(&["syntax"], "syntax/missing_semicolon.proto"),
        "<DIR>/syntax/missing_semicolon.proto:7:3: expected ';' or '[', but found 'int32' \
         (near `int32`)"
    );
    assert_eq!(
        error_for(&["syntax"], "syntax/bad_token.proto"),
        "<DIR>/syntax/bad_token.proto:7:19: invalid token (near `@`)"
    );
}

#[test]
fn an_error_in_an_import_names_the_imported_file() {
    assert_eq!(
        error_for(&["broken_import"], "broken_import/main.proto"),
        "<DIR>/broken_import/broken.proto:7:2: expected 'enum', 'extend', 'import', 'message', \
         'option', 'service', 'package' or ';', but found '}' (near `}`)"
    );
}

#[test]
fn missing_import_points_at_the_import() {
    assert_eq!(
        error_for(&["missing_import"], "missing_import/importer.proto"),
        "<DIR>/missing_import/importer.proto:5:1: import 'not/there.proto' not found \
         (near `import \"not/there.proto\";`)"
    );
}

#[test]
fn unknown_type_points_at_the_type() {
    assert_eq!(
        error_for(&["unknown_type"], "unknown_type/unknown.proto"),
        "<DIR>/unknown_type/unknown.proto:7:3: name 'Widget' is not defined (near `Widget`)"
    );
}

#[test]
fn import_cycle_points_at_the_import_closing_it() {
    assert_eq!(
        error_for(&["cycle"], "cycle/a.proto"),
        "<DIR>/cycle/b.proto:5:1: import cycle: a.proto -> b.proto -> a.proto \
         (near `import \"a.proto\";`)"
    );
}

#[test]
fn duplicate_definition_points_at_the_second_one() {
    assert_eq!(
        error_for(&["duplicate"], "duplicate/dup.proto"),
        "<DIR>/duplicate/dup.proto:9:9: name 'bad.Thing' is defined twice (near `Thing`)"
    );
}

#[test]
fn files_outside_the_includes_missing_or_shadowed_are_errors() {
    let outside = error_for(&["syntax"], "duplicate/dup.proto");
    assert!(
        outside.starts_with(
            "<DIR>/duplicate/dup.proto: not under any include directory (searched: <DIR>/syntax)"
        ),
        "{outside}"
    );
    assert_eq!(
        error_for(&["syntax"], "nope.proto"),
        "<DIR>/nope.proto: file not found"
    );
    let shadowed = error_for(
        &["shadow/first", "shadow/second"],
        "shadow/second/thing.proto",
    );
    assert!(
        shadowed.starts_with(
            "<DIR>/shadow/second/thing.proto: shadowed by <DIR>/shadow/first/thing.proto"
        ),
        "{shadowed}"
    );
}

#[test]
fn well_known_types_come_from_the_built_in_copies_even_when_an_include_dir_has_its_own() {
    // googleapis ships a newer descriptor.proto that protox cannot parse (extension range
    // declarations); its types are prost-types' anyway, so the built-in copy is read.
    let dir = scratch("wkt-shadow");
    std::fs::create_dir_all(dir.join("google/protobuf")).unwrap();
    std::fs::write(
        dir.join("google/protobuf/empty.proto"),
        "syntax = \"proto2\";\nmessage Empty { extensions 536000000 [declaration = { number: 536000000 }]; }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("svc.proto"),
        "syntax = \"proto3\";\npackage svc;\nimport \"google/protobuf/empty.proto\";\n\
         service Pinger { rpc Ping(google.protobuf.Empty) returns (google.protobuf.Empty); }\n",
    )
    .unwrap();
    let output = run_no_panic(&Options {
        includes: vec![dir.clone()],
        files: vec![dir.join("svc.proto")],
        parameters: Parameters::new(),
    })
    .unwrap();
    let svc = output.files.iter().find(|f| f.name == "svc.rs").unwrap();
    // google.protobuf.Empty is `()` in prost.
    assert!(
        svc.content.contains("pub fn ping(&self, request: ())"),
        "{}",
        svc.content
    );
    assert!(
        !output
            .inputs
            .iter()
            .any(|p| p.ends_with("google/protobuf/empty.proto")),
        "the shadowing copy was not read: {:?}",
        output.inputs
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_writes_a_descriptor_set_with_imports_and_comments() {
    let out = scratch("cli-descriptor-set");
    let set_path = out.join("sets/hello.bin");
    let include = repo().join("fixtures/well_known/input");
    let output = cli(&[
        "-I",
        include.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--descriptor_set_out",
        set_path.to_str().unwrap(),
        include.join("wkt.proto").to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let set = FileDescriptorSet::decode(fs::read(&set_path).unwrap().as_slice()).unwrap();
    let names: Vec<&str> = set.file.iter().map(FileDescriptorProto::name).collect();
    assert!(names.contains(&"wkt.proto"), "{names:?}");
    assert!(
        names.contains(&"google/protobuf/timestamp.proto"),
        "{names:?}"
    );
    let wkt = set.file.iter().find(|f| f.name() == "wkt.proto").unwrap();
    assert!(wkt.source_code_info.is_some(), "comments are kept");
    fs::remove_dir_all(&out).unwrap();
}
