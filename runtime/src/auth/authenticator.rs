//! Request-time authentication: a request's bearer token, verified (or found in the
//! verified-token cache), then checked against revocations.
//!
//! Each rule is written once. [`Authenticator::lookup`] reads the token and the cache;
//! [`Authenticator::authenticate_now`] finishes what needs no waiting and
//! [`Authenticator::authenticate`] everything, both from the same lookup.

use crate::metrics::Counter;
use http::{HeaderMap, Uri};

use super::{
    AuthFailure, CachedToken, IssuerRules, MAX_LEEWAY, Principal, RevocationError, RevocationStore,
    Revocations, TokenCache, TokenIdentity, Verifier, bearer_bytes, token_text, unix_now,
};
use crate::authz::ScopeRegistry;

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

/// Verifies the bearer tokens of requests: the issuers' rules, the verified-token cache and
/// the revocations. Built by the configuration's builder, held by its `Security`.
pub(crate) struct Authenticator {
    verifier: Verifier,
    cache: Option<TokenCache>,
    revocations: Revocations,
    max_token_bytes: usize,
    cache_hits: Counter,
    cache_misses: Counter,
}

/// What the token of a request comes to before anything waits.
enum Lookup<'t> {
    /// Decided from the request head alone: no token (`Ok(None)`), or a refused one.
    Decided(Result<Option<Principal>, AuthFailure>),
    /// Byte for byte a token that passed every check of a verification, with the keys that
    /// verified it still current: only its revocation is left to check.
    Cached(Principal),
    /// A token to verify.
    Verify(&'t str),
}

impl Authenticator {
    pub(crate) fn new(
        verifier: Verifier,
        cache: Option<TokenCache>,
        revocations: Revocations,
        max_token_bytes: usize,
        cache_hits: Counter,
        cache_misses: Counter,
    ) -> Authenticator {
        Authenticator {
            verifier,
            cache,
            revocations,
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

    /// Authenticates a request head: the bearer guard, then the token. `Ok(None)` means
    /// no bearer token was offered.
    pub(crate) async fn authenticate(
        &self,
        headers: &HeaderMap,
        uri: &Uri,
        registry: Option<&'static ScopeRegistry>,
    ) -> Result<Option<Principal>, AuthFailure> {
        let now = unix_now();
        let bearer = bearer_bytes(headers, uri, self.max_token_bytes);
        self.resolve(self.lookup(bearer, registry, now), registry, now)
            .await
    }

    /// [`authenticate`](Self::authenticate) when it can be decided without waiting: no
    /// token, a refused bearer header, or a token in the verified-token cache checked
    /// against revocations held in memory. `None` when the token must be verified or a
    /// shared revocation store asked; nothing has been counted then.
    #[inline]
    pub(crate) fn authenticate_now(
        &self,
        headers: &HeaderMap,
        uri: &Uri,
        registry: Option<&'static ScopeRegistry>,
    ) -> Option<Result<Option<Principal>, AuthFailure>> {
        let now = unix_now();
        let bearer = bearer_bytes(headers, uri, self.max_token_bytes);
        match self.lookup(bearer, registry, now) {
            Lookup::Decided(decided) => Some(decided),
            Lookup::Cached(principal) => {
                let revoked = self
                    .revocations
                    .is_revoked_now(TokenIdentity::of(&principal), now)?;
                self.cache_hits.increment(1);
                Some(checked(revoked, principal).map(Some))
            }
            Lookup::Verify(_) => None,
        }
    }

    /// Verifies one bearer token (or finds it in the verified-token cache), then checks
    /// that it is not revoked, at time `now` (Unix seconds).
    pub(crate) async fn verify_at(
        &self,
        token: &str,
        registry: Option<&'static ScopeRegistry>,
        now: u64,
    ) -> Result<Principal, AuthFailure> {
        let bearer = if token.len() > self.max_token_bytes {
            Err(AuthFailure::TokenTooLarge)
        } else {
            Ok(Some(token.as_bytes()))
        };
        match self
            .resolve(self.lookup(bearer, registry, now), registry, now)
            .await
        {
            Ok(Some(principal)) => Ok(principal),
            Ok(None) => Err(AuthFailure::MissingToken),
            Err(failure) => Err(failure),
        }
    }

    /// The first step of every authentication: the token the bearer guard let through,
    /// then the cache.
    #[inline(always)]
    fn lookup<'t>(
        &self,
        bearer: Result<Option<&'t [u8]>, AuthFailure>,
        registry: Option<&'static ScopeRegistry>,
        now: u64,
    ) -> Lookup<'t> {
        let token = match bearer {
            Ok(Some(token)) => token,
            Ok(None) => return Lookup::Decided(Ok(None)),
            Err(failure) => return Lookup::Decided(Err(failure)),
        };
        match self.cached(token, registry, now) {
            Some(principal) => Lookup::Cached(principal),
            None => match token_text(token) {
                Ok(text) => Lookup::Verify(text),
                Err(failure) => Lookup::Decided(Err(failure)),
            },
        }
    }

    /// Finishes a [`lookup`](Self::lookup), waiting where it must.
    async fn resolve(
        &self,
        lookup: Lookup<'_>,
        registry: Option<&'static ScopeRegistry>,
        now: u64,
    ) -> Result<Option<Principal>, AuthFailure> {
        let principal = match lookup {
            Lookup::Decided(decided) => return decided,
            Lookup::Cached(principal) => {
                self.cache_hits.increment(1);
                principal
            }
            Lookup::Verify(token) => {
                self.cache_misses.increment(1);
                // Boxed: verification (and a key refresh it may start) is a large future,
                // and a cache hit should not carry it on every request.
                Box::pin(self.verify_uncached(token, registry, now)).await?
            }
        };
        let revoked = self
            .revocations
            .is_revoked(TokenIdentity::of(&principal), now)
            .await;
        checked(revoked, principal).map(Some)
    }

    /// A cached principal for exactly `token`, if its keys are still the ones that
    /// verified it.
    #[inline(always)]
    fn cached(
        &self,
        token: &[u8],
        registry: Option<&'static ScopeRegistry>,
        now: u64,
    ) -> Option<Principal> {
        let cache = self.cache.as_ref()?;
        let entry = cache.get(token, now)?;
        let issuer = self.verifier.issuers().get(entry.issuer)?;
        let same_registry = match (entry.registry, registry) {
            (Some(a), Some(b)) => std::ptr::eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if same_registry && issuer.keys_are_current(&entry.keys) {
            Some(entry.principal)
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
    ) -> Result<Principal, AuthFailure> {
        match self.verifier.verify(token, registry, now).await {
            Ok(verified) => {
                if let Some(cache) = &self.cache {
                    let entry = CachedToken {
                        principal: verified.principal.clone(),
                        keys: verified.keys,
                        issuer: verified.issuer,
                        registry,
                        valid_until: 0,
                    };
                    cache.insert(token, entry, now);
                }
                Ok(verified.principal)
            }
            Err(failure) => {
                // Keys that have not arrived are alerted by their loader, once per kind of
                // failure: not once per request.
                if failure.is_server_side()
                    && !matches!(failure, AuthFailure::KeysUnavailable { .. })
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

/// `principal`, unless its token is revoked; when the revocations cannot be checked, the
/// request is refused (503: fail closed).
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
