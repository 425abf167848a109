//! The three protocols, driven by a client we did not write against rgrpc's interop server
//! on one port started with no flag: `buf curl` with `--protocol grpc` (HTTP/2 without TLS),
//! and `--protocol grpcweb` and `--protocol connect`, each over HTTP/1.1 and HTTP/2. No
//! `--schema`: everything buf knows of the schema it learns by reflection, itself spoken in
//! the protocol under test (a bidi stream, half-duplex over HTTP/1.1).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;

use peers::{buf, buf_curl, buf_curl_error, rgrpc_server};
use serde_json::Value;

/// (label, buf curl's flags) of each way to reach the server.
const WAYS: [(&str, &str); 5] = [
    (
        "gRPC over HTTP/2",
        "--protocol grpc --http2-prior-knowledge",
    ),
    ("gRPC-Web over HTTP/1.1", "--protocol grpcweb"),
    (
        "gRPC-Web over HTTP/2",
        "--protocol grpcweb --http2-prior-knowledge",
    ),
    ("Connect over HTTP/1.1", "--protocol connect"),
    (
        "Connect over HTTP/2",
        "--protocol connect --http2-prior-knowledge",
    ),
];

#[test]
fn buf_curl_speaks_grpc_grpc_web_and_connect_over_http1_and_h2c() {
    let Some(buf) = buf() else {
        eprintln!("SKIPPED: buf is not installed (make buf-setup)");
        return;
    };
    let server = rgrpc_server();
    let url = format!("http://127.0.0.1:{}", server.port);
    for (how, flags) in WAYS {
        let listed = buf_curl(&buf, &[flags, "--list-services", &url]);
        assert!(
            listed
                .lines()
                .any(|line| line == "grpc.testing.TestService"),
            "{how}: {listed}"
        );

        let unary = buf_curl(
            &buf,
            &[
                flags,
                "-d",
                r#"{"responseSize": 3}"#,
                &format!("{url}/grpc.testing.TestService/UnaryCall"),
            ],
        );
        let answer: Value = serde_json::from_str(&unary).unwrap();
        assert_eq!(answer["payload"]["body"], "AAAA", "{how}: {answer:#}");

        let streamed = buf_curl(
            &buf,
            &[
                flags,
                "-d",
                r#"{"responseParameters": [{"size": 1}, {"size": 2}, {"size": 3}]}"#,
                &format!("{url}/grpc.testing.TestService/StreamingOutputCall"),
            ],
        );
        let bodies: Vec<String> = serde_json::Deserializer::from_str(&streamed)
            .into_iter::<Value>()
            .map(|message| {
                message.unwrap()["payload"]["body"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(bodies, ["AA==", "AAA=", "AAAA"], "{how}: {streamed}");

        // A status the handler chose reaches the client with its code and message.
        let error = buf_curl_error(
            &buf,
            &[
                flags,
                "-d",
                r#"{"responseStatus": {"code": 7, "message": "not for you"}}"#,
                &format!("{url}/grpc.testing.TestService/UnaryCall"),
            ],
        );
        let error: Value =
            serde_json::from_str(&error).unwrap_or_else(|err| panic!("{err}: {error}"));
        assert_eq!(error["code"], "permission_denied", "{how}: {error:#}");
        assert_eq!(error["message"], "not for you", "{how}: {error:#}");
    }
}
