//! Serving over plain HTTP, always with the client's address.

use std::convert::Infallible;
use std::future::Future;
use std::io;

use axum::extract::Request;
use axum::response::Response;
use tokio::net::TcpListener;
use tower_service::Service;

use super::peer::PerConnection;

/// Serves `app` (an `axum::Router`, or an app behind its [`Guard`](crate::Guard)) on
/// `listener` until an I/O error, with the peer's address in every request as
/// `ConnectInfo<SocketAddr>`: the limits of public endpoints and the throttle of failed
/// authentication key on it, and refuse requests without it (500) rather than count them
/// in one shared bucket.
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
    axum::serve(listener, PerConnection(app)).await
}

/// Like [`serve`], and stops gracefully once `signal` completes: no new connections, and
/// open ones finish their requests.
pub async fn serve_with_shutdown<S, F>(listener: TcpListener, app: S, signal: F) -> io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(listener, PerConnection(app))
        .with_graceful_shutdown(signal)
        .await
}
