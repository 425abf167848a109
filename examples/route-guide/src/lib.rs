//! The route guide: a map of named features, served with all four gRPC method kinds.
//!
//! `build.rs` generates [`routeguide`] from `proto/route_guide.proto` at build time with
//! `rgrpc-build`; [`RouteGuideService`] implements its server trait over features held in
//! memory. `src/main.rs` serves it and calls every rpc once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rgrpc::{Context, RequestStream, ResponseSink, Status};

/// The `routeguide` proto package: its messages, `route_guide_client` and
/// `route_guide_server`, generated into `OUT_DIR` by `build.rs`.
pub mod routeguide {
    rgrpc::include_proto!("routeguide");
}

use routeguide::route_guide_server::RouteGuide;
use routeguide::{Feature, Point, Rectangle, RouteNote, RouteSummary};

/// A few places, in degrees times 10^7.
const FEATURES: &[(&str, i32, i32)] = &[
    (
        "Patriots Path, Mendham, NJ 07945, USA",
        407_838_351,
        -746_143_763,
    ),
    (
        "101 New Jersey 10, Whippany, NJ 07981, USA",
        408_122_808,
        -743_999_179,
    ),
    ("U.S. 6, Shohola, PA 18458, USA", 413_628_156, -749_015_468),
    (
        "5 Conners Road, Kingston, NY 12401, USA",
        419_999_544,
        -740_371_136,
    ),
    (
        "Mount Hope Road, Wharton, NJ 07885, USA",
        409_146_138,
        -746_188_906,
    ),
    (
        "Dino Road, Ossining, NY 10562, USA",
        411_733_222,
        -744_228_360,
    ),
];

/// The notes left so far, by (latitude, longitude).
type Notes = HashMap<(i32, i32), Vec<RouteNote>>;

/// The route guide's server: a fixed list of features, and the notes left so far.
#[derive(Debug, Clone)]
pub struct RouteGuideService {
    features: Arc<Vec<Feature>>,
    notes: Arc<Mutex<Notes>>,
}

impl RouteGuideService {
    /// A guide knowing the built-in features and no notes.
    pub fn new() -> Self {
        let features = FEATURES
            .iter()
            .map(|&(name, latitude, longitude)| Feature {
                name: name.to_owned(),
                location: Some(point(latitude, longitude)),
            })
            .collect();
        RouteGuideService {
            features: Arc::new(features),
            notes: Arc::default(),
        }
    }

    /// The features of the built-in list, for clients to walk between.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    fn feature_at(&self, at: &Point) -> Option<&Feature> {
        self.features
            .iter()
            .find(|feature| feature.location.as_ref() == Some(at))
    }
}

impl Default for RouteGuideService {
    fn default() -> Self {
        Self::new()
    }
}

impl RouteGuide for RouteGuideService {
    async fn get_feature(&self, _ctx: Context, request: Point) -> Result<Feature, Status> {
        Ok(self.feature_at(&request).cloned().unwrap_or(Feature {
            name: String::new(),
            location: Some(request),
        }))
    }

    async fn list_features(
        &self,
        _ctx: Context,
        request: Rectangle,
        responses: ResponseSink<Feature>,
    ) -> Result<(), Status> {
        let (Some(lo), Some(hi)) = (request.lo, request.hi) else {
            return Err(Status::invalid_argument("a rectangle needs both corners"));
        };
        for feature in self.features.iter() {
            if feature
                .location
                .as_ref()
                .is_some_and(|at| inside(at, &lo, &hi))
            {
                // Waits while the client is not reading (HTTP/2 flow control); fails with
                // CANCELLED once the client has gone.
                responses.send(feature.clone()).await?;
            }
        }
        Ok(())
    }

    async fn record_route(
        &self,
        _ctx: Context,
        mut requests: RequestStream<Point>,
    ) -> Result<RouteSummary, Status> {
        let mut summary = RouteSummary::default();
        let mut previous: Option<Point> = None;
        let mut started: Option<Instant> = None;
        while let Some(point) = requests.message().await? {
            started.get_or_insert_with(Instant::now);
            summary.point_count += 1;
            if self.feature_at(&point).is_some() {
                summary.feature_count += 1;
            }
            if let Some(previous) = &previous {
                summary.distance = summary
                    .distance
                    .saturating_add(distance_metres(previous, &point));
            }
            previous = Some(point);
        }
        let elapsed = started.map_or(0, |started| started.elapsed().as_secs());
        summary.elapsed_time = i32::try_from(elapsed).unwrap_or(i32::MAX);
        Ok(summary)
    }

    async fn route_chat(
        &self,
        _ctx: Context,
        mut requests: RequestStream<RouteNote>,
        responses: ResponseSink<RouteNote>,
    ) -> Result<(), Status> {
        while let Some(note) = requests.message().await? {
            let Some(at) = &note.location else {
                return Err(Status::invalid_argument("a note needs a location"));
            };
            let earlier = {
                // Poisoned only if another handler panicked while holding it.
                let mut notes = self
                    .notes
                    .lock()
                    .map_err(|_| Status::internal("the note store is poisoned"))?;
                let here = notes.entry((at.latitude, at.longitude)).or_default();
                let earlier = here.clone();
                here.push(note);
                earlier
            };
            for note in earlier {
                responses.send(note).await?;
            }
        }
        Ok(())
    }
}

/// A point at `latitude`, `longitude` (degrees times 10^7).
pub fn point(latitude: i32, longitude: i32) -> Point {
    Point {
        latitude,
        longitude,
    }
}

/// Whether `at` is inside the rectangle with corners `a` and `b` (in any order), edges included.
fn inside(at: &Point, a: &Point, b: &Point) -> bool {
    let (south, north) = (a.latitude.min(b.latitude), a.latitude.max(b.latitude));
    let (west, east) = (a.longitude.min(b.longitude), a.longitude.max(b.longitude));
    (south..=north).contains(&at.latitude) && (west..=east).contains(&at.longitude)
}

/// The great-circle distance between two points in metres (haversine formula).
fn distance_metres(from: &Point, to: &Point) -> i32 {
    const COORD_FACTOR: f64 = 1e7;
    const EARTH_RADIUS_METRES: f64 = 6_371_000.0;
    let lat1 = (f64::from(from.latitude) / COORD_FACTOR).to_radians();
    let lat2 = (f64::from(to.latitude) / COORD_FACTOR).to_radians();
    let lon1 = (f64::from(from.longitude) / COORD_FACTOR).to_radians();
    let lon2 = (f64::from(to.longitude) / COORD_FACTOR).to_radians();
    let a = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    let metres = EARTH_RADIUS_METRES * 2.0 * a.sqrt().atan2((1.0 - a).sqrt());
    // At most half the earth's circumference (about 2e7 m), well inside i32.
    metres.round() as i32
}
