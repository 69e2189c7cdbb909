//! Minting tokens directly, without the token endpoint: for tests and examples.

use std::time::Duration;

use serde_json::{Map, Value};

use super::random::random_id;
use super::{DevError, DevIssuer};
use crate::auth::unix_now;

/// A token being minted; see [`DevIssuer::token`].
///
/// The token is an RFC 9068 access token (`typ: at+jwt`) with the claims `iss`, `sub`,
/// `aud`, `client_id`, `scope`, `iat`, `exp`, `jti` and, when roles are set, `roles`.
#[must_use]
pub struct TokenRequest<'a> {
    pub(crate) issuer: &'a DevIssuer,
    pub(crate) subject: Option<String>,
    pub(crate) client: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) lifetime: Duration,
    pub(crate) extra: Map<String, Value>,
}

impl std::fmt::Debug for TokenRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("subject", &self.subject)
            .field("client", &self.client)
            .field("scopes", &self.scopes)
            .field("roles", &self.roles)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl TokenRequest<'_> {
    /// The subject (default: the client id).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// The client id (default `dev-client`).
    pub fn client(mut self, client: impl Into<String>) -> Self {
        self.client = client.into();
        self
    }

    /// The scopes granted.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The roles, in a `roles` claim.
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// How long the token is valid (default: the issuer's
    /// [token lifetime](super::DevIssuerBuilder::token_lifetime), 10 minutes unless
    /// configured).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Any other claim; it replaces a standard one of the same name.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// The signed token, with the issuer's current key. Empty in the (practically
    /// impossible) event that the system's random generator fails.
    pub fn sign(self) -> String {
        self.try_sign().unwrap_or_default()
    }

    /// An opaque token instead (`pcd_` and 43 random characters), whose claims the issuer
    /// keeps and answers at its introspection endpoint. Empty in the (practically
    /// impossible) event that the system's random generator fails, or when
    /// [`MAX_OPAQUE_TOKENS`](super::MAX_OPAQUE_TOKENS) are alive.
    pub fn opaque(self) -> String {
        self.try_opaque().unwrap_or_default()
    }

    /// The signed token, or why it could not be signed.
    pub(crate) fn try_sign(self) -> Result<String, DevError> {
        let issuer = self.issuer;
        let claims = self.claims()?;
        issuer.try_sign_claims(Some("at+jwt"), &Value::Object(claims))
    }

    /// The opaque token, or why it could not be issued.
    pub(crate) fn try_opaque(self) -> Result<String, DevError> {
        let issuer = self.issuer;
        let claims = self.claims()?;
        issuer.opaque_tokens().issue(claims)
    }

    /// The token's claims.
    fn claims(self) -> Result<Map<String, Value>, DevError> {
        let now = unix_now();
        let mut claims = Map::new();
        claims.insert("iss".into(), self.issuer.issuer_id().into());
        claims.insert(
            "sub".into(),
            self.subject.unwrap_or_else(|| self.client.clone()).into(),
        );
        claims.insert("aud".into(), self.issuer.audience().into());
        claims.insert("client_id".into(), self.client.into());
        claims.insert("scope".into(), self.scopes.join(" ").into());
        if !self.roles.is_empty() {
            claims.insert("roles".into(), self.roles.into());
        }
        claims.insert("iat".into(), now.into());
        claims.insert(
            "exp".into(),
            now.saturating_add(self.lifetime.as_secs()).into(),
        );
        claims.insert("jti".into(), random_id(16)?.into());
        claims.extend(self.extra);
        Ok(claims)
    }
}
