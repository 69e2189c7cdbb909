//! A development authorization server (feature `dev`): an OAuth 2.0 client-credentials
//! token endpoint issuing RFC 9068 access tokens, JWKS and discovery documents, and key
//! rotation.
//!
//! It lets an example run, and a test suite mint tokens, with no identity provider. It
//! is not an authorization server for production: its keys and clients live in memory.
//!
//! # Minting tokens in tests
//!
//! [`DevIssuer::token`] signs a token directly, with any subject, client, scopes, roles,
//! lifetime or claim; [`DevIssuer::issuer`] is the configuration that trusts it.
//!
//! ```
//! use portcullis_runtime::dev::DevIssuer;
//! use std::time::Duration;
//!
//! let dev = DevIssuer::new("http://127.0.0.1:3000/dev", "orders-api").unwrap();
//! let token = dev.token().subject("alice").client("cli").scopes(["orders:read"])
//!     .lifetime(Duration::from_secs(300)).sign();
//! assert_eq!(token.split('.').count(), 3);
//! ```
//!
//! # The token endpoint
//!
//! Clients are registered with a secret and the scopes they may request, at construction
//! ([`DevIssuerBuilder::client`]) or later ([`DevIssuer::register_client`]). They obtain
//! tokens from `POST /oauth/token` (RFC 6749 §4.4):
//!
//! ```text
//! curl -u cli:cli-secret -d grant_type=client_credentials -d scope=orders:read \
//!      http://127.0.0.1:3000/dev/oauth/token
//! {"access_token":"eyJ…","token_type":"Bearer","expires_in":600,"scope":"orders:read"}
//! ```
//!
//! - The body is `application/x-www-form-urlencoded`, at most [`MAX_BODY_BYTES`].
//! - `grant_type` must be `client_credentials` (else `unsupported_grant_type`).
//! - The client authenticates with HTTP Basic (`client_secret_basic`: the id and the
//!   secret are form-urlencoded, then joined by `:` and base64-encoded, RFC 6749 §2.3.1)
//!   or with `client_id` and `client_secret` in the body (`client_secret_post`). Both at
//!   once is `400 invalid_request`; neither, an unknown client or a wrong secret is
//!   `401 invalid_client` with `WWW-Authenticate: Basic realm="dev"`.
//! - `scope` is optional and space-delimited; without it the client gets every scope it
//!   may request; a scope it may not request is `400 invalid_scope`.
//! - A token lives [`DevIssuerBuilder::token_lifetime`] (default 10 minutes). It is an
//!   RFC 9068 access token: header `typ: at+jwt`, claims `iss`, `sub` (the client id),
//!   `aud`, `exp`, `iat`, `jti`, `client_id` and `scope`.
//! - The client is authenticated before the grant type and the scope are looked at, so
//!   an unauthenticated caller learns nothing else. A malformed or oversized body, or
//!   a repeated parameter, is `400 invalid_request`.
//! - Every answer carries `Cache-Control: no-store` and `Pragma: no-cache`; errors are
//!   RFC 6749 §5.2 JSON documents, `{"error": …, "error_description": …}`.
//!
//! # Opaque tokens
//!
//! Clients registered with [`DevIssuer::register_opaque_client`] (or
//! [`DevIssuerBuilder::opaque_client`]) get opaque tokens from the same endpoint:
//! [`OPAQUE_TOKEN_PREFIX`] and 43 random characters, with the claims a JWT would carry kept
//! by the issuer. The resource server asks about them at `POST /oauth/introspect`
//! (RFC 7662) with the credentials of [`DevIssuer::introspection`], which
//! [`DevIssuer::issuer`] configures; their client revokes them at `POST /oauth/revoke`
//! (RFC 7009). [`TokenRequest::opaque`] makes one directly.
//!
//! # In-process or on its own port
//!
//! In-process, [`DevIssuer::router`] is nested under the path of the issuer identifier,
//! next to the API that trusts it:
//!
//! ```
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use portcullis_runtime::dev::DevIssuer;
//! use portcullis_runtime::{Rate, Security};
//! use secrecy::SecretString;
//!
//! let dev = DevIssuer::builder("http://127.0.0.1:3000/dev", "orders-api")
//!     .client("cli", SecretString::from("cli-secret"), ["orders:read", "orders:write"])
//!     .build()?;
//! let security = Security::builder()
//!     .issuer(dev.issuer())
//!     .default_rate(Rate::per_minute(60))
//!     .build()
//!     .await?;
//! let app: axum::Router = axum::Router::new(/* the API, secured by `security` */)
//!     .nest("/dev", dev.router());
//! # let _ = (security, app);
//! # Ok(())
//! # }
//! # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
//! ```
//!
//! On its own port, [`DevIssuer::serve`] serves the same routes at the root of a listener
//! (the issuer identifier is then the listener's origin).
//!
//! # Key rotation
//!
//! The issuer holds a key ring of ES256 keys named by their RFC 7638 thumbprints:
//!
//! - the *current* key signs ([`DevIssuer::kid`]);
//! - the *next* key ([`DevIssuer::next_kid`]) is generated in advance and published in
//!   the JWKS before it ever signs, so that resource servers caching the JWKS already
//!   know it when it starts signing;
//! - after a [rotation](DevIssuer::rotate) the *previous* key stays published for a grace
//!   period, so that the tokens it signed still verify.
//!
//! The grace period is [`DevIssuerBuilder::rotation_grace`] if set; by default it lasts
//! until every token the retiring key signed has expired (at least the token lifetime),
//! plus the largest clock leeway a verifier accepts ([`MAX_LEEWAY`]).
//! [`DevIssuer::spawn_rotation`] rotates periodically; choose a period longer than the
//! JWKS caches of the resource servers (60 seconds for this issuer's own document).
//!
//! [`DevIssuer::issuer`] is a snapshot of the keys published when it is called: it
//! accepts tokens signed by the current and next keys, that is until the second rotation.
//!
//! # Secrets
//!
//! Client secrets are held in [`secrecy`] types, compared in constant time (as SHA-256
//! digests, so that their length does not leak either), never logged and never shown by
//! `Debug`.

mod clients;
mod error;
mod introspection_endpoint;
mod keys;
mod opaque;
mod random;
mod routes;
mod token;
mod token_endpoint;

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use crate::auth::{Introspection, Issuer, KeyProvider, KeySet, MAX_LEEWAY, unix_now};
use clients::{Client, ClientKind, Clients};
use keys::{KeyRing, SigningKey};
use opaque::OpaqueTokens;

pub use error::DevError;
pub use opaque::{MAX_OPAQUE_TOKENS, OPAQUE_TOKEN_PREFIX};
pub use token::TokenRequest;
pub use token_endpoint::MAX_BODY_BYTES;

/// The default lifetime of the tokens the issuer mints: 10 minutes.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(600);

/// The shortest period [`DevIssuer::spawn_rotation`] accepts: 1 second.
pub const MIN_ROTATION_PERIOD: Duration = Duration::from_secs(1);

/// A retired key kept "forever" when the grace period does not fit in an `Instant`.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The state shared by every clone of an issuer.
struct Inner {
    issuer: String,
    audience: String,
    token_lifetime: Duration,
    grace: Option<Duration>,
    keys: RwLock<KeyRing>,
    clients: RwLock<Clients>,
    /// The published keys as a verifier's key set, rebuilt when they change.
    published: RwLock<Option<Published>>,
    /// The opaque tokens alive.
    opaque: OpaqueTokens,
    /// The secret the resource server (client id: the audience) introspects with.
    resource_secret: SecretString,
    /// How the DPoP proofs of token requests are checked (their `htu` names the token
    /// endpoint under the issuer's URL); `None` when the issuer is not an `http(s)` URL.
    dpop: Option<crate::auth::DpopRules>,
}

/// The published keys, parsed once per change.
struct Published {
    generation: u64,
    stale_at: Option<tokio::time::Instant>,
    keys: Arc<KeySet>,
}

/// A development authorization server: keys, clients, token endpoint; see the
/// [module documentation](self).
///
/// Cloning is cheap and every clone is the same issuer (same keys, same clients).
#[derive(Clone)]
pub struct DevIssuer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clients: Vec<String> = self.read_clients().ids().map(str::to_owned).collect();
        f.debug_struct("DevIssuer")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .field("kid", &self.kid())
            .field("next_kid", &self.next_kid())
            .field("token_lifetime", &self.inner.token_lifetime)
            .field("rotation_grace", &self.inner.grace)
            .field("clients", &clients)
            .finish_non_exhaustive()
    }
}

/// A client registered at construction.
struct PendingClient {
    id: String,
    secret: SecretString,
    scopes: Vec<String>,
    kind: ClientKind,
}

/// Configures a [`DevIssuer`]; see [`DevIssuer::builder`].
#[must_use]
pub struct DevIssuerBuilder {
    issuer: String,
    audience: String,
    token_lifetime: Duration,
    grace: Option<Duration>,
    clients: Vec<PendingClient>,
}

impl std::fmt::Debug for DevIssuerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clients: Vec<&str> = self.clients.iter().map(|c| c.id.as_str()).collect();
        f.debug_struct("DevIssuerBuilder")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("token_lifetime", &self.token_lifetime)
            .field("rotation_grace", &self.grace)
            .field("clients", &clients)
            .finish()
    }
}

impl DevIssuerBuilder {
    /// The lifetime of the tokens the token endpoint issues, and the default of
    /// [`TokenRequest::lifetime`] (default [`DEFAULT_TOKEN_LIFETIME`]). Resource servers
    /// refuse tokens living longer than their issuer's
    /// [`max_lifetime`](crate::Issuer::max_lifetime), 24 hours by default.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// How long a key stays published after it stops signing. By default, until every
    /// token it signed has expired, plus [`MAX_LEEWAY`]. A
    /// shorter grace period makes tokens signed before a rotation fail once it is over.
    pub fn rotation_grace(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
        self
    }

    /// Registers a client; see [`DevIssuer::register_client`]. Mistakes are reported by
    /// [`build`](DevIssuerBuilder::build).
    pub fn client<I, S>(
        self,
        client_id: impl Into<String>,
        secret: SecretString,
        allowed_scopes: I,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.pending(client_id.into(), secret, allowed_scopes, ClientKind::Jwt)
    }

    /// Registers a client that gets opaque tokens; see
    /// [`DevIssuer::register_opaque_client`]. Mistakes are reported by
    /// [`build`](DevIssuerBuilder::build).
    pub fn opaque_client<I, S>(
        self,
        client_id: impl Into<String>,
        secret: SecretString,
        allowed_scopes: I,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.pending(client_id.into(), secret, allowed_scopes, ClientKind::Opaque)
    }

    fn pending<I, S>(
        mut self,
        id: String,
        secret: SecretString,
        allowed_scopes: I,
        kind: ClientKind,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.clients.push(PendingClient {
            id,
            secret,
            scopes: allowed_scopes.into_iter().map(Into::into).collect(),
            kind,
        });
        self
    }

    /// The issuer, with a fresh current key and a fresh next key.
    pub fn build(self) -> Result<DevIssuer, DevError> {
        let mut clients = Clients::default();
        // The resource server, which introspects: its client id is the audience.
        let resource_secret = SecretString::from(random::random_id(32)?);
        if let Ok(resource_server) =
            Client::new(&self.audience, resource_secret.clone(), Vec::new())
        {
            clients.insert(
                self.audience.clone(),
                resource_server.with_kind(ClientKind::ResourceServer),
            );
        }
        for pending in self.clients {
            let client = Client::new(&pending.id, pending.secret, pending.scopes)?;
            clients.insert(pending.id, client.with_kind(pending.kind));
        }
        let dpop = crate::auth::DpopRules::new(crate::auth::Dpop::new(self.issuer.as_str())).ok();
        Ok(DevIssuer {
            inner: Arc::new(Inner {
                dpop,
                issuer: self.issuer,
                audience: self.audience,
                token_lifetime: self.token_lifetime,
                grace: self.grace,
                keys: RwLock::new(KeyRing::generate()?),
                published: RwLock::new(None),
                clients: RwLock::new(clients),
                opaque: OpaqueTokens::default(),
                resource_secret,
            }),
        })
    }
}

impl DevIssuer {
    /// An issuer called `issuer` (the `iss` of its tokens) minting tokens for `audience`,
    /// with freshly generated P-256 keys, no clients, and the default settings.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<DevIssuer, DevError> {
        DevIssuer::builder(issuer, audience).build()
    }

    /// Configures an issuer called `issuer` minting tokens for `audience`.
    ///
    /// ```
    /// use portcullis_runtime::dev::DevIssuer;
    /// use secrecy::SecretString;
    /// use std::time::Duration;
    ///
    /// let dev = DevIssuer::builder("http://127.0.0.1:3000/dev", "orders-api")
    ///     .token_lifetime(Duration::from_secs(300))
    ///     .rotation_grace(Duration::from_secs(600))
    ///     .client("cli", SecretString::from("cli-secret"), ["orders:read"])
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(dev.token_lifetime(), Duration::from_secs(300));
    /// ```
    pub fn builder(issuer: impl Into<String>, audience: impl Into<String>) -> DevIssuerBuilder {
        DevIssuerBuilder {
            issuer: issuer.into(),
            audience: audience.into(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            grace: None,
            clients: Vec::new(),
        }
    }

    fn read_keys(&self) -> RwLockReadGuard<'_, KeyRing> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write_keys(&self) -> RwLockWriteGuard<'_, KeyRing> {
        self.inner
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn read_clients(&self) -> RwLockReadGuard<'_, Clients> {
        self.inner
            .clients
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The issuer identifier.
    pub fn issuer_id(&self) -> &str {
        &self.inner.issuer
    }

    /// The audience its tokens are for.
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// The id of the key that signs now.
    pub fn kid(&self) -> String {
        self.read_keys().current().kid().to_owned()
    }

    /// The id of the key that will sign after the next [rotation](DevIssuer::rotate); it
    /// is already in the JWKS.
    pub fn next_kid(&self) -> String {
        self.read_keys().next().kid().to_owned()
    }

    /// The lifetime of the tokens the token endpoint issues.
    pub fn token_lifetime(&self) -> Duration {
        self.inner.token_lifetime
    }

    /// How the DPoP proofs of token requests are checked.
    pub(crate) fn dpop_rules(&self) -> Option<&crate::auth::DpopRules> {
        self.inner.dpop.as_ref()
    }

    /// The configured grace period of retired keys, if any (else the default: until the
    /// tokens they signed have expired).
    pub fn rotation_grace(&self) -> Option<Duration> {
        self.inner.grace
    }

    /// Registers a client that may request `allowed_scopes` with `secret`, replacing any
    /// client with the same id. The router serves it at once.
    ///
    /// A client id is one or more printable ASCII characters; a secret is not empty; a
    /// scope is an RFC 6749 scope token (printable ASCII but space, `"` and `\`).
    pub fn register_client<I, S>(
        &self,
        client_id: impl Into<String>,
        secret: SecretString,
        allowed_scopes: I,
    ) -> Result<(), DevError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.register(client_id.into(), secret, allowed_scopes, ClientKind::Jwt)
    }

    /// Registers a client as [`register_client`](DevIssuer::register_client) does, whose
    /// tokens are opaque: `pcd_` and 43 random characters, their claims kept by the issuer
    /// and answered at its introspection endpoint (`POST /oauth/introspect`, RFC 7662) to
    /// the resource server; the client may revoke them (`POST /oauth/revoke`, RFC 7009).
    /// [`issuer`](DevIssuer::issuer) introspects them.
    pub fn register_opaque_client<I, S>(
        &self,
        client_id: impl Into<String>,
        secret: SecretString,
        allowed_scopes: I,
    ) -> Result<(), DevError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.register(client_id.into(), secret, allowed_scopes, ClientKind::Opaque)
    }

    fn register<I, S>(
        &self,
        client_id: String,
        secret: SecretString,
        allowed_scopes: I,
        kind: ClientKind,
    ) -> Result<(), DevError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = allowed_scopes.into_iter().map(Into::into).collect();
        let client = Client::new(&client_id, secret, scopes)?.with_kind(kind);
        self.inner
            .clients
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(client_id, client);
        Ok(())
    }

    /// The opaque tokens alive.
    pub(crate) fn opaque_tokens(&self) -> &OpaqueTokens {
        &self.inner.opaque
    }

    /// How a resource server introspects this issuer's opaque tokens: at
    /// `{issuer}/oauth/introspect`, as the client whose id is the audience, with a secret
    /// made when the issuer was built; tokens recognised by their prefix
    /// ([`OPAQUE_TOKEN_PREFIX`]).
    pub fn introspection(&self) -> Introspection {
        let endpoint = format!(
            "{}/oauth/introspect",
            self.inner.issuer.trim_end_matches('/')
        );
        Introspection::new(&self.inner.audience, self.inner.resource_secret.clone())
            .endpoint(endpoint)
            .token_prefix(OPAQUE_TOKEN_PREFIX)
    }

    /// The scopes and kind of client `client_id` if `secret` is its secret.
    pub(crate) fn authenticate(
        &self,
        client_id: &str,
        secret: &SecretString,
    ) -> Option<(Vec<String>, ClientKind)> {
        self.read_clients()
            .authenticate(client_id, secret)
            .map(|client| (client.scopes().to_vec(), client.kind()))
    }

    /// Rotates the keys: the next key starts signing, the current key is retired (still
    /// published for the grace period), and a new next key is generated and published.
    pub fn rotate(&self) -> Result<(), DevError> {
        let fresh = SigningKey::generate()?;
        let mut ring = self.write_keys();
        let grace = self
            .inner
            .grace
            .unwrap_or_else(|| self.default_grace(ring.current()));
        let now = tokio::time::Instant::now();
        let until = now
            .checked_add(grace)
            .or_else(|| now.checked_add(FAR_FUTURE))
            .unwrap_or(now);
        ring.rotate(fresh, until, now);
        tracing::info!(
            issuer = %self.inner.issuer,
            kid = ring.current().kid(),
            next_kid = ring.next().kid(),
            "dev issuer: signing key rotated"
        );
        Ok(())
    }

    /// How long `outgoing` must stay published for every token it signed to verify.
    fn default_grace(&self, outgoing: &SigningKey) -> Duration {
        let remaining = Duration::from_secs(outgoing.latest_exp().saturating_sub(unix_now()));
        remaining
            .max(self.inner.token_lifetime)
            .saturating_add(MAX_LEEWAY)
    }

    /// Rotates the keys every `every` (at least [`MIN_ROTATION_PERIOD`]) on the Tokio
    /// runtime, the first time `every` from now. The task holds the issuer weakly: it
    /// ends at its next tick after the last clone of the issuer (routers included) is
    /// dropped, or when the returned handle is aborted.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, like [`tokio::spawn`].
    pub fn spawn_rotation(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let every = every.max(MIN_ROTATION_PERIOD);
        let issuer = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = issuer.upgrade() else {
                    break;
                };
                if let Err(error) = (DevIssuer { inner }).rotate() {
                    tracing::error!(%error, "dev issuer: key rotation failed");
                }
            }
        })
    }

    /// The configuration that trusts this issuer in process: its keys as it publishes
    /// them (rotations included, with no HTTP round trip), its audience, RFC 9068 rules,
    /// and its token endpoint for the OpenAPI document. When the issuer identifier is an
    /// `https://` URL (or `http://` on loopback), its opaque tokens are introspected too
    /// ([`introspection`](DevIssuer::introspection)), which needs its routes served there.
    pub fn issuer(&self) -> Issuer {
        let token_url = format!("{}/oauth/token", self.inner.issuer.trim_end_matches('/'));
        let issuer = Issuer::new(&self.inner.issuer)
            .audience(&self.inner.audience)
            .key_provider(Arc::new(self.clone()))
            .token_url(token_url)
            .rfc9068();
        match crate::auth::checked_jwks_url(&self.inner.issuer) {
            Ok(_) => issuer.introspection(self.introspection()),
            Err(_) => issuer,
        }
    }

    /// The configuration that trusts the keys this issuer publishes now, as a fixed set
    /// (they will not follow a rotation).
    pub fn issuer_snapshot(&self) -> Issuer {
        Issuer::new(&self.inner.issuer)
            .audience(&self.inner.audience)
            .jwks_json(&self.jwks_json())
            .rfc9068()
    }

    /// The published keys as a key set, rebuilt only after a rotation or the end of a
    /// grace period.
    fn published_keys(&self) -> Arc<KeySet> {
        if let Some(keys) = self.with_fresh_published(|keys| keys.clone()) {
            return keys;
        }
        let now = tokio::time::Instant::now();
        let (jwks, stale_at, generation) = {
            let ring = self.read_keys();
            (
                json!({ "keys": ring.published(now) }),
                ring.next_expiry(now),
                ring.generation(),
            )
        };
        // The ring's own JWKs always parse; an empty set would fail closed.
        let keys = Arc::new(KeySet::from_jwks_json(&jwks.to_string()).unwrap_or_default());
        *self.write_published() = Some(Published {
            generation,
            stale_at,
            keys: keys.clone(),
        });
        keys
    }

    /// `read` applied to the published key set, if it is still the one to publish (no
    /// rotation and no end of a grace period since it was built).
    fn with_fresh_published<R>(&self, read: impl FnOnce(&Arc<KeySet>) -> R) -> Option<R> {
        let now = tokio::time::Instant::now();
        let generation = self.read_keys().generation();
        let published = self.read_published();
        published
            .as_ref()
            .filter(|p| p.generation == generation && p.stale_at.is_none_or(|at| now < at))
            .map(|p| read(&p.keys))
    }

    fn read_published(&self) -> RwLockReadGuard<'_, Option<Published>> {
        self.inner
            .published
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write_published(&self) -> RwLockWriteGuard<'_, Option<Published>> {
        self.inner
            .published
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The JWKS document: the current key, the next key, and the previous keys still in
    /// their grace period.
    pub fn jwks(&self) -> Value {
        let keys = self.read_keys().published(tokio::time::Instant::now());
        json!({ "keys": keys })
    }

    /// The JWKS document as text.
    pub fn jwks_json(&self) -> String {
        self.jwks().to_string()
    }

    /// The discovery document (OpenID Connect Discovery and RFC 8414 metadata) for an
    /// issuer served at its own identifier: `token_endpoint` is `{issuer}/oauth/token`,
    /// `jwks_uri` is `{issuer}/.well-known/jwks.json`.
    pub fn discovery(&self) -> Value {
        let base = self.inner.issuer.trim_end_matches('/');
        json!({
            "issuer": self.inner.issuer,
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "token_endpoint": format!("{base}/oauth/token"),
            "introspection_endpoint": format!("{base}/oauth/introspect"),
            "revocation_endpoint": format!("{base}/oauth/revoke"),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": self.read_clients().all_scopes(),
            "id_token_signing_alg_values_supported": ["ES256"],
        })
    }

    /// Starts a token, signed by the current key.
    pub fn token(&self) -> TokenRequest<'_> {
        TokenRequest {
            issuer: self,
            subject: None,
            client: "dev-client".to_owned(),
            scopes: Vec::new(),
            roles: Vec::new(),
            lifetime: self.inner.token_lifetime,
            extra: Map::new(),
        }
    }

    /// Signs arbitrary claims with the current key and the given header `typ`: for tests
    /// of what a resource server must refuse. Empty if signing fails, which a JSON value
    /// and a valid key do not.
    pub fn sign_claims(&self, typ: Option<&str>, claims: &Value) -> String {
        self.try_sign_claims(typ, claims).unwrap_or_default()
    }

    /// Signs `claims` with the current key, noting their `exp` for the grace period.
    pub(crate) fn try_sign_claims(
        &self,
        typ: Option<&str>,
        claims: &Value,
    ) -> Result<String, DevError> {
        let key = {
            let ring = self.read_keys();
            let key = Arc::clone(ring.current());
            // Noted under the lock, so that a concurrent rotation sees it.
            if let Some(exp) = claims.get("exp").and_then(Value::as_u64) {
                key.note_exp(exp);
            }
            key
        };
        // A compact JWS (RFC 7515 §7.1): header, claims and signature, each in base64url.
        let mut header = Map::new();
        if let Some(typ) = typ {
            header.insert("typ".to_owned(), Value::from(typ));
        }
        header.insert("alg".to_owned(), Value::from("ES256"));
        header.insert("kid".to_owned(), Value::from(key.kid()));
        let header = serde_json::to_vec(&header).map_err(|_| DevError::Signing)?;
        let claims = serde_json::to_vec(claims).map_err(|_| DevError::Signing)?;
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let signature = key.sign(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

impl KeyProvider for DevIssuer {
    fn current(&self) -> Arc<KeySet> {
        self.published_keys()
    }

    /// Asked on every hit of the verified-token cache: compares without cloning the set.
    fn is_current(&self, keys: &Arc<KeySet>) -> bool {
        self.with_fresh_published(|published| Arc::ptr_eq(keys, published))
            .unwrap_or_else(|| Arc::ptr_eq(keys, &self.published_keys()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_key_set_is_current_until_a_rotation_or_the_end_of_a_grace_period() {
        let dev = DevIssuer::builder("https://dev.test/", "api")
            .rotation_grace(Duration::from_secs(60))
            .build()
            .unwrap();
        let first = dev.current();
        assert!(dev.is_current(&first));
        assert!(
            Arc::ptr_eq(&first, &dev.current()),
            "not rebuilt while fresh"
        );
        assert!(!dev.is_current(&Arc::new(KeySet::new())));

        dev.rotate().unwrap();
        assert!(!dev.is_current(&first), "a rotation publishes another set");
        let rotated = dev.current();
        assert!(dev.is_current(&rotated));

        // The retired key's grace period ends: the set without it is published.
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(!dev.is_current(&rotated));
        assert!(dev.is_current(&dev.current()));
    }
}
