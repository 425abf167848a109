//! The code build.rs generated without protoc is the plugin's golden output for the same
//! proto, which is checked against real protoc: both paths give the same bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// What rgrpc-build wrote to OUT_DIR for proto/hello.proto, with no parameters.
const FROM_BUILD_RS: &str = include_str!(concat!(env!("OUT_DIR"), "/hello.rs"));

/// What `protoc --rgrpc_out` writes for the same file (fixtures/hello/input/hello.proto is a
/// copy of proto/hello.proto; the first test checks that).
const FROM_PROTOC: &str = include_str!("../../../fixtures/hello/expected/hello.rs");

#[test]
fn the_fixture_input_is_the_proto_build_rs_compiles() {
    assert_eq!(
        include_str!("../../../proto/hello.proto"),
        include_str!("../../../fixtures/hello/input/hello.proto"),
        "proto/hello.proto and fixtures/hello/input/hello.proto have drifted apart"
    );
}

#[test]
fn build_rs_output_is_byte_identical_to_the_protoc_golden() {
    if FROM_BUILD_RS != FROM_PROTOC {
        let first = FROM_BUILD_RS
            .lines()
            .zip(FROM_PROTOC.lines())
            .position(|(built, golden)| built != golden)
            .map(|index| index + 1);
        panic!(
            "OUT_DIR/hello.rs differs from fixtures/hello/expected/hello.rs (first differing \
             line: {first:?}; lengths {} and {})\n--- OUT_DIR/hello.rs\n{FROM_BUILD_RS}",
            FROM_BUILD_RS.len(),
            FROM_PROTOC.len()
        );
    }
}

#[test]
fn only_the_hello_package_was_generated() {
    let mut names: Vec<String> = std::fs::read_dir(env!("OUT_DIR"))
        .expect("read OUT_DIR")
        .map(|entry| {
            entry
                .expect("OUT_DIR entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["hello.rs"]);
}
