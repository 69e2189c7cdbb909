//! Request-time authentication: a request's access token, verified (or found in the
//! verified-token cache), held to its binding (a DPoP-bound token needs its proof), then
//! checked against revocations.
//!
//! Each rule is written once. [`Authenticator::lookup`] reads the token and the cache;
//! [`Authenticator::authenticate_now`] finishes what needs no waiting and
//! [`Authenticator::authenticate`] everything, both from the same lookup.

use crate::metrics::Counter;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, OriginalUri};
use http::{Extensions, HeaderMap, Method, Uri};

use aws_lc_rs::constant_time::verify_slices_are_equal;

use super::bearer::{Scheme, b64token_text, credentials};
use super::certificate::ClientCertificate;
use super::dpop::{
    DpopFailure, DpopMode, DpopRules, ForwardedOrigin, ProofRequest, VerifiedProof, verify_proof,
};
use super::{
    AuthFailure, CachedToken, IssuerRules, MAX_LEEWAY, Principal, RevocationError, RevocationStore,
    Revocations, TokenCache, TokenIdentity, Verifier, token_text, unix_now,
};
use crate::authz::ScopeRegistry;
use crate::rate::TrustedProxies;

/// Counters of the verified-token cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCacheStats {
    /// Requests whose token was found verified.
    pub hits: u64,
    /// Requests whose token had to be verified.
    pub misses: u64,
    /// Tokens remembered now.
    pub entries: usize,
}

/// A request's authentication when it passed: its principal (`None` when it offered no
/// access token), and whether its DPoP proof's server nonce expires at the end of the
/// current step, so that the response carries a fresh one (RFC 9449 §8.2).
#[derive(Debug)]
pub(crate) struct Authenticated {
    pub(crate) principal: Option<Principal>,
    pub(crate) renew_dpop_nonce: bool,
}

impl From<Option<Principal>> for Authenticated {
    fn from(principal: Option<Principal>) -> Authenticated {
        Authenticated {
            principal,
            renew_dpop_nonce: false,
        }
    }
}

/// What authentication reads of a request: its head, and its extensions, read only for a
/// bound token (the path the client sent, the connection's certificate, what a trusted
/// proxy forwarded), so that a bearer token costs no lookup of them.
#[derive(Clone, Copy)]
pub(crate) struct RequestHead<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    extensions: &'a Extensions,
    /// The proxies whose forwarded headers (`Client-Cert`, `Forwarded`) are believed.
    proxies: &'a TrustedProxies,
}

impl<'a> RequestHead<'a> {
    /// The head of a request with these parts, behind `proxies`.
    pub(crate) fn new(
        method: &'a Method,
        uri: &'a Uri,
        headers: &'a HeaderMap,
        extensions: &'a Extensions,
        proxies: &'a TrustedProxies,
    ) -> RequestHead<'a> {
        RequestHead {
            method,
            uri,
            headers,
            extensions,
            proxies,
        }
    }

    /// Whether the request came from a trusted proxy.
    fn came_through_trusted_proxy(&self) -> bool {
        !self.proxies.is_empty()
            && self
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .is_some_and(|peer| self.proxies.contains(peer.0.ip()))
    }

    /// The path the client sent: the original URI's, before any router nesting took a
    /// prefix off (what a DPoP proof names).
    fn path(&self) -> &'a str {
        self.extensions
            .get::<OriginalUri>()
            .map_or(self.uri, |original| &original.0)
            .path()
    }

    /// The client's certificate: from a trusted proxy, the one its RFC 9440 `Client-Cert`
    /// header carries (none without it: the proxy's own certificate is not the client's);
    /// from any other peer, the connection's (mutual TLS), the header ignored.
    fn certificate(&self) -> Option<ClientCertificate> {
        if self.came_through_trusted_proxy() {
            self.headers
                .get("client-cert")
                .and_then(ClientCertificate::from_client_cert_header)
        } else {
            self.extensions.get::<ClientCertificate>().cloned()
        }
    }

    /// The scheme and host a trusted proxy forwarded; `None` from any other peer.
    fn forwarded(&self) -> Option<ForwardedOrigin> {
        self.came_through_trusted_proxy()
            .then(|| ForwardedOrigin::from_headers(self.headers))
            .flatten()
    }
}

/// Verifies the access tokens of requests: the issuers' rules, the verified-token cache,
/// DPoP bindings and the revocations. Built by the configuration's builder, held by its
/// `Security`.
pub(crate) struct Authenticator {
    verifier: Verifier,
    cache: Option<TokenCache>,
    revocations: Revocations,
    dpop: Option<DpopRules>,
    max_token_bytes: usize,
    cache_hits: Counter,
    cache_misses: Counter,
}

/// What the token of a request comes to before anything waits.
enum Lookup<'t> {
    /// Decided from the request head alone: no token (`Ok(None)`), or a refused one.
    Decided(Result<Option<Principal>, AuthFailure>),
    /// Byte for byte a token that passed every check of a verification, with the keys that
    /// verified it still current: only its binding and revocation are left to check.
    Cached(Token<'t>, Principal, usize),
    /// A token to verify.
    Verify(Token<'t>, &'t str),
}

/// An access token as the request carried it.
#[derive(Clone, Copy)]
struct Token<'t> {
    scheme: Scheme,
    bytes: &'t [u8],
}

impl Authenticator {
    pub(crate) fn new(
        verifier: Verifier,
        cache: Option<TokenCache>,
        revocations: Revocations,
        dpop: Option<DpopRules>,
        max_token_bytes: usize,
        cache_hits: Counter,
        cache_misses: Counter,
    ) -> Authenticator {
        Authenticator {
            verifier,
            cache,
            revocations,
            dpop,
            max_token_bytes,
            cache_hits,
            cache_misses,
        }
    }

    /// The rules of each configured issuer.
    pub(crate) fn issuers(&self) -> &[IssuerRules] {
        self.verifier.issuers()
    }

    /// How many token signatures were checked.
    pub(crate) fn signature_checks(&self) -> u64 {
        self.verifier.signature_checks()
    }

    pub(crate) fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// How DPoP proofs are checked, when configured.
    pub(crate) fn dpop(&self) -> Option<&DpopRules> {
        self.dpop.as_ref()
    }

    /// How the verified-token cache is doing.
    pub(crate) fn token_cache_stats(&self) -> TokenCacheStats {
        match &self.cache {
            Some(cache) => {
                let (hits, misses) = cache.stats();
                TokenCacheStats {
                    hits,
                    misses,
                    entries: cache.len(),
                }
            }
            None => TokenCacheStats::default(),
        }
    }

    /// Revokes every token of `subject` (of `issuer`) issued before `issued_before`; the
    /// entry is kept as long as such a token could still be valid (the issuer's longest
    /// token lifetime and leeway, or for ever when the issuer bounds no lifetime).
    pub(crate) async fn revoke_subject(
        &self,
        issuer: &str,
        subject: &str,
        issued_before: u64,
    ) -> Result<(), RevocationError> {
        let lifetime = self
            .issuers()
            .iter()
            .find(|rules| rules.issuer() == issuer)
            .and_then(IssuerRules::max_lifetime);
        let keep_until = match lifetime {
            Some(lifetime) => issued_before
                .saturating_add(lifetime)
                .saturating_add(MAX_LEEWAY.as_secs()),
            None => u64::MAX,
        };
        self.revocations
            .store()
            .revoke_subject(issuer, subject, issued_before, keep_until)
            .await
    }

    /// Authenticates a request head: the guard of the `Authorization` header, then the
    /// token. A principal of `None` means no access token was offered.
    pub(crate) async fn authenticate(
        &self,
        head: RequestHead<'_>,
        registry: Option<&'static ScopeRegistry>,
    ) -> Result<Authenticated, AuthFailure> {
        self.authenticate_at(head, registry, unix_now()).await
    }

    /// [`authenticate`](Self::authenticate) at time `now` (Unix seconds): the pipeline
    /// reads the clock once for a request, when it arrives.
    pub(crate) async fn authenticate_at(
        &self,
        head: RequestHead<'_>,
        registry: Option<&'static ScopeRegistry>,
        now: u64,
    ) -> Result<Authenticated, AuthFailure> {
        let offered = credentials(head.headers, head.uri, self.max_token_bytes);
        self.resolve(
            self.lookup(offered, registry, now),
            Some(head),
            registry,
            now,
        )
        .await
    }

    /// [`authenticate`](Self::authenticate) when it can be decided without waiting: no
    /// token, a refused `Authorization` header, or a token in the verified-token cache
    /// (not DPoP-bound) checked against revocations held in memory. `None` when the token
    /// must be verified, a DPoP proof checked or a shared store asked; nothing has been
    /// counted or recorded then. `now` is the time in Unix seconds.
    #[inline]
    pub(crate) fn authenticate_now(
        &self,
        head: RequestHead<'_>,
        registry: Option<&'static ScopeRegistry>,
        now: u64,
    ) -> Option<Result<Option<Principal>, AuthFailure>> {
        let offered = credentials(head.headers, head.uri, self.max_token_bytes);
        match self.lookup(offered, registry, now) {
            Lookup::Decided(decided) => Some(decided),
            Lookup::Cached(token, principal, issuer) => {
                // A DPoP-bound token's proof is checked, and recorded as used, on the path
                // that may wait: once, whatever else the request waits for (admission
                // starts over on that path when a later step must wait).
                if principal.dpop_thumbprint().is_some() {
                    return None;
                }
                let revoked = self
                    .revocations
                    .is_revoked_now(TokenIdentity::of(&principal), now)?;
                self.cache_hits.increment(1);
                if let Err(failure) = self.bind(&principal, issuer, token, Some(head), now) {
                    return Some(Err(failure));
                }
                Some(checked(revoked, principal).map(Some))
            }
            Lookup::Verify(..) => None,
        }
    }

    /// Verifies one bearer token (or finds it in the verified-token cache), then checks
    /// that it is not revoked, at time `now` (Unix seconds). A DPoP-bound token is refused:
    /// there is no request to hold its proof to.
    pub(crate) async fn verify_at(
        &self,
        token: &str,
        registry: Option<&'static ScopeRegistry>,
        now: u64,
    ) -> Result<Principal, AuthFailure> {
        let offered = if token.len() > self.max_token_bytes {
            Err(AuthFailure::TokenTooLarge)
        } else {
            Ok(Some((Scheme::Bearer, token.as_bytes())))
        };
        match self
            .resolve(self.lookup(offered, registry, now), None, registry, now)
            .await
        {
            Ok(Authenticated {
                principal: Some(principal),
                ..
            }) => Ok(principal),
            Ok(Authenticated {
                principal: None, ..
            }) => Err(AuthFailure::MissingToken),
            Err(failure) => Err(failure),
        }
    }

    /// The first step of every authentication: the token the header guard let through,
    /// then the cache.
    #[inline(always)]
    fn lookup<'t>(
        &self,
        offered: Result<Option<(Scheme, &'t [u8])>, AuthFailure>,
        registry: Option<&'static ScopeRegistry>,
        now: u64,
    ) -> Lookup<'t> {
        let token = match offered {
            Ok(Some((scheme, bytes))) => Token { scheme, bytes },
            Ok(None) => return Lookup::Decided(Ok(None)),
            Err(failure) => return Lookup::Decided(Err(failure)),
        };
        match self.cached(token.bytes, registry, now) {
            Some((principal, issuer)) => Lookup::Cached(token, principal, issuer),
            None => match token_text(token.bytes) {
                Ok(text) => Lookup::Verify(token, text),
                // An opaque token may use every character RFC 6750 allows; such a token is
                // never a JWT, so it is taken only when an issuer introspects it.
                Err(failure) if self.verifier.introspects() => match b64token_text(token.bytes) {
                    Ok(text) if self.verifier.introspecting_issuer(text).is_some() => {
                        Lookup::Verify(token, text)
                    }
                    _ => Lookup::Decided(Err(failure)),
                },
                Err(failure) => Lookup::Decided(Err(failure)),
            },
        }
    }

    /// Finishes a [`lookup`](Self::lookup), waiting where it must.
    async fn resolve(
        &self,
        lookup: Lookup<'_>,
        head: Option<RequestHead<'_>>,
        registry: Option<&'static ScopeRegistry>,
        now: u64,
    ) -> Result<Authenticated, AuthFailure> {
        let (token, principal, issuer) = match lookup {
            Lookup::Decided(decided) => return decided.map(Authenticated::from),
            Lookup::Cached(token, principal, issuer) => {
                self.cache_hits.increment(1);
                (token, principal, issuer)
            }
            Lookup::Verify(token, text) => {
                self.cache_misses.increment(1);
                // Boxed: verification (and a key refresh it may start) is a large future,
                // and a cache hit should not carry it on every request.
                let (principal, issuer) =
                    Box::pin(self.verify_uncached(text, registry, now)).await?;
                (token, principal, issuer)
            }
        };
        let proof = self.bind(&principal, issuer, token, head, now)?;
        let revoked = self
            .revocations
            .is_revoked(TokenIdentity::of(&principal), now)
            .await;
        let principal = checked(revoked, principal)?;
        let first_use = match (&proof, &self.dpop) {
            (Some(proof), Some(rules)) => Some(
                rules
                    .replay
                    .first_use(&proof.id, proof.expires_at, now)
                    .await,
            ),
            _ => None,
        };
        first_used(first_use)?;
        Ok(Authenticated {
            principal: Some(principal),
            renew_dpop_nonce: proof.is_some_and(|proof| proof.renew_nonce),
        })
    }

    /// Holds the token to its binding: a DPoP-bound token needs the `DPoP` scheme and a
    /// proof that passes every check (but the replay check, returned to be made once the
    /// rest has passed); a bearer token passes unless its issuer requires DPoP.
    fn bind(
        &self,
        principal: &Principal,
        issuer: usize,
        token: Token<'_>,
        head: Option<RequestHead<'_>>,
        now: u64,
    ) -> Result<Option<VerifiedProof>, AuthFailure> {
        if let Some(x5t) = principal.certificate_thumbprint() {
            let presented = head.and_then(|head| head.certificate());
            match presented {
                None => return Err(AuthFailure::CertificateMissing),
                Some(certificate)
                    if verify_slices_are_equal(
                        certificate.thumbprint().as_bytes(),
                        x5t.as_bytes(),
                    )
                    .is_err() =>
                {
                    return Err(AuthFailure::CertificateMismatch);
                }
                Some(_) => {}
            }
        }
        let mode = self
            .verifier
            .issuers()
            .get(issuer)
            .map_or(DpopMode::Allowed, IssuerRules::dpop_mode);
        let jkt = match (token.scheme, principal.dpop_thumbprint()) {
            (Scheme::Bearer, None) if mode == DpopMode::Required => {
                return Err(DpopFailure::Required.into());
            }
            (Scheme::Bearer, None) => return Ok(None),
            (Scheme::Bearer, Some(_)) => return Err(DpopFailure::BoundTokenAsBearer.into()),
            (Scheme::Dpop, None) => return Err(DpopFailure::TokenNotBound.into()),
            (Scheme::Dpop, Some(jkt)) => jkt,
        };
        if mode == DpopMode::Refused {
            return Err(DpopFailure::NotAccepted.into());
        }
        let rules = self.dpop.as_ref().ok_or(DpopFailure::NotConfigured)?;
        let head = head.ok_or(DpopFailure::MissingProof)?;
        let mut proofs = head.headers.get_all("dpop").iter();
        let proof = proofs.next().ok_or(DpopFailure::MissingProof)?;
        if proofs.next().is_some() {
            return Err(DpopFailure::MultipleProofs.into());
        }
        let proof = proof.to_str().map_err(|_| DpopFailure::Malformed)?;
        let token = std::str::from_utf8(token.bytes).map_err(|_| AuthFailure::Malformed)?;
        let forwarded = rules
            .forwarded_origin
            .then(|| head.forwarded())
            .flatten()
            .and_then(|forwarded| rules.origin.forwarded(&forwarded));
        let request = ProofRequest {
            method: head.method,
            path: head.path(),
            origin: forwarded.as_ref(),
            token: Some(token),
            jkt: Some(jkt),
            now,
        };
        Ok(Some(verify_proof(proof.trim(), rules, &request)?))
    }

    /// A cached principal for exactly `token`, with its issuer's index, if its keys are
    /// still the ones that verified it.
    #[inline(always)]
    fn cached(
        &self,
        token: &[u8],
        registry: Option<&'static ScopeRegistry>,
        now: u64,
    ) -> Option<(Principal, usize)> {
        let cache = self.cache.as_ref()?;
        let entry = cache.get(token, now)?;
        let issuer = self.verifier.issuers().get(entry.issuer)?;
        let same_registry = match (entry.registry, registry) {
            (Some(a), Some(b)) => std::ptr::eq(a, b),
            (None, None) => true,
            _ => false,
        };
        let keys_current = entry
            .keys
            .as_ref()
            .is_none_or(|keys| issuer.keys_are_current(keys));
        if same_registry && keys_current {
            Some((entry.principal, entry.issuer))
        } else {
            cache.remove(token);
            None
        }
    }

    async fn verify_uncached(
        &self,
        token: &str,
        registry: Option<&'static ScopeRegistry>,
        now: u64,
    ) -> Result<(Principal, usize), AuthFailure> {
        match self.verifier.verify(token, registry, now).await {
            Ok(verified) => {
                if let Some(cache) = &self.cache {
                    let entry = CachedToken {
                        principal: verified.principal.clone(),
                        keys: verified.keys,
                        issuer: verified.issuer,
                        registry,
                        valid_until: verified.recheck_at.unwrap_or(0),
                    };
                    cache.insert(token, entry, now);
                }
                Ok((verified.principal, verified.issuer))
            }
            Err(failure) => {
                // Keys that have not arrived are alerted by their loader, once per kind of
                // failure, and a failing introspection endpoint by its introspector, once per
                // outage: not once per request.
                if failure.is_server_side()
                    && !matches!(
                        failure,
                        AuthFailure::KeysUnavailable { .. } | AuthFailure::IntrospectionUnavailable
                    )
                {
                    tracing::error!(
                        target: "portcullis::alert",
                        reason = failure.as_str(),
                        "no signing keys available: every token is refused until keys return"
                    );
                }
                Err(failure)
            }
        }
    }

    /// The revocation store.
    pub(crate) fn revocation_store(&self) -> &dyn RevocationStore {
        self.revocations.store()
    }
}

/// What the replay store said of a proof: nothing to say (no proof), its first use, a
/// replay, or no answer (the request is refused: 503, fail closed).
fn first_used(first_use: Option<Result<bool, super::DpopReplayError>>) -> Result<(), AuthFailure> {
    match first_use {
        None | Some(Ok(true)) => Ok(()),
        Some(Ok(false)) => Err(DpopFailure::Replay.into()),
        Some(Err(error)) => {
            tracing::error!(target: "portcullis::alert", %error, "DPoP replay check failed: request refused");
            Err(DpopFailure::ReplayUnavailable.into())
        }
    }
}

/// `principal`, unless its token is revoked; when the revocations cannot be checked, the
/// request is refused (503: fail closed).
#[inline]
fn checked(
    revoked: Result<bool, RevocationError>,
    principal: Principal,
) -> Result<Principal, AuthFailure> {
    match revoked {
        Ok(false) => Ok(principal),
        Ok(true) => Err(AuthFailure::Revoked),
        Err(error) => {
            tracing::error!(target: "portcullis::alert", %error, "revocation status unknown: request refused");
            Err(AuthFailure::RevocationUnavailable)
        }
    }
}
