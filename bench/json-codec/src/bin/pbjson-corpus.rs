//! What pbjson would add to a corpus: writes two throwaway crates of prost's messages for a
//! descriptor set (well-known types mapped to pbjson-types, as pbjson requires), one with
//! pbjson's serde impls and one without, and prints the lines of each part.
//!
//! usage: pbjson-corpus INCLUDE_ROOT LIST OUT_DIR
//!
//! LIST names the corpus' files relative to INCLUDE_ROOT (`/work/shared/bench-corpus`'s
//! `medium.txt`); protoc (the vendored one) makes their descriptor set, and the crates are
//! written to OUT_DIR/messages and OUT_DIR/serde.

use std::collections::BTreeMap;
use std::error::Error;
use std::fs;
use std::path::Path;

use prost::Message as _;
use prost_types::FileDescriptorSet;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, list, out] = args.as_slice() else {
        return Err("usage: pbjson-corpus INCLUDE_ROOT LIST OUT_DIR".into());
    };
    fs::create_dir_all(out)?;
    let set_path = Path::new(out).join("corpus.pb");
    let files = fs::read_to_string(list)?;
    let status = std::process::Command::new(protoc_bin_vendored::protoc_bin_path()?)
        .current_dir(root)
        .arg("-I.")
        .arg("--include_imports")
        .arg(format!("--descriptor_set_out={}", set_path.display()))
        .args(files.split_whitespace())
        .status()?;
    if !status.success() {
        return Err(format!("protoc failed: {status}").into());
    }
    let bytes = fs::read(&set_path)?;
    // The well-known types stay in the set (prost-build reads them) but are not generated:
    // they are pbjson-types'.
    let set = FileDescriptorSet::decode(bytes.as_slice())?;
    let packages: Vec<String> = {
        let mut packages: Vec<String> = set
            .file
            .iter()
            .map(|f| f.package().to_owned())
            .filter(|p| p != "google.protobuf")
            .collect();
        packages.sort();
        packages.dedup();
        packages
    };
    for (name, serde) in [("messages", false), ("serde", true)] {
        let krate = Path::new(out).join(name);
        let generated = krate.join("src/gen");
        let _ = fs::remove_dir_all(&krate);
        fs::create_dir_all(&generated)?;
        let mut config = prost_build::Config::new();
        config
            .out_dir(&generated)
            .compile_well_known_types()
            .extern_path(".google.protobuf", "::pbjson_types");
        config.compile_fds(set.clone())?;
        if serde {
            let prefixes: Vec<String> = packages.iter().map(|p| format!(".{p}")).collect();
            pbjson_build::Builder::new()
                .register_descriptors(&bytes)?
                .out_dir(&generated)
                .build(&prefixes)?;
        }
        fs::write(krate.join("src/lib.rs"), lib_rs(&packages, serde))?;
        fs::write(
            krate.join("Cargo.toml"),
            format!(
                "[package]\nname = \"pbjson-corpus-{name}\"\nversion = \"0.0.0\"\nedition = \
                 \"2021\"\npublish = false\n\n[dependencies]\nprost = \"0.14\"\npbjson = \
                 \"0.9\"\npbjson-types = \"0.9\"\nserde = \"1\"\n\n[workspace]\n"
            ),
        )?;
        let (mut messages, mut impls) = (0, 0);
        for entry in fs::read_dir(&generated)? {
            let path = entry?.path();
            if path.ends_with("google.protobuf.rs") {
                fs::remove_file(&path)?;
                continue;
            }
            let lines = fs::read_to_string(&path)?.lines().count();
            if path.to_string_lossy().ends_with(".serde.rs") {
                impls += lines;
            } else {
                messages += lines;
            }
        }
        println!(
            "{name}: {} packages, {messages} lines of messages, {impls} lines of serde impls",
            packages.len()
        );
    }
    Ok(())
}

/// One module per package, nested as the package is, including its files.
fn lib_rs(packages: &[String], serde: bool) -> String {
    #[derive(Default)]
    struct Tree {
        children: BTreeMap<String, Tree>,
        package: Option<String>,
        /// `google.protobuf`: pbjson's impls name `NullValue` by its relative path there.
        well_known: bool,
    }
    let mut root = Tree::default();
    for package in packages {
        let mut node = &mut root;
        for part in package.split('.') {
            node = node.children.entry(part.to_owned()).or_default();
        }
        node.package = Some(package.clone());
    }
    let google = root.children.entry("google".to_owned()).or_default();
    google
        .children
        .entry("protobuf".to_owned())
        .or_default()
        .well_known = true;
    fn escape(part: &str) -> String {
        match part {
            "type" | "move" | "ref" | "match" | "mod" | "use" | "impl" | "fn" | "in" | "loop"
            | "where" | "async" | "await" | "dyn" | "trait" | "struct" | "enum" => {
                format!("r#{part}")
            }
            _ => part.to_owned(),
        }
    }
    fn write(tree: &Tree, serde: bool, out: &mut String) {
        if tree.well_known {
            out.push_str("pub use ::pbjson_types::*;\n");
        }
        if let Some(package) = &tree.package {
            // Files are named as the modules are: `google.r#type.rs`.
            let package: Vec<String> = package.split('.').map(escape).collect();
            let package = package.join(".");
            out.push_str(&format!("include!(\"gen/{package}.rs\");\n"));
            if serde {
                out.push_str(&format!("include!(\"gen/{package}.serde.rs\");\n"));
            }
        }
        for (name, child) in &tree.children {
            out.push_str(&format!("pub mod {} {{\n", escape(name)));
            write(child, serde, out);
            out.push_str("}\n");
        }
    }
    let mut out = String::from("#![allow(warnings, clippy::all)]\n");
    write(&root, serde, &mut out);
    out
}
