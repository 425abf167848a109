//! Client-side health checking (gRFC A17): a replica whose health service says
//! NOT_SERVING takes no calls until it says SERVING again; a server without the health
//! service is taken as healthy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::IpAddr;
use std::time::Duration;

use rgrpc::channel::ConnectionBackoff;
use rgrpc::{Channel, LoadBalancing};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use support::dns::DnsServer;
use support::replica::{Replica, call_until, free_port, loopback, who_answers};

const NAME: &str = "fleet.test";

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

fn checked_client(target: &str) -> HelloServiceClient {
    HelloServiceClient::new(
        Channel::builder(target)
            .load_balancing(LoadBalancing::RoundRobin)
            .health_check("")
            .connection_backoff(
                ConnectionBackoff::default()
                    .initial(Duration::from_millis(20))
                    .max(Duration::from_millis(200)),
            )
            .connect_lazy()
            .unwrap(),
    )
}

#[tokio::test]
async fn a_not_serving_replica_takes_no_calls_until_it_serves_again() {
    let port = free_port().await;
    let r2 = Replica::start("r2", loopback(2, port)).await;
    let r3 = Replica::start("r3", loopback(3, port)).await;
    let dns = DnsServer::start(NAME, vec![ip(2), ip(3)]).await;
    let client = checked_client(&dns.target(port));
    call_until("r2 to answer", &client, |name| name == "r2").await;
    call_until("r3 to answer", &client, |name| name == "r3").await;

    // r3 says NOT_SERVING: once the client has heard it, r3 gets nothing.
    r3.health.set_not_serving("");
    let mut in_a_row = 0;
    call_until("twenty calls in a row to r2", &client, |name| {
        in_a_row = if name == "r2" { in_a_row + 1 } else { 0 };
        in_a_row == 20
    })
    .await;
    let served_by_r3 = r3.served();
    for _ in 0..20 {
        assert_eq!(who_answers(&client).await.unwrap(), "r2");
    }
    assert_eq!(r3.served(), served_by_r3);

    // SERVING again: r3 takes calls again, on the same connection.
    r3.health.set_serving("");
    call_until("r3 to answer again", &client, |name| name == "r3").await;
    assert!(r2.served() > 0);
}

#[tokio::test]
async fn a_replica_without_the_health_service_is_taken_as_healthy() {
    let port = free_port().await;
    let r2 = Replica::start_with(
        "r2",
        loopback(2, port),
        rgrpc::Server::builder().health(false),
    )
    .await;
    let dns = DnsServer::start(NAME, vec![ip(2)]).await;
    let client = checked_client(&dns.target(port));
    for _ in 0..5 {
        assert_eq!(who_answers(&client).await.unwrap(), "r2");
    }
    drop(r2);
}

#[tokio::test]
async fn a_replica_that_starts_not_serving_gets_no_call_and_unready_calls_wait() {
    let port = free_port().await;
    let server = rgrpc::Server::builder();
    server.health_reporter().set_not_serving("");
    let r2 = Replica::start_with("r2", loopback(2, port), server).await;
    let dns = DnsServer::start(NAME, vec![ip(2)]).await;
    let client = checked_client(&dns.target(port));
    // Its only replica is not serving: a call fails, UNAVAILABLE, saying so.
    let status = support::bounded("a call", client.say_hello(support::greeting("x")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), rgrpc::Code::Unavailable, "{status:?}");
    assert!(status.message().contains("NOT_SERVING"), "{status:?}");
    assert_eq!(r2.served(), 0);
    r2.health.set_serving("");
    call_until("r2 to answer", &client, |name| name == "r2").await;
}
