//! RPC benchmarks that measure one side at a time, over HTTP/2 on 127.0.0.1, each
//! process pinned to its own core:
//!
//! * servers — rgrpc's, tonic's and connectrpc's servers under the same load generators
//!   (the tonic client, and h2load for unary calls);
//! * clients — rgrpc's and tonic's clients against the same (tonic) server;
//! * scaling — each server with one worker thread, then two;
//! * idle — server memory per idle connection and per idle stream;
//! * callgrind — instructions per unary call of each server and each client;
//! * protocols — rgrpc's and connectrpc's servers in gRPC, gRPC-Web and Connect (h2load);
//! * builds — rgrpc's server of two builds of this benchmark (two commits), gRPC unary.
//!
//! The comparing subcommands print Markdown. The others are the processes they start:
//! `serve` (a server: prints `listening on ADDR`, stops when stdin closes), `load` (one
//! measured run: prints one line of figures) and `hold` (the idle connections).

mod ask;
mod budget;
mod callgrind;
mod child;
mod cli;
mod clients;
mod compare;
mod figures;
mod h2load;
mod idle;
mod load;
mod middleware;
mod procfs;
mod proto;
mod report;
mod scenarios;
mod servers;
mod sides;
mod stats;
mod wire;

use std::process::ExitCode;

use cli::Flags;
use clients::ClientStack;
use load::{Load, Window};
use scenarios::Scenario;
use servers::ServerStack;

const USAGE: &str = "usage: rpc-bench servers|clients|scaling|protocols [--reps N] [--seconds S] [--scenarios A,B|grpc|protocols|all] [--h2load auto|off]
       rpc-bench builds --after RPC_BENCH --before RPC_BENCH [--after-name T] [--before-name T] [--reps N] [--seconds S] [--scenarios A,B] [--short N --long N --dir DIR]
       rpc-bench idle [--reps N] [--connections N]
       rpc-bench callgrind [--short N] [--long N] [--dir DIR] [--top N]
       rpc-bench serve --server rgrpc|tonic|connectrpc [--threads N]
       rpc-bench load --client rgrpc|tonic --addr HOST:PORT --scenario NAME (--seconds S | --calls N) [--server-pid PID]
       rpc-bench hold --addr HOST:PORT --connections N";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(rest),
        Some("load") => load(rest),
        Some("hold") => hold(rest),
        Some("servers") => compare::servers(rest),
        Some("clients") => compare::clients(rest),
        Some("scaling") => compare::scaling(rest),
        Some("idle") => compare::idle(rest),
        Some("callgrind") => compare::callgrind(rest),
        Some("protocols") => compare::protocols(rest),
        Some("builds") => compare::builds(rest),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("rpc-bench: {problem}");
            ExitCode::FAILURE
        }
    }
}

/// A server's runtime: tokio's multi-thread scheduler with `threads` workers, the same for
/// all three servers (one worker by default; two in the scaling run).
fn server_runtime(threads: usize) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start a runtime: {err}"))
}

/// A load generator's runtime: one thread, as it has one core.
fn load_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start a runtime: {err}"))
}

/// Completes when stdin closes: the parent's signal to stop (also Ctrl-D by hand).
fn stdin_closed() -> tokio::sync::oneshot::Receiver<()> {
    let (closed, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed.send(());
    });
    receiver
}

fn serve(args: &[String]) -> Result<(), String> {
    let flags = Flags::parse(args, &["server", "threads"])?;
    let server = ServerStack::parse(&flags.required::<String>("server")?)?;
    let threads: usize = flags.get("threads", 1)?;
    if threads == 0 {
        return Err("--threads must be at least 1".to_owned());
    }
    server_runtime(threads)?.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|err| format!("cannot listen: {err}"))?;
        let addr = listener.local_addr().map_err(|err| err.to_string())?;
        println!("listening on {addr}");
        let stop = stdin_closed();
        servers::serve(server, listener, async {
            let _ = stop.await;
        })
        .await
    })
}

fn load(args: &[String]) -> Result<(), String> {
    let flags = Flags::parse(
        args,
        &[
            "client",
            "addr",
            "scenario",
            "seconds",
            "calls",
            "server-pid",
        ],
    )?;
    let window = match (flags.optional("seconds")?, flags.optional("calls")?) {
        (Some(seconds), None) if seconds > 0.0 => Window::Seconds(seconds),
        (None, Some(calls)) if calls > 0 => Window::Operations(calls),
        _ => return Err("give one of --seconds S or --calls N, positive".to_owned()),
    };
    let load = Load {
        client: ClientStack::parse(&flags.required::<String>("client")?)?,
        addr: flags.required("addr")?,
        scenario: Scenario::parse(&flags.required::<String>("scenario")?)?,
        window,
        server_pid: flags.optional("server-pid")?,
    };
    let figures = load_runtime()?.block_on(load.run())?;
    println!("{}", figures.to_line());
    Ok(())
}

fn hold(args: &[String]) -> Result<(), String> {
    let flags = Flags::parse(args, &["addr", "connections"])?;
    let addr: String = flags.required("addr")?;
    let connections: usize = flags.required("connections")?;
    load_runtime()?.block_on(idle::hold(addr, connections))
}
