//! Serving over plain HTTP, always with the client's address.

use std::convert::Infallible;
use std::future::Future;
use std::io;

use axum::extract::Request;
use axum::response::Response;
use tokio::net::TcpListener;
use tower_service::Service;

use super::coalesce::Coalescing;
use super::connection::{serve_connection, serve_connections};
use super::peer::WithPeer;
use super::watchdog::HEAD_TIMEOUT;

/// Serves `app` (an `axum::Router`, or an app behind its [`Guard`](crate::Guard)) on
/// `listener`, with the peer's address in every request as `ConnectInfo<SocketAddr>`: the
/// limits of public endpoints and the throttle of failed authentication key on it, and
/// refuse requests without it (500) rather than count them in one shared bucket.
///
/// It serves HTTP/1.1, and HTTP/2 to a client that opens with HTTP/2's preface (h2c).
/// A connection that stays quiet (no request in flight) for [`HEAD_TIMEOUT`] (30 s)
/// before its client has sent the next request's head is closed: a head sent a byte at a
/// time, a connection that sends nothing, an idle keep-alive connection. A long poll or a
/// streaming answer is never cut. Accept errors are logged and retried, so it does not
/// return.
///
/// ```no_run
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// portcullis_runtime::transport::serve(listener, app).await
/// # }
/// ```
pub async fn serve<S>(listener: TcpListener, app: S) -> io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    serve_with_shutdown(listener, app, std::future::pending()).await
}

/// Like [`serve`], and stops gracefully once `signal` completes: no new connections, and
/// open ones finish their requests; it returns when they have.
pub async fn serve_with_shutdown<S, F>(listener: TcpListener, app: S, signal: F) -> io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
    F: Future<Output = ()> + Send + 'static,
{
    serve_connections(listener, signal, move |stream, peer, draining| {
        let service = WithPeer::new(app.clone(), peer);
        // An API's answers go out in one write each (docs/performance.md).
        let stream = Coalescing::new(stream);
        serve_connection(stream, peer, service, draining, HEAD_TIMEOUT)
    })
    .await
}
