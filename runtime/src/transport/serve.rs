//! Serving over HTTPS: the TLS handshake in the connection's own task (with a timeout),
//! then the shared serving loop (HTTP/1.1 or HTTP/2 as ALPN chose; graceful shutdown).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use super::TlsConfig;
use super::connection::{Draining, serve_connection, serve_connections};
use super::peer::WithPeer;
use super::watchdog::HEAD_TIMEOUT;
use crate::auth::ClientCertificate;

/// Serves `app` (an `axum::Router`, or an app behind its [`Guard`](crate::Guard)) over
/// TLS on `listener` until `shutdown` completes, then stops accepting,
/// lets open connections finish their requests and returns.
///
/// Handlers can take `ConnectInfo<SocketAddr>` (the rate limiter keys public endpoints
/// by it). Each handshake runs in the connection's own task and is abandoned after the
/// configured timeout, so a slow or broken client never holds up the accept loop; failed
/// handshakes are logged at debug level. The protocol is whatever the client speaks on
/// the connection, HTTP/2 when ALPN chose `h2`. As with [`serve`](super::serve), a
/// connection quiet for [`HEAD_TIMEOUT`](super::HEAD_TIMEOUT) (30 s) before the client has
/// sent the next request's head is closed.
///
/// Give the app's [`Guard`](crate::Guard) an [`Hsts`](super::Hsts) policy
/// ([`Guard::hsts`](crate::Guard::hsts)) for `Strict-Transport-Security` on every response
/// (or, without a guard, wrap `app` with
/// [`SecurityHeadersLayer::for_tls`](super::SecurityHeadersLayer::for_tls)).
///
/// # Errors
///
/// None so far: accept errors are logged and retried, as `axum::serve` does. The result
/// leaves room for future ones.
pub async fn serve_tls<S>(
    listener: TcpListener,
    app: S,
    tls: TlsConfig,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    let handshake = Handshake {
        acceptor: TlsAcceptor::from(tls.server_config().clone()),
        timeout: tls.timeout(),
        client_certificates: tls.requests_client_certificates(),
    };
    serve_connections(listener, shutdown, move |stream, peer, draining| {
        handshake
            .clone()
            .then_serve(stream, peer, WithPeer::new(app.clone(), peer), draining)
    })
    .await
}

/// The TLS handshake of an accepted connection.
#[derive(Clone)]
struct Handshake {
    acceptor: TlsAcceptor,
    timeout: Duration,
    /// Whether the configuration asks clients for a certificate.
    client_certificates: bool,
}

impl Handshake {
    /// Completes the handshake on `stream` (or gives up after the timeout, or when the
    /// server shuts down), then serves the connection's requests.
    async fn then_serve<S>(
        self,
        stream: TcpStream,
        peer: SocketAddr,
        service: WithPeer<S>,
        draining: Draining,
    ) where
        S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
        S::Future: Send,
    {
        let handshake = tokio::time::timeout(self.timeout, self.acceptor.accept(stream));
        let stream = tokio::select! {
            result = handshake => match result {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(target: "portcullis::transport", %peer, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(target: "portcullis::transport", %peer, "TLS handshake timed out");
                    return;
                }
            },
            () = draining.begun() => return,
        };

        // The client's certificate, on every request of the connection.
        let certificate = self
            .client_certificates
            .then(|| stream.get_ref().1.peer_certificates())
            .flatten()
            .and_then(|chain| chain.first())
            .map(|leaf| ClientCertificate::from_der(leaf.as_ref()));
        let service = service.with_certificate(certificate);
        serve_connection(stream, peer, service, draining, HEAD_TIMEOUT).await;
    }
}
