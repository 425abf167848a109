//! Keepalive enforcement, as gRPC's servers do it: a client may not ping more often than the
//! server's policy allows, nor ping a connection with no call open unless permitted.
//!
//! The rules are grpc-go's (`http2_server.go`, `handlePing`): a PING that arrives sooner
//! than [`PingPolicy::min_interval`] after the previous one is a strike; with no call open
//! and pings without calls not permitted, any PING within 2 hours of the previous one is a
//! strike. Once the server has sent HEADERS or DATA, the next PING clears the strikes
//! instead (a client pinging while it gets answers is not abusive). The third strike ends
//! the connection: GOAWAY `ENHANCE_YOUR_CALM` with debug data `too_many_pings`, then the
//! connection is closed.
//!
//! hyper and h2 answer PINGs themselves and tell no one, so [`Policed`] reads the bytes of
//! an HTTP/2 connection as they pass: after the client's 24-byte preface, the 9-byte header
//! of each frame the client sends (payloads are skipped, never copied) to see its PINGs; and
//! the header of each frame h2 writes, to know where one of h2's frames ends, the only place
//! a GOAWAY of the server's own can go, and when the server sent HEADERS or DATA. A
//! connection that does not start with the HTTP/2 preface (HTTP/1.1) is passed through
//! untouched, as is every connection when the policy allows anything.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::open_calls::OpenCalls;

/// What a client's HTTP/2 connection starts with.
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER: usize = 9;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const ACK: u8 = 0x1;
const ENHANCE_YOUR_CALM: u32 = 0xb;
/// What the GOAWAY says, as grpc-go's does: clients (grpc-go, grpc-java) back off their
/// keepalive when they read it.
const TOO_MANY_PINGS: &[u8] = b"too_many_pings";

/// Strikes a client may have; the next one ends the connection.
const MAX_STRIKES: u8 = 2;
/// With no call open (and pings without calls not permitted), the least time between two
/// pings: gRPC's default keepalive interval, which a client that follows its idle policy
/// never beats.
const PING_INTERVAL_WITHOUT_CALLS: Duration = Duration::from_secs(2 * 60 * 60);

/// How often a client may ping (the `Server` builder's settings, documented there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PingPolicy {
    pub(crate) min_interval: Duration,
    pub(crate) permit_without_calls: bool,
}

impl PingPolicy {
    /// Whether no ping can ever be a strike: then nothing is watched.
    pub(crate) fn allows_any_ping(&self) -> bool {
        self.min_interval.is_zero() && self.permit_without_calls
    }

    /// Whether it needs to know if calls are open.
    pub(crate) fn needs_open_calls(&self) -> bool {
        !self.permit_without_calls
    }
}

/// An HTTP/2 connection's IO, watched for PINGs against a [`PingPolicy`].
pub(crate) struct Policed<IO> {
    io: IO,
    watch: Watch,
}

impl<IO> Policed<IO> {
    /// `io` under `policy`; `calls` says whether calls are open (needed unless pings
    /// without calls are permitted).
    pub(crate) fn new(io: IO, policy: PingPolicy, calls: Option<OpenCalls>) -> Self {
        let inbound = if policy.allows_any_ping() {
            Inbound::Unwatched
        } else {
            Inbound::Preface(0)
        };
        Self {
            io,
            watch: Watch {
                inbound,
                outbound: Frames::default(),
                strikes: Strikes {
                    policy,
                    last_ping: None,
                    count: 0,
                    forgiven: false,
                },
                calls,
                last_stream: 0,
                calm: Calm::Kept,
            },
        }
    }
}

/// What is known of the bytes going each way, and the strikes so far.
struct Watch {
    inbound: Inbound,
    /// Where the server's frames are, once the client's preface showed HTTP/2.
    outbound: Frames,
    strikes: Strikes,
    calls: Option<OpenCalls>,
    /// The highest stream the client opened: the GOAWAY's last stream.
    last_stream: u32,
    calm: Calm,
}

/// The client's side of the connection, as read so far.
enum Inbound {
    /// This many bytes of the preface matched so far.
    Preface(usize),
    Frames(Frames),
    /// Not HTTP/2, or a policy that allows any ping: not looked at.
    Unwatched,
}

/// Whether the connection is to be closed for its pings.
enum Calm {
    Kept,
    /// The GOAWAY goes out at the next boundary between h2's frames; `written` bytes of it
    /// have.
    Lost {
        goaway: Vec<u8>,
        written: usize,
    },
    /// The GOAWAY is written and the write side closed: reads end, writes are discarded.
    Closed,
}

impl Watch {
    /// Looks at bytes the client sent.
    fn read(&mut self, mut bytes: &[u8]) {
        if let Inbound::Preface(matched) = &mut self.inbound {
            let take = (PREFACE.len() - *matched).min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            if PREFACE.get(*matched..*matched + take) != Some(head) {
                self.inbound = Inbound::Unwatched;
                return;
            }
            *matched += take;
            if *matched < PREFACE.len() {
                return;
            }
            self.inbound = Inbound::Frames(Frames::default());
            bytes = rest;
        }
        let Inbound::Frames(frames) = &mut self.inbound else {
            return;
        };
        let (strikes, calls, last_stream) = (&mut self.strikes, &self.calls, &mut self.last_stream);
        let mut too_many = false;
        frames.scan(bytes, |header| match header.kind {
            PING if header.flags & ACK == 0 => {
                too_many |= strikes.ping(|| calls.as_ref().is_some_and(|c| c.open() > 0));
            }
            HEADERS => *last_stream = (*last_stream).max(header.stream),
            _ => {}
        });
        if too_many && matches!(self.calm, Calm::Kept) {
            tracing::debug!("a client pinged too often: GOAWAY ENHANCE_YOUR_CALM");
            self.calm = Calm::Lost {
                goaway: goaway_frame(self.last_stream),
                written: 0,
            };
        }
    }

    /// Looks at bytes the server wrote.
    fn wrote(&mut self, bytes: &[u8]) {
        if !matches!(self.inbound, Inbound::Frames(_)) {
            return;
        }
        let strikes = &mut self.strikes;
        self.outbound.scan(bytes, |header| {
            if header.kind == HEADERS || header.kind == DATA {
                strikes.forgiven = true;
            }
        });
    }
}

/// grpc-go's ping strikes.
struct Strikes {
    policy: PingPolicy,
    last_ping: Option<Instant>,
    count: u8,
    /// The server sent HEADERS or DATA since the last PING.
    forgiven: bool,
}

impl Strikes {
    /// Counts a PING from the client; true once it had too many.
    fn ping(&mut self, calls_open: impl FnOnce() -> bool) -> bool {
        let now = Instant::now();
        let last = self.last_ping.replace(now);
        if std::mem::take(&mut self.forgiven) {
            self.count = 0;
            return false;
        }
        let least = if self.policy.permit_without_calls || calls_open() {
            self.policy.min_interval
        } else {
            PING_INTERVAL_WITHOUT_CALLS.max(self.policy.min_interval)
        };
        if last.is_some_and(|last| now.duration_since(last) < least) {
            self.count = self.count.saturating_add(1);
        }
        self.count > MAX_STRIKES
    }
}

/// A frame's header, the part of it that matters here.
struct Header {
    kind: u8,
    flags: u8,
    stream: u32,
}

/// Where frame boundaries are in a stream of HTTP/2 frames read piecemeal.
#[derive(Default)]
struct Frames {
    header: [u8; FRAME_HEADER],
    /// Bytes of the next header seen so far.
    header_len: usize,
    /// Payload bytes of the current frame still to come.
    payload_left: usize,
}

impl Frames {
    /// Walks `bytes`, calling `on_header` for each frame header completed in them.
    fn scan(&mut self, mut bytes: &[u8], mut on_header: impl FnMut(Header)) {
        loop {
            if self.payload_left > 0 {
                let skip = self.payload_left.min(bytes.len());
                self.payload_left -= skip;
                bytes = bytes.get(skip..).unwrap_or_default();
            }
            if bytes.is_empty() {
                return;
            }
            // The usual case, a whole header in the bytes, is read where it is.
            if self.header_len == 0
                && let Some((header, rest)) = bytes.split_first_chunk::<FRAME_HEADER>()
            {
                on_header(self.start_frame(header));
                bytes = rest;
                continue;
            }
            let take = (FRAME_HEADER - self.header_len).min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            if let Some(slot) = self.header.get_mut(self.header_len..self.header_len + take) {
                slot.copy_from_slice(head);
            }
            self.header_len += take;
            bytes = rest;
            if self.header_len == FRAME_HEADER {
                self.header_len = 0;
                let header = self.header;
                on_header(self.start_frame(&header));
            }
        }
    }

    /// Starts the frame `header` begins.
    fn start_frame(&mut self, header: &[u8; FRAME_HEADER]) -> Header {
        let [l0, l1, l2, kind, flags, s0, s1, s2, s3] = *header;
        self.payload_left = u32::from_be_bytes([0, l0, l1, l2]) as usize;
        Header {
            kind,
            flags,
            stream: u32::from_be_bytes([s0, s1, s2, s3]) & 0x7fff_ffff,
        }
    }

    fn at_boundary(&self) -> bool {
        self.header_len == 0 && self.payload_left == 0
    }

    /// How many bytes may be written before the current frame's next boundary.
    fn left_in_frame(&self) -> usize {
        if self.header_len > 0 {
            FRAME_HEADER - self.header_len
        } else {
            self.payload_left
        }
    }
}

/// GOAWAY `ENHANCE_YOUR_CALM`, "too_many_pings", naming `last_stream`.
fn goaway_frame(last_stream: u32) -> Vec<u8> {
    let payload = 8 + TOO_MANY_PINGS.len();
    let mut frame = Vec::with_capacity(FRAME_HEADER + payload);
    frame.extend_from_slice(&(payload as u32).to_be_bytes()[1..]);
    frame.extend_from_slice(&[GOAWAY, 0, 0, 0, 0, 0]);
    frame.extend_from_slice(&last_stream.to_be_bytes());
    frame.extend_from_slice(&ENHANCE_YOUR_CALM.to_be_bytes());
    frame.extend_from_slice(TOO_MANY_PINGS);
    frame
}

impl<IO: AsyncWrite + Unpin> Policed<IO> {
    /// Writes the GOAWAY (at a frame boundary), then closes the write side.
    fn poll_goaway(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Calm::Lost { goaway, written } = &mut self.watch.calm {
            match goaway.get(*written..) {
                Some(rest) if !rest.is_empty() => {
                    let n = ready!(Pin::new(&mut self.io).poll_write(cx, rest))?;
                    if n == 0 {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    *written += n;
                }
                _ => {
                    ready!(Pin::new(&mut self.io).poll_flush(cx))?;
                    // The client reads the GOAWAY, then the end of the connection.
                    let _ = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
                    self.watch.calm = Calm::Closed;
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Whether the GOAWAY is due and may go out now.
    fn goaway_ready(&self) -> bool {
        matches!(self.watch.calm, Calm::Lost { .. }) && self.watch.outbound.at_boundary()
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for Policed<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.goaway_ready() {
            ready!(this.poll_goaway(cx))?;
        }
        if matches!(this.watch.calm, Calm::Closed) {
            // The end, for h2: it stops, and the connection closes.
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        if let Some(read) = buf.filled().get(before..) {
            this.watch.read(read);
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Policed<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut buf = buf;
        match this.watch.calm {
            Calm::Kept => {}
            Calm::Lost { .. } if this.watch.outbound.at_boundary() => {
                ready!(this.poll_goaway(cx))?;
                return Poll::Ready(Ok(buf.len()));
            }
            // h2's frame is finished first: a GOAWAY inside it would corrupt both.
            Calm::Lost { .. } => {
                let left = this.watch.outbound.left_in_frame().min(buf.len());
                buf = buf.get(..left).unwrap_or(buf);
            }
            Calm::Closed => return Poll::Ready(Ok(buf.len())),
        }
        let n = ready!(Pin::new(&mut this.io).poll_write(cx, buf))?;
        if let Some(written) = buf.get(..n) {
            this.watch.wrote(written);
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !matches!(this.watch.calm, Calm::Kept) {
            let first = bufs.iter().find(|buf| !buf.is_empty());
            return Pin::new(this).poll_write(cx, first.map_or(&[][..], |buf| &buf[..]));
        }
        let n = ready!(Pin::new(&mut this.io).poll_write_vectored(cx, bufs))?;
        let mut left = n;
        for buf in bufs {
            if left == 0 {
                break;
            }
            let take = left.min(buf.len());
            if let Some(written) = buf.get(..take) {
                this.watch.wrote(written);
            }
            left -= take;
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.goaway_ready() {
            ready!(this.poll_goaway(cx))?;
        }
        if matches!(this.watch.calm, Calm::Closed) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if matches!(this.watch.calm, Calm::Closed) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut frame = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        frame.extend_from_slice(&[kind, flags]);
        frame.extend_from_slice(&stream.to_be_bytes());
        frame.extend_from_slice(payload);
        frame
    }

    #[test]
    fn frames_are_found_however_the_bytes_are_split() {
        let mut bytes = frame(HEADERS, 4, 1, b"abc");
        bytes.extend(frame(PING, 0, 0, &[0; 8]));
        bytes.extend(frame(DATA, 1, 1, b""));
        for split in 0..bytes.len() {
            let mut frames = Frames::default();
            let mut seen = Vec::new();
            let (a, b) = bytes.split_at(split);
            frames.scan(a, |h| seen.push((h.kind, h.flags, h.stream)));
            frames.scan(b, |h| seen.push((h.kind, h.flags, h.stream)));
            assert_eq!(seen, [(HEADERS, 4, 1), (PING, 0, 0), (DATA, 1, 1)]);
            assert!(frames.at_boundary());
        }
    }

    fn strikes(min_interval: Duration, permit_without_calls: bool) -> Strikes {
        Strikes {
            policy: PingPolicy {
                min_interval,
                permit_without_calls,
            },
            last_ping: None,
            count: 0,
            forgiven: false,
        }
    }

    #[test]
    fn the_third_strike_is_too_many() {
        let mut strikes = strikes(Duration::from_secs(60), true);
        let verdicts: Vec<bool> = (0..4).map(|_| strikes.ping(|| true)).collect();
        // The first ping has nothing to be too soon after.
        assert_eq!(verdicts, [false, false, false, true]);
    }

    #[test]
    fn headers_or_data_sent_forgive_the_strikes() {
        let mut strikes = strikes(Duration::from_secs(60), true);
        for _ in 0..3 {
            assert!(!strikes.ping(|| true));
        }
        strikes.forgiven = true;
        assert!(!strikes.ping(|| true));
        assert_eq!(strikes.count, 0);
    }

    #[test]
    fn without_calls_pings_are_strikes_unless_permitted() {
        let mut refused = strikes(Duration::ZERO, false);
        let verdicts: Vec<bool> = (0..4).map(|_| refused.ping(|| false)).collect();
        assert_eq!(verdicts, [false, false, false, true]);
        let mut with_calls = strikes(Duration::ZERO, false);
        assert!((0..10).all(|_| !with_calls.ping(|| true)));
        let mut permitted = strikes(Duration::ZERO, true);
        assert!((0..10).all(|_| !permitted.ping(|| false)));
    }

    #[test]
    fn the_goaway_says_enhance_your_calm_too_many_pings() {
        let goaway = goaway_frame(7);
        assert_eq!(
            goaway,
            frame(GOAWAY, 0, 0, b"\0\0\0\x07\0\0\0\x0btoo_many_pings")
        );
    }
}
