//! Transport security: HTTPS with rustls, and the security headers every response carries.
//!
//! - The [`Guard`](crate::Guard) adds `X-Content-Type-Options: nosniff` to every response
//!   that leaves it and, once given an [`Hsts`] policy (an API served over TLS),
//!   `Strict-Transport-Security` (one the handler set is kept). For an app served
//!   without the guard, [`SecurityHeadersLayer`] adds the same headers.
//!   `Cache-Control: no-store` on authenticated responses comes from the endpoint pipeline
//!   itself.
//! - [`serve`] and [`serve_with_shutdown`] serve an app over plain HTTP, always with the
//!   client's address (`ConnectInfo<SocketAddr>`), which IP-keyed decisions need. They
//!   speak HTTP/1.1, and HTTP/2 to a client that opens with its preface (h2c), as
//!   `axum::serve` does, and send an answer of up to 4 KiB in one write
//!   (docs/performance.md).
//! - Every server calls one clone of the app for all the requests of a connection, once
//!   the app is ready (tower's contract), where `axum::serve` clones it for each request;
//!   a layer that keeps state in its service (tower's `RateLimit`, say) keeps it per
//!   connection. An app not ready at once is cloned for that request, which waits for it.
//! - Every server closes a connection that stays quiet (no request in flight) for
//!   [`HEAD_TIMEOUT`] before the client has sent the next request's head: a head sent a
//!   byte at a time (slowloris), a connection that sends nothing, an idle keep-alive
//!   connection. A long poll or a streaming answer is never cut.
//! - With the `tls` feature, `TlsConfig` and `serve_tls` serve an app over
//!   TLS 1.2 and 1.3 only (rustls with the aws-lc-rs provider), HTTP/2 or HTTP/1.1 chosen
//!   by ALPN, with `ConnectInfo<SocketAddr>` for the rate limiter and graceful shutdown.
//!
//! ```no_run
//! # #[cfg(feature = "tls")]
//! # async fn run(security: portcullis_runtime::Security) -> Result<(), Box<dyn std::error::Error>> {
//! use portcullis_runtime::SecureRouter;
//! use portcullis_runtime::transport::{Hsts, TlsConfig, serve_tls};
//!
//! let api: SecureRouter = SecureRouter::new(security); // .mount(routes![...])
//! let app = api.into_service().hsts(Hsts::default());
//! let tls = TlsConfig::from_pem_files("cert.pem", "key.pem")?;
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:443").await?;
//! # let shutdown = std::future::pending::<()>(); // tokio::signal::ctrl_c(), say
//! serve_tls(listener, app, tls, shutdown).await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## CORS is closed unless configured
//!
//! Neither Portcullis nor axum sends CORS headers: a browser's preflight gets no
//! `Access-Control-Allow-Origin`, so pages of other origins cannot call the API (the
//! same-origin policy stands). To open it on purpose, add a CORS layer to the router with
//! the origins, methods and headers you mean, for example tower-http's `CorsLayer` with an
//! explicit origin list (never `Any` together with credentials).

#[cfg(feature = "tls")]
mod client_auth;
mod coalesce;
mod connection;
mod headers;
mod in_place;
mod peer;
mod plain;
#[cfg(feature = "tls")]
mod serve;
mod side_events;
#[cfg(feature = "tls")]
mod tls;
mod watchdog;

pub use headers::{Hsts, SecurityHeaders, SecurityHeadersFuture, SecurityHeadersLayer};
pub use plain::{serve, serve_with_shutdown};
#[cfg(feature = "tls")]
pub use serve::serve_tls;
#[cfg(feature = "tls")]
pub use tls::{DEFAULT_HANDSHAKE_TIMEOUT, TlsConfig, TlsError};
pub use watchdog::HEAD_TIMEOUT;
