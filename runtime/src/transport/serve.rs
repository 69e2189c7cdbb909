//! The HTTPS serving loop: accept, handshake in the connection's own task (with a
//! timeout), then HTTP/1.1 or HTTP/2 with hyper; graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use std::convert::Infallible;

use axum::extract::Request;
use axum::response::Response;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use super::TlsConfig;
use super::peer::WithPeer;
use crate::auth::ClientCertificate;

/// How long a client may take to send a request's headers on HTTP/1.1.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` (an `axum::Router`, or an app behind its [`Guard`](crate::Guard)) over
/// TLS on `listener` until `shutdown` completes, then stops accepting,
/// lets open connections finish their requests and returns.
///
/// Handlers can take `ConnectInfo<SocketAddr>` (the rate limiter keys public endpoints
/// by it). Each handshake runs in the connection's own task and is abandoned after the
/// configured timeout, so a slow or broken client never holds up the accept loop; failed
/// handshakes are logged at debug level. The protocol is whatever the client speaks on
/// the connection, HTTP/2 when ALPN chose `h2`; HTTP/1.1 request headers must arrive
/// within 30 seconds.
///
/// Add [`SecurityHeadersLayer::for_tls`](super::SecurityHeadersLayer::for_tls) to `app`
/// for `Strict-Transport-Security` and `X-Content-Type-Options`.
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
    let acceptor = TlsAcceptor::from(tls.server_config().clone());
    let handshake_timeout = tls.timeout();
    let client_certificates = tls.requests_client_certificates();
    // Tasks wait for `signal_tx.closed()`: dropping `signal_rx` tells them to stop.
    let (signal_tx, signal_rx) = watch::channel(());
    // Each task holds a `close_rx`; `close_tx.closed()` says they all finished.
    let (close_tx, close_rx) = watch::channel(());
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
        let service = WithPeer::new(app.clone(), peer);
        let connection = Connection {
            acceptor: acceptor.clone(),
            handshake_timeout,
            signal: signal_tx.clone(),
            client_certificates,
        };
        let close_rx = close_rx.clone();
        tokio::spawn(async move {
            connection.run(stream, peer, service).await;
            drop(close_rx);
        });
    }

    drop(listener);
    drop(signal_rx);
    drop(close_rx);
    tracing::debug!(
        target: "portcullis::transport",
        connections = close_tx.receiver_count(),
        "shutting down: waiting for open connections"
    );
    close_tx.closed().await;
    Ok(())
}

/// One accepted connection.
struct Connection {
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    signal: watch::Sender<()>,
    /// Whether the configuration asks clients for a certificate.
    client_certificates: bool,
}

impl Connection {
    async fn run<S>(self, stream: TcpStream, peer: SocketAddr, service: WithPeer<S>)
    where
        S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
        S::Future: Send,
    {
        let handshake = tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(stream));
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
            () = self.signal.closed() => return,
        };

        // The client's certificate, on every request of the connection.
        let certificate = self
            .client_certificates
            .then(|| stream.get_ref().1.peer_certificates())
            .flatten()
            .and_then(|chain| chain.first())
            .map(|leaf| ClientCertificate::from_der(leaf.as_ref()));
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        // The extended CONNECT protocol, for WebSockets over HTTP/2, as `axum::serve` does.
        builder
            .http2()
            .timer(TokioTimer::new())
            .enable_connect_protocol();
        let service = TowerToHyperService::new(AxumBody(service, certificate));
        let mut connection =
            pin!(builder.serve_connection_with_upgrades(TokioIo::new(stream), service));
        let mut shutting_down = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(target: "portcullis::transport", %peer, %error, "connection ended with an error");
                    }
                    return;
                }
                () = self.signal.closed(), if !shutting_down => {
                    shutting_down = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// The app, fed requests whose body is hyper's turned into axum's, each with the
/// connection's client certificate, if any.
#[derive(Clone)]
struct AxumBody<S>(S, Option<ClientCertificate>);

impl<S, B> Service<http::Request<B>> for AxumBody<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> S::Future {
        let mut request = request.map(axum::body::Body::new);
        if let Some(certificate) = &self.1 {
            request.extensions_mut().insert(certificate.clone());
        }
        self.0.call(request)
    }
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
