//! The serving loop every Portcullis server shares: accept, serve each connection in its
//! own task with hyper (HTTP/1.1, or HTTP/2 when the client speaks it), graceful shutdown.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower_service::Service;

use super::in_place::InPlace;
use super::peer::WithPeer;
use super::side_events::SideEvents;
use super::watchdog::{Activity, Verdict, Watchdog, Watched};

/// A connection task's part in the server's shutdown: it says when to stop taking requests,
/// and the server waits until every task has dropped its `Draining`.
pub(super) struct Draining {
    /// Closed (its receiver dropped) when the server stops.
    signal: watch::Sender<()>,
    /// Held while the connection is open.
    _open: watch::Receiver<()>,
}

impl Draining {
    /// Completes once the server has begun to shut down.
    pub(super) async fn begun(&self) {
        self.signal.closed().await;
    }
}

/// Accepts connections on `listener` until `shutdown` completes, running `connect` for
/// each in its own task; then stops accepting and returns once every connection has
/// finished. Accept errors are logged and retried, as `axum::serve` does.
pub(super) async fn serve_connections<C, F>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    mut connect: C,
) -> io::Result<()>
where
    C: FnMut(TcpStream, SocketAddr, Draining) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    // Tasks wait for `signal_tx.closed()`: dropping `signal_rx` tells them to stop.
    let (signal_tx, signal_rx) = watch::channel(());
    // Each task holds an `open_rx`; `open_tx.closed()` says they all finished.
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_error(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let draining = Draining {
            signal: signal_tx.clone(),
            _open: open_rx.clone(),
        };
        tokio::spawn(connect(stream, peer, draining));
    }

    drop(listener);
    drop(signal_rx);
    drop(open_rx);
    tracing::debug!(
        target: "portcullis::transport",
        connections = open_tx.receiver_count(),
        "shutting down: waiting for open connections"
    );
    open_tx.closed().await;
    Ok(())
}

/// Serves the requests of one connection, `io`, from `peer`, with `service`, until the
/// client closes it; once the server shuts down, finishes the requests in flight and
/// closes it. A connection that stays quiet (no request in flight) for `head_timeout`
/// before the client has sent the next request's head is closed (`watchdog`).
pub(super) async fn serve_connection<I, S>(
    io: I,
    peer: SocketAddr,
    service: WithPeer<S>,
    draining: Draining,
    head_timeout: Duration,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    let builder = builder();
    let activity = Arc::new(Activity::default());
    let mut watchdog = Watchdog::new(activity.clone(), head_timeout);
    let service = InPlace::new(Watched::new(service, activity));
    let mut connection = pin!(builder.serve_connection_with_upgrades(TokioIo::new(io), service));
    // The shutdown signal and the watchdog are polled only when their waker woke, not at
    // each of the connection's wake-ups (`side_events`).
    let mut side = SideEvents::new();
    let mut begun = pin!(draining.begun());
    let mut shutting_down = false;
    loop {
        let event = poll_fn(|cx| {
            if let Poll::Ready(result) = connection.as_mut().poll(cx) {
                if let Err(error) = result {
                    tracing::debug!(target: "portcullis::transport", %peer, %error, "connection ended with an error");
                }
                return Poll::Ready(Event::Ended);
            }
            if let Some(mut side_cx) = side.due(cx) {
                if !shutting_down && begun.as_mut().poll(&mut side_cx).is_ready() {
                    return Poll::Ready(Event::ShuttingDown);
                }
                if let Poll::Ready(verdict) = watchdog.poll_verdict(&mut side_cx) {
                    return Poll::Ready(Event::Watchdog(verdict));
                }
            }
            Poll::Pending
        })
        .await;
        match event {
            Event::Ended => return,
            Event::ShuttingDown => {
                shutting_down = true;
                connection.as_mut().graceful_shutdown();
            }
            // hyper closes an idle HTTP/1.1 connection at once and sends HTTP/2's GOAWAY;
            // one still quiet a look later (a head never finished) is dropped.
            Event::Watchdog(Verdict::Close) => {
                if !std::mem::replace(&mut shutting_down, true) {
                    connection.as_mut().graceful_shutdown();
                }
            }
            Event::Watchdog(Verdict::Drop) => {
                tracing::debug!(target: "portcullis::transport", %peer, "no request head within the head timeout: connection dropped");
                return;
            }
        }
        // The poll ended at this event: the events after it were not polled.
        side.poll_all_next_time();
    }
}

/// What ends a wait of [`serve_connection`].
enum Event {
    /// The connection is closed.
    Ended,
    /// The server shuts down.
    ShuttingDown,
    /// The watchdog's verdict.
    Watchdog(Verdict),
}

/// hyper's settings for a connection.
fn builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    // The extended CONNECT protocol, for WebSockets over HTTP/2, as `axum::serve` does.
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol();
    builder
}

/// Connection errors concern one client: go on. Others (too many open files) are the
/// server's: wait a moment before accepting again, as `axum::serve` does.
async fn accept_error(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(target: "portcullis::transport", %error, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    //! The head timeout on real connections: hyper, a loopback socket, a short timeout.

    use std::time::Instant;

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// The timeout of these tests: the connection closes 0.4 to 0.5 s after falling quiet.
    const TIMEOUT: Duration = Duration::from_millis(400);

    fn app() -> Router {
        Router::new()
            .route("/", get(|| async { "ok" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(TIMEOUT * 3).await;
                    "late"
                }),
            )
            .route(
                "/stream",
                get(|| async {
                    // Eight chunks 0.2 s apart: 1.6 s of streaming.
                    let chunks = futures_util::stream::unfold(0, |sent| async move {
                        if sent == 8 {
                            return None;
                        }
                        tokio::time::sleep(TIMEOUT / 2).await;
                        Some((Ok::<_, Infallible>(format!("chunk {sent};")), sent + 1))
                    });
                    Body::from_stream(chunks)
                }),
            )
    }

    /// Serves `app()` with [`TIMEOUT`] on a loopback port, one task a connection.
    async fn server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // Never shutting down: the receiver of the signal lives as long as the server.
            let (signal, _not_stopping) = watch::channel(());
            let (_open_tx, open) = watch::channel(());
            loop {
                let (stream, peer) = listener.accept().await.unwrap();
                let draining = Draining {
                    signal: signal.clone(),
                    _open: open.clone(),
                };
                let service = WithPeer::new(app(), peer);
                tokio::spawn(serve_connection(stream, peer, service, draining, TIMEOUT));
            }
        });
        address
    }

    /// Reads until the server closes the connection; what it sent, and when it closed.
    async fn until_closed(stream: &mut TcpStream) -> (String, Instant) {
        let (received, closed) = bytes_until_closed(stream).await;
        (String::from_utf8_lossy(&received).into_owned(), closed)
    }

    /// [`until_closed`], the bytes as they came.
    async fn bytes_until_closed(stream: &mut TcpStream) -> (Vec<u8>, Instant) {
        let mut received = Vec::new();
        let read = tokio::time::timeout(TIMEOUT * 10, stream.read_to_end(&mut received)).await;
        assert!(read.is_ok(), "the server did not close the connection");
        (received, Instant::now())
    }

    fn assert_closed_after_timeout(quiet_since: Instant, closed: Instant) {
        let quiet = closed - quiet_since;
        assert!(
            quiet >= TIMEOUT && quiet < TIMEOUT * 3,
            "closed after {quiet:?} quiet"
        );
    }

    #[tokio::test]
    async fn a_connection_that_sends_nothing_is_closed() {
        let mut client = TcpStream::connect(server().await).await.unwrap();
        let opened = Instant::now();
        let (received, closed) = until_closed(&mut client).await;
        assert_eq!(received, "");
        assert_closed_after_timeout(opened, closed);
    }

    #[tokio::test]
    async fn a_head_sent_a_byte_at_a_time_is_cut_off() {
        let mut client = TcpStream::connect(server().await).await.unwrap();
        let opened = Instant::now();
        client
            .write_all(b"GET / HTTP/1.1\r\nhost: a\r\n")
            .await
            .unwrap();
        // One byte of a header every 50 ms, for longer than the timeout.
        let dribble = async {
            for _ in 0..40 {
                tokio::time::sleep(TIMEOUT / 8).await;
                if client.write_all(b"x").await.is_err() {
                    break;
                }
            }
        };
        let started = Instant::now();
        dribble.await;
        let dribbled = started.elapsed();
        let (received, closed) = until_closed(&mut client).await;
        assert_eq!(received, "", "no answer to a head never finished");
        assert!(
            dribbled < TIMEOUT * 3,
            "the server kept reading for {dribbled:?}"
        );
        assert_closed_after_timeout(opened, closed);
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_is_closed() {
        let mut client = TcpStream::connect(server().await).await.unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
            .await
            .unwrap();
        let mut answer = [0; 1024];
        let read = client.read(&mut answer).await.unwrap();
        let answered = Instant::now();
        let answer = String::from_utf8_lossy(&answer[..read]);
        assert!(
            answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("ok"),
            "{answer}"
        );
        let (received, closed) = until_closed(&mut client).await;
        assert_eq!(received, "");
        assert_closed_after_timeout(answered, closed);
    }

    #[tokio::test]
    async fn an_idle_http2_connection_is_closed() {
        let mut client = TcpStream::connect(server().await).await.unwrap();
        // HTTP/2's preface, then an empty SETTINGS frame; no stream.
        client
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
            .await
            .unwrap();
        let opened = Instant::now();
        let (received, closed) = bytes_until_closed(&mut client).await;
        assert_closed_after_timeout(opened, closed);
        // The server's frames: its SETTINGS first, a GOAWAY (type 7) before it closed.
        let mut types = Vec::new();
        let mut rest = received.as_slice();
        while let [a, b, c, kind, _flags, _, _, _, _, after @ ..] = rest {
            let length = usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c);
            types.push(*kind);
            rest = after.get(length..).unwrap_or_default();
        }
        assert_eq!(types.first(), Some(&4), "{types:?}");
        assert!(types.contains(&7), "no GOAWAY: {types:?}");
    }

    #[tokio::test]
    async fn requests_that_keep_coming_keep_the_connection() {
        let mut client = TcpStream::connect(server().await).await.unwrap();
        let mut answer = [0; 1024];
        // Eight requests 0.2 s apart: 1.6 s on one connection, four timeouts.
        for _ in 0..8 {
            tokio::time::sleep(TIMEOUT / 2).await;
            client
                .write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
                .await
                .unwrap();
            let read = client.read(&mut answer).await.unwrap();
            assert!(answer[..read].starts_with(b"HTTP/1.1 200 OK"));
        }
    }

    #[tokio::test]
    async fn a_long_poll_is_answered() {
        let mut client = TcpStream::connect(server().await).await.unwrap();
        client
            .write_all(b"GET /slow HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let (received, _) = until_closed(&mut client).await;
        assert!(
            received.starts_with("HTTP/1.1 200 OK") && received.ends_with("late"),
            "{received}"
        );
    }

    #[tokio::test]
    async fn a_streaming_answer_is_sent_whole() {
        let mut client = TcpStream::connect(server().await).await.unwrap();
        client
            .write_all(b"GET /stream HTTP/1.1\r\nhost: a\r\n\r\n")
            .await
            .unwrap();
        let (received, _) = until_closed(&mut client).await;
        // Chunked: the last chunk, then the end of the body, then (quiet) the close.
        assert!(received.starts_with("HTTP/1.1 200 OK"), "{received}");
        assert!(
            received.contains("chunk 7;\r\n0\r\n\r\n"),
            "the stream was cut: {received}"
        );
    }
}
