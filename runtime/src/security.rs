//! The built security configuration: what every endpoint of an API shares at request
//! time. Its builder is [`SecurityBuilder`](crate::SecurityBuilder).

use std::sync::Arc;

use crate::alert::Alerter;
use crate::audit::Auditor;
use crate::auth::{
    AuthFailure, Authenticator, IssuerDocumentation, IssuerRules, Principal, RevocationError,
    RevocationStore, Revocations, TokenCacheStats, unix_now,
};
use crate::authz::ScopeRegistry;
use crate::metrics::SecurityMetrics;
use crate::rate::{FailureThrottle, Rate, RateStore, Tiers, TrustedProxies};
use crate::readiness::{IssuerReadiness, Readiness};
use crate::render::Renderer;

/// The security configuration of an API, shared by all its endpoints.
///
/// ```no_run
/// # async fn example(jwks: &str) -> Result<(), portcullis_runtime::ConfigError> {
/// use portcullis_runtime::{Issuer, Rate, Security};
///
/// let security = Security::builder()
///     .issuer(Issuer::discover("https://idp.example.com/").audience("orders-api"))
///     .default_rate(Rate::per_minute(600))
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Security(pub(crate) Arc<SecurityInner>);

/// What a [`Security`] holds; built by [`SecurityBuilder::build`](crate::SecurityBuilder::build).
pub(crate) struct SecurityInner {
    pub(crate) authenticator: Authenticator,
    pub(crate) alerter: Arc<Alerter>,
    pub(crate) metrics: SecurityMetrics,
    pub(crate) default_rate: Rate,
    pub(crate) rate_scale: f64,
    pub(crate) realm: Arc<str>,
    pub(crate) body_limit: usize,
    pub(crate) rate_store: Option<Arc<dyn RateStore>>,
    pub(crate) tiers: Option<Tiers>,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) failure_throttle: Option<FailureThrottle>,
    pub(crate) auditor: Auditor,
    pub(crate) renderer: Renderer,
    pub(crate) error_details: bool,
    /// Whether some issuer's keys are fetched (discovery, a JWKS URL), and so may not be
    /// there yet.
    pub(crate) fetched_keys: bool,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let issuers: Vec<&str> = self
            .0
            .authenticator
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
    /// Whether some issuer's keys are fetched over the network, so that its tokens can be
    /// refused with 503 until they arrive.
    pub(crate) fn fetches_keys(&self) -> bool {
        self.0.fetched_keys
    }

    /// Whether `other` is a clone of this configuration.
    pub fn same_as(&self, other: &Security) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Whether 401 responses name the precise reason
    /// ([`development_error_details`](crate::SecurityBuilder::development_error_details)).
    pub fn error_details(&self) -> bool {
        self.0.error_details
    }

    pub(crate) fn renderer(&self) -> &Renderer {
        &self.0.renderer
    }

    /// `problem` as a response, rendered by the configured [`ErrorRenderer`](crate::ErrorRenderer).
    pub fn render_problem(&self, problem: crate::Problem) -> http::Response<axum::body::Body> {
        self.0.renderer.problem(problem)
    }

    /// The realm of challenges.
    pub fn realm(&self) -> &str {
        &self.0.realm
    }

    pub(crate) fn realm_arc(&self) -> Arc<str> {
        self.0.realm.clone()
    }

    /// A fresh DPoP server nonce, when nonces are required.
    pub(crate) fn dpop_nonce(&self) -> Option<String> {
        let nonces = self.0.authenticator.dpop()?.nonces.as_ref()?;
        Some(nonces.issue(crate::auth::unix_now()))
    }

    /// Whether DPoP proofs must carry server nonces.
    pub(crate) fn dpop_nonces_required(&self) -> bool {
        self.0
            .authenticator
            .dpop()
            .is_some_and(|dpop| dpop.nonces.is_some())
    }

    /// The `algs` of the `DPoP` challenge, when DPoP is configured.
    pub(crate) fn dpop_algs(&self) -> Option<Arc<str>> {
        self.0.authenticator.dpop().map(|dpop| dpop.algs.clone())
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
        !self.0.authenticator.issuers().is_empty()
    }

    /// The identifiers of the configured issuers (for an issuer template, one for each of
    /// its tenants).
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.0
            .authenticator
            .issuers()
            .iter()
            .map(IssuerRules::issuer)
    }

    /// Whether every issuer has its signing keys: those found by discovery or fetched from
    /// a JWKS URL may still be waiting for their provider (see
    /// [`SecurityBuilder::build`](crate::SecurityBuilder::build)). Serve it from a readiness endpoint: see [`Readiness`]
    /// for an example. Cheap (a lock per waiting issuer), never waits for the network.
    pub fn readiness(&self) -> Readiness {
        Readiness {
            issuers: self
                .0
                .authenticator
                .issuers()
                .iter()
                .map(|rules| IssuerReadiness {
                    issuer: rules.issuer().to_owned(),
                    keys: rules.readiness(),
                })
                .collect(),
            revocations: self.revocations().freshness(),
        }
    }

    /// The URLs a browser page may send requests to for tokens: each issuer's token
    /// endpoint, once known, and its identifier (whose origin usually serves it).
    #[cfg(feature = "api-reference")]
    pub(crate) fn token_endpoints(&self) -> Vec<String> {
        let mut urls = Vec::new();
        for issuer in self.issuer_documentation() {
            urls.extend(issuer.token_url);
            urls.push(issuer.issuer);
        }
        urls.retain(|url| url.starts_with("https://") || url.starts_with("http://"));
        urls
    }

    /// What the OpenAPI document says about each issuer.
    pub(crate) fn issuer_documentation(&self) -> Vec<IssuerDocumentation> {
        self.0
            .authenticator
            .issuers()
            .iter()
            .map(IssuerRules::documentation)
            .collect()
    }

    pub(crate) fn auditor(&self) -> &Auditor {
        &self.0.auditor
    }

    pub(crate) fn alerter(&self) -> &Alerter {
        &self.0.alerter
    }

    pub(crate) fn metrics(&self) -> &SecurityMetrics {
        &self.0.metrics
    }

    /// How the verified-token cache is doing.
    pub fn token_cache_stats(&self) -> TokenCacheStats {
        self.0.authenticator.token_cache_stats()
    }

    /// How many token signatures were checked (cache hits and requests refused before
    /// verification check none).
    pub fn signature_checks(&self) -> u64 {
        self.0.authenticator.signature_checks()
    }

    /// The shared rate-limit store, if one is configured.
    pub fn rate_store(&self) -> Option<&dyn RateStore> {
        self.0.rate_store.as_deref()
    }

    /// The quota tiers, if configured.
    pub fn tiers(&self) -> Option<&Tiers> {
        self.0.tiers.as_ref()
    }

    /// The trusted proxies.
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.0.trusted_proxies
    }

    pub(crate) fn failure_throttle(&self) -> Option<&FailureThrottle> {
        self.0.failure_throttle.as_ref()
    }

    /// Whether revocations live in a shared store (which may be unreachable).
    pub(crate) fn revocations_are_shared(&self) -> bool {
        matches!(self.0.authenticator.revocations(), Revocations::Shared(_))
    }

    /// Whether revocations can be checked without waiting (in memory, or a copy of a
    /// shared store held in memory).
    pub(crate) fn revocations_decide_now(&self) -> bool {
        match self.0.authenticator.revocations() {
            Revocations::Memory(_) => true,
            Revocations::Shared(store) => store.may_decide_now(),
        }
    }

    /// The revocation store.
    pub fn revocations(&self) -> &dyn RevocationStore {
        self.0.authenticator.revocation_store()
    }

    /// Revokes the token `jti` of `issuer` until its expiry `expires_at` (Unix seconds).
    pub async fn revoke_token(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: u64,
    ) -> Result<(), RevocationError> {
        self.revocations()
            .revoke_token(issuer, jti, expires_at)
            .await
    }

    /// Revokes every token of `subject` (of `issuer`) issued before `issued_before` (Unix
    /// seconds); the entry is kept as long as such a token could still be valid.
    pub async fn revoke_subject(
        &self,
        issuer: &str,
        subject: &str,
        issued_before: u64,
    ) -> Result<(), RevocationError> {
        self.0
            .authenticator
            .revoke_subject(issuer, subject, issued_before)
            .await
    }

    /// The authentication of requests: the bearer guard, the verified-token cache, the
    /// verifier and the revocations.
    #[inline]
    pub(crate) fn authenticator(&self) -> &Authenticator {
        &self.0.authenticator
    }

    /// Verifies one bearer token (or finds it in the verified-token cache), then checks
    /// that it is not revoked.
    pub async fn verify(
        &self,
        token: &str,
        registry: Option<&'static ScopeRegistry>,
    ) -> Result<Principal, AuthFailure> {
        self.0
            .authenticator
            .verify_at(token, registry, unix_now())
            .await
    }

    /// [`verify`](Security::verify) at time `now` (Unix seconds).
    #[cfg(feature = "fuzzing")]
    pub(crate) async fn verify_at(
        &self,
        token: &str,
        registry: Option<&'static ScopeRegistry>,
        now: u64,
    ) -> Result<Principal, AuthFailure> {
        self.0.authenticator.verify_at(token, registry, now).await
    }
}
