//! The fleet scenarios, on a real topology (network namespaces, or the loopback fallback):
//! replicas as processes, dnsmasq serving their records, fleet-load as the client. Each
//! scenario builds its own topology and prints its counts; they run one at a time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rgrpc::{CancellationToken, Channel, Code};
use rgrpc_fleet::nginx::Proxy;
use rgrpc_fleet::proto::WhoRequest;
use rgrpc_fleet::proto::fleet_client::FleetClient;
use rgrpc_fleet::replica::REPLICA_TRAILER;
use rgrpc_fleet::scenario::{Fleet, Programs};
use serde_json::Value;

/// One scenario at a time: each starts processes on the same addresses.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn programs() -> Programs {
    Programs {
        replica: env!("CARGO_BIN_EXE_fleet-replica").into(),
        load: env!("CARGO_BIN_EXE_fleet-load").into(),
    }
}

/// A fleet of `hosts` server hosts, saying what the topology is; `None` (the scenario is
/// skipped, saying why) when dnsmasq, nginx or ip is missing, unless RGRPC_REQUIRE_FLEET is
/// set (`make test` sets it, after `make fleet-setup`), which makes that a failure.
fn fleet(scenario: &str, hosts: usize) -> Option<Fleet> {
    let missing = rgrpc_fleet::missing_tools();
    if !missing.is_empty() {
        let why = format!("{missing:?} not found: `make fleet-setup` installs them");
        assert!(std::env::var_os("RGRPC_REQUIRE_FLEET").is_none(), "{why}");
        println!("{scenario}: SKIPPED, {why}");
        return None;
    }
    let mut fleet = Fleet::build(programs(), hosts).unwrap();
    println!("{scenario}: {}", fleet.topology().note());
    Some(fleet)
}

fn count(counts: &Value, key: &str) -> u64 {
    counts[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no count {key} in {counts}"))
}

const RETRY_CONFIG: &str = r#"{
  "methodConfig": [{
    "name": [{"service": "fleet.Fleet"}],
    "retryPolicy": {
      "maxAttempts": 5,
      "initialBackoff": "0.05s",
      "maxBackoff": "0.5s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
}"#;

fn replicas(counts: &Value, replica: &str) -> u64 {
    counts["replicas"][replica].as_u64().unwrap_or(0)
}

/// Command-line flags written as one string (no flag value here has a space).
fn flags(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

#[test]
fn rolling_restart_under_load() {
    let _serial = serial();
    let Some(mut fleet) = fleet("rolling restart", 3) else {
        return;
    };
    for host in 0..3 {
        fleet
            .start_replica(host, &flags("--drain-timeout-ms 5000"))
            .unwrap();
    }
    fleet.publish().unwrap();
    let config = fleet.service_config("retry.json", RETRY_CONFIG).unwrap();
    let target = fleet.target();
    let load = "--concurrency 8 --duration-secs 300 --kind unary";
    let retrying = format!("{load} --name retrying --service-config {config}");
    let retrying = fleet.start_load(&target, &flags(&retrying)).unwrap();
    let bare = format!("{load} --name bare");
    let bare = fleet.start_load(&target, &flags(&bare)).unwrap();
    fleet.rolling_restart(&["retrying", "bare"]).unwrap();
    fleet.await_more_calls(retrying, 200).unwrap();
    fleet.await_more_calls(bare, 200).unwrap();
    let counts = fleet.finish_load(retrying).unwrap();
    let bare = fleet.finish_load(bare).unwrap();
    println!("rolling restart, with a retry policy: {counts}");
    println!("rolling restart, without retries: {bare}");
    assert!(count(&counts, "calls") > 200, "{counts}");
    assert_eq!(count(&counts, "failed"), 0, "{counts}");
    assert_eq!(count(&counts, "replicas_seen"), 3, "{counts}");
    assert!(count(&bare, "failed") <= count(&bare, "calls"), "{bare}");
}

#[test]
fn replica_killed_mid_load() {
    let _serial = serial();
    let Some(mut fleet) = fleet("SIGKILL", 3) else {
        return;
    };
    for host in 0..3 {
        fleet.start_replica(host, &[]).unwrap();
    }
    fleet.publish().unwrap();
    let config = fleet.service_config("retry.json", RETRY_CONFIG).unwrap();
    let target = fleet.target();
    let load = format!("--concurrency 8 --duration-secs 300 --service-config {config}");
    let load = fleet.start_load(&target, &flags(&load)).unwrap();
    fleet.await_more_calls(load, 100).unwrap();
    fleet.kill_replica(1).unwrap();
    // The killed replica's address stays in DNS: the client must cope on its own.
    fleet.await_more_calls(load, 300).unwrap();
    let counts = fleet.finish_load(load).unwrap();
    println!("replica s2 SIGKILLed mid-load, with a retry policy: {counts}");
    assert!(
        replicas(&counts, "s1") > 0 && replicas(&counts, "s3") > 0,
        "{counts}"
    );
    assert_eq!(count(&counts, "failed"), 0, "{counts}");
}

#[test]
fn scale_out_through_dns_and_connection_age() {
    let _serial = serial();
    let Some(mut fleet) = fleet("scale-out", 4) else {
        return;
    };
    let age = flags("--max-connection-age-ms 2000 --max-connection-age-grace-ms 1000");
    for host in 0..3 {
        fleet.start_replica(host, &age).unwrap();
    }
    fleet.publish().unwrap();
    let target = fleet.target();
    // One client re-resolves every second; the other only when its connections close
    // (a refresh interval far beyond the test), so only connection age brings it to s4.
    let load = "--concurrency 4 --duration-secs 300 --dns-min-resolution-ms 500";
    let refreshing = format!("{load} --name refreshing --dns-refresh-ms 1000");
    let refreshing = fleet.start_load(&target, &flags(&refreshing)).unwrap();
    let aged = format!("{load} --name aged --dns-refresh-ms 3600000");
    let aged = fleet.start_load(&target, &flags(&aged)).unwrap();
    fleet.start_replica(3, &age).unwrap();
    let published = Instant::now();
    fleet.publish().unwrap();
    let mut reached = [("refreshing", None), ("aged", None)];
    while reached.iter().any(|(_, took)| took.is_none()) {
        assert!(
            published.elapsed() < STEP,
            "s4 not reached by both clients: {reached:?}"
        );
        let lines = fleet.replica(3).unwrap().lines();
        for (client, took) in &mut reached {
            if took.is_none() && lines.contains(&format!("first call from {client}")) {
                *took = Some(published.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    fleet.await_more_calls(refreshing, 100).unwrap();
    fleet.await_more_calls(aged, 100).unwrap();
    let refreshed = fleet.finish_load(refreshing).unwrap();
    let rebalanced = fleet.finish_load(aged).unwrap();
    let ms = |took: Option<Duration>| took.map_or(0, |took| took.as_millis());
    println!(
        "scale-out: s4's first call {} ms after it was published for the client re-resolving \
         every 1 s, {} ms for the one that re-resolves only when its connections age out \
         (2 s, 1 s grace)",
        ms(reached[0].1),
        ms(reached[1].1)
    );
    println!("scale-out, re-resolving every second: {refreshed}");
    println!("scale-out, rebalanced by max_connection_age: {rebalanced}");
    assert!(replicas(&refreshed, "s4") > 0, "{refreshed}");
    assert!(replicas(&rebalanced, "s4") > 0, "{rebalanced}");
    assert_eq!(count(&refreshed, "failed"), 0, "{refreshed}");
    assert_eq!(count(&rebalanced, "failed"), 0, "{rebalanced}");
}

/// How slow the slow replica is: far above any honest latency of the fast ones.
const SLOW_MS: u64 = 2000;

const HEDGING_CONFIG: &str = r#"{
  "methodConfig": [{
    "name": [{"service": "fleet.Fleet", "method": "Who"}],
    "hedgingPolicy": {
      "maxAttempts": 3,
      "hedgingDelay": "0.1s",
      "nonFatalStatusCodes": ["UNAVAILABLE"]
    }
  }]
}"#;

#[test]
fn hedging_hides_a_slow_replica() {
    let _serial = serial();
    let Some(mut fleet) = fleet("hedging", 3) else {
        return;
    };
    fleet
        .start_replica(0, &flags(&format!("--delay-ms {SLOW_MS}")))
        .unwrap();
    fleet.start_replica(1, &[]).unwrap();
    fleet.start_replica(2, &[]).unwrap();
    fleet.publish().unwrap();
    let config = fleet
        .service_config("hedging.json", HEDGING_CONFIG)
        .unwrap();
    let target = fleet.target();
    // One caller: a call's attempts are consecutive picks of round robin, so the hedge of
    // a call that went to the slow replica goes to a fast one.
    let load = "--concurrency 1 --calls 60 --duration-secs 300 --kind unary";
    let plain = fleet.start_load(&target, &flags(load)).unwrap();
    let plain = fleet.await_load(plain).unwrap();
    let hedged = format!("{load} --service-config {config}");
    let hedged = fleet.start_load(&target, &flags(&hedged)).unwrap();
    let hedged = fleet.await_load(hedged).unwrap();
    println!("hedging, s1 slow by {SLOW_MS} ms, without hedging: {plain}");
    println!("hedging, s1 slow by {SLOW_MS} ms, with hedging: {hedged}");
    // Without hedging, the calls s1 answered took at least its delay.
    if replicas(&plain, "s1") > 0 {
        assert!(
            plain["max_ms"].as_f64().unwrap() >= SLOW_MS as f64,
            "{plain}"
        );
    }
    assert!(count(&hedged, "hedged") > 0, "{hedged}");
    assert_eq!(count(&hedged, "failed"), 0, "{hedged}");
    let p99 = hedged["p99_ms"].as_f64().unwrap();
    assert!(
        p99 < SLOW_MS as f64,
        "the slow replica's delay shows in the hedged p99: {hedged}"
    );
}

#[test]
fn transparent_retries_hide_refused_streams() {
    let _serial = serial();
    let Some(mut fleet) = fleet("transparent retry", 1) else {
        return;
    };
    // One stream per connection, and connections renewed every second: each fresh
    // connection meets a burst of calls opened before the server's SETTINGS arrive, and
    // the server refuses (REFUSED_STREAM) all but the first.
    let replica = "--max-concurrent-streams 1 --max-connection-age-ms 1000 \
                   --max-connection-age-grace-ms 5000";
    fleet.start_replica(0, &flags(replica)).unwrap();
    fleet.publish().unwrap();
    let target = fleet.target();
    let load = "--concurrency 16 --calls 2000 --duration-secs 300 --kind unary";
    let load = fleet.start_load(&target, &flags(load)).unwrap();
    let counts = fleet.await_load(load).unwrap();
    println!("transparent retry, max_concurrent_streams=1, no retry policy: {counts}");
    assert_eq!(count(&counts, "calls"), 2000, "{counts}");
    assert_eq!(count(&counts, "failed"), 0, "{counts}");
    assert!(count(&counts, "transparent_retries") > 0, "{counts}");
}

/// A free TCP port on `ip` (bound, then released).
fn free_port(ip: std::net::Ipv4Addr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn who(caller: &str, count: u32, hold_ms: u32) -> WhoRequest {
    WhoRequest {
        caller: caller.to_owned(),
        count,
        hold_ms,
    }
}

/// The longest any single step of a scenario may take (it exists to catch hangs).
const STEP: Duration = Duration::from_secs(60);

#[test]
fn behind_nginx_grpc_pass() {
    let _serial = serial();
    let Some(mut fleet) = fleet("nginx", 3) else {
        return;
    };
    for host in 0..3 {
        fleet.start_replica(host, &[]).unwrap();
    }
    let upstreams: Vec<_> = (0..3)
        .map(|host| fleet.replica_addr(host).unwrap())
        .collect();
    let gateway = fleet.topology().gateway();
    let listen = SocketAddr::from((gateway, free_port(gateway)));
    let proxy = Proxy::start(fleet.topology(), listen, &upstreams).unwrap();
    let rt = runtime();
    let client = rt.block_on(async {
        FleetClient::new(
            Channel::connect(format!("http://{}", proxy.listen()))
                .await
                .unwrap(),
        )
    });

    // The four kinds, and the replica's trailer on each.
    let (replicas, trailers) = rt.block_on(async {
        let mut replicas = BTreeSet::new();
        let mut trailers = 0;
        for _ in 0..6 {
            let reply = client
                .who(who("nginx-unary", 0, 0))
                .timeout(STEP)
                .await
                .unwrap();
            let trailer = reply
                .trailers()
                .get(REPLICA_TRAILER)
                .unwrap()
                .to_str()
                .unwrap();
            assert_eq!(trailer, reply.get_ref().replica);
            trailers += 1;
            replicas.insert(reply.into_inner().replica);
        }
        let mut stream = client
            .who_stream(who("nginx-stream", 3, 0))
            .timeout(STEP)
            .await
            .unwrap();
        let mut seen = Vec::new();
        while let Some(reply) = stream.message().await.unwrap() {
            seen.push(reply.seen);
        }
        assert_eq!(seen, [1, 2, 3]);
        assert!(stream.trailers().unwrap().contains_key(REPLICA_TRAILER));
        trailers += 1;
        let requests = [
            who("nginx-collect", 0, 0),
            who("nginx-collect", 0, 0),
            who("nginx-collect", 0, 0),
        ];
        let reply = client
            .who_collect(rgrpc::stream::iter(requests))
            .timeout(STEP)
            .await
            .unwrap();
        assert_eq!(reply.get_ref().seen, 3);
        assert!(reply.trailers().contains_key(REPLICA_TRAILER));
        trailers += 1;
        let requests = [who("nginx-chat", 0, 0), who("nginx-chat", 0, 0)];
        let mut chat = client
            .who_chat(rgrpc::stream::iter(requests))
            .timeout(STEP)
            .await
            .unwrap();
        let mut seen = Vec::new();
        while let Some(reply) = chat.message().await.unwrap() {
            seen.push(reply.seen);
        }
        assert_eq!(seen, [1, 2]);
        assert!(chat.trailers().unwrap().contains_key(REPLICA_TRAILER));
        trailers += 1;
        (replicas, trailers)
    });

    // A deadline: grpc-timeout reaches the replica through nginx (the handler sees a
    // deadline no later than the caller's), and the caller gets DEADLINE_EXCEEDED.
    let timeout = Duration::from_millis(500);
    let status = rt
        .block_on(async {
            client
                .who(who("nginx-deadline", 0, 20_000))
                .timeout(timeout)
                .await
        })
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let (_, held) = fleet
        .await_replica_line(STEP, |line| line.starts_with("held nginx-deadline "))
        .unwrap();
    let deadline_ms: u128 = held
        .rsplit('=')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("the replica saw no deadline through nginx: {held:?}"));
    assert!(deadline_ms <= timeout.as_millis(), "{held}");
    fleet
        .await_replica_line(STEP, |line| line == "cancelled nginx-deadline")
        .unwrap();

    // Cancellation: the caller cancels a held call; the replica's handler observes it.
    let token = CancellationToken::new();
    let call = rt.spawn({
        let client = client.clone();
        let token = token.clone();
        async move {
            client
                .who(who("nginx-cancel", 0, 20_000))
                .timeout(STEP)
                .cancellation(token)
                .await
        }
    });
    fleet
        .await_replica_line(STEP, |line| line.starts_with("held nginx-cancel "))
        .unwrap();
    token.cancel();
    let status = rt.block_on(call).unwrap().unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    let (host, _) = fleet
        .await_replica_line(STEP, |line| line == "cancelled nginx-cancel")
        .unwrap();
    println!(
        "nginx: 4 kinds ok, {trailers} trailers passed, replicas reached {replicas:?}, \
         deadline seen by the replica {deadline_ms} ms (caller's {} ms), \
         cancellation seen by replica s{}",
        timeout.as_millis(),
        host + 1
    );
}

/// A client that pings every second, idle, against a replica with gRPC's default
/// enforcement (at least 5 minutes between pings, none without calls): the replica answers
/// with GOAWAY ENHANCE_YOUR_CALM "too_many_pings". Then rgrpc's own client with the same
/// 1 s keepalive: it is told the same, backs off, and its calls keep succeeding.
#[test]
fn keepalive_enforcement() {
    let _serial = serial();
    let Some(mut fleet) = fleet("keepalive", 1) else {
        return;
    };
    fleet.start_replica(0, &[]).unwrap();
    let addr = fleet.replica_addr(0).unwrap();
    let rt = runtime();

    let (pings, goaway) = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (_send, mut connection) = h2::client::handshake(tcp).await.unwrap();
        let mut ping_pong = connection.ping_pong().unwrap();
        let connection = tokio::spawn(connection);
        let mut pings = 0;
        let goaway = loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if connection.is_finished() {
                break connection.await.unwrap().unwrap_err();
            }
            if ping_pong.ping(h2::Ping::opaque()).await.is_ok() {
                pings += 1;
            }
            assert!(pings < 60, "a minute of 1 s pings and no GOAWAY");
        };
        (pings, goaway)
    });
    println!("keepalive: a raw client pinging every 1 s got {goaway} after {pings} pings");
    assert_eq!(
        goaway.reason(),
        Some(h2::Reason::ENHANCE_YOUR_CALM),
        "{goaway}"
    );
    assert!(goaway.to_string().contains("too_many_pings"), "{goaway}");

    let (calls, failed) = rt.block_on(async {
        let channel = Channel::builder(format!("http://{addr}"))
            .keepalive_interval(Duration::from_secs(1))
            .keepalive_while_idle(true)
            .connect_lazy()
            .unwrap();
        let client = FleetClient::new(channel);
        let (mut calls, mut failed) = (0, 0);
        // Ten seconds of a call every half second: long enough for the 1 s pings to be
        // refused and the client to back off.
        for _ in 0..20 {
            calls += 1;
            if client
                .who(who("keepalive", 0, 0))
                .timeout(STEP)
                .await
                .is_err()
            {
                failed += 1;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        (calls, failed)
    });
    println!("keepalive: rgrpc's client with a 1 s keepalive made {calls} calls, {failed} failed");
    assert_eq!(failed, 0);
}
