//! The issuer's HTTP surface: JWKS, discovery and the token endpoint, nested or standalone.

use std::future::Future;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use tokio::net::TcpListener;

use super::DevIssuer;
use super::introspection_endpoint::{introspection_endpoint, revocation_endpoint};
use super::token_endpoint::token_endpoint;
use crate::endpoint::HttpMethod;

/// How long clients may cache the JWKS document. The next key is published a whole
/// rotation period before it signs, so a cache shorter than the rotation period never
/// misses a signing key.
pub(crate) const JWKS_MAX_AGE: &str = "max-age=60";

async fn jwks(State(dev): State<DevIssuer>) -> Response {
    let mut response = axum::Json(dev.jwks()).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(JWKS_MAX_AGE));
    response
}

async fn discovery(State(dev): State<DevIssuer>) -> axum::Json<serde_json::Value> {
    axum::Json(dev.discovery())
}

impl DevIssuer {
    /// The issuer's routes, relative to its identifier:
    ///
    /// - `GET /.well-known/jwks.json`: the [JWKS](DevIssuer::jwks) (current, next and
    ///   previous keys), cacheable for 60 seconds;
    /// - `GET /.well-known/openid-configuration` and
    ///   `GET /.well-known/oauth-authorization-server`: the
    ///   [discovery document](DevIssuer::discovery);
    /// - `POST /oauth/token`: the client-credentials token endpoint (see the
    ///   [module documentation](super#the-token-endpoint));
    /// - `POST /oauth/introspect` and `POST /oauth/revoke`: introspection (RFC 7662) and
    ///   revocation (RFC 7009) of its opaque tokens (see
    ///   [`register_opaque_client`](DevIssuer::register_opaque_client)).
    ///
    /// Nest it under the path of the issuer identifier: an issuer called
    /// `http://127.0.0.1:3000/dev` is nested under `/dev`. The router shares this issuer
    /// (it holds a clone), so clients registered and rotations made later are served.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        self.routes()
            .into_iter()
            .fold(Router::new(), |router, (_, path, _, route)| {
                router.route(&path[self.path().len()..], route)
            })
    }

    /// The path of the issuer identifier (`/dev` for `http://127.0.0.1:3000/dev`), where
    /// its routes are nested; empty at the root of an origin.
    pub(crate) fn path(&self) -> &str {
        let id = self.issuer_id();
        let after_scheme = id.split_once("://").map_or(id, |(_, rest)| rest);
        match after_scheme.find('/') {
            Some(slash) => after_scheme[slash..].trim_end_matches('/'),
            None => "",
        }
    }

    /// Each route: method, absolute path (under [`path`](DevIssuer::path)), a name, and
    /// its handler.
    pub(crate) fn routes<S: Clone + Send + Sync + 'static>(
        &self,
    ) -> Vec<(HttpMethod, String, &'static str, MethodRouter<S>)> {
        let base = self.path();
        let dev = self.clone();
        vec![
            (
                HttpMethod::Get,
                format!("{base}/.well-known/jwks.json"),
                "dev_issuer_jwks",
                get(jwks).with_state(dev.clone()),
            ),
            (
                HttpMethod::Get,
                format!("{base}/.well-known/openid-configuration"),
                "dev_issuer_openid_configuration",
                get(discovery).with_state(dev.clone()),
            ),
            (
                HttpMethod::Get,
                format!("{base}/.well-known/oauth-authorization-server"),
                "dev_issuer_oauth_metadata",
                get(discovery).with_state(dev.clone()),
            ),
            (
                HttpMethod::Post,
                format!("{base}/oauth/token"),
                "dev_issuer_token",
                post(token_endpoint).with_state(dev.clone()),
            ),
            (
                HttpMethod::Post,
                format!("{base}/oauth/introspect"),
                "dev_issuer_introspection",
                post(introspection_endpoint).with_state(dev.clone()),
            ),
            (
                HttpMethod::Post,
                format!("{base}/oauth/revoke"),
                "dev_issuer_revocation",
                post(revocation_endpoint).with_state(dev),
            ),
        ]
    }

    /// Serves the issuer on its own, at the root of `listener`, until an I/O error. The
    /// issuer identifier should then be the listener's origin, e.g.
    /// `http://127.0.0.1:9000`; bind the listener first to learn its address.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use portcullis_runtime::dev::DevIssuer;
    /// use secrecy::SecretString;
    ///
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:9000").await?;
    /// let dev = DevIssuer::new(format!("http://{}", listener.local_addr()?), "orders-api")?;
    /// dev.register_client("cli", SecretString::from("cli-secret"), ["orders:read"])?;
    /// dev.spawn_rotation(std::time::Duration::from_secs(3600));
    /// dev.serve(listener).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router::<()>()).await
    }

    /// Like [`serve`](DevIssuer::serve), and stops gracefully once `signal` completes.
    pub async fn serve_with_shutdown<F>(
        self,
        listener: TcpListener,
        signal: F,
    ) -> std::io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        axum::serve(listener, self.router::<()>())
            .with_graceful_shutdown(signal)
            .await
    }
}
