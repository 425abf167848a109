//! The runtime ships the well-known types' descriptors that generated servers leave out:
//! its copy must be exactly what this plugin leaves out. `UPDATE_GOLDEN=1` (`make golden`)
//! rewrites it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn the_runtime_ships_the_well_known_types_the_plugin_leaves_out() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../runtime/src/standard/reflection/well_known.rs");
    let expected = protoc_gen_rgrpc::well_known_module();
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        assert!(
            std::env::var_os("CI").is_none_or(|v| v.is_empty()),
            "UPDATE_GOLDEN=1 refused: CI is set"
        );
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{} is stale; run `make golden`",
        path.display()
    );
    for name in ["descriptor.proto", "timestamp.proto", "wrappers.proto"] {
        assert!(
            expected.contains(&format!("// google/protobuf/{name}")),
            "{name}"
        );
    }
}
