//! Serves the route guide on 127.0.0.1 (a port the OS picks), calls each of its four rpcs
//! once and prints what came back, then shuts the server down. Exits non-zero if any call
//! fails.
//!
//! `cargo run`

use std::process::ExitCode;
use std::time::Duration;

use route_guide::routeguide::route_guide_client::RouteGuideClient;
use route_guide::routeguide::route_guide_server::RouteGuideServer;
use route_guide::routeguide::{Point, Rectangle, RouteNote};
use route_guide::{RouteGuideService, point};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("route-guide: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let guide = RouteGuideService::new();
    let route: Vec<Point> = guide
        .features()
        .iter()
        .filter_map(|feature| feature.location)
        .collect();

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("route guide listening on {addr}");
    let stop = rgrpc::CancellationToken::new();
    let server = tokio::spawn(
        rgrpc::Server::builder()
            .add_service(RouteGuideServer::new(guide))
            .serve_with_shutdown(listener, stop.clone().cancelled_owned()),
    );

    let calls = call_all_four(&format!("http://{addr}"), route).await;

    // Graceful: stop accepting, let calls in flight finish, then return.
    stop.cancel();
    server.await??;
    calls
}

async fn call_all_four(uri: &str, route: Vec<Point>) -> Result<(), Box<dyn std::error::Error>> {
    let client = RouteGuideClient::new(rgrpc::Channel::connect(uri).await?);

    println!("== GetFeature (unary)");
    for at in [route[0], point(0, 0)] {
        let feature = client
            .get_feature(at)
            .timeout(Duration::from_secs(10))
            .await?
            .into_inner();
        match feature.name.as_str() {
            "" => println!("  no feature at {}", show(&at)),
            name => println!("  {name:?} at {}", show(&at)),
        }
    }

    println!("== ListFeatures (server streaming)");
    let area = Rectangle {
        lo: Some(point(400_000_000, -750_000_000)),
        hi: Some(point(420_000_000, -730_000_000)),
    };
    let mut features = client.list_features(area).await?;
    let mut found = 0;
    while let Some(feature) = features.message().await? {
        found += 1;
        println!("  {:?}", feature.name);
    }
    println!("  {found} features in the rectangle");

    println!("== RecordRoute (client streaming)");
    let summary = client
        .record_route(rgrpc::stream::iter(route.clone()))
        .await?
        .into_inner();
    println!(
        "  {} points, {} features, {} m, {} s",
        summary.point_count, summary.feature_count, summary.distance, summary.elapsed_time
    );

    println!("== RouteChat (bidi streaming)");
    let notes = [
        (route[0], "first at the first place"),
        (route[1], "first at the second place"),
        (route[0], "second at the first place"),
        (route[0], "third at the first place"),
    ]
    .map(|(location, message)| RouteNote {
        location: Some(location),
        message: message.to_owned(),
    });
    let mut earlier = client.route_chat(rgrpc::stream::iter(notes)).await?;
    let mut received = 0;
    while let Some(note) = earlier.message().await? {
        received += 1;
        println!("  earlier note: {:?}", note.message);
    }
    println!("  {received} earlier notes");

    println!("== all four rpcs done");
    Ok(())
}

fn show(at: &Point) -> String {
    format!(
        "({:.4}, {:.4})",
        f64::from(at.latitude) / 1e7,
        f64::from(at.longitude) / 1e7
    )
}
