//! The request body a call keeps for its later attempts.
//!
//! Before the first attempt the body is read ahead as far as it is ready at once: a unary
//! call's body (its one message) is ready whole, and is then kept as its `Bytes`, which
//! every attempt sends again, with nothing shared between the attempts and the call. Any
//! other body is recorded as the attempts pull it ([`Recorder`]), after the frames read
//! ahead.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use tonic::Status;
use tonic::body::Body;

use super::replay::Recorder;

/// A call's request body, as its attempts get it.
pub(super) enum KeptBody {
    /// Read whole before the first attempt.
    Whole(Whole),
    /// Recorded as the attempts pull it.
    Recorded(Arc<Recorder>),
}

/// The data frames of a body read whole; most calls send one (a unary request).
#[derive(Clone, Debug)]
pub(super) enum Whole {
    Empty,
    One(Bytes),
    Many(Arc<[Bytes]>),
}

impl KeptBody {
    /// Reads `body` ahead as far as it is ready: whole if it ends within `limit` bytes,
    /// else recorded (up to `limit`) after the frames read; `hedging` lets several
    /// attempts pull a recorded body at once.
    pub(super) fn read_ahead(mut body: Body, limit: usize, hedging: bool) -> Self {
        let mut frames: Vec<Frame<Bytes>> = Vec::new();
        let mut size = 0usize;
        let mut cx = Context::from_waker(Waker::noop());
        let end = loop {
            if body.is_end_stream() {
                break Ok(());
            }
            match Pin::new(&mut body).poll_frame(&mut cx) {
                Poll::Ready(None) => break Ok(()),
                Poll::Ready(Some(Ok(frame))) => {
                    let data = frame.is_data();
                    size = size.saturating_add(frame.data_ref().map_or(0, Bytes::len));
                    frames.push(frame);
                    if !data || size > limit {
                        break Err(());
                    }
                }
                // A failed body (or one still to come) is the recorder's to pass on.
                Poll::Ready(Some(Err(status))) => {
                    return Self::recorded(frames, Some(status), body, limit, hedging);
                }
                Poll::Pending => break Err(()),
            }
        };
        if end.is_err() {
            return Self::recorded(frames, None, body, limit, hedging);
        }
        let mut data = frames
            .into_iter()
            .filter_map(|frame| frame.into_data().ok());
        KeptBody::Whole(match (data.next(), data.next()) {
            (None, _) => Whole::Empty,
            (Some(one), None) => Whole::One(one),
            (Some(first), Some(second)) => {
                Whole::Many([first, second].into_iter().chain(data).collect())
            }
        })
    }

    fn recorded(
        frames: Vec<Frame<Bytes>>,
        failed: Option<Status>,
        rest: Body,
        limit: usize,
        hedging: bool,
    ) -> Self {
        let recorder = Recorder::new(frames, failed, rest, limit);
        if hedging {
            recorder.share_frontier();
        }
        KeptBody::Recorded(recorder)
    }

    /// The body of attempt `id`.
    pub(super) fn body(&self, id: usize) -> Body {
        match self {
            KeptBody::Whole(whole) => Body::new(WholeBody {
                whole: whole.clone(),
                sent: 0,
            }),
            KeptBody::Recorded(recorder) => recorder.body(id),
        }
    }

    /// Whether another attempt can still send the whole body.
    pub(super) fn replayable(&self) -> bool {
        match self {
            KeptBody::Whole(_) => true,
            KeptBody::Recorded(recorder) => recorder.replayable(),
        }
    }

    /// The attempt the call committed to because the body passed the limit, if it did.
    pub(super) fn owner(&self) -> Option<usize> {
        match self {
            KeptBody::Whole(_) => None,
            KeptBody::Recorded(recorder) => recorder.owner(),
        }
    }

    /// Resolves once the body passed the limit (a body read whole never does).
    pub(super) fn overflowed(&self) -> impl Future<Output = ()> + Send + 'static {
        let recorder = match self {
            KeptBody::Whole(_) => None,
            KeptBody::Recorded(recorder) => Some(recorder.clone()),
        };
        async move {
            match recorder {
                None => std::future::pending().await,
                Some(recorder) => recorder.overflowed().await,
            }
        }
    }

    /// The call committed to attempt `id`.
    pub(super) fn commit(&self, id: usize) {
        if let KeptBody::Recorded(recorder) = self {
            recorder.commit(id);
        }
    }

    /// Attempt `id` was given up: a recorded body fails from now on (its stream is reset).
    pub(super) fn abandon(&self, id: usize) {
        if let KeptBody::Recorded(recorder) = self {
            recorder.abandon(id);
        }
    }
}

/// One attempt's copy of a body read whole.
struct WholeBody {
    whole: Whole,
    sent: usize,
}

impl WholeBody {
    fn frames(&self) -> &[Bytes] {
        match &self.whole {
            Whole::Empty => &[],
            Whole::One(one) => std::slice::from_ref(one),
            Whole::Many(all) => all,
        }
    }
}

impl http_body::Body for WholeBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        let frame = this.frames().get(this.sent).cloned();
        this.sent += 1;
        Poll::Ready(frame.map(|data| Ok(Frame::data(data))))
    }

    /// True once the last frame is out, so it carries the end of the stream.
    fn is_end_stream(&self) -> bool {
        self.sent >= self.frames().len()
    }

    fn size_hint(&self) -> SizeHint {
        // Unknown, as the call's own body: no `content-length` is added to the request.
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use futures_util::stream;
    use http_body_util::{BodyExt as _, StreamBody};

    use super::*;

    fn body_of(frames: Vec<&'static [u8]>) -> Body {
        let frames = frames
            .into_iter()
            .map(|data| Ok::<_, Status>(Frame::data(Bytes::from_static(data))));
        Body::new(StreamBody::new(stream::iter(frames)))
    }

    async fn collected(body: Body) -> Vec<u8> {
        body.collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn a_body_ready_at_once_is_kept_whole_and_sent_by_every_attempt() {
        let kept = KeptBody::read_ahead(body_of(vec![b"ab", b"cd"]), 10, false);
        assert!(matches!(kept, KeptBody::Whole(Whole::Many(_))));
        assert_eq!(collected(kept.body(0)).await, b"abcd");
        assert_eq!(collected(kept.body(1)).await, b"abcd");
        assert!(kept.replayable());
    }

    #[tokio::test]
    async fn a_body_not_ready_is_recorded_after_the_frames_read_ahead() {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Status>>(1);
        let ready = stream::iter([Ok(Frame::data(Bytes::from_static(b"ab")))]);
        let rest = tokio_stream::wrappers::ReceiverStream::new(receiver);
        let body = Body::new(StreamBody::new(futures_util::StreamExt::chain(ready, rest)));
        let kept = KeptBody::read_ahead(body, 10, false);
        assert!(matches!(kept, KeptBody::Recorded(_)));
        sender
            .send(Ok(Frame::data(Bytes::from_static(b"cd"))))
            .await
            .unwrap();
        drop(sender);
        assert_eq!(collected(kept.body(0)).await, b"abcd");
        assert!(kept.replayable());
        assert_eq!(collected(kept.body(1)).await, b"abcd");
    }

    #[tokio::test]
    async fn a_body_read_past_the_limit_goes_only_to_the_first_attempt() {
        let kept = KeptBody::read_ahead(body_of(vec![b"abc", b"def"]), 4, false);
        assert!(!kept.replayable());
        assert_eq!(kept.owner(), Some(0));
        kept.overflowed().await;
        assert_eq!(collected(kept.body(0)).await, b"abcdef");
        assert!(kept.body(1).collect().await.is_err());
    }
}
