//! Malformed requests through the real binary, answered as protoc plugins answer them:
//! bytes that do not decode as a `CodeGeneratorRequest` are a process failure (exit 1, a
//! message on stderr, nothing on stdout: protoc then reports that the plugin failed);
//! a request that decodes but is inconsistent is a problem with the input, reported in
//! `CodeGeneratorResponse.error` (exit 0, no files), naming the file and element at fault.
//! (`cli.rs` covers plain garbage, arguments, and the errors protoc itself can produce.)

// Test helpers outside #[test] fns are not covered by clippy.toml's test allowance.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

#[path = "support/descriptors.rs"]
mod descriptors;
#[path = "support/process.rs"]
mod process;

use prost::Message;
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};
use prost_types::field_descriptor_proto::Type;
use prost_types::{EnumValueDescriptorProto, MethodDescriptorProto};

use descriptors::{enumeration, file, message, request, scalar, service, typed};
use process::run_bounded;

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-rgrpc");

fn run_plugin(stdin: &[u8]) -> Output {
    run_bounded(&mut Command::new(PLUGIN), stdin)
}

/// The plugin refuses `stdin` as undecodable: exit 1, nothing on stdout, and stderr
/// saying so with the input's size.
fn assert_undecodable(stdin: &[u8], what: &str) {
    let output = run_plugin(stdin);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{what}: {stderr}");
    assert!(output.stdout.is_empty(), "{what}: no response on stdout");
    let expected = format!(
        "protoc-gen-rgrpc: stdin is not a CodeGeneratorRequest ({} bytes): ",
        stdin.len()
    );
    assert!(stderr.starts_with(&expected), "{what}: {stderr}");
    assert!(
        stderr.trim_end().ends_with("this program is run by protoc"),
        "{what}: {stderr}"
    );
}

/// The plugin answers `request` normally (exit 0) with a response.
fn respond(request: &CodeGeneratorRequest) -> CodeGeneratorResponse {
    let output = run_plugin(&request.encode_to_vec());
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    CodeGeneratorResponse::decode(output.stdout.as_slice()).expect("a response on stdout")
}

/// The plugin answers `request` with exactly the error lines `expected`, and no file.
fn assert_refused(request: &CodeGeneratorRequest, expected: &[&str]) {
    let response = respond(request);
    assert!(
        response.file.is_empty(),
        "no files with an error: {:?}",
        response.file.iter().map(|f| f.name()).collect::<Vec<_>>()
    );
    let error = response.error.expect("an error in the response");
    assert_eq!(error.lines().collect::<Vec<_>>(), expected);
}

/// A consistent request: package `pkg` with a message, an enum and a service.
fn valid_request() -> CodeGeneratorRequest {
    let mut a = file("a.proto", "pkg", &[]);
    a.message_type = vec![message(
        "Ping",
        vec![scalar("id", 1), typed("kind", 2, Type::Enum, ".pkg.Kind")],
    )];
    a.enum_type = vec![enumeration("Kind", &["KIND_UNSPECIFIED", "KIND_FAST"])];
    a.service = vec![service("Pinger", &[("Ping", ".pkg.Ping", ".pkg.Ping")])];
    request(vec![a], &["a.proto"])
}

// --- Bytes that are not a request: exit 1 ---------------------------------------------

#[test]
fn the_valid_request_these_tests_start_from_generates() {
    let response = respond(&valid_request());
    assert_eq!(response.error, None);
    assert_eq!(response.file.len(), 1);
    assert!(response.file[0].content().contains("\"/pkg.Pinger/Ping\""));
}

#[test]
fn empty_stdin_is_an_empty_request_and_generates_nothing() {
    // Zero bytes decode as a request with every field unset, as in any protobuf runtime.
    let output = run_plugin(b"");
    assert_eq!(output.status.code(), Some(0));
    let response = CodeGeneratorResponse::decode(output.stdout.as_slice()).unwrap();
    assert_eq!(response.error, None);
    assert!(response.file.is_empty());
}

#[test]
fn a_truncated_request_is_refused_at_every_cut() {
    let bytes = valid_request().encode_to_vec();
    // After the first tag byte, inside the descriptor, and one byte short: each cut
    // lands inside a field, so the prefix is not a shorter valid request.
    for cut in [1, 2, bytes.len() / 2, bytes.len() - 2, bytes.len() - 1] {
        assert!(
            CodeGeneratorRequest::decode(&bytes[..cut]).is_err(),
            "the cut at {cut} must fall inside a field"
        );
        assert_undecodable(&bytes[..cut], &format!("cut at {cut} of {}", bytes.len()));
    }
}

/// A protobuf field key: field number and wire type.
fn key(field: u8, wire_type: u8) -> u8 {
    (field << 3) | wire_type
}

const VARINT: u8 = 0;
const LENGTH_DELIMITED: u8 = 2;
const FIXED32: u8 = 5;

#[test]
fn fields_with_the_wrong_wire_type_are_refused() {
    // `parameter` (2, a string) as a varint.
    assert_undecodable(&[key(2, VARINT), 5], "string field as a varint");
    // `file_to_generate` (1, repeated string) as a fixed32.
    assert_undecodable(&[key(1, FIXED32), 1, 2, 3, 4], "string field as a fixed32");
    // `proto_file` (15, a message) whose `name` (1, a string) is a varint.
    assert_undecodable(
        &[key(15, LENGTH_DELIMITED), 2, key(1, VARINT), 1],
        "nested string field as a varint",
    );
    // Wire types 6 and 7 do not exist.
    assert_undecodable(&[key(1, 7), 0], "wire type 7");
    assert_undecodable(&[key(3, 6), 0], "wire type 6");
}

#[test]
fn bad_lengths_and_bad_text_are_refused() {
    // A length running past the end of the input.
    assert_undecodable(
        &[key(2, LENGTH_DELIMITED), 100, b'a'],
        "length past the end",
    );
    // A length that does not fit a varint's ten bytes.
    assert_undecodable(
        &[
            key(2, LENGTH_DELIMITED),
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0x01,
        ],
        "overlong varint",
    );
    // A string field holding bytes that are not UTF-8.
    assert_undecodable(
        &[key(2, LENGTH_DELIMITED), 2, 0xff, 0xfe],
        "parameter not UTF-8",
    );
}

/// A request whose message `M0` nests `depth` levels of messages `M1`, `M2`, ...
fn deeply_nested(depth: usize) -> CodeGeneratorRequest {
    let mut innermost = message(&format!("M{depth}"), vec![scalar("x", 1)]);
    for level in (0..depth).rev() {
        let mut outer = message(&format!("M{level}"), vec![scalar("x", 1)]);
        outer.nested_type.push(innermost);
        innermost = outer;
    }
    let mut a = file("a.proto", "pkg", &[]);
    a.message_type = vec![innermost];
    request(vec![a], &["a.proto"])
}

/// A request whose message `M0` nests `depth` levels of messages, each with just a name,
/// encoded by hand in linear time and without recursion (prost's encoder recurses, and
/// would exhaust this test's own stack on very deep input). Built back to front.
fn deeply_nested_bytes(depth: usize) -> Vec<u8> {
    /// Prepends (to the reversed `out`) the key and length making the first `len` bytes
    /// (the last ones of `out`) a length-delimited field.
    fn wrap(out: &mut Vec<u8>, field: u8, len: usize) {
        let mut length = Vec::new();
        prost::encoding::encode_varint(len as u64, &mut length);
        out.extend(length.iter().rev());
        out.push(key(field, LENGTH_DELIMITED));
    }
    fn prepend_bytes(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
        out.extend(bytes.iter().rev());
        wrap(out, field, bytes.len());
    }
    let mut out: Vec<u8> = Vec::new();
    // DescriptorProto: name (1), nested_type (3).
    prepend_bytes(&mut out, 1, format!("M{depth}").as_bytes());
    for level in (0..depth).rev() {
        let len = out.len();
        wrap(&mut out, 3, len);
        prepend_bytes(&mut out, 1, format!("M{level}").as_bytes());
    }
    // FileDescriptorProto: name (1), message_type (4); the request: proto_file (15).
    let len = out.len();
    wrap(&mut out, 4, len);
    prepend_bytes(&mut out, 1, b"a.proto");
    let len = out.len();
    wrap(&mut out, 15, len);
    out.reverse();
    out
}

#[test]
fn nesting_past_the_decoder_recursion_limit_is_refused_not_a_stack_overflow() {
    // prost decodes at most 100 levels of messages nested in the request: here a file and
    // 99 messages, M0 to M98. Without such a bound, hostile input could exhaust the stack.
    let decoded = CodeGeneratorRequest::decode(deeply_nested_bytes(98).as_slice()).unwrap();
    let mut innermost = &decoded.proto_file[0].message_type[0];
    while let Some(nested) = innermost.nested_type.first() {
        innermost = nested;
    }
    assert_eq!(
        innermost.name(),
        "M98",
        "the hand encoding nests as intended"
    );
    for depth in [99, 100_000] {
        let bytes = deeply_nested_bytes(depth);
        assert_undecodable(&bytes, &format!("{} nested messages", depth + 1));
    }
}

#[test]
fn nesting_at_the_decoder_limit_is_generated() {
    // The deepest request that decodes (a file, 98 messages and the innermost one's
    // fields) also goes through prost-build, our emitters and the pretty-printer (on
    // worker threads, with their smaller stacks) intact.
    let mut request = deeply_nested(97);
    let innermost = (1..=97).fold(".pkg.M0".to_owned(), |path, level| {
        format!("{path}.M{level}")
    });
    request.proto_file[0].service = vec![service("Deep", &[("Dive", &innermost, &innermost)])];
    let bytes = request.encode_to_vec();
    assert!(CodeGeneratorRequest::decode(deeply_nested(98).encode_to_vec().as_slice()).is_err());
    let output = run_plugin(&bytes);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let response = CodeGeneratorResponse::decode(output.stdout.as_slice()).unwrap();
    assert_eq!(response.error, None);
    let content = response.file[0].content();
    assert!(
        content.contains("pub struct M97"),
        "the innermost message is generated"
    );
    assert!(content.contains("\"/pkg.Deep/Dive\""), "and served");
}

// --- Requests that decode but are inconsistent: exit 0, an error naming the problem ---

#[test]
fn a_field_type_not_defined_anywhere_is_named() {
    let mut request = valid_request();
    let ping = &mut request.proto_file[0].message_type[0];
    ping.field
        .push(typed("missing", 3, Type::Message, ".pkg.Missing"));
    ping.field.push(typed("relative", 4, Type::Enum, "Kind"));
    assert_refused(
        &request,
        &[
            "a.proto: field pkg.Ping.missing: type \".pkg.Missing\" is not defined in the request",
            "a.proto: field pkg.Ping.relative: type \"Kind\" is not defined in the request",
        ],
    );
}

#[test]
fn a_field_type_of_the_wrong_kind_is_named() {
    let mut request = valid_request();
    let ping = &mut request.proto_file[0].message_type[0];
    ping.field
        .push(typed("kind_as_message", 3, Type::Message, ".pkg.Kind"));
    ping.field
        .push(typed("ping_as_enum", 4, Type::Enum, ".pkg.Ping"));
    ping.field
        .push(typed("service", 5, Type::Message, ".pkg.Pinger"));
    assert_refused(
        &request,
        &[
            "a.proto: field pkg.Ping.kind_as_message: type \".pkg.Kind\" is an enum, not a message",
            "a.proto: field pkg.Ping.ping_as_enum: type \".pkg.Ping\" is a message, not an enum",
            "a.proto: field pkg.Ping.service: type \".pkg.Pinger\" is a service, not a message",
        ],
    );
}

#[test]
fn an_rpc_type_not_defined_anywhere_is_named() {
    let mut request = valid_request();
    request.proto_file[0].service[0].method[0].output_type = Some(".pkg.Pong".to_owned());
    assert_refused(
        &request,
        &["a.proto: rpc pkg.Pinger.Ping: type \".pkg.Pong\" is not defined in the request"],
    );
}

#[test]
fn an_rpc_type_that_is_not_a_message_is_named() {
    let mut request = valid_request();
    request.proto_file[0].service[0].method[0].input_type = Some(".pkg.Kind".to_owned());
    assert_refused(
        &request,
        &["a.proto: rpc pkg.Pinger.Ping: type \".pkg.Kind\" is an enum, not a message"],
    );
}

#[test]
fn a_message_defined_twice_in_a_package_is_named() {
    // Once in another file of the package, once again in its own file.
    let mut request = valid_request();
    let mut b = file("b.proto", "pkg", &[]);
    b.message_type = vec![message("Ping", vec![scalar("other", 1)])];
    request.proto_file.push(b);
    request.file_to_generate.push("b.proto".to_owned());
    let mut twice = valid_request();
    let again = twice.proto_file[0].message_type[0].clone();
    twice.proto_file[0].message_type.push(again);
    twice.proto_file[0]
        .enum_type
        .push(enumeration("Kind", &["KIND_OTHER"]));
    assert_refused(
        &request,
        &["b.proto: message pkg.Ping is already defined in a.proto; a name is defined once"],
    );
    assert_refused(
        &twice,
        &[
            "a.proto: message pkg.Ping is already defined in a.proto; a name is defined once",
            "a.proto: enum pkg.Kind is already defined in a.proto; a name is defined once",
        ],
    );
}

#[test]
fn a_service_or_rpc_defined_twice_is_named() {
    let mut request = valid_request();
    let pinger = request.proto_file[0].service[0].clone();
    request.proto_file[0].service.push(pinger);
    assert_refused(
        &request,
        &["a.proto: service pkg.Pinger is already defined in a.proto; a name is defined once"],
    );

    let mut request = valid_request();
    let ping = request.proto_file[0].service[0].method[0].clone();
    request.proto_file[0].service[0].method.push(ping);
    assert_refused(
        &request,
        &["a.proto: rpc pkg.Pinger.Ping is already defined in a.proto; a name is defined once"],
    );
}

#[test]
fn a_file_to_generate_missing_from_the_request_is_named() {
    let mut request = valid_request();
    request.file_to_generate.push("nowhere.proto".to_owned());
    assert_refused(
        &request,
        &[
            "nowhere.proto: listed in file_to_generate but its descriptor is missing from the request",
        ],
    );
}

#[test]
fn an_import_missing_from_the_request_is_named() {
    let mut request = valid_request();
    request.proto_file[0].dependency = vec!["dep/missing.proto".to_owned()];
    assert_refused(
        &request,
        &["a.proto: imports dep/missing.proto, whose descriptor is missing from the request"],
    );
}

#[test]
fn files_without_a_name_or_listed_twice_are_named() {
    let mut request = valid_request();
    request.proto_file.push(file("", "other", &[]));
    let copy = request.proto_file[0].clone();
    request.proto_file.push(copy);
    assert_refused(
        &request,
        &[
            "proto_file[1] has no name",
            "a.proto: listed more than once in proto_file",
            "a.proto: message pkg.Ping is already defined in a.proto; a name is defined once",
            "a.proto: enum pkg.Kind is already defined in a.proto; a name is defined once",
            "a.proto: service pkg.Pinger is already defined in a.proto; a name is defined once",
        ],
    );
}

#[test]
fn elements_without_a_name_are_named_by_where_they_are() {
    let mut request = valid_request();
    let a = &mut request.proto_file[0];
    a.message_type.push(message("", vec![]));
    a.message_type[0].field.push(scalar("", 3));
    a.enum_type[0]
        .value
        .push(EnumValueDescriptorProto::default());
    a.service[0].method.push(MethodDescriptorProto::default());
    assert_refused(
        &request,
        &[
            "a.proto: message with no name in pkg",
            "a.proto: rpc with no name in pkg.Pinger",
            "a.proto: field with no name in pkg.Ping",
            "a.proto: enum value with no name in pkg.Kind",
        ],
    );
}
