//! The fleet service as a replica serves it: every answer carries the replica's name, an
//! optional artificial delay makes one replica slow (for hedging), and a call that asks
//! to be held (`hold_ms`) shows on stdout whether its deadline arrived and whether the
//! handler saw it cancelled.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use rgrpc::metadata::{MetadataMap, MetadataValue};
use rgrpc::{Context, RequestStream, ResponseSink, Status};

use crate::proto::fleet_server::Fleet;
use crate::proto::{WhoReply, WhoRequest};

/// The longest a call may ask to be held, so a replica never holds a call for long.
pub const MAX_HOLD: Duration = Duration::from_secs(30);

/// The most answers one WhoStream call may ask for.
pub const MAX_STREAM: u32 = 1000;

/// The trailer every answer carries: the replica's name (for the trailers-through-a-proxy
/// check).
pub const REPLICA_TRAILER: &str = "x-fleet-replica";

/// One replica's service.
#[derive(Debug)]
pub struct Replica {
    name: String,
    delay: Duration,
    /// The clients seen so far (the first call of each prints `first call from <client>`).
    clients: Mutex<HashSet<String>>,
}

impl Replica {
    /// A replica named `name` that waits `delay` before every answer.
    pub fn new(name: impl Into<String>, delay: Duration) -> Self {
        Self {
            name: name.into(),
            delay,
            clients: Mutex::default(),
        }
    }

    fn reply(&self, seen: u32) -> WhoReply {
        WhoReply {
            replica: self.name.clone(),
            seen,
        }
    }

    /// The artificial delay, the hold the request asks for (watching for cancellation),
    /// and the trailer naming this replica.
    async fn serve(&self, ctx: &Context, request: &WhoRequest) -> Result<(), Status> {
        // A caller is `<client>/<caller>`: fleet-load's callers share its name.
        let client = request.caller.split('/').next().unwrap_or_default();
        let first = match self.clients.lock() {
            Ok(mut clients) => clients.insert(client.to_owned()),
            Err(_) => false,
        };
        if first {
            announce(&format!("first call from {client}"));
        }
        let mut trailers = MetadataMap::new();
        if let Ok(value) = MetadataValue::try_from(self.name.as_str()) {
            trailers.insert(REPLICA_TRAILER, value);
        }
        ctx.set_trailers(trailers);
        tokio::time::sleep(self.delay).await;
        if request.hold_ms > 0 {
            hold(ctx, request).await?;
        }
        Ok(())
    }
}

/// Holds the call for `hold_ms`, printing `held <caller> deadline_ms=<ms or none>` (the
/// time the call's deadline left) as it starts, and `cancelled <caller>` if it ends before
/// the hold does (cancelled, or stopped by its deadline).
async fn hold(ctx: &Context, request: &WhoRequest) -> Result<(), Status> {
    let deadline = ctx
        .time_remaining()
        .map_or_else(|| "none".to_owned(), |left| left.as_millis().to_string());
    announce(&format!("held {} deadline_ms={deadline}", request.caller));
    let mut guard = HoldGuard {
        caller: request.caller.clone(),
        finished: false,
    };
    let hold = Duration::from_millis(u64::from(request.hold_ms)).min(MAX_HOLD);
    tokio::select! {
        () = tokio::time::sleep(hold) => {
            guard.finished = true;
            Ok(())
        }
        () = ctx.cancelled() => Err(Status::cancelled("the call was cancelled while held")),
    }
}

/// Prints `cancelled <caller>` when a hold ends early, whichever way (the handler returning
/// on cancellation, or being stopped).
struct HoldGuard {
    caller: String,
    finished: bool,
}

impl Drop for HoldGuard {
    fn drop(&mut self) {
        if !self.finished {
            announce(&format!("cancelled {}", self.caller));
        }
    }
}

/// One line on stdout, flushed at once (the tests wait for these lines).
pub fn announce(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

impl Fleet for Replica {
    async fn who(&self, ctx: Context, request: WhoRequest) -> Result<WhoReply, Status> {
        self.serve(&ctx, &request).await?;
        Ok(self.reply(1))
    }

    async fn who_stream(
        &self,
        ctx: Context,
        request: WhoRequest,
        responses: ResponseSink<WhoReply>,
    ) -> Result<(), Status> {
        self.serve(&ctx, &request).await?;
        for index in 1..=request.count.min(MAX_STREAM) {
            responses.send(self.reply(index)).await?;
        }
        Ok(())
    }

    async fn who_collect(
        &self,
        ctx: Context,
        mut requests: RequestStream<WhoRequest>,
    ) -> Result<WhoReply, Status> {
        let mut seen = 0;
        while let Some(request) = requests.message().await? {
            if seen == 0 {
                self.serve(&ctx, &request).await?;
            }
            seen += 1;
        }
        Ok(self.reply(seen))
    }

    async fn who_chat(
        &self,
        ctx: Context,
        mut requests: RequestStream<WhoRequest>,
        responses: ResponseSink<WhoReply>,
    ) -> Result<(), Status> {
        let mut seen = 0;
        while let Some(request) = requests.message().await? {
            if seen == 0 {
                self.serve(&ctx, &request).await?;
            }
            seen += 1;
            responses.send(self.reply(seen)).await?;
        }
        Ok(())
    }
}
