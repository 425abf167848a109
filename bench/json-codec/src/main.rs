//! Transcoding speed of Connect's JSON codec, the two ways considered: a request (JSON in,
//! protobuf out) and a response (protobuf in, JSON out), for a small and a large message.
//!
//! usage: rgrpc-json-codec-bench time               ns per message, median of 7 runs
//!        rgrpc-json-codec-bench count CODEC CASE N  N transcodings of one kind, for callgrind
//!        rgrpc-json-codec-bench show                the JSON of an Any and a FieldMask
//!        rgrpc-json-codec-bench pool SET.pb         building a descriptor pool from SET.pb
//!
//! CODEC: reflect | pbjson; CASE: small-request | small-response | large-request |
//! large-response.

use std::hint::black_box;
use std::time::Instant;

use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions,
};

#[allow(clippy::all, dead_code)]
mod jsonlab {
    include!(concat!(env!("OUT_DIR"), "/jsonlab.rs"));
    include!(concat!(env!("OUT_DIR"), "/jsonlab.serde.rs"));
}

use jsonlab::{Everything, Payload};

const SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/jsonlab.bin"));

/// The small message: a greeting's size.
fn small() -> Payload {
    Payload {
        body: "hello, world".into(),
        count: 3,
    }
}

/// The large message: every field kind and well-known type but `Any` and `FieldMask`
/// (pbjson-types writes them as `{"typeUrl", "value"}` and `{"paths"}`, not in their
/// canonical JSON forms, so the two codecs cannot be compared on them; `show` prints both),
/// with 100 nested messages and 100 map entries.
fn large() -> Everything {
    let json = r#"{
        "text": "héllo \"quoted\"", "big": "-9007199254740993",
        "unsignedBig": "18446744073709551615", "ratio": 0.25, "flag": true, "blob": "AAH/",
        "mood": "MOOD_GRUMPY", "payload": {"body": "inner", "count": 7}, "number": 0,
        "at": "2024-05-06T07:08:09.120Z", "took": "1.500s",
        "attributes": {"k": "v", "n": 1.5, "nested": {"list": [true, null, "x"]}},
        "value": "a string value", "list": [2.5, "two", false, null],
        "nothing": {}, "doubleValue": 2.5,
        "floatValue": 0.5, "int64Value": "-42", "uint64Value": "42", "int32Value": -7,
        "uint32Value": 7, "boolValue": false, "stringValue": "", "bytesValue": "aGk="
    }"#;
    let mut message: Everything = serde_json::from_str(json).expect("the large message");
    message.payloads = (0..100)
        .map(|n| Payload {
            body: format!("payload number {n}"),
            count: n,
        })
        .collect();
    message.counts = (0..100).map(|n| (format!("key-{n}"), n)).collect();
    message
}

/// One way of transcoding: a request's JSON to protobuf, a response's protobuf to JSON.
trait Codec {
    fn request(&self, json: &[u8]) -> Vec<u8>;
    fn response(&self, proto: &[u8]) -> Vec<u8>;
}

/// prost-reflect through the descriptors, exactly as the runtime does it
/// (runtime/src/server/protocol/json.rs).
struct Reflect(MessageDescriptor);

impl Codec for Reflect {
    fn request(&self, json: &[u8]) -> Vec<u8> {
        let mut input = serde_json::Deserializer::from_slice(json);
        let mut track = serde_path_to_error::Track::new();
        let message = DynamicMessage::deserialize_with_options(
            self.0.clone(),
            serde_path_to_error::Deserializer::new(&mut input, &mut track),
            &DeserializeOptions::new().deny_unknown_fields(false),
        )
        .expect("valid JSON");
        input.end().expect("nothing after it");
        message.encode_to_vec()
    }

    fn response(&self, proto: &[u8]) -> Vec<u8> {
        let message = DynamicMessage::decode(self.0.clone(), proto).expect("valid protobuf");
        let mut json = Vec::with_capacity(proto.len() * 2);
        message
            .serialize_with_options(
                &mut serde_json::Serializer::new(&mut json),
                &SerializeOptions::new(),
            )
            .expect("serializable");
        json
    }
}

/// pbjson's generated serde impls on the prost structs (with the field-path tracking the
/// runtime would keep).
struct Pbjson<M>(std::marker::PhantomData<M>);

impl<M> Codec for Pbjson<M>
where
    M: prost::Message + Default + serde::Serialize + for<'de> serde::Deserialize<'de>,
{
    fn request(&self, json: &[u8]) -> Vec<u8> {
        let mut input = serde_json::Deserializer::from_slice(json);
        let message: M = serde_path_to_error::deserialize(&mut input).expect("valid JSON");
        input.end().expect("nothing after it");
        message.encode_to_vec()
    }

    fn response(&self, proto: &[u8]) -> Vec<u8> {
        let message = M::decode(proto).expect("valid protobuf");
        let mut json = Vec::with_capacity(proto.len() * 2);
        serde_json::to_writer(&mut json, &message).expect("serializable");
        json
    }
}

struct Case {
    name: &'static str,
    codec: Box<dyn Codec>,
    json: Vec<u8>,
    proto: Vec<u8>,
}

fn cases() -> Vec<Case> {
    let pool = DescriptorPool::decode(SET).expect("the descriptor set");
    let descriptor = |name: &str| pool.get_message_by_name(name).expect("declared");
    let (small, large) = (small().encode_to_vec(), large().encode_to_vec());
    // The JSON in its canonical form, as a Connect client sends it.
    let json = |proto: &[u8], name: &str| Reflect(descriptor(name)).response(proto);
    let inputs = [
        (
            "small",
            json(&small, "jsonlab.Payload"),
            small,
            "jsonlab.Payload",
        ),
        (
            "large",
            json(&large, "jsonlab.Everything"),
            large,
            "jsonlab.Everything",
        ),
    ];
    let mut cases = Vec::new();
    for (size, json, proto, name) in inputs {
        let pbjson: Box<dyn Codec> = if size == "small" {
            Box::new(Pbjson::<Payload>(Default::default()))
        } else {
            Box::new(Pbjson::<Everything>(Default::default()))
        };
        for (codec_name, codec) in [
            (
                "reflect",
                Box::new(Reflect(descriptor(name))) as Box<dyn Codec>,
            ),
            ("pbjson", pbjson),
        ] {
            cases.push(Case {
                name: Box::leak(format!("{codec_name} {size}").into_boxed_str()),
                codec,
                json: json.clone(),
                proto: proto.clone(),
            });
        }
    }
    cases
}

/// Both codecs must agree on the messages, or the comparison means nothing: what each
/// makes of the JSON decodes to the same message, and what each writes reads back as it.
/// (Their JSON text may differ: pbjson writes timestamps with `+00:00` where the canonical
/// form, prost-reflect's, has `Z`.)
fn check(cases: &[Case]) {
    let pool = DescriptorPool::decode(SET).expect("the descriptor set");
    for case in cases {
        let name = if case.name.ends_with("small") {
            "jsonlab.Payload"
        } else {
            "jsonlab.Everything"
        };
        let canonical = Reflect(pool.get_message_by_name(name).expect("declared"));
        // A message, as the canonical JSON value (map order and float forms aside).
        let normal = |proto: &[u8]| -> serde_json::Value {
            serde_json::from_slice(&canonical.response(proto)).expect("JSON")
        };
        let expected = normal(&case.proto);
        assert!(
            normal(&case.codec.request(&case.json)) == expected,
            "{}: request",
            case.name
        );
        let written = case.codec.response(&case.proto);
        assert!(
            normal(&canonical.request(&written)) == expected,
            "{}: response",
            case.name
        );
    }
}

fn time(cases: &[Case]) {
    println!("| case | request: JSON → protobuf | response: protobuf → JSON | JSON bytes |");
    println!("|---|---:|---:|---:|");
    for case in cases {
        let request = median_ns(|| drop(black_box(case.codec.request(black_box(&case.json)))));
        let response = median_ns(|| drop(black_box(case.codec.response(black_box(&case.proto)))));
        println!(
            "| {} | {request:.0} ns | {response:.0} ns | {} |",
            case.name,
            case.json.len()
        );
    }
}

/// The median over 7 runs of ns per call, each run about 0.3 s.
fn median_ns(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut calibrate = 0u64;
    while start.elapsed().as_millis() < 50 {
        f();
        calibrate += 1;
    }
    let per_run = calibrate * 6;
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_run {
                f();
            }
            start.elapsed().as_nanos() as f64 / per_run as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[3]
}

/// The JSON each codec writes for a message with an `Any` and a `FieldMask`.
fn show() {
    let message = Everything {
        detail: Some(pbjson_types::Any {
            type_url: "type.googleapis.com/jsonlab.Payload".into(),
            value: small().encode_to_vec().into(),
        }),
        mask: Some(pbjson_types::FieldMask {
            paths: vec!["payload.body".into(), "unsigned_big".into()],
        }),
        ..Default::default()
    };
    let pool = DescriptorPool::decode(SET).expect("the descriptor set");
    let reflect = Reflect(
        pool.get_message_by_name("jsonlab.Everything")
            .expect("declared"),
    );
    let proto = message.encode_to_vec();
    println!(
        "prost-reflect: {}",
        String::from_utf8_lossy(&reflect.response(&proto))
    );
    println!(
        "pbjson:        {}",
        serde_json::to_string(&message).unwrap()
    );
}

/// What the first JSON request to a server pays once: a pool built from its descriptors
/// (here a whole descriptor set, such as pbjson-corpus's `corpus.pb`), median of 7.
fn pool(set: &str) {
    let bytes = std::fs::read(set).expect("a descriptor set");
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            let pool = DescriptorPool::decode(bytes.as_slice()).expect("a valid set");
            black_box(pool);
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    let pool = DescriptorPool::decode(bytes.as_slice()).expect("a valid set");
    println!(
        "a pool of {} files, {} services, {} messages ({} bytes of descriptors): {:.1} ms",
        pool.files().len(),
        pool.services().len(),
        pool.all_messages().len(),
        bytes.len(),
        runs[3]
    );
}

fn main() {
    let cases = cases();
    check(&cases);
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["time"] | [] => time(&cases),
        ["show"] => show(),
        ["pool", set] => pool(set),
        ["count", codec, case, n] => {
            let (size, kind) = case.split_once('-').expect("CASE is SIZE-KIND");
            let case = cases
                .iter()
                .find(|c| c.name == format!("{codec} {size}"))
                .expect("a known codec and size");
            let n: u64 = n.parse().expect("N is a count");
            for _ in 0..n {
                match kind {
                    "request" => drop(black_box(case.codec.request(black_box(&case.json)))),
                    _ => drop(black_box(case.codec.response(black_box(&case.proto)))),
                }
            }
        }
        _ => eprintln!("usage: rgrpc-json-codec-bench [time | count CODEC CASE N]"),
    }
}
