//! The balancing policies over real replicas on 127.0.0.x: pick_first's failover,
//! round_robin's even spread, failing fast or waiting for ready when every replica is
//! down, and the connection backoff.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rgrpc::channel::ConnectionBackoff;
use rgrpc::{Channel, Code, LoadBalancing};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use support::dns::DnsServer;
use support::replica::{Replica, call_until, free_port, loopback, who_answers};
use support::{bounded, greeting};
use tokio::time::Instant;

const NAME: &str = "fleet.test";

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

fn quick_backoff() -> ConnectionBackoff {
    ConnectionBackoff::default()
        .initial(Duration::from_millis(20))
        .max(Duration::from_millis(200))
}

fn client(target: &str, policy: LoadBalancing) -> HelloServiceClient {
    HelloServiceClient::new(
        Channel::builder(target)
            .load_balancing(policy)
            .dns_min_resolution_interval(Duration::from_millis(20))
            .connection_backoff(quick_backoff())
            .connect_lazy()
            .unwrap(),
    )
}

#[tokio::test]
async fn pick_first_sends_every_call_to_the_first_address_then_fails_over() {
    let port = free_port().await;
    let r2 = Replica::start("r2", loopback(2, port)).await;
    let r3 = Replica::start("r3", loopback(3, port)).await;
    let dns = DnsServer::start(NAME, vec![ip(2), ip(3)]).await;
    let client = client(&dns.target(port), LoadBalancing::PickFirst);
    for _ in 0..20 {
        assert_eq!(who_answers(&client).await.unwrap(), "r2");
    }
    assert_eq!(
        r3.served(),
        0,
        "the second address takes nothing while the first works"
    );

    r2.shut_down().await;
    call_until("r3 to take over", &client, |name| name == "r3").await;
    for _ in 0..10 {
        assert_eq!(who_answers(&client).await.unwrap(), "r3");
    }
}

#[tokio::test]
async fn round_robin_spreads_calls_evenly_over_every_replica() {
    let port = free_port().await;
    let replicas = [
        Replica::start("r2", loopback(2, port)).await,
        Replica::start("r3", loopback(3, port)).await,
        Replica::start("r4", loopback(4, port)).await,
    ];
    let dns = DnsServer::start(NAME, vec![ip(2), ip(3), ip(4)]).await;
    let client = client(&dns.target(port), LoadBalancing::RoundRobin);
    // Until all three are connected, the ready ones share the calls.
    let mut seen = std::collections::HashSet::new();
    call_until("every replica to answer", &client, |name| {
        seen.insert(name.to_owned());
        seen.len() == 3
    })
    .await;
    let before: Vec<usize> = replicas.iter().map(Replica::served).collect();
    for _ in 0..30 {
        who_answers(&client).await.unwrap();
    }
    let each: Vec<usize> = replicas
        .iter()
        .zip(&before)
        .map(|(replica, before)| replica.served() - before)
        .collect();
    println!("round robin: 30 calls answered by r2, r3, r4: {each:?}");
    assert_eq!(each, [10, 10, 10]);
}

#[tokio::test]
async fn with_every_replica_down_calls_fail_at_once_but_wait_for_ready_waits() {
    let port = free_port().await;
    let target = format!("dns:///127.0.0.2:{port}");
    let client = client(&target, LoadBalancing::RoundRobin);
    for _ in 0..3 {
        let status = bounded("a call", client.say_hello(greeting("x")))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(
            status.message().contains(&target),
            "names the target: {status:?}"
        );
        assert!(status.message().contains("refused"), "says why: {status:?}");
    }

    // A wait_for_ready call waits, up to its deadline…
    let status = bounded(
        "a wait_for_ready call with a deadline",
        client
            .say_hello(greeting("x"))
            .wait_for_ready(true)
            .timeout(Duration::from_millis(200)),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");

    // …and for the replica to start, and then succeeds.
    let waiting = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .say_hello(greeting("patient"))
                .wait_for_ready(true)
                .timeout(support::LIMIT)
                .await
        }
    });
    // Let the call begin (not an assertion: starting the server earlier is also fine).
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !waiting.is_finished(),
        "a wait_for_ready call does not fail while down"
    );
    let r2 = Replica::start("r2", loopback(2, port)).await;
    let answer = bounded("the waiting call", waiting).await.unwrap().unwrap();
    assert_eq!(answer.into_inner().reply, "r2");
    assert_eq!(r2.served(), 1);
}

/// A server that accepts connections and closes them at once: each attempt counts, and a
/// connection that never answered anything counts as a failed attempt, so the pauses
/// between attempts grow as the backoff says instead of reconnecting in a tight loop.
#[tokio::test]
async fn reconnection_attempts_follow_the_backoff() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let attempts = Arc::new(AtomicUsize::new(0));
    let times = Arc::new(std::sync::Mutex::new(Vec::new()));
    let acceptor = tokio::spawn({
        let (attempts, times) = (attempts.clone(), times.clone());
        async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                attempts.fetch_add(1, Ordering::SeqCst);
                times.lock().unwrap().push(Instant::now());
                drop(stream);
            }
        }
    });
    let backoff = ConnectionBackoff::default()
        .initial(Duration::from_millis(100))
        .multiplier(2.0)
        .jitter(0.0)
        .max(Duration::from_secs(10));
    let channel = Channel::builder(format!("dns:///127.0.0.1:{port}"))
        .load_balancing(LoadBalancing::RoundRobin)
        .connection_backoff(backoff)
        .connect_lazy()
        .unwrap();
    let client = HelloServiceClient::new(channel);
    // Calls fail (the connection closes under them) and ask for connections meanwhile.
    let _ = bounded("a call", client.say_hello(greeting("x"))).await;
    bounded("four attempts", async {
        while attempts.load(Ordering::SeqCst) < 4 {
            let _ = client.say_hello(greeting("x")).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let times = times.lock().unwrap().clone();
    // Pauses of 100, 200 and 400 ms separate the first four attempts (a little less as
    // seen by the server, which notes each attempt a moment after it starts).
    let spread = times[3] - times[0];
    println!("backoff: the first four attempts spread over {spread:?}");
    assert!(spread >= Duration::from_millis(600), "{spread:?}");
    acceptor.abort();
}
