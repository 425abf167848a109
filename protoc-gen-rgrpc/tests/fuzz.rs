//! The plugin over arbitrary well-formed requests (see `fuzz/arbitrary_request.rs`): it
//! never panics, and answers either with a clear error and no file, or with files that all
//! parse as Rust, one per package, every rpc routed; the same request gives the same
//! bytes, whatever order the files are listed in.
//!
//! `make test` runs a fixed set of cases; `make fuzz` runs many more in release mode.
//! Environment:
//! - `RGRPC_FUZZ_CASES`: how many cases (default [`DEFAULT_CASES`]);
//! - `RGRPC_FUZZ_SEED`: the first case's seed (default [`DEFAULT_SEED`]); case `i` uses
//!   seed + `i`, so `RGRPC_FUZZ_SEED=<seed of a failed case> RGRPC_FUZZ_CASES=1` replays it;
//! - `RGRPC_FUZZ_SECONDS`: start no case after this many seconds;
//! - `RGRPC_FUZZ_PROTOC_CASES`: how many requests protoc checks (default
//!   [`DEFAULT_PROTOC_CASES`]).

// Test helpers outside #[test] fns are not covered by clippy.toml's test allowance.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "fuzz/arbitrary_request.rs"]
mod arbitrary_request;
#[path = "support/descriptors.rs"]
mod descriptors;
#[path = "support/process.rs"]
mod process;

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use prost::Message;
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};
use prost_types::field_descriptor_proto::Type;

use descriptors::{enumeration, file, message, request, scalar, service, typed};

/// Cases in a plain `cargo test`: a few seconds in a debug build.
const DEFAULT_CASES: u64 = 256;
const DEFAULT_SEED: u64 = 0x5eed_0000;
/// Every this many cases, also check determinism and independence of file order.
const REPEAT_EVERY: u64 = 4;

/// Words that mark an error message as a bug rather than a report on the input.
const UNCLEAR: &[&str] = &[
    "internal error",
    "panicked",
    "unwrap()",
    "expect(",
    "index out of bounds",
    "it panicked",
    "RUST_BACKTRACE",
];

#[test]
fn arbitrary_requests_never_panic_and_give_rust_or_a_clear_error() {
    let cases = env_u64("RGRPC_FUZZ_CASES").unwrap_or(DEFAULT_CASES);
    let first_seed = env_u64("RGRPC_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let deadline = env_u64("RGRPC_FUZZ_SECONDS").map(|s| Instant::now() + Duration::from_secs(s));
    let started = Instant::now();
    let mut stats = Stats::default();
    for case in 0..cases {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let seed = first_seed.wrapping_add(case);
        let request = arbitrary_request::request(seed);
        let repeat = case % REPEAT_EVERY == 0;
        match check_case(&request, seed, repeat) {
            Ok(outcome) => stats.add(outcome),
            Err(failure) => panic!("{}", report(seed, &request, &failure)),
        }
    }
    println!(
        "{} cases from seed {first_seed:#x} in {:.1?}: {} generated code ({} files), {} refused with a clear error",
        stats.cases(),
        started.elapsed(),
        stats.generated,
        stats.files,
        stats.errors.values().sum::<usize>(),
    );
    for (kind, count) in &stats.errors {
        println!(
            "  {count:5} × {kind}\n          e.g. {}",
            stats.examples[kind]
        );
    }
    // The generator must keep producing requests the plugin accepts; if nearly every case
    // became an error, the property above would hold without testing code generation.
    assert!(
        stats.generated * 2 >= stats.cases(),
        "only {} of {} cases generated code: the request generator has drifted",
        stats.generated,
        stats.cases()
    );
}

/// The generator's requests are ones protoc itself accepts: protoc rebuilds the files
/// from their descriptors (`--descriptor_set_in`) with all its checks (names unique in
/// each scope, references resolved, json names distinct, enum rules), so the property
/// above is about input protoc can really send. A sample, as each case runs protoc.
#[test]
fn protoc_accepts_the_generated_requests() {
    let first_seed = env_u64("RGRPC_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let cases = env_u64("RGRPC_FUZZ_PROTOC_CASES").unwrap_or(DEFAULT_PROTOC_CASES);
    let dir = std::env::temp_dir().join(format!("rgrpc-fuzz-protoc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for case in 0..cases {
        let seed = first_seed.wrapping_add(case);
        let request = arbitrary_request::request(seed);
        let set = prost_types::FileDescriptorSet {
            file: request.proto_file.clone(),
        };
        let input = dir.join(format!("{seed:#x}.binpb"));
        std::fs::write(&input, set.encode_to_vec()).unwrap();
        let mut protoc = rgrpc_dev::protoc_command().unwrap();
        protoc
            .arg(format!("--descriptor_set_in={}", input.display()))
            .arg(format!(
                "--descriptor_set_out={}",
                dir.join("out.binpb").display()
            ))
            .args(&request.file_to_generate);
        let output = process::run_bounded(&mut protoc, b"");
        assert!(
            output.status.success(),
            "protoc refuses the request of seed {seed:#x} ({}):\n{}",
            input.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::remove_file(&input).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Cases checked by protoc in a plain `cargo test` (each runs protoc once).
const DEFAULT_PROTOC_CASES: u64 = 48;

// --- Minimal cases of what fuzzing found -------------------------------------------

/// The error of generating `request`, which must give no files.
fn error_of(request: &CodeGeneratorRequest) -> String {
    let response = generate(request).unwrap();
    assert!(response.file.is_empty(), "an error comes with no files");
    response.error.expect("an error")
}

/// Found: a name of underscores only (valid proto) became an empty Rust identifier,
/// and the plugin answered with "internal error: generated code failed to parse".
#[test]
fn names_of_underscores_only_are_refused_naming_them() {
    let mut a = file("a.proto", "p", &[]);
    let mut m = message("M", vec![scalar("a", 1), scalar("__", 2)]);
    m.oneof_decl.push(prost_types::OneofDescriptorProto {
        name: Some("_".to_owned()),
        options: None,
    });
    m.field[0].oneof_index = Some(0);
    a.message_type = vec![m, message("_", vec![])];
    a.enum_type = vec![enumeration("E", &["E_ZERO", "_"])];
    a.service = vec![service("S", &[("__", ".p.M", ".p.M")])];
    let mut b = file("b.proto", "q", &[]);
    b.service = vec![service("_", &[])];
    let mut request = request(vec![a, b], &["a.proto", "b.proto"]);
    let no_rust_form = |element: &str, name: &str| {
        format!(
            "{element}: the name {name:?} has no letter or digit, so it has no Rust form; rename it"
        )
    };
    let expected = [
        no_rust_form("a.proto: message p.M.__", "__").replace("message p.M.__", "field p.M.__"),
        no_rust_form("a.proto: oneof p.M._", "_"),
        no_rust_form("a.proto: message p._", "_"),
        no_rust_form("a.proto: enum value p.E._", "_"),
        no_rust_form("a.proto: rpc p.S.__", "__"),
        no_rust_form("b.proto: service q._", "_"),
    ]
    .join("\n");
    assert_eq!(error_of(&request), expected);
    // Found with it: these errors came in the order of the files in the request.
    request.proto_file.reverse();
    request.file_to_generate.reverse();
    assert_eq!(error_of(&request), expected);
}

/// Found: packages `Foo` and `foo` are both the Rust module `foo`; prost-build wrote the
/// one not being generated into the other's file (where its bad names then broke it).
#[test]
fn packages_differing_only_in_case_are_refused_naming_them() {
    let mut a = file("a.proto", "Foo", &[]);
    a.message_type = vec![message("A", vec![])];
    let mut b = file("b.proto", "foo", &[]);
    b.message_type = vec![message("B", vec![])];
    let request = request(vec![a, b], &["b.proto"]);
    assert_eq!(
        error_of(&request),
        "packages \"Foo\" (a.proto) and \"foo\" (b.proto) both become the Rust module `foo`; rename one of them"
    );
}

/// Found: generating `p/a.proto`, which imports `q/c.proto`, which imports `p/b.proto`
/// (left out, though its package is generated) made prost-build panic ("called
/// `Option::unwrap()` on a `None` value"): it never saw `p.B`, which `q.C` needs.
/// protoc sends such a request for `protoc p/a.proto`.
#[test]
fn a_left_out_file_of_a_generated_package_is_refused_even_through_another_package() {
    let mut b = file("p/b.proto", "p", &[]);
    b.message_type = vec![message("B", vec![scalar("x", 1)])];
    let mut c = file("q/c.proto", "q", &["p/b.proto"]);
    c.message_type = vec![message("C", vec![typed("b", 1, Type::Message, ".p.B")])];
    let mut a = file("p/a.proto", "p", &["q/c.proto"]);
    a.message_type = vec![message("A", vec![typed("c", 1, Type::Message, ".q.C")])];
    let request = request(vec![b, c, a], &["p/a.proto"]);
    assert_eq!(
        error_of(&request),
        "p/a.proto: depends on p/b.proto, which is not being generated although its package \"p\" is; \
         one output file holds a whole package, so generate p/b.proto too"
    );
}

/// Found: `extern_path=.google.protobuf=...` (the documented way to take the well-known
/// types from another crate, such as pbjson-types) was refused by prost-build as a
/// "duplicate extern Protobuf path", clashing with its built-in mapping.
#[test]
fn extern_path_for_the_well_known_types_replaces_the_built_in_mapping() {
    let mut timestamp = file("google/protobuf/timestamp.proto", "google.protobuf", &[]);
    timestamp.message_type = vec![message("Timestamp", vec![scalar("seconds", 1)])];
    let mut empty = file("google/protobuf/empty.proto", "google.protobuf", &[]);
    empty.message_type = vec![message("Empty", vec![])];
    let mut a = file(
        "a.proto",
        "pkg",
        &[
            "google/protobuf/timestamp.proto",
            "google/protobuf/empty.proto",
        ],
    );
    a.message_type = vec![message(
        "Event",
        vec![typed("at", 1, Type::Message, ".google.protobuf.Timestamp")],
    )];
    a.service = vec![service(
        "Events",
        &[("Next", ".google.protobuf.Empty", ".pkg.Event")],
    )];
    let mut request = request(vec![timestamp, empty, a], &["a.proto"]);

    request.parameter = Some("extern_path=.google.protobuf=::pbjson_types".to_owned());
    let response = generate(&request).unwrap();
    assert_eq!(response.error, None);
    let content = response.file[0].content();
    assert!(
        content.contains("::core::option::Option<::pbjson_types::Timestamp>"),
        "{content}"
    );
    assert!(
        content.contains("::pbjson_types::Empty"),
        "the service agrees: {content}"
    );
    assert!(!content.contains("prost_types"), "{content}");

    // Mapping one built-in type leaves the others built in.
    request.parameter = Some("extern_path=.google.protobuf.Empty=crate::MyEmpty".to_owned());
    let response = generate(&request).unwrap();
    assert_eq!(response.error, None);
    let content = response.file[0].content();
    assert!(
        content.contains("Option<::rgrpc::prost_types::Timestamp>"),
        "{content}"
    );
    assert!(content.contains("crate::MyEmpty"), "{content}");
}

/// Found: prost-build panics ("called `Result::unwrap()` on an `Err` value") when a file
/// has source info but not for every element. protoc sends them all; other producers
/// of requests may send only the commented ones.
#[test]
fn source_info_for_some_elements_only_is_enough() {
    let mut a = file("a.proto", "pkg", &[]);
    a.message_type = vec![
        message("Quiet", vec![scalar("x", 1)]),
        message("Documented", vec![scalar("y", 1)]),
    ];
    a.source_code_info = Some(prost_types::SourceCodeInfo {
        location: vec![prost_types::source_code_info::Location {
            path: vec![4, 1],
            leading_comments: Some(" Says hello.\n".to_owned()),
            ..Default::default()
        }],
    });
    let response = generate(&request(vec![a], &["a.proto"])).unwrap();
    assert_eq!(response.error, None);
    assert!(
        response.file[0]
            .content()
            .contains("/// Says hello.\n#[derive"),
        "{}",
        response.file[0].content()
    );
}

/// Found: protoc passes a proto comment's bare carriage returns and text-direction code
/// points through, and the services' doc comments kept them: rustc refuses both in a
/// `///` comment ("bare CR not allowed", and the deny-by-default lint against "Trojan
/// Source" text), so the generated file did not compile.
#[test]
fn comments_with_bare_cr_or_text_direction_code_points_still_compile() {
    let mut a = file("a.proto", "pkg", &[]);
    a.message_type = vec![message("M", vec![scalar("x", 1)])];
    a.service = vec![service("S", &[("Call", ".pkg.M", ".pkg.M")])];
    let comment = " one\rtwo \u{202E}desrever\u{202C} end\n";
    let location = |path: Vec<i32>| prost_types::source_code_info::Location {
        path,
        leading_comments: Some(comment.to_owned()),
        ..Default::default()
    };
    a.source_code_info = Some(prost_types::SourceCodeInfo {
        location: vec![
            location(vec![4, 0]),
            location(vec![6, 0]),
            location(vec![6, 0, 2, 0]),
        ],
    });
    let response = generate(&request(vec![a], &["a.proto"])).unwrap();
    assert_eq!(response.error, None);
    let content = response.file[0].content();
    assert!(!content.contains('\r'), "{content}");
    assert!(!content.chars().any(is_text_direction), "{content}");
    // Every doc of the three items (the message; the service and the rpc, documented
    // on client, server and trait alike) shows both lines, the code points written out.
    let ones = content.matches("/// one\n").count();
    let twos = content
        .matches("/// two \\u{202e}desrever\\u{202c} end\n")
        .count();
    assert!(ones >= 3 && ones == twos, "{ones} {twos}: {content}");
    syn::parse_file(content).unwrap();
}

#[derive(Debug)]
enum Outcome {
    Generated { files: usize },
    Refused { kind: String, example: String },
}

#[derive(Default)]
struct Stats {
    generated: usize,
    files: usize,
    /// How many cases were refused, by the shape of their first error.
    errors: BTreeMap<String, usize>,
    /// The first error of each shape, in full.
    examples: BTreeMap<String, String>,
}

impl Stats {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Generated { files } => {
                self.generated += 1;
                self.files += files;
            }
            Outcome::Refused { kind, example } => {
                self.examples.entry(kind.clone()).or_insert(example);
                *self.errors.entry(kind).or_default() += 1;
            }
        }
    }

    fn cases(&self) -> usize {
        self.generated + self.errors.values().sum::<usize>()
    }
}

fn check_case(request: &CodeGeneratorRequest, seed: u64, repeat: bool) -> Result<Outcome, String> {
    let response = generate(request)?;
    let outcome = check_response(request, &response)?;
    if repeat {
        let again = generate(request)?;
        if again != response {
            return Err(format!(
                "two runs over the same request differ: {}",
                difference(&response, &again)
            ));
        }
        let shuffled = shuffled(request, seed);
        let reordered = generate(&shuffled)?;
        if reordered != response {
            return Err(format!(
                "listing the files in another order ({:?}, to generate {:?}) changed the response: {}",
                shuffled
                    .proto_file
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>(),
                shuffled.file_to_generate,
                difference(&response, &reordered)
            ));
        }
    }
    Ok(outcome)
}

/// Where two responses first differ.
fn difference(a: &CodeGeneratorResponse, b: &CodeGeneratorResponse) -> String {
    if a.error != b.error {
        return format!("error {:?} then {:?}", a.error, b.error);
    }
    let names = |r: &CodeGeneratorResponse| {
        r.file
            .iter()
            .map(|f| f.name().to_owned())
            .collect::<Vec<_>>()
    };
    if names(a) != names(b) {
        return format!("files {:?} then {:?}", names(a), names(b));
    }
    for (x, y) in a.file.iter().zip(&b.file) {
        let lines = x.content().lines().zip(y.content().lines()).enumerate();
        if let Some((number, (p, q))) = lines.into_iter().find(|(_, (p, q))| p != q) {
            return format!("{} line {}: {p:?} then {q:?}", x.name(), number + 1);
        }
        if x != y {
            return format!("{} differs", x.name());
        }
    }
    "other fields differ".to_owned()
}

/// The response; or the panic message if the plugin panicked, or a failure if it did
/// not answer within [`process::LIMIT`] (it runs on a thread of its own, left behind then).
fn generate(request: &CodeGeneratorRequest) -> Result<CodeGeneratorResponse, String> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let request = request.clone();
    std::thread::spawn(move || {
        let response = catch_unwind(AssertUnwindSafe(|| protoc_gen_rgrpc::generate(&request)));
        let _ = sender.send(response.map_err(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            format!("the plugin panicked: {message}")
        }));
    });
    match receiver.recv_timeout(process::LIMIT) {
        Ok(response) => response,
        Err(_) => Err(format!(
            "the plugin gave no answer within {:?}",
            process::LIMIT
        )),
    }
}

/// The request with `file_to_generate` and `proto_file` in another order.
fn shuffled(request: &CodeGeneratorRequest, seed: u64) -> CodeGeneratorRequest {
    let mut rng = fastrand::Rng::with_seed(!seed);
    let mut shuffled = request.clone();
    rng.shuffle(&mut shuffled.file_to_generate);
    rng.shuffle(&mut shuffled.proto_file);
    shuffled
}

fn check_response(
    request: &CodeGeneratorRequest,
    response: &CodeGeneratorResponse,
) -> Result<Outcome, String> {
    if let Some(error) = &response.error {
        if !response.file.is_empty() {
            return Err(format!(
                "an error and {} files in one response; error: {error}",
                response.file.len()
            ));
        }
        if error.trim().is_empty() {
            return Err("an empty error".to_owned());
        }
        for line in error.lines() {
            if line.trim().is_empty() || UNCLEAR.iter().any(|word| line.contains(word)) {
                return Err(format!("an unclear error: {error}"));
            }
        }
        return Ok(Outcome::Refused {
            kind: error_kind(error),
            example: error.lines().next().unwrap_or_default().to_owned(),
        });
    }

    let mut names = BTreeSet::new();
    for file in &response.file {
        let name = file.name();
        if !names.insert(name) {
            return Err(format!("two files named {name:?}"));
        }
        if !name.ends_with(".rs") {
            return Err(format!("a file named {name:?}"));
        }
        if let Some(c) = file.content().chars().find(|c| is_text_direction(*c)) {
            return Err(format!(
                "{name} holds the text-direction code point {c:?}, which rustc refuses"
            ));
        }
        if let Err(err) = syn::parse_file(file.content()) {
            return Err(format!(
                "{name} does not parse as Rust: {err}\n{}",
                file.content()
            ));
        }
    }
    check_services_are_routed(request, response)?;
    Ok(Outcome::Generated {
        files: response.file.len(),
    })
}

/// The code points of rustc's deny-by-default `text_direction_codepoint_in_comment`.
fn is_text_direction(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Every rpc of every generated file appears, by its route, in its package's file.
fn check_services_are_routed(
    request: &CodeGeneratorRequest,
    response: &CodeGeneratorResponse,
) -> Result<(), String> {
    let parameter = request.parameter();
    let off = |key: &str| {
        parameter
            .split(',')
            .any(|item| item == format!("{key}=false"))
    };
    if off("client") && off("server") && off("blocking") {
        return Ok(());
    }
    for file in &request.proto_file {
        if !request.file_to_generate.iter().any(|f| f == file.name()) {
            continue;
        }
        // layout=file: `dir/x.proto` → `dir/x.rs`; else one file per package.
        let output_name = if parameter.split(',').any(|item| item == "layout=file") {
            format!("{}.rs", file.name().trim_end_matches(".proto"))
        } else {
            prost_build::Module::from_protobuf_package_name(file.package()).to_file_name_or("_")
        };
        for service in &file.service {
            let full_name = match file.package() {
                "" => service.name().to_owned(),
                package => format!("{package}.{}", service.name()),
            };
            let Some(output) = response.file.iter().find(|f| f.name() == output_name) else {
                return Err(format!(
                    "no {output_name} for service {full_name} of {}",
                    file.name()
                ));
            };
            for method in &service.method {
                let route = format!("\"/{full_name}/{}\"", method.name());
                if !output.content().contains(&route) {
                    return Err(format!("{output_name} lacks the route {route}"));
                }
            }
        }
    }
    Ok(())
}

/// The gist of the first error line, to count refusals by kind: its last clause, with
/// quoted names and file names elided.
fn error_kind(error: &str) -> String {
    let first = error.lines().next().unwrap_or_default();
    let mut kind = String::new();
    let mut in_quotes = false;
    for c in first.chars() {
        match c {
            '"' | '`' => {
                in_quotes = !in_quotes;
                if in_quotes {
                    kind.push('…');
                }
            }
            _ if in_quotes => {}
            c => kind.push(c),
        }
    }
    let kind = match kind.rsplit_once(": ") {
        Some((_, last)) => last,
        None => &kind,
    };
    let words: Vec<&str> = kind
        .split(' ')
        .map(|word| {
            if word.contains(".proto") {
                "…"
            } else if word.ends_with("()") {
                "…()"
            } else {
                word
            }
        })
        .collect();
    words.join(" ")
}

/// What to print when a case fails: the seed to replay it and the request to inspect it.
fn report(seed: u64, request: &CodeGeneratorRequest, failure: &str) -> String {
    let saved = std::env::temp_dir().join(format!("rgrpc-fuzz-{seed:#x}.binpb"));
    let saved = match std::fs::write(&saved, request.encode_to_vec()) {
        Ok(()) => format!(
            "the request is in {} (feed it to protoc-gen-rgrpc on stdin)",
            saved.display()
        ),
        Err(err) => format!("could not save the request: {err}"),
    };
    let files: Vec<String> = request
        .proto_file
        .iter()
        .map(|f| {
            format!(
                "{} (package {:?}, imports {:?})",
                f.name(),
                f.package(),
                f.dependency
            )
        })
        .collect();
    format!(
        "case with seed {seed:#x} failed: {failure}\n\
         replay: RGRPC_FUZZ_SEED={seed:#x} RGRPC_FUZZ_CASES=1 cargo test -p protoc-gen-rgrpc --test fuzz\n\
         {saved}\nparameter: {:?}\nfiles: {files:#?}\nto generate: {:?}",
        request.parameter(),
        request.file_to_generate,
    )
}

/// A number from the environment, decimal or `0x` hexadecimal; unset is `None`, and
/// anything unparsable fails the test rather than being ignored.
fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    Some(parsed.unwrap_or_else(|err| panic!("{name}={value:?}: {err}")))
}
