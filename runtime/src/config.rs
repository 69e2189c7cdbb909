//! The security configuration: issuers, default rate, realm, audit sinks.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Uri};

use crate::audit::{AuditSink, Auditor};
use crate::auth::{
    AuthFailure, Issuer, IssuerDocumentation, IssuerRules, KeyError, MAX_LEEWAY, Principal,
    RolesClaim, Verifier, bearer_token, unix_now,
};
use crate::authz::ScopeRegistry;
use crate::rate::Rate;

/// The default cap on the size of a bearer token, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The default cap on a request body, in bytes.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Why a [`Security`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No default rate was given.
    #[error(
        "no default rate: every endpoint is rate limited, so give the builder one, \
         for example `.default_rate(portcullis::rate!(\"600/min\"))`"
    )]
    MissingDefaultRate,
    /// An issuer identifier is empty.
    #[error("an issuer identifier is empty")]
    EmptyIssuer,
    /// Two issuers have the same identifier.
    #[error("the issuer {0:?} is configured twice")]
    DuplicateIssuer(String),
    /// An issuer accepts no audience.
    #[error("the issuer {0:?} has no audience: call `.audience(\"your-api\")` on it")]
    MissingAudience(String),
    /// An issuer has no signing key.
    #[error("the issuer {0:?} has no usable signing key")]
    NoKeys(String),
    /// A key of an issuer could not be loaded.
    #[error("a key of the issuer {issuer:?} was refused: {source}")]
    Key {
        /// The issuer.
        issuer: String,
        /// What was wrong.
        #[source]
        source: KeyError,
    },
    /// An issuer's leeway is too long.
    #[error(
        "the issuer {issuer:?} allows {leeway:?} of clock skew; at most {MAX_LEEWAY:?} is allowed"
    )]
    LeewayTooLong {
        /// The issuer.
        issuer: String,
        /// The leeway configured.
        leeway: Duration,
    },
    /// The realm cannot be put in a header.
    #[error("the realm must be visible ASCII without quotes or backslashes")]
    InvalidRealm,
    /// The rate scale is not a positive number.
    #[error("the rate scale must be a positive, finite number")]
    InvalidRateScale,
}

/// Builds a [`Security`]; see [`Security::builder`].
#[must_use]
pub struct SecurityBuilder {
    issuers: Vec<Issuer>,
    default_rate: Option<Rate>,
    rate_scale: f64,
    realm: String,
    roles_claim: RolesClaim,
    max_token_bytes: usize,
    body_limit: usize,
    auditor: Auditor,
}

impl SecurityBuilder {
    /// Trusts tokens from `issuer`. Call again for several issuers: each token is checked
    /// against the one its `iss` names, with that issuer's keys only.
    pub fn issuer(mut self, issuer: Issuer) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// The rate of endpoints that declare none. Required.
    pub fn default_rate(mut self, rate: Rate) -> Self {
        self.default_rate = Some(rate);
        self
    }

    /// Multiplies every quota (default and declared) by `factor`: for load tests, or for
    /// an operator to loosen or tighten all limits at once.
    pub fn rate_scale(mut self, factor: f64) -> Self {
        self.rate_scale = factor;
        self
    }

    /// The realm of `WWW-Authenticate` challenges (default `api`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Where roles are read from the token (default the `roles` claim).
    pub fn roles_claim(mut self, claim: RolesClaim) -> Self {
        self.roles_claim = claim;
        self
    }

    /// The largest bearer token accepted, in bytes (default 8 KiB).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// The largest request body accepted by default, in bytes (default 64 KiB).
    /// Endpoints can say otherwise with `body_limit = N`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Sends every audit event to `sink` as well as to `tracing`.
    pub fn audit_sink(mut self, sink: impl AuditSink) -> Self {
        self.auditor.add(Arc::new(sink));
        self
    }

    /// Checks the configuration and builds it.
    ///
    /// This is `async` because issuers may need the network (discovery, JWKS) before the
    /// first request.
    pub async fn build(self) -> Result<Security, ConfigError> {
        let default_rate = self.default_rate.ok_or(ConfigError::MissingDefaultRate)?;
        if !(self.rate_scale.is_finite() && self.rate_scale > 0.0) {
            return Err(ConfigError::InvalidRateScale);
        }
        let realm_ok = !self.realm.is_empty()
            && self
                .realm
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ');
        if !realm_ok {
            return Err(ConfigError::InvalidRealm);
        }
        let mut rules = Vec::with_capacity(self.issuers.len());
        for issuer in self.issuers {
            rules.push(check_issuer(issuer, &rules)?);
        }
        Ok(Security(Arc::new(SecurityInner {
            verifier: Verifier::new(rules, self.roles_claim),
            default_rate: default_rate.scaled(self.rate_scale),
            rate_scale: self.rate_scale,
            realm: Arc::from(self.realm),
            max_token_bytes: self.max_token_bytes,
            body_limit: self.body_limit,
            auditor: self.auditor,
        })))
    }
}

fn check_issuer(issuer: Issuer, earlier: &[IssuerRules]) -> Result<IssuerRules, ConfigError> {
    let name = issuer.name().to_owned();
    if name.is_empty() {
        return Err(ConfigError::EmptyIssuer);
    }
    if earlier.iter().any(|rules| rules.issuer() == name) {
        return Err(ConfigError::DuplicateIssuer(name));
    }
    if let Some(error) = issuer.errors.first() {
        return Err(ConfigError::Key {
            issuer: name,
            source: error.clone(),
        });
    }
    if issuer.audiences.is_empty() {
        return Err(ConfigError::MissingAudience(name));
    }
    if issuer.keys.is_empty() {
        return Err(ConfigError::NoKeys(name));
    }
    if issuer.leeway > MAX_LEEWAY {
        return Err(ConfigError::LeewayTooLong {
            issuer: name,
            leeway: issuer.leeway,
        });
    }
    Ok(IssuerRules::new(issuer))
}

/// The security configuration of an API, shared by all its endpoints.
///
/// ```no_run
/// # async fn example(jwks: &str) -> Result<(), portcullis_runtime::ConfigError> {
/// use portcullis_runtime::{Issuer, Rate, Security};
///
/// let security = Security::builder()
///     .issuer(Issuer::new("https://idp.example.com/").audience("orders-api").jwks_json(jwks))
///     .default_rate(Rate::per_minute(600))
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Security(Arc<SecurityInner>);

pub(crate) struct SecurityInner {
    verifier: Verifier,
    default_rate: Rate,
    rate_scale: f64,
    realm: Arc<str>,
    max_token_bytes: usize,
    body_limit: usize,
    auditor: Auditor,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let issuers: Vec<&str> = self
            .0
            .verifier
            .issuers()
            .iter()
            .map(IssuerRules::issuer)
            .collect();
        f.debug_struct("Security")
            .field("issuers", &issuers)
            .field("default_rate", &self.0.default_rate)
            .field("realm", &self.0.realm)
            .finish_non_exhaustive()
    }
}

impl Security {
    /// Starts a configuration.
    pub fn builder() -> SecurityBuilder {
        SecurityBuilder {
            issuers: Vec::new(),
            default_rate: None,
            rate_scale: 1.0,
            realm: crate::rejection::DEFAULT_REALM.to_owned(),
            roles_claim: RolesClaim::default(),
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            body_limit: DEFAULT_BODY_LIMIT,
            auditor: Auditor::default(),
        }
    }

    /// The realm of challenges.
    pub fn realm(&self) -> &str {
        &self.0.realm
    }

    pub(crate) fn realm_arc(&self) -> Arc<str> {
        self.0.realm.clone()
    }

    /// The default rate, already scaled.
    pub fn default_rate(&self) -> Rate {
        self.0.default_rate
    }

    /// The factor every quota is multiplied by.
    pub fn rate_scale(&self) -> f64 {
        self.0.rate_scale
    }

    /// The default body limit.
    pub fn body_limit(&self) -> usize {
        self.0.body_limit
    }

    /// Whether any issuer is configured.
    pub fn has_issuers(&self) -> bool {
        !self.0.verifier.issuers().is_empty()
    }

    /// What the OpenAPI document says about each issuer.
    pub(crate) fn issuer_documentation(&self) -> Vec<IssuerDocumentation> {
        self.0
            .verifier
            .issuers()
            .iter()
            .map(IssuerRules::documentation)
            .collect()
    }

    pub(crate) fn auditor(&self) -> &Auditor {
        &self.0.auditor
    }

    /// Authenticates a request head: the bearer guard, then token verification.
    /// `Ok(None)` means no bearer token was offered.
    pub(crate) fn authenticate(
        &self,
        headers: &HeaderMap,
        uri: &Uri,
        registry: Option<&ScopeRegistry>,
    ) -> Result<Option<Principal>, AuthFailure> {
        let Some(token) = bearer_token(headers, uri, self.0.max_token_bytes)? else {
            return Ok(None);
        };
        self.verify(token, registry).map(Some)
    }

    /// Verifies one bearer token.
    pub fn verify(
        &self,
        token: &str,
        registry: Option<&ScopeRegistry>,
    ) -> Result<Principal, AuthFailure> {
        if token.len() > self.0.max_token_bytes {
            return Err(AuthFailure::TokenTooLarge);
        }
        let result = self.0.verifier.verify(token, registry, unix_now());
        if let Err(failure) = &result
            && failure.is_server_side()
        {
            tracing::error!(
                target: "portcullis::alert",
                reason = failure.as_str(),
                "no signing keys available: every token is refused until keys return"
            );
        }
        result
    }
}
