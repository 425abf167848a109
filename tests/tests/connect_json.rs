//! Connect's JSON codec and GET on rgrpc's server, read byte by byte with a plain HTTP/1.1
//! client: the same generated handlers answer canonical proto3 JSON (every well-known type
//! included) in unary calls and streams, compressed or not, within the size limits; bad
//! JSON is INVALID_ARGUMENT naming the field; GET serves methods without side effects only;
//! a service without descriptors says why it cannot speak JSON. After every refusal the
//! server still serves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prost::Message as _;
use rgrpc::server::Undescribed;
use rgrpc::{Context, RequestStream, ResponseSink, Status};
use rgrpc_tests::hello::hello_service_server::HelloServiceServer;
use serde_json::{Value, json};
use support::http1::{Http1, envelope, frames, gunzip, gzip, post, request};
use support::{Running, greeting};

mod jsonlab {
    // The clients go unused: these tests speak HTTP/1.1 by hand.
    #![allow(dead_code)]
    rgrpc::include_proto!("jsonlab");
}

use jsonlab::lab_server::{Lab, LabServer};
use jsonlab::{Everything, Mood, Payload};

const ECHO: &str = "/jsonlab.Lab/Echo";
const LOOKUP: &str = "/jsonlab.Lab/Lookup";
const STORE: &str = "/jsonlab.Lab/Store";
const REPEAT: &str = "/jsonlab.Lab/Repeat";
const COLLECT: &str = "/jsonlab.Lab/Collect";
const SAY_HELLO: &str = "/hello.HelloService/SayHello";

const JSON: (&str, &str) = ("content-type", "application/json");
const JSON_STREAM: (&str, &str) = ("content-type", "application/connect+json");
const PROTO: (&str, &str) = ("content-type", "application/proto");

/// The lab: echoes what it decoded (and keeps it for the test to see), looks up, stores,
/// repeats and collects.
#[derive(Clone, Default)]
struct TheLab {
    echoed: Arc<Mutex<Vec<Everything>>>,
}

impl Lab for TheLab {
    async fn echo(&self, _ctx: Context, request: Everything) -> Result<Everything, Status> {
        self.echoed.lock().unwrap().push(request.clone());
        Ok(request)
    }

    async fn lookup(&self, _ctx: Context, request: Payload) -> Result<Payload, Status> {
        Ok(Payload {
            body: format!("found {}", request.body),
            count: request.count,
        })
    }

    async fn store(&self, _ctx: Context, request: Payload) -> Result<Payload, Status> {
        Ok(request)
    }

    async fn repeat(
        &self,
        ctx: Context,
        request: Payload,
        responses: ResponseSink<Payload>,
    ) -> Result<(), Status> {
        for n in 1..=request.count {
            responses
                .send(Payload {
                    body: format!("{} {n}", request.body),
                    count: n,
                })
                .await?;
        }
        if request.body == "fail" {
            let mut trailers = rgrpc::metadata::MetadataMap::new();
            trailers.insert("x-why", "asked to".parse().unwrap());
            ctx.set_trailers(trailers);
            return Err(Status::aborted("stopped as asked"));
        }
        Ok(())
    }

    async fn collect(
        &self,
        _ctx: Context,
        mut requests: RequestStream<Payload>,
    ) -> Result<Payload, Status> {
        let mut bodies = Vec::new();
        while let Some(payload) = requests.message().await? {
            bodies.push(payload.body);
        }
        Ok(Payload {
            count: i32::try_from(bodies.len()).unwrap(),
            body: bodies.join(","),
        })
    }
}

/// The lab and the greeter, as a server with `settings` serves them.
async fn serve_with(lab: TheLab, settings: impl FnOnce(rgrpc::Server) -> rgrpc::Server) -> Running {
    let router = settings(rgrpc::Server::builder())
        .add_service(LabServer::new(lab))
        .add_service(HelloServiceServer::new(support::greeter::Greeter));
    Running::serve(router).await
}

async fn serve() -> Running {
    serve_with(TheLab::default(), |server| server).await
}

fn parse(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|err| panic!("{err}: {:?}", String::from_utf8_lossy(body)))
}

/// Asserts a Connect unary error: HTTP status, JSON content-type, code and message.
#[track_caller]
fn assert_error(answer: &Http1, http: u16, code: &str, message: &str) {
    assert_eq!(answer.status, http, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(
        parse(&answer.body),
        json!({"code": code, "message": message}),
        "{answer:?}"
    );
}

/// A good JSON call, to show the server still serves after a refusal.
async fn assert_still_serving(server: &Running) {
    let answer = post(server, LOOKUP, &[JSON], &[br#"{"body":"ok"}"#]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(parse(&answer.body), json!({"body": "found ok"}));
}

/// `bytes` percent-encoded for a query: everything but the unreserved characters.
fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Unary JSON.

#[tokio::test]
async fn unary_json_is_served_by_the_same_handler_in_canonical_json() {
    let server = serve().await;
    let answer = post(&server, SAY_HELLO, &[JSON], &[br#"{"greeting": "json"}"#]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(parse(&answer.body), json!({"reply": "Hello, json!"}));

    // Default values are left out; an empty answer is an empty object.
    let answer = post(&server, LOOKUP, &[JSON], &[br#"{"count": 0}"#]).await;
    assert_eq!(parse(&answer.body), json!({"body": "found "}));

    // Sent in chunks with no content-length: read whole, then served.
    let answer = post(
        &server,
        LOOKUP,
        &[JSON],
        &[br#"{"bo"#, br#"dy": "chunked"}"#],
    )
    .await;
    assert_eq!(parse(&answer.body), json!({"body": "found chunked"}));

    // A charset parameter is still JSON.
    let answer = post(
        &server,
        LOOKUP,
        &[("content-type", "application/json; charset=utf-8")],
        &[br#"{"body": "utf-8"}"#],
    )
    .await;
    assert_eq!(parse(&answer.body), json!({"body": "found utf-8"}));
}

/// Every well-known type and every scalar whose JSON form is not the obvious one, in their
/// canonical forms: what the handler decoded is checked field by field, and the answer
/// (the same message, encoded again) must be exactly the canonical JSON that was sent.
#[tokio::test]
async fn every_well_known_type_round_trips_through_json() {
    let lab = TheLab::default();
    let server = serve_with(lab.clone(), |server| server).await;
    let canonical = json!({
        "text": "héllo \"quoted\"",
        "big": "-9007199254740993",
        "unsignedBig": "18446744073709551615",
        "ratio": 0.25,
        "flag": true,
        "blob": "AAH/",
        "mood": "MOOD_GRUMPY",
        "payload": {"body": "inner", "count": 7},
        "payloads": [{"body": "a"}, {"count": 2}],
        "counts": {"x": 1, "y": -2},
        "number": 0,
        "at": "2024-05-06T07:08:09.120Z",
        "took": "1.500s",
        "detail": {"@type": "type.googleapis.com/jsonlab.Payload", "body": "in any", "count": 3},
        "attributes": {"k": "v", "n": 1.5, "nested": {"list": [true, null, "x"]}},
        "value": "a string value",
        "list": [2.5, "two", false, null, {"deep": []}],
        "mask": "payload.body,unsignedBig",
        "nothing": {},
        "doubleValue": 2.5,
        "floatValue": 0.5,
        "int64Value": "-42",
        "uint64Value": "42",
        "int32Value": -7,
        "uint32Value": 7,
        "boolValue": false,
        "stringValue": "",
        "bytesValue": "aGk="
    });
    let answer = post(&server, ECHO, &[JSON], &[canonical.to_string().as_bytes()]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(parse(&answer.body), canonical);

    let decoded = lab.echoed.lock().unwrap().pop().unwrap();
    assert_eq!(decoded, expected_everything());
}

/// What the handler must decode from the canonical JSON above.
fn expected_everything() -> Everything {
    use rgrpc::prost_types::value::Kind;
    let value = |kind| rgrpc::prost_types::Value { kind: Some(kind) };
    let string = |s: &str| value(Kind::StringValue(s.into()));
    Everything {
        text: "héllo \"quoted\"".into(),
        big: -9_007_199_254_740_993,
        unsigned_big: u64::MAX,
        ratio: 0.25,
        flag: true,
        blob: vec![0x00, 0x01, 0xff],
        mood: Mood::Grumpy.into(),
        payload: Some(Payload {
            body: "inner".into(),
            count: 7,
        }),
        payloads: vec![
            Payload {
                body: "a".into(),
                count: 0,
            },
            Payload {
                body: String::new(),
                count: 2,
            },
        ],
        counts: [("x".to_owned(), 1), ("y".to_owned(), -2)].into(),
        choice: Some(jsonlab::everything::Choice::Number(0)),
        at: Some(rgrpc::prost_types::Timestamp {
            seconds: 1_714_979_289,
            nanos: 120_000_000,
        }),
        took: Some(rgrpc::prost_types::Duration {
            seconds: 1,
            nanos: 500_000_000,
        }),
        detail: Some(rgrpc::prost_types::Any {
            type_url: "type.googleapis.com/jsonlab.Payload".into(),
            value: Payload {
                body: "in any".into(),
                count: 3,
            }
            .encode_to_vec(),
        }),
        attributes: Some(rgrpc::prost_types::Struct {
            fields: BTreeMap::from([
                ("k".to_owned(), string("v")),
                ("n".to_owned(), value(Kind::NumberValue(1.5))),
                (
                    "nested".to_owned(),
                    value(Kind::StructValue(rgrpc::prost_types::Struct {
                        fields: BTreeMap::from([(
                            "list".to_owned(),
                            value(Kind::ListValue(rgrpc::prost_types::ListValue {
                                values: vec![
                                    value(Kind::BoolValue(true)),
                                    value(Kind::NullValue(0)),
                                    string("x"),
                                ],
                            })),
                        )]),
                    })),
                ),
            ]),
        }),
        value: Some(string("a string value")),
        list: Some(rgrpc::prost_types::ListValue {
            values: vec![
                value(Kind::NumberValue(2.5)),
                string("two"),
                value(Kind::BoolValue(false)),
                value(Kind::NullValue(0)),
                value(Kind::StructValue(rgrpc::prost_types::Struct {
                    fields: BTreeMap::from([(
                        "deep".to_owned(),
                        value(Kind::ListValue(rgrpc::prost_types::ListValue::default())),
                    )]),
                })),
            ],
        }),
        mask: Some(rgrpc::prost_types::FieldMask {
            paths: vec!["payload.body".into(), "unsigned_big".into()],
        }),
        nothing: Some(()),
        double_value: Some(2.5),
        float_value: Some(0.5),
        int64_value: Some(-42),
        uint64_value: Some(42),
        int32_value: Some(-7),
        uint32_value: Some(7),
        bool_value: Some(false),
        string_value: Some(String::new()),
        bytes_value: Some(b"hi".to_vec()),
    }
}

/// What the JSON mapping accepts besides the canonical form: proto field names, numbers
/// for 64-bit integers and enums, URL-safe base64, `null` for a default; and fields this
/// schema does not know are ignored (Connect's JSON codec does so, so that a newer client
/// can call an older server).
#[tokio::test]
async fn json_input_may_take_the_other_accepted_forms_and_unknown_fields_are_ignored() {
    let server = serve().await;
    let answer = post(
        &server,
        ECHO,
        &[JSON],
        &[br#"{
            "unsigned_big": 5, "big": -3, "mood": 1, "blob": "-_8", "text": null,
            "newerField": {"anything": [1, 2]}, "payload": {"body": "b", "extra": true},
            "int64Value": 9
        }"#],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        parse(&answer.body),
        json!({
            "big": "-3",
            "unsignedBig": "5",
            "mood": "MOOD_HAPPY",
            "blob": "+/8=",
            "payload": {"body": "b"},
            "int64Value": "9"
        })
    );
    // An enum name this schema does not know is ignored too, as protojson's DiscardUnknown
    // (connect-go's JSON codec) ignores it.
    let answer = post(
        &server,
        ECHO,
        &[JSON],
        &[br#"{"mood": "MOOD_SLEEPY", "text": "t"}"#],
    )
    .await;
    assert_eq!(parse(&answer.body), json!({"text": "t"}));
}

#[tokio::test]
async fn malformed_json_and_type_mismatches_are_invalid_argument_naming_the_field() {
    let server = serve().await;
    let cases: [(&[u8], &str); 7] = [
        (
            br#"{"payload": {"body": 5}}"#,
            "the request is not a jsonlab.Everything in JSON at payload.body: invalid type: \
             integer `5`, expected a string at line 1 column 22",
        ),
        (
            br#"{"payloads": [{}, {"count": "many"}]}"#,
            "the request is not a jsonlab.Everything in JSON at payloads[1].count: invalid \
             digit found in string at line 1 column 34",
        ),
        (
            br#"{"took": "5 minutes"}"#,
            "the request is not a jsonlab.Everything in JSON at took: failed to parse duration \
             at line 1 column 20",
        ),
        (
            br#"{"at": "yesterday"}"#,
            "the request is not a jsonlab.Everything in JSON at at: invalid rfc3339 \
             timestamp: invalid date at line 1 column 18",
        ),
        (
            br#"{"text": "unterminated}"#,
            "the request is not a jsonlab.Everything in JSON at text: EOF while parsing a \
             string at line 1 column 23",
        ),
        (
            br#"{"text": "a"} trailing"#,
            "the request is not a jsonlab.Everything in JSON: trailing characters at line 1 \
             column 15",
        ),
        (
            b"",
            "the request is not a jsonlab.Everything in JSON: EOF while parsing a value at \
             line 1 column 0",
        ),
    ];
    let mut answers = Vec::new();
    for (body, _) in cases {
        let answer = post(&server, ECHO, &[JSON], &[body]).await;
        assert_eq!(answer.status, 400, "{answer:?}");
        answers.push(parse(&answer.body));
    }
    let expected: Vec<Value> = cases
        .iter()
        .map(|(_, message)| json!({"code": "invalid_argument", "message": message}))
        .collect();
    assert_eq!(answers, expected);
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn errors_on_json_routes_are_connect_json_errors_with_trailers_as_headers() {
    let server = serve().await;
    let answer = post(&server, SAY_HELLO, &[JSON], &[br#"{"greeting": "fail"}"#]).await;
    assert_error(&answer, 400, "failed_precondition", "failing as asked");
    assert_eq!(answer.header("x-why"), Some("asked to"), "{answer:?}");

    let answer = post(&server, "/jsonlab.Lab/Nope", &[JSON], &[b"{}"]).await;
    assert_error(
        &answer,
        501,
        "unimplemented",
        "unknown method /jsonlab.Lab/Nope",
    );

    let answer = post(
        &server,
        SAY_HELLO,
        &[JSON, ("connect-timeout-ms", "50")],
        &[br#"{"greeting": "sleep"}"#],
    )
    .await;
    assert_eq!(answer.status, 504, "{answer:?}");
    assert_eq!(parse(&answer.body)["code"], "deadline_exceeded");
}

// ---------------------------------------------------------------------------------------
// Streams in JSON.

#[tokio::test]
async fn json_streams_are_json_envelopes_each_way_ending_with_the_end_of_stream_message() {
    let server = serve().await;
    let request = envelope(0, br#"{"body": "hi", "count": 2}"#);
    let answer = post(&server, REPEAT, &[JSON_STREAM], &[&request]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/connect+json")
    );
    let received = frames(&answer.body);
    let messages: Vec<(u8, Value)> = received
        .iter()
        .map(|(flag, payload)| (*flag, parse(payload)))
        .collect();
    assert_eq!(
        messages,
        [
            (0, json!({"body": "hi 1", "count": 1})),
            (0, json!({"body": "hi 2", "count": 2})),
            (2, json!({})),
        ]
    );

    // A failure after messages: the error and trailers in the end-of-stream message.
    let request = envelope(0, br#"{"body": "fail", "count": 1}"#);
    let answer = post(&server, REPEAT, &[JSON_STREAM], &[&request]).await;
    let received = frames(&answer.body);
    assert_eq!(parse(&received[0].1), json!({"body": "fail 1", "count": 1}));
    assert_eq!(
        parse(&received[1].1),
        json!({
            "error": {"code": "aborted", "message": "stopped as asked"},
            "metadata": {"x-why": ["asked to"]}
        })
    );

    // Client streaming: envelopes split across chunks and sharing them.
    let mut body = envelope(0, br#"{"body": "a"}"#);
    body.extend(envelope(0, br#"{"body": "b"}"#));
    body.extend(envelope(0, br#"{"body": "c"}"#));
    let (one, rest) = body.split_at(3);
    let (two, three) = rest.split_at(20);
    let answer = post(&server, COLLECT, &[JSON_STREAM], &[one, two, three]).await;
    let received = frames(&answer.body);
    assert_eq!(parse(&received[0].1), json!({"body": "a,b,c", "count": 3}));
    assert_eq!((received[1].0, parse(&received[1].1)), (2, json!({})));

    // Bad JSON in the second message: the end-of-stream error names the field.
    let mut body = envelope(0, br#"{"body": "a"}"#);
    body.extend(envelope(0, br#"{"count": true}"#));
    let answer = post(&server, COLLECT, &[JSON_STREAM], &[&body]).await;
    let received = frames(&answer.body);
    assert_eq!(received.len(), 1, "{answer:?}");
    assert_eq!(
        parse(&received[0].1),
        json!({"error": {
            "code": "invalid_argument",
            "message": "the request is not a jsonlab.Payload in JSON at count: invalid type: \
                        boolean `true`, expected a 32-bit signed integer at line 1 column 14"
        }})
    );
    assert_still_serving(&server).await;
}

// ---------------------------------------------------------------------------------------
// Compression.

#[tokio::test]
async fn json_is_compressed_as_proto_is_both_ways() {
    let server = serve_with(TheLab::default(), |server| {
        server.response_compression(
            rgrpc::server::ResponseCompression::new().all(Some(rgrpc::Compression::Gzip)),
        )
    })
    .await;

    // Unary: the body gzipped whole, the JSON answer gzipped for a client accepting it.
    let answer = post(
        &server,
        LOOKUP,
        &[
            JSON,
            ("content-encoding", "gzip"),
            ("accept-encoding", "gzip"),
        ],
        &[&gzip(br#"{"body": "zipped"}"#)],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("content-encoding"), Some("gzip"));
    assert_eq!(
        parse(&gunzip(&answer.body)),
        json!({"body": "found zipped"})
    );

    // Not accepted: plain.
    let answer = post(&server, LOOKUP, &[JSON], &[br#"{"body": "plain"}"#]).await;
    assert_eq!(answer.header("content-encoding"), None, "{answer:?}");
    assert_eq!(parse(&answer.body), json!({"body": "found plain"}));

    // Streams: each envelope flagged compressed, the encoding named once.
    let request = envelope(1, &gzip(br#"{"body": "z", "count": 2}"#));
    let answer = post(
        &server,
        REPEAT,
        &[
            JSON_STREAM,
            ("connect-content-encoding", "gzip"),
            ("connect-accept-encoding", "gzip"),
        ],
        &[&request],
    )
    .await;
    assert_eq!(answer.header("connect-content-encoding"), Some("gzip"));
    let received = frames(&answer.body);
    assert_eq!(received[0].0, 1, "compressed: {received:?}");
    assert_eq!(
        parse(&gunzip(&received[0].1)),
        json!({"body": "z 1", "count": 1})
    );
    assert_eq!(received.last().unwrap().0, 2);

    // An encoding rgrpc does not speak: UNIMPLEMENTED, as Connect asks.
    let answer = post(
        &server,
        LOOKUP,
        &[JSON, ("content-encoding", "br")],
        &[b"{}"],
    )
    .await;
    assert_error(
        &answer,
        501,
        "unimplemented",
        "the \"br\" encoding is not supported (gzip, zstd, identity)",
    );
    // A body that is not gzip at all.
    let answer = post(
        &server,
        LOOKUP,
        &[JSON, ("content-encoding", "gzip")],
        &[b"{\"body\": \"not zipped\"}"],
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(parse(&answer.body)["code"], "invalid_argument");
    assert_still_serving(&server).await;
}

// ---------------------------------------------------------------------------------------
// Size limits.

#[tokio::test]
async fn the_request_size_limit_bounds_json_bodies_and_envelopes_too() {
    let server = serve_with(TheLab::default(), |server| {
        server.max_request_message_size(1024)
    })
    .await;
    let big = format!(r#"{{"body": "{}"}}"#, "x".repeat(2000));

    // Unary, with content-length: refused before it is read.
    let answer = post(&server, LOOKUP, &[JSON], &[big.as_bytes()]).await;
    assert_error(
        &answer,
        429,
        "resource_exhausted",
        "the JSON request exceeds the server's max_request_message_size of 1024 bytes",
    );
    // Unary, chunked: refused once past the limit.
    let (a, b) = big.as_bytes().split_at(1000);
    let answer = post(&server, LOOKUP, &[JSON], &[a, b]).await;
    assert_error(
        &answer,
        429,
        "resource_exhausted",
        "the JSON request exceeds the server's max_request_message_size of 1024 bytes",
    );
    // Gzipped small, inflating past the limit.
    let answer = post(
        &server,
        LOOKUP,
        &[JSON, ("content-encoding", "gzip")],
        &[&gzip(big.as_bytes())],
    )
    .await;
    assert_eq!(answer.status, 429, "{answer:?}");
    assert_eq!(parse(&answer.body)["code"], "resource_exhausted");

    // A stream's envelope, refused from its prefix.
    let answer = post(
        &server,
        COLLECT,
        &[JSON_STREAM],
        &[&envelope(0, big.as_bytes())],
    )
    .await;
    let received = frames(&answer.body);
    assert_eq!(
        parse(&received.last().unwrap().1),
        json!({"error": {
            "code": "resource_exhausted",
            "message": "the request message of 2012 bytes exceeds the server's \
                        max_request_message_size of 1024 bytes"
        }})
    );
    assert_still_serving(&server).await;
}

// ---------------------------------------------------------------------------------------
// Connect GET.

#[tokio::test]
async fn get_calls_a_method_without_side_effects_with_the_message_in_the_query() {
    let server = serve().await;
    let get = |query: String| {
        let server = &server;
        async move { request(server, "GET", &format!("{LOOKUP}?{query}"), &[], &[]).await }
    };

    // JSON, percent-encoded.
    let message = percent_encode(br#"{"body": "by get", "count": 2}"#);
    let answer = get(format!("connect=v1&encoding=json&message={message}")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(
        parse(&answer.body),
        json!({"body": "found by get", "count": 2})
    );

    // Protobuf, URL-safe base64 without padding.
    let proto = Payload {
        body: "b64".into(),
        count: 1,
    }
    .encode_to_vec();
    let message = URL_SAFE_NO_PAD.encode(&proto);
    let answer = get(format!("encoding=proto&base64=1&message={message}")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/proto"));
    assert_eq!(
        Payload::decode(answer.body.as_slice()).unwrap().body,
        "found b64"
    );

    // Gzipped JSON in base64, and a cache-busting parameter Connect does not define.
    let message = URL_SAFE_NO_PAD.encode(gzip(br#"{"body": "zipped"}"#));
    let answer = get(format!(
        "encoding=json&base64=1&compression=gzip&message={message}&_=123"
    ))
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(parse(&answer.body), json!({"body": "found zipped"}));

    // Metadata and the deadline travel in headers.
    let answer = request(
        &server,
        "GET",
        &format!("{SAY_HELLO}?encoding=json&message=%7B%7D"),
        &[("connect-timeout-ms", "soon")],
        &[],
    )
    .await;
    assert_eq!(answer.status, 405, "SayHello has side effects: {answer:?}");
    let answer = request(
        &server,
        "GET",
        &format!("{LOOKUP}?encoding=json&message=%7B%7D"),
        &[("connect-timeout-ms", "soon")],
        &[],
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(parse(&answer.body)["code"], "invalid_argument");
}

#[tokio::test]
async fn get_on_a_method_with_side_effects_is_405_allowing_post() {
    let server = serve().await;
    for (path, method) in [
        (STORE, "jsonlab.Lab.Store"),
        (ECHO, "jsonlab.Lab.Echo"),
        (SAY_HELLO, "hello.HelloService.SayHello"),
        (REPEAT, "jsonlab.Lab.Repeat"),
    ] {
        let answer = request(
            &server,
            "GET",
            &format!("{path}?encoding=json&message=%7B%7D"),
            &[],
            &[],
        )
        .await;
        assert_eq!(answer.header("allow"), Some("POST"), "{answer:?}");
        assert_error(
            &answer,
            405,
            "unimplemented",
            &format!(
                "GET is only for unary methods declared idempotency_level = \
                 NO_SIDE_EFFECTS, and {method} is not; use POST"
            ),
        );
    }
    // The same methods are served by POST.
    let answer = post(&server, STORE, &[JSON], &[br#"{"body": "kept"}"#]).await;
    assert_eq!(parse(&answer.body), json!({"body": "kept"}));
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn a_get_with_a_bad_query_is_invalid_argument_naming_the_parameter() {
    let server = serve().await;
    let cases = [
        (
            "message=%7B%7D",
            "the encoding parameter is missing (\"proto\" or \"json\")",
        ),
        ("encoding=json", "the message parameter is missing"),
        (
            "encoding=yaml&message=x",
            "the encoding parameter must be \"proto\" or \"json\", not \"yaml\"",
        ),
        (
            "connect=v2&encoding=json&message=%7B%7D",
            "the connect parameter must be \"v1\", not \"v2\"",
        ),
        (
            "encoding=json&base64=1&message=%7B%7D",
            "the message parameter is not URL-safe base64 (base64=1): Invalid symbol 123, \
             offset 0.",
        ),
        (
            "encoding=json&message=%7B%22count%22%3A%22x%22%7D",
            "the request is not a jsonlab.Payload in JSON at count: invalid digit found in \
             string at line 1 column 12",
        ),
    ];
    for (query, message) in cases {
        let answer = request(&server, "GET", &format!("{LOOKUP}?{query}"), &[], &[]).await;
        assert_error(&answer, 400, "invalid_argument", message);
    }
    let answer = request(
        &server,
        "GET",
        &format!("{LOOKUP}?encoding=json&message=%7B%7D&compression=br"),
        &[],
        &[],
    )
    .await;
    assert_error(
        &answer,
        501,
        "unimplemented",
        "the \"br\" encoding is not supported (gzip, zstd, identity)",
    );
    // A GET with a body: its message belongs in the query.
    let answer = request(
        &server,
        "GET",
        &format!("{LOOKUP}?encoding=json&message=%7B%7D"),
        &[],
        &[b"{}"],
    )
    .await;
    assert_error(
        &answer,
        415,
        "invalid_argument",
        "a Connect GET has no body: its message is in the query",
    );
    assert_still_serving(&server).await;
}

// ---------------------------------------------------------------------------------------
// Services without descriptors.

#[tokio::test]
async fn a_service_without_descriptors_says_why_it_cannot_speak_json_and_serves_proto() {
    let router = rgrpc::Server::builder()
        .add_service(Undescribed(LabServer::new(TheLab::default())))
        .add_service(HelloServiceServer::new(support::greeter::Greeter));
    let server = Running::serve(router).await;
    let why = |what: &str| {
        format!(
            "{what} needs the schema of jsonlab.Lab, and it has none: its code was generated \
             with descriptors=false or it is served as Undescribed; call it with \
             application/proto"
        )
    };
    let answer = post(&server, LOOKUP, &[JSON], &[br#"{"body": "x"}"#]).await;
    assert_error(&answer, 415, "invalid_argument", &why("JSON"));
    let answer = post(&server, REPEAT, &[JSON_STREAM], &[&envelope(0, b"{}")]).await;
    assert_error(&answer, 415, "invalid_argument", &why("JSON"));
    let answer = request(
        &server,
        "GET",
        &format!("{LOOKUP}?encoding=proto&message="),
        &[],
        &[],
    )
    .await;
    assert_eq!(answer.header("allow"), Some("POST"), "{answer:?}");
    assert_error(&answer, 405, "unimplemented", &why("GET"));

    // The same service in protobuf, and another service in JSON, are served.
    let proto = Payload {
        body: "proto".into(),
        count: 0,
    };
    let answer = post(&server, LOOKUP, &[PROTO], &[&proto.encode_to_vec()]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        Payload::decode(answer.body.as_slice()).unwrap().body,
        "found proto"
    );
    let answer = post(&server, SAY_HELLO, &[JSON], &[br#"{"greeting": "still"}"#]).await;
    assert_eq!(parse(&answer.body), json!({"reply": "Hello, still!"}));
    // The greeter's proto path, untouched.
    let answer = post(
        &server,
        SAY_HELLO,
        &[PROTO],
        &[&greeting("p").encode_to_vec()],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
}
