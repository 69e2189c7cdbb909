//! The serving loop every Portcullis server shares: accept, serve each connection in its
//! own task with hyper (HTTP/1.1, or HTTP/2 when the client speaks it), graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower_service::Service;

use super::peer::WithPeer;

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
/// closes it. On HTTP/1.1, `header_read_timeout` (if any) bounds how long the client may
/// take to send a request's headers, and how long the connection may stay idle between
/// requests.
pub(super) async fn serve_connection<I, S>(
    io: I,
    peer: SocketAddr,
    service: WithPeer<S>,
    draining: Draining,
    header_read_timeout: Option<Duration>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    let builder = builder(header_read_timeout);
    let service = TowerToHyperService::new(service);
    let mut connection = pin!(builder.serve_connection_with_upgrades(TokioIo::new(io), service));
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(target: "portcullis::transport", %peer, %error, "connection ended with an error");
                }
                return;
            }
            () = draining.begun(), if !shutting_down => {
                shutting_down = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// hyper's settings for a connection.
fn builder(header_read_timeout: Option<Duration>) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    if let Some(timeout) = header_read_timeout {
        // hyper arms a timer for every request's headers.
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(timeout);
    }
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
