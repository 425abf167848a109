//! The interop client: `interop-client --server_host H --server_port P --test_case CASES`,
//! CASES being one case, a comma list or `all`. Prints `PASS <case>` or
//! `FAIL <case>: <reason>` per case and exits 1 if any failed (2 on bad flags).

use std::process::ExitCode;

use rgrpc_interop::cases;

const USAGE: &str = "usage: interop-client --server_host HOST --server_port PORT --test_case CASE[,CASE...]|all [--use_tls=false]";

struct Flags {
    host: String,
    port: u16,
    cases: Vec<String>,
}

fn flags(args: &[String]) -> Result<Flags, String> {
    let (mut host, mut port, mut cases) = ("127.0.0.1".to_owned(), None, None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
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
    Ok(Flags { host, port, cases })
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
    let channel = match rgrpc::Channel::connect(uri).await {
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
