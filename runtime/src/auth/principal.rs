//! The authenticated caller.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::authz::ScopeSet;
use crate::rate::RateKey;

/// Who is calling: the verified claims of the request's access token, normalised.
///
/// Take it as a handler argument in a `#[secure]` endpoint. It is cheap to clone (one
/// reference count).
///
/// ```
/// use portcullis_runtime::Principal;
///
/// let alice = Principal::builder("https://idp.example.com/")
///     .subject("alice")
///     .client_id("web-app")
///     .scopes(["orders:read"])
///     .build();
/// assert_eq!(alice.subject(), Some("alice"));
/// assert!(alice.has_scope("orders:read"));
/// assert!(!alice.has_scope("orders:write"));
/// ```
#[derive(Clone)]
pub struct Principal(Arc<PrincipalInner>);

struct PrincipalInner {
    issuer: String,
    subject: Option<Arc<str>>,
    client_id: Option<Arc<str>>,
    token_id: Option<String>,
    scopes: Vec<String>,
    scope_set: ScopeSet,
    roles: Vec<String>,
    issued_at: Option<u64>,
    expires_at: u64,
    claims: Value,
    /// The RFC 7638 thumbprint of the key the token is bound to (`cnf.jkt`, RFC 9449).
    dpop_thumbprint: Option<Arc<str>>,
    /// The SHA-256 thumbprint of the client certificate the token is bound to
    /// (`cnf.x5t#S256`, RFC 8705).
    certificate_thumbprint: Option<Arc<str>>,
    /// The rate keys of [`Principal::client_key`] and [`Principal::subject_key`], hashed
    /// once when the principal is built rather than on every request.
    rate_keys: RateKeys,
    /// Its fields as the JSON lines audit sink writes them, made on first use: a caller's
    /// names are escaped once, not on every request.
    encoded: OnceLock<EncodedFields>,
}

/// Text made once from a principal's fields and kept with it: `bytes[..split]` and
/// `bytes[split..]` are written at two places of a line.
pub(crate) struct EncodedFields {
    pub(crate) bytes: Box<[u8]>,
    pub(crate) split: usize,
}

/// A principal's rate keys: (per client, per subject).
#[derive(Clone, Copy, Default)]
struct RateKeys {
    client: Option<RateKey>,
    subject: Option<RateKey>,
}

impl Principal {
    /// Builds a principal by hand, for handler unit tests. Requests only ever see principals
    /// made from verified tokens.
    pub fn builder(issuer: impl Into<String>) -> PrincipalBuilder {
        PrincipalBuilder {
            inner: PrincipalInner {
                issuer: issuer.into(),
                subject: None,
                client_id: None,
                token_id: None,
                scopes: Vec::new(),
                scope_set: ScopeSet::EMPTY,
                roles: Vec::new(),
                issued_at: None,
                expires_at: u64::MAX,
                claims: Value::Object(Map::new()),
                dpop_thumbprint: None,
                certificate_thumbprint: None,
                rate_keys: RateKeys::default(),
                encoded: OnceLock::new(),
            },
        }
    }

    /// The issuer (`iss`).
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The subject (`sub`): the user, or the client itself in client-credentials tokens.
    pub fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }

    /// The client the token was issued to: `client_id`, else `azp`, else `cid` (Okta), else
    /// `appid` (Entra ID v1), else `sub`.
    pub fn client_id(&self) -> Option<&str> {
        self.0.client_id.as_deref()
    }

    /// The token id (`jti`).
    pub fn token_id(&self) -> Option<&str> {
        self.0.token_id.as_deref()
    }

    /// The granted scopes, from `scope` (space-delimited) and `scp` (array or string).
    pub fn scopes(&self) -> impl ExactSizeIterator<Item = &str> {
        self.0.scopes.iter().map(String::as_str)
    }

    /// The granted scopes, as a slice.
    pub fn scope_list(&self) -> &[String] {
        &self.0.scopes
    }

    /// Its fields as `make` encodes them, made the first time and kept for the principal's
    /// life (the verified-token cache shares one principal among a token's requests).
    pub(crate) fn encoded_fields(
        &self,
        make: impl FnOnce(&Principal) -> EncodedFields,
    ) -> &EncodedFields {
        self.0.encoded.get_or_init(|| make(self))
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.iter().any(|granted| granted == scope)
    }

    /// The granted scopes that the API declares, as a bit set.
    pub fn scope_set(&self) -> ScopeSet {
        self.0.scope_set
    }

    /// The roles, from the configured roles claim.
    pub fn roles(&self) -> impl ExactSizeIterator<Item = &str> {
        self.0.roles.iter().map(String::as_str)
    }

    /// Whether the principal has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.0.roles.iter().any(|own| own == role)
    }

    /// When the token was issued (`iat`), if it says.
    pub fn issued_at(&self) -> Option<SystemTime> {
        self.0
            .issued_at
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// When the token was issued (`iat`), in seconds since the Unix epoch.
    pub fn issued_at_unix(&self) -> Option<u64> {
        self.0.issued_at
    }

    /// The expiry (`exp`) as seconds since the Unix epoch.
    pub fn expires_at_unix(&self) -> u64 {
        self.0.expires_at
    }

    /// Every claim of the token, as JSON.
    pub fn claims(&self) -> &Map<String, Value> {
        match &self.0.claims {
            Value::Object(map) => map,
            // Built only from objects.
            _ => empty_map(),
        }
    }

    /// The RFC 7638 thumbprint of the key the token is bound to (its `cnf.jkt`, RFC 9449):
    /// such a token was accepted only with a DPoP proof signed by that key.
    pub fn dpop_thumbprint(&self) -> Option<&str> {
        self.0.dpop_thumbprint.as_deref()
    }

    /// The SHA-256 thumbprint of the client certificate the token is bound to (its
    /// `cnf.x5t#S256`, RFC 8705): such a token was accepted only on a connection with that
    /// certificate.
    pub fn certificate_thumbprint(&self) -> Option<&str> {
        self.0.certificate_thumbprint.as_deref()
    }

    /// One claim of the token.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims().get(name)
    }

    /// The claims as one JSON value, for deserializing custom claim types.
    pub(crate) fn claims_value(&self) -> &Value {
        &self.0.claims
    }

    /// The key per-client rate limits count under, with its rate key.
    pub(crate) fn client_key(&self) -> Option<(&str, RateKey)> {
        self.client_id()
            .or(self.subject())
            .zip(self.0.rate_keys.client)
    }

    /// The key per-subject rate limits count under, with its rate key.
    pub(crate) fn subject_key(&self) -> Option<(&str, RateKey)> {
        self.subject()
            .or(self.client_id())
            .zip(self.0.rate_keys.subject)
    }
}

fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("issuer", &self.0.issuer)
            .field("subject", &self.0.subject)
            .field("client_id", &self.0.client_id)
            .field("scopes", &self.0.scopes)
            .field("roles", &self.0.roles)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Principal`] by hand; see [`Principal::builder`].
#[derive(Debug)]
pub struct PrincipalBuilder {
    inner: PrincipalInner,
}

impl fmt::Debug for PrincipalInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrincipalInner")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl PrincipalBuilder {
    /// Sets the subject.
    pub fn subject(mut self, subject: impl AsRef<str>) -> Self {
        self.inner.subject = Some(Arc::from(subject.as_ref()));
        self
    }

    /// Sets the client id.
    pub fn client_id(mut self, client_id: impl AsRef<str>) -> Self {
        self.inner.client_id = Some(Arc::from(client_id.as_ref()));
        self
    }

    /// Sets the token id.
    pub fn token_id(mut self, token_id: impl Into<String>) -> Self {
        self.inner.token_id = Some(token_id.into());
        self
    }

    /// Sets the scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the scope bit set (normally computed from the scopes and the registry).
    pub fn scope_set(mut self, set: ScopeSet) -> Self {
        self.inner.scope_set = set;
        self
    }

    /// Sets the roles.
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the issue and expiry times, in seconds since the Unix epoch.
    pub fn times(mut self, issued_at: Option<u64>, expires_at: u64) -> Self {
        self.inner.issued_at = issued_at;
        self.inner.expires_at = expires_at;
        self
    }

    /// Binds the principal's token to the key of RFC 7638 thumbprint `jkt` (`cnf.jkt`).
    pub fn dpop_thumbprint(mut self, jkt: impl AsRef<str>) -> Self {
        self.inner.dpop_thumbprint = Some(Arc::from(jkt.as_ref()));
        self
    }

    /// Binds the principal's token to the client certificate of SHA-256 thumbprint
    /// `x5t` (`cnf.x5t#S256`).
    pub fn certificate_thumbprint(mut self, x5t: impl AsRef<str>) -> Self {
        self.inner.certificate_thumbprint = Some(Arc::from(x5t.as_ref()));
        self
    }

    /// Sets the raw claims. Non-object values are ignored.
    pub fn claims(mut self, claims: Map<String, Value>) -> Self {
        self.inner.claims = Value::Object(claims);
        self
    }

    /// The principal.
    pub fn build(mut self) -> Principal {
        let inner = &mut self.inner;
        let (client, subject) = (inner.client_id.as_deref(), inner.subject.as_deref());
        inner.rate_keys = RateKeys {
            client: client.or(subject).map(RateKey::of_id),
            subject: subject.or(client).map(RateKey::of_id),
        };
        Principal(Arc::new(self.inner))
    }
}
