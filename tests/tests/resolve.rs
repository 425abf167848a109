//! Targets the channel resolves itself: `unix:` sockets and `dns:` names (asked of a DNS
//! server inside this test), addresses coming and going, and re-resolution after failures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::IpAddr;
use std::time::Duration;

use rgrpc::channel::ConnectionBackoff;
use rgrpc::{Channel, Code, LoadBalancing};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use rgrpc_tests::hello::hello_service_server::HelloServiceServer;
use support::dns::DnsServer;
use support::greeter::Greeter;
use support::replica::{HOLD, Replica, call_until, free_port, loopback, who_answers};
use support::{bounded, greeting, next_reply};

const NAME: &str = "fleet.test";

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// A backoff short enough for tests to see several attempts.
fn quick_backoff() -> ConnectionBackoff {
    ConnectionBackoff::default()
        .initial(Duration::from_millis(20))
        .max(Duration::from_millis(200))
}

/// A round-robin client of `target` that resolves often (every 50 ms, at most every 20 ms).
fn client(target: &str) -> HelloServiceClient {
    HelloServiceClient::new(
        Channel::builder(target)
            .load_balancing(LoadBalancing::RoundRobin)
            .dns_refresh_interval(Duration::from_millis(50))
            .dns_min_resolution_interval(Duration::from_millis(20))
            .connection_backoff(quick_backoff())
            .connect_lazy()
            .unwrap(),
    )
}

/// Waits until the DNS server has answered two more resolutions than `before`: the
/// second began after the first had been applied, so the channel knows the new records.
async fn two_more_resolutions(dns: &DnsServer, before: usize) {
    bounded("two more resolutions", async {
        while dns.resolutions() < before + 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_unix_target_reaches_a_server_on_a_unix_socket_both_spellings() {
    let dir = std::env::temp_dir().join(format!("rgrpc-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hello.sock");
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        rgrpc::Server::builder()
            .add_service(HelloServiceServer::new(Greeter))
            .serve_unix(listener, async {
                let _ = stopped.await;
            }),
    );
    for target in [
        format!("unix:{}", path.display()),
        format!("unix://{}", path.display()),
    ] {
        let channel = bounded("connecting", Channel::connect(target.clone()))
            .await
            .unwrap_or_else(|err| panic!("{target}: {err}"));
        let client = HelloServiceClient::new(channel);
        let answer = bounded("a unary call", client.say_hello(greeting("unix")))
            .await
            .unwrap();
        assert_eq!(answer.into_inner().reply, "Hello, unix!");
        let mut replies = bounded("a streaming call", client.lots_of_replies(greeting("u")))
            .await
            .unwrap();
        assert!(!next_reply("the first reply", &mut replies).await.is_empty());
    }
    stop.send(()).unwrap();
    bounded("the server's shutdown", server)
        .await
        .unwrap()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_unix_target_without_a_server_is_unavailable_naming_the_socket() {
    let target = "unix:/nonexistent/rgrpc-test.sock";
    let error = bounded("connecting", Channel::connect(target))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("rgrpc-test.sock"), "{error}");
    let client = HelloServiceClient::new(Channel::lazy(target).unwrap());
    let status = bounded("a call", client.say_hello(greeting("x")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains(target),
        "names the target: {status:?}"
    );
    assert!(
        status.message().contains("No such file"),
        "says why: {status:?}"
    );
}

#[tokio::test]
async fn bad_targets_are_refused_naming_the_problem() {
    for (target, problem) in [
        ("dns:///fleet.test:", "names no port"),
        ("dns:///fleet.test:70000", "not a number below 65536"),
        ("dns://nameserver.example/fleet.test:1", "not an IP address"),
        ("unix://host/socket", "takes no authority"),
        ("unix:", "names no socket path"),
    ] {
        let error = Channel::lazy(target).unwrap_err().to_string();
        assert!(error.contains(problem), "{target}: {error}");
        assert!(
            error.contains(target),
            "{target}: names the target: {error}"
        );
    }
}

#[tokio::test]
async fn a_dns_target_follows_its_records_and_drains_vanished_addresses() {
    let port = free_port().await;
    let r2 = Replica::start("r2", loopback(2, port)).await;
    let r3 = Replica::start("r3", loopback(3, port)).await;
    let dns = DnsServer::start(NAME, vec![ip(2)]).await;
    let client = client(&dns.target(port));

    // Only r2 is known: it takes every call.
    for _ in 0..5 {
        assert_eq!(who_answers(&client).await.unwrap(), "r2");
    }
    // A call held in flight on r2.
    let held = tokio::spawn({
        let client = client.clone();
        async move { client.say_hello(greeting(HOLD)).await }
    });
    bounded("r2 to hold the call", async {
        while r2.holding() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;

    // r3 appears: it gets calls.
    dns.set(vec![ip(2), ip(3)]);
    call_until("r3 to take calls", &client, |name| name == "r3").await;

    // r2 vanishes: after the next resolution it gets no new call…
    let before = dns.resolutions();
    dns.set(vec![ip(3)]);
    two_more_resolutions(&dns, before).await;
    let served_by_r2 = r2.served();
    for _ in 0..20 {
        assert_eq!(who_answers(&client).await.unwrap(), "r3");
    }
    assert_eq!(
        r2.served(),
        served_by_r2,
        "a removed address takes no new call"
    );
    // …while the call in flight on it completes.
    r2.release();
    let answer = bounded("the held call", held).await.unwrap().unwrap();
    assert_eq!(answer.into_inner().reply, "r2");
    drop(r3);
}

/// A and AAAA records are both asked for: a name with an IPv4 and an IPv6 address gets
/// calls on both (round robin).
#[tokio::test]
async fn a_dns_target_uses_ipv4_and_ipv6_addresses() {
    let port = free_port().await;
    let v4 = Replica::start("v4", loopback(2, port)).await;
    let v6 = Replica::start(
        "v6",
        std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
    )
    .await;
    let dns = DnsServer::start(
        NAME,
        vec![ip(2), IpAddr::from(std::net::Ipv6Addr::LOCALHOST)],
    )
    .await;
    let client = client(&dns.target(port));
    call_until("the IPv4 replica to answer", &client, |name| name == "v4").await;
    call_until("the IPv6 replica to answer", &client, |name| name == "v6").await;
    assert!(v4.served() > 0 && v6.served() > 0);
}

#[tokio::test]
async fn a_connection_failure_makes_the_channel_resolve_again_at_once() {
    let port = free_port().await;
    let r2 = Replica::start("r2", loopback(2, port)).await;
    let dns = DnsServer::start(NAME, vec![ip(2)]).await;
    // Resolved again only when something fails: the periodic refresh is an hour away.
    let client = HelloServiceClient::new(
        Channel::builder(dns.target(port))
            .dns_refresh_interval(Duration::from_secs(3600))
            .dns_min_resolution_interval(Duration::from_millis(20))
            .connection_backoff(quick_backoff())
            .connect_lazy()
            .unwrap(),
    );
    assert_eq!(who_answers(&client).await.unwrap(), "r2");
    let before = dns.resolutions();
    assert_eq!(before, 1, "resolved once so far");

    // The service moves to r3; r2 shuts down (GOAWAY): the channel asks DNS again and
    // finds r3 without waiting for the hour.
    let r3 = Replica::start("r3", loopback(3, port)).await;
    dns.set(vec![ip(3)]);
    r2.shut_down().await;
    call_until("r3 to take calls", &client, |name| name == "r3").await;
    assert!(
        dns.resolutions() > before,
        "resolved again after the failure"
    );
    drop(r3);
}

#[tokio::test]
async fn a_name_that_does_not_resolve_fails_calls_naming_it() {
    let dns = DnsServer::start(NAME, vec![ip(2)]).await;
    let target = format!("dns://{}/nowhere.test:1", dns.addr);
    let client = client(&target);
    let status = bounded("a call", client.say_hello(greeting("x")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("nowhere.test"), "{status:?}");
    assert!(status.message().contains("resolution failed"), "{status:?}");
}

/// A CA and a server certificate for 127.0.0.1, made for one test: (CA PEM, cert PEM,
/// key PEM).
fn test_pki() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

#[tokio::test]
async fn dns_targets_and_balanced_lists_speak_tls() {
    use rgrpc::tls::{ClientTls, ServerTls};
    let (ca, cert, key) = test_pki();
    let server = support::Running::serve(
        rgrpc::Server::builder()
            .tls(ServerTls::new(&cert, &key))
            .unwrap()
            .add_service(HelloServiceServer::new(Greeter)),
    )
    .await;
    let port = server.addr.port();
    let channels = [
        Channel::builder(format!("dns:///127.0.0.1:{port}"))
            .tls(ClientTls::new().ca(&ca))
            .connect_lazy()
            .unwrap(),
        Channel::balance_with([
            Channel::builder(format!("https://127.0.0.1:{port}")).tls(ClientTls::new().ca(&ca))
        ])
        .unwrap(),
    ];
    for channel in channels {
        let client = HelloServiceClient::new(channel);
        let answer = bounded("a call over TLS", client.say_hello(greeting("tls")))
            .await
            .unwrap();
        assert_eq!(answer.into_inner().reply, "Hello, tls!");
    }
    // A client that does not trust the server's CA fails, saying why.
    let (other_ca, _, _) = test_pki();
    let untrusting = HelloServiceClient::new(
        Channel::builder(format!("dns:///127.0.0.1:{port}"))
            .tls(ClientTls::new().ca(&other_ca))
            .connect_lazy()
            .unwrap(),
    );
    let status = bounded("an untrusting call", untrusting.say_hello(greeting("x")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("TLS handshake failed"),
        "{status:?}"
    );
}
