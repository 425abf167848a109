//! The plugin as a process and as a library: how it treats bad input, its command line,
//! and whether its output is deterministic.

// Test helpers outside #[test] fns are not covered by clippy.toml's test allowance.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use prost::Message;
use prost_types::FileDescriptorSet;
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-rgrpc");

/// The plugin run with `args` and `stdin`, bounded: a hang fails the test.
fn run_plugin(args: &[&str], stdin: &[u8]) -> Output {
    process::run_bounded(Command::new(PLUGIN).args(args), stdin)
}

#[test]
fn garbage_on_stdin_is_a_clear_error_and_exit_1() {
    let output = run_plugin(&[], b"\xff\xff\xff this is not protobuf");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "no partial response on stdout");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("protoc-gen-rgrpc: stdin is not a CodeGeneratorRequest"),
        "{stderr}"
    );
    assert!(stderr.contains("run by protoc"), "{stderr}");
}

#[test]
fn arguments_mean_it_was_run_by_hand() {
    let output = run_plugin(&["hello.proto"], b"");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown argument \"hello.proto\""),
        "{stderr}"
    );
    assert!(stderr.contains("--rgrpc_out"), "usage follows: {stderr}");
}

#[test]
fn version_and_help_exit_0() {
    let version = run_plugin(&["--version"], b"");
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!(
            "protoc-gen-rgrpc {} (generates code for the rgrpc runtime {}.{}, codegen contract v1)",
            env!("CARGO_PKG_VERSION"),
            env!("CARGO_PKG_VERSION_MAJOR"),
            env!("CARGO_PKG_VERSION_MINOR")
        )
    );
    let help = run_plugin(&["--help"], b"");
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--rgrpc_opt"));
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The descriptors protoc would send for `files` under `include`, comments included.
fn request_for(include: &Path, files: &[&str], parameter: &str) -> CodeGeneratorRequest {
    // Tests run in parallel: each request gets its own descriptor file.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let unique = NEXT.fetch_add(1, Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!("rgrpc-cli-{}-{unique}.binpb", std::process::id()));
    let mut protoc = rgrpc_dev::protoc_command().expect("protoc available");
    protoc
        .arg("--include_imports")
        .arg("--include_source_info")
        .arg(format!("--descriptor_set_out={}", out.display()))
        .arg("-I")
        .arg(include)
        .args(files)
        .arg("-I")
        .arg(rgrpc_dev::well_known_include().expect("wkt include"));
    let output = process::run_bounded(&mut protoc, b"");
    assert!(
        output.status.success(),
        "protoc failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bytes = std::fs::read(&out).expect("descriptor set written");
    let _ = std::fs::remove_file(&out);
    let set = FileDescriptorSet::decode(bytes.as_slice()).expect("valid descriptor set");
    CodeGeneratorRequest {
        file_to_generate: files.iter().map(|f| f.to_string()).collect(),
        parameter: Some(parameter.to_owned()),
        proto_file: set.file,
        // protoc always says which it is; a request without it must choose its layout.
        compiler_version: Some(prost_types::compiler::Version {
            major: Some(6),
            minor: Some(31),
            patch: Some(1),
            suffix: Some(String::new()),
        }),
    }
}

fn generate_via_process(request: &CodeGeneratorRequest) -> CodeGeneratorResponse {
    let output = run_plugin(&[], &request.encode_to_vec());
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    CodeGeneratorResponse::decode(output.stdout.as_slice()).expect("a response")
}

/// The `.proto` files under `dir`, relative to it, sorted.
fn protos_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("readable fixture dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "proto") {
                let relative = path.strip_prefix(dir).expect("under dir");
                found.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_fixture_is_deterministic_and_independent_of_file_order() {
    let fixtures = repo().join("fixtures");
    let mut cases: Vec<_> = std::fs::read_dir(&fixtures)
        .expect("fixtures dir")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|case| case.join("input").is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "the fixture corpus is missing: {cases:?}"
    );
    for case in cases {
        let input = case.join("input");
        let files = protos_under(&input);
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        let params = std::fs::read_to_string(case.join("params")).unwrap_or_default();
        let request = request_for(&input, &files, params.trim());
        let first = generate_via_process(&request);
        assert_eq!(
            first,
            generate_via_process(&request),
            "{case:?}: two runs differ"
        );

        let mut shuffled = request.clone();
        shuffled.file_to_generate.reverse();
        shuffled.file_to_generate.rotate_left(1);
        shuffled.proto_file.reverse();
        assert_eq!(
            first,
            protoc_gen_rgrpc::generate(&shuffled),
            "{case:?}: the order of the files changed the output"
        );
    }
}

#[test]
fn bad_parameters_give_an_error_and_no_files() {
    let request = request_for(
        &repo().join("proto"),
        &["hello.proto"],
        "server=nope,unknown",
    );
    let response = protoc_gen_rgrpc::generate(&request);
    assert!(response.file.is_empty());
    assert_eq!(
        response.error.as_deref(),
        Some(
            "invalid --rgrpc_opt: parameter \"server\" expects true or false, got \"nope\"\n\
             invalid --rgrpc_opt: unknown parameter \"unknown\" (known: blocking, boxed, btree_map, bytes, client, descriptor_source_info, descriptors, enum_attribute, extern_path, field_attribute, include_file, layout, message_attribute, messages, runtime_path, server, type_attribute)"
        )
    );
}

#[test]
fn a_file_to_generate_without_its_descriptor_is_an_error() {
    let mut request = request_for(&repo().join("proto"), &["hello.proto"], "");
    request.file_to_generate.push("missing.proto".to_owned());
    let response = protoc_gen_rgrpc::generate(&request);
    assert!(response.file.is_empty());
    assert_eq!(
        response.error.as_deref(),
        Some(
            "missing.proto: listed in file_to_generate but its descriptor is missing from the request"
        )
    );
}

#[test]
fn a_method_type_missing_from_the_request_is_an_error_naming_it() {
    let mut request = request_for(&repo().join("proto"), &["hello.proto"], "");
    let hello = request
        .proto_file
        .iter_mut()
        .find(|f| f.name() == "hello.proto")
        .expect("hello.proto in request");
    hello.service[0].method[0].input_type = Some(".hello.Nope".to_owned());
    let response = protoc_gen_rgrpc::generate(&request);
    assert!(response.file.is_empty());
    assert_eq!(
        response.error.as_deref(),
        Some(
            "hello.proto: rpc hello.HelloService.SayHello: type \".hello.Nope\" is not defined in the request"
        )
    );
}

#[test]
fn options_select_what_is_generated() {
    let include = repo().join("proto");
    let only_client = protoc_gen_rgrpc::generate(&request_for(
        &include,
        &["hello.proto"],
        "server=false,messages=false",
    ));
    let text = only_client.file[0].content();
    assert!(text.contains("pub mod hello_service_client"));
    assert!(!text.contains("pub mod hello_service_server"));
    assert!(!text.contains("pub struct HelloRequest"));

    let custom_root = protoc_gen_rgrpc::generate(&request_for(
        &include,
        &["hello.proto"],
        "runtime_path=::my::rgrpc",
    ));
    let text = custom_root.file[0].content();
    assert!(text.contains("::my::rgrpc::codegen::Client"));
    let code_lines = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"));
    for line in code_lines {
        assert!(
            !line.replace("::my::rgrpc::", "").contains("rgrpc::"),
            "every runtime path uses the configured root: {line}"
        );
    }

    let only_blocking = protoc_gen_rgrpc::generate(&request_for(
        &include,
        &["hello.proto"],
        "client=false,server=false,messages=false",
    ));
    let text = only_blocking.file[0].content();
    assert!(text.contains("pub struct HelloServiceBlockingClient"));
    assert!(!text.contains("pub struct HelloServiceClient"));
    assert!(!text.contains("pub trait HelloServiceApi"));

    let no_blocking =
        protoc_gen_rgrpc::generate(&request_for(&include, &["hello.proto"], "blocking=false"));
    let text = no_blocking.file[0].content();
    assert!(text.contains("pub struct HelloServiceClient"));
    assert!(!text.contains("BlockingClient"));

    let nothing = protoc_gen_rgrpc::generate(&request_for(
        &include,
        &["hello.proto"],
        "client=false,server=false,blocking=false,messages=false",
    ));
    assert_eq!(nothing.error, None);
    assert!(nothing.file.is_empty());
}

#[test]
fn response_declares_proto3_optional_support() {
    let response =
        protoc_gen_rgrpc::generate(&request_for(&repo().join("proto"), &["hello.proto"], ""));
    assert_eq!(response.supported_features, Some(1));
}

#[test]
fn a_package_split_between_generated_and_left_out_files_is_an_error() {
    let include = repo().join("fixtures/multi_file/input");
    let request = request_for(&include, &["shop/orders.proto"], "");
    let response = protoc_gen_rgrpc::generate(&request);
    assert!(response.file.is_empty());
    assert_eq!(
        response.error.as_deref(),
        Some(
            "shop/orders.proto: imports shop/items.proto of the same package \"shop\", which is not \
             being generated; one output file holds a whole package, so generate shop/items.proto too"
        )
    );
}

#[test]
fn an_include_file_named_like_a_package_file_is_an_error() {
    let include = repo().join("fixtures/multi_file/input");
    let files = ["shop/items.proto", "shop/orders.proto"];
    let response =
        protoc_gen_rgrpc::generate(&request_for(&include, &files, "include_file=shop.rs"));
    assert!(response.file.is_empty());
    assert_eq!(
        response.error.as_deref(),
        Some(
            "include_file \"shop.rs\" has the name of a generated package file; choose another name"
        )
    );
}
