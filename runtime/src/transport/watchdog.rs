//! The head timeout: a client must send each request's head within [`HEAD_TIMEOUT`] of
//! the connection falling quiet, or the connection closes. That bounds a client that
//! sends its head a byte at a time (slowloris), one that connects and sends nothing, and a
//! keep-alive connection left idle.
//!
//! A connection is *quiet* while no request of it is in flight: none is being answered,
//! and no answer's body is still being sent. A long poll, or a response that streams for
//! hours, is never quiet, so the timeout never cuts it.
//!
//! One timer a connection does the watching. [`Watched`] counts the requests that start
//! (their head has arrived) and those that finish (their answer's body was sent or
//! dropped): two atomic additions a request. [`Watchdog`] looks at the counts a few times
//! a timeout, and tells the connection to close once it has seen it quiet, with no new
//! request, for the whole timeout. (hyper's own header timeout arms and drops a timer for
//! every request, which costs a plain request several percent.)

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use tower_service::Service;

/// How long a connection may stay quiet (no request in flight) before the client has sent
/// the next request's head: the bound on a slowly sent head, and on an idle keep-alive
/// connection. A connection closes between this and a quarter more after falling quiet.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// How many looks at the counts a timeout spans: the connection closes within a
/// `1 / LOOKS_PER_TIMEOUT` of the timeout past it.
const LOOKS_PER_TIMEOUT: u32 = 4;

/// The requests of one connection that started, and that finished.
#[derive(Debug, Default)]
pub(super) struct Activity {
    started: AtomicU64,
    finished: AtomicU64,
}

impl Activity {
    /// Whether no request is in flight, and how many have started.
    fn look(&self) -> (bool, u64) {
        // `finished` first: a request that starts and finishes between the two loads then
        // reads as in flight, never as quiet.
        let finished = self.finished.load(Ordering::Acquire);
        let started = self.started.load(Ordering::Acquire);
        (started == finished, started)
    }
}

/// Counts one finished request when dropped: when its answer's body is sent, or when the
/// request is given up before that.
#[derive(Debug)]
struct Finish(Arc<Activity>);

impl Drop for Finish {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::Release);
    }
}

/// `S`, counting the requests that start and finish in the connection's [`Activity`].
#[derive(Clone)]
pub(super) struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    /// `inner`, counting into `activity`.
    pub(super) fn new(inner: S, activity: Arc<Activity>) -> Watched<S> {
        Watched { inner, activity }
    }
}

impl<S, R> Service<R> for Watched<S>
where
    S: Service<R, Response = Response>,
{
    type Response = Response<Counted>;
    type Error = S::Error;
    type Future = WatchedFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.activity.started.fetch_add(1, Ordering::Release);
        WatchedFuture {
            inner: self.inner.call(request),
            finish: Some(Finish(self.activity.clone())),
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of a [`Watched`] service: its body counts the request finished once sent.
    pub(super) struct WatchedFuture<F> {
        #[pin]
        inner: F,
        finish: Option<Finish>,
    }
}

impl<F, E> Future for WatchedFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response<Counted>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let finish = this.finish.take();
        Poll::Ready(result.map(|response| response.map(|body| Counted { body, finish })))
    }
}

pin_project_lite::pin_project! {
    /// An answer's body that counts its request finished when it is dropped.
    pub(super) struct Counted {
        #[pin]
        body: Body,
        finish: Option<Finish>,
    }
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.project().body.poll_frame(cx)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// What the watchdog tells the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Quiet for the whole timeout: stop taking requests and close when idle.
    Close,
    /// Still quiet a look after that: the client never finished its head; drop it.
    Drop,
}

/// Watches one connection's [`Activity`] with one timer, for the head timeout.
pub(super) struct Watchdog {
    activity: Arc<Activity>,
    look_every: Duration,
    sleep: Pin<Box<Sleep>>,
    /// The count of started requests at the last look.
    started: u64,
    /// Looks in a row that found the connection quiet with no new request (`None` after a
    /// look that found a request in flight).
    quiet_looks: Option<u32>,
}

impl Watchdog {
    /// A watchdog for a connection that opened now, with `timeout`.
    pub(super) fn new(activity: Arc<Activity>, timeout: Duration) -> Watchdog {
        let look_every = (timeout / LOOKS_PER_TIMEOUT).max(Duration::from_millis(1));
        Watchdog {
            activity,
            look_every,
            sleep: Box::pin(tokio::time::sleep(look_every)),
            started: 0,
            // The connection opened quiet: as if looked at now.
            quiet_looks: Some(0),
        }
    }

    /// The next verdict, awaited.
    #[cfg(test)]
    pub(super) async fn verdict(&mut self) -> Verdict {
        std::future::poll_fn(|cx| self.poll_verdict(cx)).await
    }

    /// Ready when the connection has been quiet for the timeout (with [`Verdict::Close`]),
    /// and at each look after that while it stays quiet ([`Verdict::Drop`]); else pending,
    /// and the timer of the next look wakes `cx`'s waker. Each poll goes on from where the
    /// last left off.
    pub(super) fn poll_verdict(&mut self, cx: &mut Context<'_>) -> Poll<Verdict> {
        loop {
            std::task::ready!(self.sleep.as_mut().poll(cx));
            // The next look a period after this one; after a stall (a suspended machine),
            // a period from now, so that looks in a row stay a period apart.
            let next = self.sleep.deadline() + self.look_every;
            let now = Instant::now();
            self.sleep.as_mut().reset(if next > now {
                next
            } else {
                now + self.look_every
            });
            if let Some(verdict) = self.look() {
                return Poll::Ready(verdict);
            }
        }
    }

    /// One look at the counts.
    fn look(&mut self) -> Option<Verdict> {
        let (quiet, started) = self.activity.look();
        let unchanged = started == self.started;
        self.started = started;
        self.quiet_looks = match (quiet, unchanged, self.quiet_looks) {
            (false, _, _) => None,
            // Quiet since the last look, at least.
            (true, true, Some(looks)) => Some(looks.saturating_add(1)),
            // Quiet since some moment after the last look.
            (true, _, _) => Some(0),
        };
        match self.quiet_looks? {
            looks if looks > LOOKS_PER_TIMEOUT => Some(Verdict::Drop),
            LOOKS_PER_TIMEOUT => Some(Verdict::Close),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::future::{Ready, ready};

    use super::*;

    #[derive(Clone)]
    struct Answer;

    impl Service<()> for Answer {
        type Response = Response;
        type Error = Infallible;
        type Future = Ready<Result<Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, (): ()) -> Self::Future {
            ready(Ok(Response::new(Body::from("answer"))))
        }
    }

    #[test]
    fn a_request_is_in_flight_until_its_body_is_dropped() {
        let activity = Arc::new(Activity::default());
        let mut service = Watched::new(Answer, activity.clone());
        assert_eq!(activity.look(), (true, 0));
        let future = service.call(());
        assert_eq!(activity.look(), (false, 1));
        let response = ready_now(future);
        assert_eq!(activity.look(), (false, 1), "the body is not sent yet");
        drop(response);
        assert_eq!(activity.look(), (true, 1));
        // A request given up before its answer finishes too.
        drop(service.call(()));
        assert_eq!(activity.look(), (true, 2));
    }

    #[test]
    fn the_body_is_the_answer_unchanged() {
        let mut service = Watched::new(Answer, Arc::new(Activity::default()));
        let response = ready_now(service.call(()));
        assert_eq!(response.body().size_hint().exact(), Some(6));
        assert!(!response.body().is_end_stream());
        let mut collecting = std::pin::pin!(http_body_util::BodyExt::collect(response.into_body()));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match collecting.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(collected)) => assert_eq!(collected.to_bytes(), "answer"),
            other => panic!("the answer's body is ready at once: {:?}", other.is_ready()),
        }
        // An empty answer says it has ended, as hyper asks before polling it.
        let empty = Counted {
            body: Body::empty(),
            finish: None,
        };
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));
    }

    /// The answer of a future that is ready at once.
    fn ready_now(future: WatchedFuture<Ready<Result<Response, Infallible>>>) -> Response<Counted> {
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(response)) => response,
            Poll::Pending => panic!("the answer is ready at once"),
        }
    }

    fn watchdog(activity: &Arc<Activity>) -> Watchdog {
        Watchdog::new(activity.clone(), Duration::from_secs(4))
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_connection_closes_after_the_timeout_then_drops() {
        let activity = Arc::new(Activity::default());
        let mut watchdog = watchdog(&activity);
        let opened = Instant::now();
        assert_eq!(watchdog.verdict().await, Verdict::Close);
        assert_eq!(opened.elapsed(), Duration::from_secs(4));
        assert_eq!(watchdog.verdict().await, Verdict::Drop);
        assert_eq!(opened.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_holds_the_connection_open() {
        let activity = Arc::new(Activity::default());
        let mut watchdog = watchdog(&activity);
        let opened = Instant::now();
        let mut service = Watched::new(Answer, activity.clone());
        let response = ready_now(service.call(()));
        // Streaming for a minute: never quiet.
        let streaming = tokio::time::timeout(Duration::from_secs(60), watchdog.verdict()).await;
        assert!(streaming.is_err(), "a request in flight is never cut");
        // Sent at 60 s: quiet from then on, closed within a quarter past the timeout.
        drop(response);
        assert_eq!(watchdog.verdict().await, Verdict::Close);
        let closed = opened.elapsed();
        assert!(
            closed > Duration::from_secs(64) && closed <= Duration::from_secs(65),
            "{closed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_that_keep_coming_keep_the_connection_open() {
        let activity = Arc::new(Activity::default());
        let mut watchdog = watchdog(&activity);
        let mut service = Watched::new(Answer, activity.clone());
        let requests = async {
            for _ in 0..30 {
                tokio::time::sleep(Duration::from_secs(3)).await;
                drop(ready_now(service.call(())));
            }
        };
        tokio::select! {
            () = requests => {}
            verdict = watchdog.verdict() => panic!("{verdict:?} while requests come every 3 s"),
        }
        // The last at 90 s; closed 4 to 5 s after it.
        let last = Instant::now();
        assert_eq!(watchdog.verdict().await, Verdict::Close);
        let closed = last.elapsed();
        assert!(
            closed >= Duration::from_secs(4) && closed <= Duration::from_secs(5),
            "{closed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_goes_on_where_it_was_when_its_verdict_is_dropped() {
        let activity = Arc::new(Activity::default());
        let mut watchdog = watchdog(&activity);
        let opened = Instant::now();
        for _ in 0..5 {
            let early = tokio::time::timeout(Duration::from_millis(700), watchdog.verdict()).await;
            assert!(early.is_err());
        }
        assert_eq!(watchdog.verdict().await, Verdict::Close);
        assert_eq!(opened.elapsed(), Duration::from_secs(4));
    }
}
