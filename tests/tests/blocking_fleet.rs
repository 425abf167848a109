//! The blocking client on a resolved target: it balances over the replicas DNS names, and a
//! `wait_for_ready` call waits for a replica to come back, through the same channel the
//! async client uses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use rgrpc::channel::ConnectionBackoff;
use rgrpc::{Channel, Code, LoadBalancing};
use rgrpc_tests::hello::hello_service_client::HelloServiceBlockingClient;
use support::dns::DnsServer;
use support::greeting;
use support::replica::{Replica, free_port, loopback};

/// Far above any honest call; it only turns a hang into a failure.
const CALL_BOUND: Duration = Duration::from_secs(30);

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

fn who_answers(client: &HelloServiceBlockingClient) -> Result<String, rgrpc::Status> {
    client
        .say_hello(greeting("who?"))
        .timeout(CALL_BOUND)
        .call()
        .map(|response| response.into_inner().reply)
}

#[test]
fn a_blocking_client_balances_over_a_dns_target_and_waits_for_ready() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let port = runtime.block_on(free_port());
    let (r2, r3, dns) = runtime.block_on(async {
        (
            Replica::start("r2", loopback(2, port)).await,
            Replica::start("r3", loopback(3, port)).await,
            DnsServer::start("fleet.test", vec![ip(2), ip(3)]).await,
        )
    });
    let channel = rgrpc::blocking::Channel::lazy_with(
        Channel::builder(dns.target(port))
            .load_balancing(LoadBalancing::RoundRobin)
            .dns_min_resolution_interval(Duration::from_millis(20))
            .connection_backoff(
                ConnectionBackoff::default()
                    .initial(Duration::from_millis(20))
                    .max(Duration::from_millis(200)),
            ),
    )
    .unwrap();
    let client = HelloServiceBlockingClient::new(channel);

    // Round robin reaches both replicas (bounded: the second may still be connecting).
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        seen.insert(who_answers(&client).unwrap());
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen, BTreeSet::from(["r2".to_owned(), "r3".to_owned()]));

    // Every replica gone: a plain call fails at once, once the channel has seen it.
    runtime.block_on(async {
        r2.shut_down().await;
        r3.shut_down().await;
    });
    let mut failed = None;
    for _ in 0..2000 {
        match who_answers(&client) {
            Ok(_) => std::thread::sleep(Duration::from_millis(5)),
            Err(status) => {
                failed = Some(status);
                break;
            }
        }
    }
    let status = failed.expect("calls kept succeeding with every replica shut down");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    // A wait_for_ready call waits instead, and is served once a replica is back.
    let waiting = std::thread::spawn({
        let client = client.clone();
        move || {
            client
                .say_hello(greeting("who?"))
                .timeout(CALL_BOUND)
                .wait_for_ready(true)
                .call()
                .map(|response| response.into_inner().reply)
        }
    });
    // Not needed for correctness: it only makes it likely the call is already waiting.
    std::thread::sleep(Duration::from_millis(200));
    let r4 = runtime.block_on(Replica::start("r4", loopback(2, port)));
    assert_eq!(waiting.join().unwrap().unwrap(), "r4");
    drop(r4);
}
