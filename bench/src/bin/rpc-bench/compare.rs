//! The comparing subcommands: read the flags, run one side's comparison, print its
//! Markdown section (heading, how it was measured, table).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::ask::Verdict;
use crate::callgrind::{self, Counts};
use crate::cli::Flags;
use crate::clients::ClientStack;
use crate::h2load::H2load;
use crate::report;
use crate::scenarios::{Generator, Scenario};
use crate::servers::ServerStack;
use crate::sides::{self, Pinning, Plan, Server, Spoken};

/// The scenarios of the scaling run: those where a second thread can help.
const SCALING: &str = "unary_c64,server_stream_c64x10,bidi_c64,h2load_unary_c64";
/// The scenarios of the builds comparison: gRPC unary, under both load generators.
const BUILDS: &str = "unary_c1,unary_c64,h2load_unary_c1,h2load_unary_c64";
/// The flags of every comparison of RPC speed.
const PLAN_FLAGS: [&str; 4] = ["reps", "seconds", "scenarios", "h2load"];

fn plan(args: &[String], scenarios: &str) -> Result<Plan, String> {
    plan_of(&Flags::parse(args, &PLAN_FLAGS)?, scenarios)
}

fn plan_of(flags: &Flags, scenarios: &str) -> Result<Plan, String> {
    let reps: usize = flags.get("reps", 3)?;
    let seconds: f64 = flags.get("seconds", 2.0)?;
    if reps == 0 || seconds <= 0.0 {
        return Err("--reps and --seconds must be positive".to_owned());
    }
    let scenarios = Scenario::parse_list(&flags.get("scenarios", scenarios.to_owned())?)?;
    let mut wires: Vec<_> = scenarios
        .iter()
        .filter_map(|s| match s.generator() {
            Generator::H2load(load) => Some(load.wire),
            Generator::Ours => None,
        })
        .collect();
    wires.sort();
    wires.dedup();
    let wants_h2load = !wires.is_empty();
    let h2load = match flags.get("h2load", "auto".to_owned())?.as_str() {
        "auto" if wants_h2load => H2load::find(&wires)?,
        "auto" | "off" => None,
        other => return Err(format!("--h2load: auto or off, not {other:?}")),
    };
    if wants_h2load && h2load.is_none() {
        eprintln!("rpc-bench: h2load is not installed (bench/setup.sh): no h2load rows");
    }
    Ok(Plan {
        reps,
        seconds,
        scenarios,
        h2load,
        pinning: Pinning::detect(),
    })
}

/// "1 repetition", "5 alternated repetitions".
fn repetitions(reps: usize) -> String {
    if reps == 1 {
        "1 repetition".to_owned()
    } else {
        format!("{reps} alternated repetitions")
    }
}

/// How the processes were placed, for the notes.
fn placement(plan: &Plan, server: &str) -> String {
    if plan.pinning.enabled {
        format!(
            "{server} pinned to core 0 (`taskset -c 0`), load generator to core 1 (`taskset -c 1`)"
        )
    } else {
        "not pinned (fewer than 2 cores, or no `taskset`): the processes share the cores".to_owned()
    }
}

const RUNTIME: &str = "one tokio worker thread (a `multi_thread` runtime with \
    `worker_threads(1)`, the same for every server)";

const CPU_NOTE: &str = "CPU per operation: utime + stime of the process (`/proc/<pid>/stat`, \
    all threads, 10 ms ticks) over the measured window, divided by the operations in it. \
    Ratios are each repetition's own ratio, median (min–max): for rates > 1 means rgrpc does \
    more; for latencies and CPU < 1 means rgrpc needs less.";

/// The same for two builds of rgrpc.
const BUILDS_CPU_NOTE: &str = "CPU per operation: utime + stime of the process \
    (`/proc/<pid>/stat`, all threads, 10 ms ticks) over the measured window, divided by the \
    operations in it. Ratios are each repetition's own ratio, median (min–max): for rates > 1 \
    means after does more; for latencies and CPU < 1 means after needs less.";

/// What the one checked call of each protocol got, as sentences: the answers checked, and
/// the protocols a server did not serve.
fn checked(checks: &BTreeMap<Spoken, Vec<(&'static str, Verdict)>>) -> (Vec<String>, Vec<String>) {
    let mut served = Vec::new();
    let mut refused = Vec::new();
    for (&(wire, http1), verdicts) in checks {
        let over = format!(
            "{} over {}",
            wire.name(),
            if http1 { "HTTP/1.1" } else { "HTTP/2" }
        );
        let mut by_answer: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (server, verdict) in verdicts {
            match verdict {
                Verdict::Served(what) => by_answer.entry(what).or_default().push(server),
                Verdict::NotServed => refused.push(format!(
                    "{server} answered {over} with HTTP 415: not served, its cells are —"
                )),
            }
        }
        for (what, servers) in by_answer {
            served.push(format!("{over} ({}): {what}", servers.join(", ")));
        }
    }
    (served, refused)
}

pub fn servers(args: &[String]) -> Result<(), String> {
    let plan = plan(args, "grpc")?;
    let stacks = ServerStack::ALL.map(Server::this);
    let found = sides::servers(&plan, &stacks)?;
    let (runs, (checks, refused)) = (found.runs, checked(&found.checks));
    let columns = ServerStack::ALL.map(ServerStack::name);
    println!(
        "### Servers: rgrpc, tonic and connectrpc under the same load ({} × {} s per scenario)\n",
        repetitions(plan.reps),
        plan.seconds
    );
    println!(
        "* Each server: {RUNTIME}, {}, with its own defaults: `rgrpc::Server` (200 streams per \
         connection, 8 MiB connection window), `tonic::transport::Server`, \
         `connectrpc::Server` (adaptive HTTP/2 window, its default) through the generated \
         monomorphic `HelloServiceServer`; `TCP_NODELAY` on all three.",
        placement(&plan, "server")
    );
    println!(
        "* Load generator: the tonic client, which is none of the servers for rgrpc, on one \
         HTTP/2 connection (`_c64`: 64 concurrent calls or streams on it), a current-thread \
         runtime. `h2load_*` rows: h2load (nghttp2) `-c 1 -t 1 -m 1|64`, POSTs of one \
         pre-encoded gRPC frame with `content-type: application/grpc` and `te: trailers`; \
         every request counted succeeded with a 2xx status, and one call per server checked \
         first with hyper's client: {}.",
        if checks.is_empty() {
            "h2load was not run".to_owned()
        } else {
            checks.join("; ")
        }
    );
    for line in refused {
        println!("* {line}.");
    }
    println!(
        "* The servers compare through the server CPU rows; rates and latencies compare them \
         only where the load generator is not what limits (see its CPU per operation: near \
         10 s / rate, it is saturated). {CPU_NOTE}\n"
    );
    print!(
        "{}",
        report::sides(&runs, &plan.scenarios, &columns, "load generator")
    );
    Ok(())
}

pub fn clients(args: &[String]) -> Result<(), String> {
    let plan = plan(args, "grpc")?;
    let runs = sides::clients(&plan)?;
    let columns = ClientStack::ALL.map(ClientStack::name);
    let scenarios: Vec<Scenario> = plan
        .scenarios
        .iter()
        .copied()
        .filter(|s| s.generator() == Generator::Ours)
        .collect();
    println!(
        "### Clients: rgrpc and tonic calling the same server ({} × {} s per scenario)\n",
        repetitions(plan.reps),
        plan.seconds
    );
    println!(
        "* Server: tonic's, {RUNTIME}, started afresh for each client; {}. Each client on one \
         HTTP/2 connection (tonic's `Channel`, which rgrpc's client runs on too), a \
         current-thread runtime; `_c64`: 64 concurrent calls or streams.",
        placement(&plan, "server")
    );
    println!(
        "* The clients compare through the client CPU rows; rates and latencies compare them \
         where the client is what limits. {CPU_NOTE}\n"
    );
    print!("{}", report::sides(&runs, &scenarios, &columns, "client"));
    Ok(())
}

pub fn scaling(args: &[String]) -> Result<(), String> {
    let plan = plan(args, SCALING)?;
    let runs = sides::scaling(&plan)?;
    let columns = ServerStack::ALL.map(ServerStack::name);
    println!(
        "### Server thread scaling: one worker thread, then two ({} × {} s per scenario)\n",
        repetitions(plan.reps),
        plan.seconds
    );
    println!(
        "* Each server with a `multi_thread` runtime of 1, then 2 worker threads, loaded by the \
         tonic client (`h2load_*`: h2load). {}",
        if plan.pinning.enabled {
            "With one thread the server has core 0 (`taskset -c 0`); with two it has cores 0 and 1 \
             (`taskset -c 0,1`) and shares core 1 with the load generator (`taskset -c 1`): this \
             machine has 2 cores, so the 2-thread figures show what a server gets from a second \
             core it must share, not clean scaling."
        } else {
            "Not pinned: the processes share the cores."
        }
    );
    println!(
        "* \"2 threads / 1 thread\" is each repetition's rate ratio; its rgrpc/x column is \
         rgrpc's scaling over the other server's.\n"
    );
    print!("{}", report::scaling(&runs, &plan.scenarios, &columns));
    Ok(())
}

pub fn idle(args: &[String]) -> Result<(), String> {
    let flags = Flags::parse(args, &["reps", "connections"])?;
    let reps: usize = flags.get("reps", 3)?;
    let connections: usize = flags.get("connections", 1000)?;
    if reps == 0 || connections == 0 {
        return Err("--reps and --connections must be positive".to_owned());
    }
    let plan = Plan {
        reps,
        seconds: 0.0,
        scenarios: Vec::new(),
        h2load: None,
        pinning: Pinning::detect(),
    };
    let runs = sides::idle(&plan, connections)?;
    println!(
        "### Idle connections and streams: server memory ({}, {connections} connections)\n",
        repetitions(reps)
    );
    println!(
        "* Each server: {RUNTIME}; {}. The holder process (the tonic client) warms the server up \
         on a connection it closes again, then opens {connections} HTTP/2 connections, then one \
         bidi stream on each (one message echoed, then left open), so no server meets its \
         stream limit.",
        placement(&plan, "server")
    );
    println!(
        "* Per connection: (memory with the connections − baseline) / {connections}; per idle \
         stream: (with the streams − with the connections) / {connections}. VmRSS from \
         `/proc/<pid>/status`; Private_Dirty from `/proc/<pid>/smaps_rollup` (pages the \
         process wrote, whichever allocator holds them). All three servers use the system \
         allocator (glibc malloc), which keeps freed memory: these are high-water marks. \
         Median (min–max).\n"
    );
    print!("{}", report::idle(&runs));
    Ok(())
}

pub fn callgrind(args: &[String]) -> Result<(), String> {
    let flags = Flags::parse(args, &["short", "long", "dir", "top"])?;
    let counts = Counts {
        short: flags.get("short", 500)?,
        long: flags.get("long", 2500)?,
    };
    if counts.short == 0 || counts.long <= counts.short {
        return Err("--short must be positive and --long greater".to_owned());
    }
    let dir: PathBuf = flags.get("dir", PathBuf::from("target/bench-callgrind"))?;
    let top: usize = flags.get("top", 0)?;
    std::fs::create_dir_all(&dir)
        .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    let pinning = Pinning::detect();
    let stacks = ServerStack::ALL.map(Server::this);
    let mut profiled = callgrind::servers(&stacks, counts, &dir, pinning)?;
    profiled.extend(callgrind::clients(counts, &dir, pinning)?);
    println!(
        "### Instructions per unary call (callgrind, c=1, {} − {} calls)\n",
        counts.long, counts.short
    );
    println!(
        "* Server rows: the server runs under `valgrind --tool=callgrind` (one worker thread), \
         loaded natively by the tonic client; client rows: the client runs under callgrind \
         against a native tonic server. Each is run for {} and for {} calls (after the same \
         100 warm-up calls); instructions per call = (Ir_long − Ir_short) / {}, which leaves out \
         start-up, connecting and shutting down. Profiles: `{}`.\n",
        counts.short,
        counts.long,
        counts.long - counts.short,
        dir.display()
    );
    print!("{}", callgrind::report(&profiled, counts, "tonic"));
    if top > 0 {
        // The two servers the runtime's work is measured against.
        for entry in profiled
            .iter()
            .filter(|p| p.side == "server" && p.stack != "connectrpc")
        {
            print!("{}", callgrind::top(entry, counts, top)?);
        }
    }
    Ok(())
}

/// rgrpc's and connectrpc's servers in every protocol h2load speaks: gRPC (the reference),
/// gRPC-Web and Connect, over HTTP/2 and HTTP/1.1. tonic serves gRPC only (gRPC-Web needs
/// tonic-web in front; Connect is not tonic's), so it is not in this table.
pub fn protocols(args: &[String]) -> Result<(), String> {
    let plan = plan(args, "protocols")?;
    let stacks = [ServerStack::Rgrpc, ServerStack::Connect].map(Server::this);
    let found = sides::servers(&plan, &stacks)?;
    let (checks, refused) = checked(&found.checks);
    let columns = stacks.each_ref().map(|server| server.column);
    println!(
        "### Protocols: rgrpc's and connectrpc's servers under h2load in gRPC, gRPC-Web and \
         Connect ({} × {} s per scenario)\n",
        repetitions(plan.reps),
        plan.seconds
    );
    println!(
        "* Each server: {RUNTIME}, {}, with its defaults, the same processes as in the servers \
         table; both serve every protocol on one port, HTTP/1.1 and HTTP/2 alike. connectrpc \
         is built with its `json` feature and connectrpc-build's JSON code, its defaults. \
         tonic is left out: it serves gRPC only.",
        placement(&plan, "server")
    );
    let loads: Vec<String> = plan
        .scenarios
        .iter()
        .filter_map(|s| match s.generator() {
            Generator::H2load(load) => Some(format!("`{}` {}", s.name(), load.describe())),
            Generator::Ours => None,
        })
        .collect();
    println!(
        "* Load generator: h2load (nghttp2), one thread, unary `SayHello` POSTs of one \
         pre-encoded body (`HelloRequest{{greeting: \"u\"}}`: an enveloped message for gRPC \
         and gRPC-Web, the bare message for Connect proto, `{{\"greeting\":\"u\"}}` for \
         Connect JSON, with `connect-protocol-version: 1`); HTTP/2 with prior knowledge, or \
         HTTP/1.1 (`--h1`) with one connection per concurrent call and no pipelining: {}.",
        loads.join("; ")
    );
    println!(
        "* Every request counted succeeded with a 2xx status; before h2load's runs, one call \
         per server and protocol with hyper's client, whose answer must be right: {}.",
        if checks.is_empty() {
            "h2load was not run".to_owned()
        } else {
            checks.join("; ")
        }
    );
    for line in refused {
        println!("* {line}.");
    }
    println!(
        "* Rates and latencies compare the servers only where h2load is not what limits (its \
         CPU per call near 10 s / rate means it is saturated). {CPU_NOTE}\n"
    );
    print!(
        "{}",
        report::sides(&found.runs, &plan.scenarios, &columns, "load generator")
    );
    let against = report::against_grpc(&found.runs, &plan.scenarios, &columns);
    if !against.is_empty() {
        println!(
            "\n#### Each protocol against the same server's gRPC\n\n\
             Each repetition's figure of the protocol over the same server's figure of gRPC \
             over HTTP/2 at the same concurrency (`h2load_unary_c1` or `_c64`), in the same \
             process, median (min–max): what a protocol costs a server beyond gRPC.\n"
        );
        print!("{against}");
    }
    Ok(())
}

/// Two builds of this benchmark, rgrpc's server only: `--after`'s against `--before`'s
/// (`rpc-bench` binaries of two commits, each linking its own rgrpc), alternated in one run
/// with `--before`'s again as a control, under the same load generators; then each build
/// under callgrind.
pub fn builds(args: &[String]) -> Result<(), String> {
    let mut known = PLAN_FLAGS.to_vec();
    known.extend([
        "after",
        "before",
        "after-name",
        "before-name",
        "short",
        "long",
        "dir",
    ]);
    let flags = Flags::parse(args, &known)?;
    let plan = plan_of(&flags, BUILDS)?;
    let build = |column: &'static str, flag: &str| -> Result<Server, String> {
        Ok(Server {
            column,
            stack: ServerStack::Rgrpc,
            exe: Some(flags.required::<PathBuf>(flag)?),
        })
    };
    // The control: `before` again, as a third server. Its ratio to `before` is what the
    // machine's noise alone makes of two identical servers.
    let builds = [
        build("after", "after")?,
        build("before", "before")?,
        build("before again", "before")?,
    ];
    let names = [
        flags.get("after-name", "after".to_owned())?,
        flags.get("before-name", "before".to_owned())?,
    ];
    let counts = Counts {
        short: flags.get("short", 1000)?,
        long: flags.get("long", 5000)?,
    };
    if counts.short > 0 && counts.long <= counts.short {
        return Err("--long must be greater than --short (--short 0: no callgrind)".to_owned());
    }
    let found = sides::servers(&plan, &builds)?;
    let (checks, _) = checked(&found.checks);
    println!(
        "### rgrpc's gRPC server, two builds: after = {}, before = {} ({} × {} s per scenario)\n",
        names[0],
        names[1],
        repetitions(plan.reps),
        plan.seconds
    );
    println!(
        "* Each build's own `rpc-bench serve --server rgrpc` (its own bench crate and rgrpc), \
         {RUNTIME}, {}; the servers alternate (after, before, before again, then the reverse, \
         …), each started afresh. \"before again\" is the before build run a second time: \
         the control, whose ratio to before shows the noise of this machine on two identical \
         servers. Load generators: the tonic client of this build \
         (`unary_*`), h2load (`h2load_*`, gRPC over HTTP/2{}).",
        placement(&plan, "server"),
        if checks.is_empty() {
            String::new()
        } else {
            format!("; checked: {}", checks.join("; "))
        }
    );
    println!("* {BUILDS_CPU_NOTE}\n");
    let columns = builds.each_ref().map(|server| server.column);
    print!(
        "{}",
        report::sides_with(
            &found.runs,
            &plan.scenarios,
            &columns,
            &[(0, 1), (2, 1)],
            "load generator"
        )
    );
    if counts.short == 0 {
        println!("\n(callgrind: not run)");
        return Ok(());
    }
    let dir: PathBuf = flags.get("dir", PathBuf::from("target/bench-callgrind"))?;
    std::fs::create_dir_all(&dir)
        .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    // Instruction counts barely vary from run to run: no control.
    let profiled = callgrind::servers(&builds[..2], counts, &dir, plan.pinning)?;
    println!(
        "\n#### Instructions per unary call (callgrind, c=1, {} − {} calls)\n",
        counts.long, counts.short
    );
    println!(
        "Each build's server under `valgrind --tool=callgrind`, loaded natively by the tonic \
         client for {} and {} calls; per call = (Ir_long − Ir_short) / {}. Profiles: `{}`.\n",
        counts.short,
        counts.long,
        counts.long - counts.short,
        dir.display()
    );
    print!("{}", callgrind::report(&profiled, counts, "before"));
    if let [after, before] = profiled.as_slice() {
        let (after, before) = (after.per_call(counts), before.per_call(counts));
        println!(
            "\nafter − before: {:+.0} instructions per call ({:+.2}%).",
            after - before,
            (after / before - 1.0) * 100.0
        );
    }
    Ok(())
}
