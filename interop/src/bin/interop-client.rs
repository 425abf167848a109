//! The interop client: `interop-client --server_host H --server_port P --test_case CASES`,
//! CASES being one case, a comma list or `all`. Prints `PASS <case>` or
//! `FAIL <case>: <reason>` per case and exits 1 if any failed (2 on bad flags).
//!
//! `--protocol grpc|grpc-web|connect` chooses the wire protocol (gRPC by default) and
//! `--http1` speaks HTTP/1.1 instead of HTTP/2: the channel's settings
//! ([`rgrpc::ChannelBuilder::protocol`], [`rgrpc::ChannelBuilder::http1`]), so every case
//! runs unchanged over each of them.

use std::process::ExitCode;

use rgrpc_interop::cases;

const USAGE: &str = "usage: interop-client --server_host HOST --server_port PORT --test_case CASE[,CASE...]|all [--use_tls=false] [--protocol grpc|grpc-web|connect] [--http1]";

struct Flags {
    host: String,
    port: u16,
    cases: Vec<String>,
    protocol: rgrpc::Protocol,
    http1: bool,
}

fn protocol(name: &str) -> Result<rgrpc::Protocol, String> {
    match name {
        "grpc" => Ok(rgrpc::Protocol::Grpc),
        "grpc-web" => Ok(rgrpc::Protocol::GrpcWeb),
        "connect" => Ok(rgrpc::Protocol::Connect),
        other => Err(format!(
            "--protocol must be grpc, grpc-web or connect, got {other:?}"
        )),
    }
}

fn flags(args: &[String]) -> Result<Flags, String> {
    let (mut host, mut port, mut cases) = ("127.0.0.1".to_owned(), None, None);
    let (mut wire, mut http1) = (rgrpc::Protocol::Grpc, false);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
        // The one flag without a value (`--http1=true|false` also works).
        if flag == "--http1" {
            http1 = match inline.as_deref() {
                None | Some("true") => true,
                Some("false") => false,
                Some(other) => return Err(format!("--http1 takes no value, got {other:?}")),
            };
            continue;
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| rest.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--server_host" => host = value()?,
            "--server_port" => {
                let text = value()?;
                port = Some(
                    text.parse::<u16>()
                        .map_err(|_| format!("--server_port must be 1-65535, got {text:?}"))?,
                );
            }
            "--test_case" => cases = Some(value()?),
            "--protocol" => wire = protocol(&value()?)?,
            "--use_tls" => {
                if value()? != "false" {
                    return Err("only --use_tls=false is supported".to_owned());
                }
            }
            // Accepted for compatibility with the standard flag set; plaintext has no authority
            // to override.
            "--server_host_override" => {
                value()?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let port = port.ok_or("--server_port is required")?;
    let cases = cases.ok_or("--test_case is required")?;
    let cases: Vec<String> = if cases == "all" {
        cases::CASES.iter().map(|c| (*c).to_owned()).collect()
    } else {
        cases.split(',').map(str::to_owned).collect()
    };
    if let Some(unknown) = cases.iter().find(|c| !cases::CASES.contains(&c.as_str())) {
        return Err(format!(
            "unknown test case {unknown:?} (known: {})",
            cases::CASES.join(", ")
        ));
    }
    Ok(Flags {
        host,
        port,
        cases,
        protocol: wire,
        http1,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags = match flags(&args) {
        Ok(flags) => flags,
        Err(problem) => {
            eprintln!("interop-client: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let uri = format!("http://{}:{}", flags.host, flags.port);
    let mut builder = rgrpc::Channel::builder(uri).protocol(flags.protocol);
    if flags.http1 {
        builder = builder.http1();
    }
    let channel = match builder.connect().await {
        Ok(channel) => channel,
        Err(err) => {
            eprintln!("interop-client: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut failures = 0;
    for case in &flags.cases {
        match cases::run(case, &channel).await {
            Ok(()) => println!("PASS {case}"),
            Err(reason) => {
                failures += 1;
                println!("FAIL {case}: {reason}");
            }
        }
    }
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
