//! Runs the hello-middleware binary: its audit log, its token fetched twice for eleven
//! calls, and gRFC A66's nine metrics, as the README's middleware section shows them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

/// Far above the second a run takes, so only a hang trips it.
const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn the_middleware_example_authenticates_audits_and_measures() {
    let output = rgrpc_dev::process::run_bounded(
        &mut Command::new(env!("CARGO_BIN_EXE_hello-middleware")),
        b"",
        LIMIT,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "hello-middleware failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let audited = stdout
        .lines()
        .filter(|line| line.starts_with("audit: /hello.HelloService/SayHello by ada: Ok (Ok)"))
        .count();
    assert_eq!(audited, 10, "{stdout}");
    assert!(
        stdout.contains("audit: /hello.HelloService/SayHello by ada: InvalidArgument (Error)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("token fetched 2 times for 11 calls"),
        "{stdout}"
    );
    assert!(
        stdout.contains("metric: grpc.server.call.duration"),
        "{stdout}"
    );
}
