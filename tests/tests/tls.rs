//! TLS and mutual TLS end to end, with certificates made by each test (`rcgen`): calls of
//! every kind go through, and every connection that should not get in is refused before
//! a handler runs — plaintext, an untrusted server, a client without a certificate or
//! with one from the wrong CA, a client that never finishes its handshake.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rgrpc::tls::{ClientTls, ServerTls};
use rgrpc::{Channel, Code, ConnectError, Context, RequestStream, ResponseSink, Status};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::{Running, bounded, greeting, next_reply, reply};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// A certificate authority made for one test.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate an authority issued, with its key.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn issue(&self, name: &str, names: &[&str], usage: ExtendedKeyUsagePurpose) -> Leaf {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

/// Everything a test may need: a CA with a server and a client certificate, and an unrelated
/// CA with a client certificate of its own.
struct Pki {
    ca: Ca,
    server: Leaf,
    client: Leaf,
    other_ca: Ca,
    stranger: Leaf,
}

impl Pki {
    fn new() -> Self {
        let ca = Ca::new("rgrpc test CA");
        let other_ca = Ca::new("someone else's CA");
        Self {
            server: ca.issue(
                "server",
                &["localhost", "127.0.0.1"],
                ExtendedKeyUsagePurpose::ServerAuth,
            ),
            client: ca.issue("client", &[], ExtendedKeyUsagePurpose::ClientAuth),
            stranger: other_ca.issue("stranger", &[], ExtendedKeyUsagePurpose::ClientAuth),
            ca,
            other_ca,
        }
    }

    fn server_tls(&self) -> ServerTls {
        ServerTls::new(&self.server.cert_pem, &self.server.key_pem)
    }

    /// A client trusting the test CA, without a certificate of its own.
    fn client_tls(&self) -> ClientTls {
        ClientTls::new().ca(self.ca.pem())
    }
}

/// What a handler saw of its caller.
#[derive(Debug)]
struct Seen {
    peer: Option<SocketAddr>,
    certificates: Option<Vec<Vec<u8>>>,
}

/// Greets, and records every call it serves.
#[derive(Clone, Default)]
struct Recorder {
    calls: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    fn record(&self, ctx: &Context) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let certificates = ctx
            .peer_certificates()
            .map(|chain| chain.iter().map(|cert| cert.to_vec()).collect());
        self.seen.lock().unwrap().push(Seen {
            peer: ctx.peer(),
            certificates,
        });
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl HelloService for Recorder {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        self.record(&ctx);
        Ok(reply(format!("hello {}", request.greeting)))
    }

    async fn lots_of_replies(
        &self,
        ctx: Context,
        request: HelloRequest,
        sink: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        self.record(&ctx);
        sink.send(reply(format!("one {}", request.greeting)))
            .await?;
        sink.send(reply(format!("two {}", request.greeting))).await
    }

    async fn lots_of_greetings(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
    ) -> Result<HelloResponse, Status> {
        self.record(&ctx);
        let mut names = Vec::new();
        while let Some(request) = requests.message().await? {
            names.push(request.greeting);
        }
        Ok(reply(names.join("+")))
    }

    async fn bidi_hello(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
        sink: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        self.record(&ctx);
        while let Some(request) = requests.message().await? {
            sink.send(reply(format!("echo {}", request.greeting)))
                .await?;
        }
        Ok(())
    }
}

/// `recorder` served over TLS as `tls` says, on 127.0.0.1.
async fn serve_tls(tls: ServerTls, recorder: &Recorder) -> Running {
    let router = rgrpc::Server::builder()
        .tls(tls)
        .unwrap()
        .add_service(HelloServiceServer::new(recorder.clone()));
    Running::serve(router).await
}

async fn connect(addr: SocketAddr, tls: ClientTls) -> Result<HelloServiceClient, ConnectError> {
    let channel = Channel::builder(format!("https://{addr}"))
        .tls(tls)
        .connect();
    Ok(HelloServiceClient::new(bounded("connect", channel).await?))
}

/// Checks that a connection the server should refuse carries no call: the refusal shows
/// at connect (the client rejected the server) or as a transport failure of the first
/// call (the server rejected the client after the client's side of the handshake was
/// done, as TLS 1.3 allows).
async fn refused(client: Result<HelloServiceClient, ConnectError>) {
    if let Ok(client) = client {
        let status = bounded("refused call", client.say_hello(greeting("x")))
            .await
            .expect_err("a connection the server should refuse carried a call");
        assert!(
            matches!(status.code(), Code::Unavailable | Code::Unknown),
            "not a transport failure: {status:?}"
        );
    }
}

/// A call over TLS, to show the server is still serving after refusing someone.
async fn still_serves(addr: SocketAddr, tls: ClientTls) {
    let client = connect(addr, tls).await.unwrap();
    let response = bounded("call after a refusal", client.say_hello(greeting("again")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.reply, "hello again");
}

#[tokio::test]
async fn every_kind_of_call_goes_through_tls() {
    let pki = Pki::new();
    let recorder = Recorder::default();
    let server = serve_tls(pki.server_tls(), &recorder).await;
    // The certificate is for both names; the client checks the one it is told.
    let client = connect(server.addr, pki.client_tls().domain("localhost"))
        .await
        .unwrap();

    let unary = bounded("unary", client.say_hello(greeting("tls")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unary.reply, "hello tls");

    let mut replies = bounded("server streaming", client.lots_of_replies(greeting("tls")))
        .await
        .unwrap();
    assert_eq!(next_reply("first reply", &mut replies).await, "one tls");
    assert_eq!(next_reply("second reply", &mut replies).await, "two tls");
    assert!(bounded("end", replies.message()).await.unwrap().is_none());

    let requests = rgrpc::stream::iter(vec![greeting("a"), greeting("b")]);
    let summary = bounded("client streaming", client.lots_of_greetings(requests))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.reply, "a+b");

    let requests = rgrpc::stream::iter(vec![greeting("x"), greeting("y")]);
    let mut echoes = bounded("bidi", client.bidi_hello(requests)).await.unwrap();
    assert_eq!(next_reply("first echo", &mut echoes).await, "echo x");
    assert_eq!(next_reply("second echo", &mut echoes).await, "echo y");
    assert!(bounded("end", echoes.message()).await.unwrap().is_none());

    assert_eq!(recorder.calls(), 4);
    for seen in recorder.seen.lock().unwrap().iter() {
        // The peer address is read through TLS's connection info too.
        let peer = seen
            .peer
            .expect("the handler knows the peer's address under TLS");
        assert_eq!(peer.ip(), server.addr.ip());
        assert_ne!(peer.port(), server.addr.port());
        assert!(
            seen.certificates.is_none(),
            "no client certificate was asked for"
        );
    }
}

#[tokio::test]
async fn a_plaintext_client_is_refused_and_tls_clients_are_still_served() {
    let pki = Pki::new();
    let recorder = Recorder::default();
    let server = serve_tls(pki.server_tls(), &recorder).await;

    let plaintext = Channel::connect(format!("http://{}", server.addr));
    let plaintext = bounded("plaintext connect", plaintext)
        .await
        .map(HelloServiceClient::new);
    // The server reads the HTTP/2 preface as a broken TLS record and hangs up.
    refused(plaintext).await;

    still_serves(server.addr, pki.client_tls()).await;
    assert_eq!(
        recorder.calls(),
        1,
        "only the TLS client's call reached the handler"
    );
}

#[tokio::test]
async fn a_client_trusting_another_ca_refuses_the_server() {
    let pki = Pki::new();
    let recorder = Recorder::default();
    let server = serve_tls(pki.server_tls(), &recorder).await;

    let err = connect(server.addr, ClientTls::new().ca(pki.other_ca.pem()))
        .await
        .expect_err("a server certificate from an untrusted CA was accepted");
    assert!(
        format!("{err:?}").contains("UnknownIssuer"),
        "not refused for its issuer: {err:?}"
    );
    // Nor does a certificate for another name pass, from the right CA.
    let err = connect(server.addr, pki.client_tls().domain("elsewhere.example"))
        .await
        .expect_err("a server certificate for another name was accepted");
    assert!(format!("{err:?}").contains("NotValidForName"), "{err:?}");

    still_serves(server.addr, pki.client_tls()).await;
    assert_eq!(recorder.calls(), 1);
}

#[tokio::test]
async fn mutual_tls_refuses_clients_without_a_certificate_from_its_ca() {
    let pki = Pki::new();
    let recorder = Recorder::default();
    let server = serve_tls(pki.server_tls().client_ca(pki.ca.pem()), &recorder).await;

    refused(connect(server.addr, pki.client_tls()).await).await;
    let stranger = pki
        .client_tls()
        .identity(&pki.stranger.cert_pem, &pki.stranger.key_pem);
    refused(connect(server.addr, stranger).await).await;
    assert_eq!(recorder.calls(), 0, "a refused client reached a handler");

    let member = pki
        .client_tls()
        .identity(&pki.client.cert_pem, &pki.client.key_pem);
    still_serves(server.addr, member).await;
    assert_eq!(recorder.calls(), 1);
}

#[tokio::test]
async fn the_handler_sees_the_client_certificate_and_address() {
    let pki = Pki::new();
    let recorder = Recorder::default();
    let server = serve_tls(pki.server_tls().client_ca(pki.ca.pem()), &recorder).await;
    let member = pki
        .client_tls()
        .identity(&pki.client.cert_pem, &pki.client.key_pem);
    let client = connect(server.addr, member).await.unwrap();

    let requests = rgrpc::stream::iter(vec![greeting("m")]);
    let mut echoes = bounded("bidi", client.bidi_hello(requests)).await.unwrap();
    assert_eq!(next_reply("echo", &mut echoes).await, "echo m");
    bounded("unary", client.say_hello(greeting("m")))
        .await
        .unwrap();

    let seen = recorder.seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for seen in seen.iter() {
        let chain = seen.certificates.as_ref().expect("no peer certificates");
        assert_eq!(
            chain.first(),
            Some(&pki.client.der),
            "not the client's certificate"
        );
        let peer = seen.peer.expect("no peer address under mutual TLS");
        assert!(peer.ip().is_loopback() && peer.port() != server.addr.port());
    }
    // Both calls came over the one connection the channel holds.
    assert_eq!(seen[0].peer, seen[1].peer);
}

#[tokio::test]
async fn an_optional_client_certificate_is_read_when_present() {
    let pki = Pki::new();
    let recorder = Recorder::default();
    let tls = pki
        .server_tls()
        .client_ca(pki.ca.pem())
        .client_certificate_optional();
    let server = serve_tls(tls, &recorder).await;

    still_serves(server.addr, pki.client_tls()).await;
    let member = pki
        .client_tls()
        .identity(&pki.client.cert_pem, &pki.client.key_pem);
    still_serves(server.addr, member).await;
    // Optional or not, a certificate must be from the CA.
    let stranger = pki
        .client_tls()
        .identity(&pki.stranger.cert_pem, &pki.stranger.key_pem);
    refused(connect(server.addr, stranger).await).await;

    let seen = recorder.seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].certificates.is_none());
    assert_eq!(
        seen[1]
            .certificates
            .as_ref()
            .and_then(|chain| chain.first()),
        Some(&pki.client.der)
    );
}

#[tokio::test]
async fn a_bad_configuration_is_an_error_naming_the_problem() {
    let pki = Pki::new();
    let error = |tls: ServerTls| match rgrpc::Server::builder().tls(tls) {
        Ok(_) => panic!("a bad TLS configuration was accepted"),
        Err(err) => err.to_string(),
    };
    let err = error(ServerTls::new("no certificate here", &pki.server.key_pem));
    assert!(
        err.contains("the server certificate chain holds no PEM certificate"),
        "{err}"
    );
    let err = error(ServerTls::new(&pki.server.cert_pem, "no key here"));
    assert!(err.contains("the server private key"), "{err}");
    // A key that is not the certificate's own.
    let err = error(ServerTls::new(&pki.server.cert_pem, &pki.client.key_pem));
    assert!(err.contains("the server's certificate and key"), "{err}");
    let err = error(pki.server_tls().client_ca("no CA here"));
    assert!(
        err.contains("the client CA holds no PEM certificate"),
        "{err}"
    );

    // A client: nothing trusted, a broken identity, and TLS with an http:// URI, which
    // would otherwise connect in plaintext.
    let client_error = |uri: &str, tls: ClientTls| {
        let channel = Channel::builder(uri).tls(tls).connect_lazy();
        channel
            .expect_err("a bad TLS configuration was accepted")
            .to_string()
    };
    let err = client_error("https://127.0.0.1:1", ClientTls::new());
    assert!(err.contains("trusts no certificate authority"), "{err}");
    let err = client_error(
        "https://127.0.0.1:1",
        pki.client_tls().identity(&pki.client.cert_pem, "no key"),
    );
    assert!(err.contains("the client private key"), "{err}");
    let err = client_error("http://127.0.0.1:1", pki.client_tls());
    assert!(err.contains("not https://"), "{err}");
}

/// The server's handshake timeout when a test needs one that is short, yet applies to an
/// honest client too: far above an honest handshake in a debug build (50 ms at worst seen
/// on two busy cores), far below the tests' bound on waiting for the silent client's end.
const SHORT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

#[tokio::test]
async fn a_client_that_never_finishes_its_handshake_is_dropped() {
    let pki = Pki::new();
    let recorder = Recorder::default();
    // The honest client of `still_serves` below goes through this timeout too.
    let tls = pki.server_tls().handshake_timeout(SHORT_HANDSHAKE_TIMEOUT);
    let server = serve_tls(tls, &recorder).await;

    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut buffer = [0u8; 64];
    match bounded(
        "the server dropping a silent client",
        silent.read(&mut buffer),
    )
    .await
    {
        Ok(0) => {}
        Err(err) if err.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("expected the connection closed, got {other:?}"),
    }
    still_serves(server.addr, pki.client_tls()).await;
}

#[tokio::test]
async fn a_server_that_never_answers_the_handshake_fails_the_connect() {
    let pki = Pki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts connections and says nothing on them, until the test ends.
    let mute = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let tls = pki
        .client_tls()
        .handshake_timeout(Duration::from_millis(300));
    let err = connect(addr, tls)
        .await
        .expect_err("connected to a mute server");
    assert!(format!("{err:?}").contains("HandshakeTimeout"), "{err:?}");
    mute.abort();
}

#[tokio::test]
async fn grpc_web_and_connect_go_through_tls_over_http1_and_http2() {
    let pki = Pki::new();
    let recorder = Recorder::default();
    // Mutual TLS: the client's certificate must go through every transport too.
    let server = serve_tls(pki.server_tls().client_ca(pki.ca.pem()), &recorder).await;
    let member = || {
        pki.client_tls()
            .domain("localhost")
            .identity(&pki.client.cert_pem, &pki.client.key_pem)
    };
    for protocol in [rgrpc::Protocol::GrpcWeb, rgrpc::Protocol::Connect] {
        for http1 in [true, false] {
            let how = format!("{protocol:?}, HTTP/1.1: {http1}");
            let builder = Channel::builder(format!("https://{}", server.addr))
                .protocol(protocol)
                .tls(member());
            let builder = if http1 { builder.http1() } else { builder };
            let client = HelloServiceClient::new(bounded(&how, builder.connect()).await.unwrap());
            let unary = bounded(&how, client.say_hello(greeting("tls")))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(unary.reply, "hello tls", "{how}");
            let mut replies = bounded(&how, client.lots_of_replies(greeting("tls")))
                .await
                .unwrap();
            assert_eq!(next_reply(&how, &mut replies).await, "one tls");
            assert_eq!(next_reply(&how, &mut replies).await, "two tls");
            assert!(bounded(&how, replies.message()).await.unwrap().is_none());

            // A client without a certificate is refused on the same path.
            let builder = Channel::builder(format!("https://{}", server.addr))
                .protocol(protocol)
                .tls(pki.client_tls().domain("localhost"));
            let builder = if http1 { builder.http1() } else { builder };
            refused(
                bounded(&how, builder.connect())
                    .await
                    .map(HelloServiceClient::new),
            )
            .await;
        }
    }
    let certificates_seen = recorder
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|seen| seen.certificates.is_some())
        .count();
    assert_eq!(certificates_seen, recorder.calls());
    assert_eq!(recorder.calls(), 8);
}
