//! A request body that several attempts can send: the frames are recorded (after those
//! read ahead before the first attempt) as the first attempt pulls them from the call's
//! body, and each later (or hedged) attempt replays them, then continues from the shared
//! source.
//!
//! The recording is bounded: once it would pass the per-call limit, it stops and the call
//! commits to the attempt that pulled the frame (only that attempt can go on; the others
//! fail), and the engine hears of it through [`Recorder::overflowed`].

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Frame, SizeHint};
use tokio::sync::Notify;
use tonic::Status;
use tonic::body::Body;

/// One call's request body, shared by its attempts.
pub(super) struct Recorder {
    state: Mutex<State>,
    /// Signalled once the recording stopped at its limit.
    overflow: Notify,
}

struct State {
    /// The call's own body, pulled by whichever attempt is furthest ahead.
    source: Body,
    frames: Frames,
    recorded_bytes: usize,
    limit: usize,
    /// Still recording: no frame has been past the limit.
    recording: bool,
    /// The attempt the call committed to when the recording stopped.
    owner: Option<usize>,
    end: End,
    /// The attempts that were given up: their bodies fail, so their streams are reset.
    abandoned: Vec<bool>,
    /// Several attempts may wait at the frontier at once (hedging): the source then wakes
    /// them all.
    waiters: Option<Arc<Waiters>>,
}

enum Recorded {
    Data(Bytes),
    Trailers(HeaderMap),
}

/// The recorded frames; most calls send one (a unary request), kept without a `Vec`.
#[derive(Default)]
enum Frames {
    #[default]
    None,
    One(Recorded),
    Many(Vec<Recorded>),
}

impl Frames {
    fn get(&self, index: usize) -> Option<&Recorded> {
        match self {
            Frames::None => None,
            Frames::One(frame) => (index == 0).then_some(frame),
            Frames::Many(frames) => frames.get(index),
        }
    }

    fn len(&self) -> usize {
        match self {
            Frames::None => 0,
            Frames::One(_) => 1,
            Frames::Many(frames) => frames.len(),
        }
    }

    fn push(&mut self, frame: Recorded) {
        *self = match std::mem::take(self) {
            Frames::None => Frames::One(frame),
            Frames::One(first) => Frames::Many(vec![first, frame]),
            Frames::Many(mut frames) => {
                frames.push(frame);
                Frames::Many(frames)
            }
        };
    }
}

enum End {
    Open,
    Ended,
    Failed(Status),
}

impl Recorder {
    /// A recording of `source` that starts with the frames already read from it (`read`,
    /// then `failed` if reading it failed).
    pub(super) fn new(
        read: Vec<Frame<Bytes>>,
        failed: Option<Status>,
        source: Body,
        limit: usize,
    ) -> Arc<Self> {
        let mut state = State {
            source,
            frames: Frames::default(),
            recorded_bytes: 0,
            limit,
            recording: true,
            owner: None,
            end: failed.map_or(End::Open, End::Failed),
            abandoned: Vec::new(),
            waiters: None,
        };
        for frame in read {
            state.recorded_bytes = state
                .recorded_bytes
                .saturating_add(frame.data_ref().map_or(0, Bytes::len));
            state.frames.push(match frame.into_data() {
                Ok(data) => Recorded::Data(data),
                Err(frame) => Recorded::Trailers(frame.into_trailers().unwrap_or_default()),
            });
        }
        let overflowed = state.recorded_bytes > limit;
        if overflowed {
            // Only the first attempt can send what was read.
            state.recording = false;
            state.owner = Some(0);
        }
        let recorder = Arc::new(Self {
            state: Mutex::new(state),
            overflow: Notify::new(),
        });
        if overflowed {
            recorder.overflow.notify_one();
        }
        recorder
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The body of attempt `id`, replaying from the start.
    pub(super) fn body(self: &Arc<Self>, id: usize) -> Body {
        Body::new(ReplayBody {
            recorder: self.clone(),
            id,
            position: 0,
        })
    }

    /// Lets several attempts wait for the source at once (hedging).
    pub(super) fn share_frontier(&self) {
        let mut state = self.lock();
        if state.waiters.is_none() {
            state.waiters = Some(Arc::new(Waiters::default()));
        }
    }

    /// Whether another attempt can still replay the whole body.
    pub(super) fn replayable(&self) -> bool {
        self.lock().recording
    }

    /// The attempt the call committed to because the recording stopped, if it did.
    pub(super) fn owner(&self) -> Option<usize> {
        self.lock().owner
    }

    /// Resolves once the recording stops at its limit.
    pub(super) async fn overflowed(&self) {
        self.overflow.notified().await;
    }

    /// The call committed to attempt `id`: recording stops (the memory is no longer
    /// needed), and only `id` goes on past what was recorded.
    pub(super) fn commit(&self, id: usize) {
        let mut state = self.lock();
        if state.recording {
            state.recording = false;
            state.owner = Some(id);
        }
    }

    /// Gives up attempt `id`: its body fails from now on (its stream is reset).
    pub(super) fn abandon(&self, id: usize) {
        let mut state = self.lock();
        if state.abandoned.len() <= id {
            state.abandoned.resize(id + 1, false);
        }
        state.abandoned[id] = true;
        if let Some(waiters) = &state.waiters {
            waiters.wake_all();
        }
    }
}

impl State {
    fn is_abandoned(&self, id: usize) -> bool {
        self.abandoned.get(id).copied().unwrap_or(false)
    }
}

/// The wakers of the attempts waiting at the frontier.
#[derive(Default)]
struct Waiters(Mutex<Vec<Waker>>);

impl Waiters {
    fn register(&self, waker: &Waker) {
        let mut wakers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if !wakers.iter().any(|known| known.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }

    fn wake_all(&self) {
        let wakers = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_all();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_all();
    }
}

/// One attempt's view of the recorded body.
struct ReplayBody {
    recorder: Arc<Recorder>,
    id: usize,
    position: usize,
}

fn abandoned() -> Status {
    Status::cancelled("this attempt of the call was abandoned for another")
}

impl http_body::Body for ReplayBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        let recorder = this.recorder.clone();
        let mut state = recorder.lock();
        if state.is_abandoned(this.id) {
            return Poll::Ready(Some(Err(abandoned())));
        }
        if let Some(recorded) = state.frames.get(this.position) {
            this.position += 1;
            return Poll::Ready(Some(Ok(match recorded {
                Recorded::Data(data) => Frame::data(data.clone()),
                Recorded::Trailers(trailers) => Frame::trailers(trailers.clone()),
            })));
        }
        if !state.recording && state.owner != Some(this.id) {
            // Past what was recorded, only the attempt the call committed to goes on.
            return Poll::Ready(Some(Err(abandoned())));
        }
        match &state.end {
            End::Open => {}
            End::Ended => return Poll::Ready(None),
            End::Failed(status) => return Poll::Ready(Some(Err(status.clone()))),
        }
        let polled = match state.waiters.clone() {
            None => Pin::new(&mut state.source).poll_frame(cx),
            Some(waiters) => {
                waiters.register(cx.waker());
                let waker = Waker::from(waiters);
                Pin::new(&mut state.source).poll_frame(&mut Context::from_waker(&waker))
            }
        };
        let polled = match polled {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(polled) => polled,
        };
        match &polled {
            None => state.end = End::Ended,
            Some(Err(status)) => state.end = End::Failed(status.clone()),
            Some(Ok(frame)) if state.recording => {
                let size = frame.data_ref().map_or(0, Bytes::len);
                if state.recorded_bytes.saturating_add(size) > state.limit {
                    state.recording = false;
                    state.owner = Some(this.id);
                    recorder.overflow.notify_one();
                } else {
                    state.recorded_bytes += size;
                    let recorded = match (frame.data_ref(), frame.trailers_ref()) {
                        (Some(data), _) => Recorded::Data(data.clone()),
                        (None, Some(trailers)) => Recorded::Trailers(trailers.clone()),
                        (None, None) => return Poll::Ready(polled),
                    };
                    state.frames.push(recorded);
                    this.position += 1;
                }
            }
            Some(Ok(_)) => {}
        }
        if let Some(waiters) = &state.waiters {
            waiters.wake_all();
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        let state = self.recorder.lock();
        self.position >= state.frames.len() && matches!(state.end, End::Ended)
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
