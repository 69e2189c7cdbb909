//! Token revocation: one token by its `jti`, or every token of a subject issued before a
//! time. Checked on every request, verified-token cache hits included.

use std::fmt::Debug;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dashmap::DashMap;

use super::Principal;

/// A revocation store could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the revocation store is unavailable: {0}")]
pub struct RevocationError(pub String);

/// A future returned by [`RevocationStore`].
pub type RevocationFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, RevocationError>> + Send + 'a>>;

/// What identifies a token for revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenIdentity<'a> {
    /// `iss`.
    pub issuer: &'a str,
    /// `jti`, if the token has one.
    pub token_id: Option<&'a str>,
    /// `sub`, if the token has one.
    pub subject: Option<&'a str>,
    /// `iat`, if the token has one.
    pub issued_at: Option<u64>,
}

impl<'a> TokenIdentity<'a> {
    /// The identity of `principal`'s token.
    pub fn of(principal: &'a Principal) -> Self {
        TokenIdentity {
            issuer: principal.issuer(),
            token_id: principal.token_id(),
            subject: principal.subject(),
            issued_at: principal.issued_at_unix(),
        }
    }
}

/// Where revocations are kept: in memory on one instance ([`MemoryRevocations`]), or in a
/// shared store (Redis) so that a revocation through one instance holds on all.
pub trait RevocationStore: Debug + Send + Sync + 'static {
    /// Revokes the token `jti` of `issuer` until `expires_at` (its `exp`, Unix seconds),
    /// after which it would be refused anyway and the entry may go.
    fn revoke_token<'a>(
        &'a self,
        issuer: &'a str,
        jti: &'a str,
        expires_at: u64,
    ) -> RevocationFuture<'a, ()>;

    /// Revokes every token of `subject` (of `issuer`) issued before `issued_before`; the
    /// entry may go after `keep_until`, when all such tokens have expired.
    fn revoke_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
        issued_before: u64,
        keep_until: u64,
    ) -> RevocationFuture<'a, ()>;

    /// Whether the token is revoked at `now`.
    fn is_revoked<'a>(&'a self, token: TokenIdentity<'a>, now: u64) -> RevocationFuture<'a, bool>;

    /// Whether the token is revoked at `now`, if that can be told without waiting (from a
    /// copy held in memory, say); `None` sends the request through
    /// [`is_revoked`](Self::is_revoked). The default never tells.
    fn decide_now(
        &self,
        token: TokenIdentity<'_>,
        now: u64,
    ) -> Option<Result<bool, RevocationError>> {
        let _ = (token, now);
        None
    }

    /// Whether [`decide_now`](Self::decide_now) ever tells. The default is `false`.
    fn may_decide_now(&self) -> bool {
        false
    }

    /// Whether the store can answer for every revocation made so far, for a readiness
    /// endpoint: a store fed from elsewhere may be behind. The default is always current.
    fn freshness(&self) -> RevocationFreshness {
        RevocationFreshness::Current
    }

    /// Receives the configuration's alerts, to report outages and recoveries. Called once
    /// when the configuration is built; the default ignores them.
    fn attach_alerts(&self, alerts: crate::alert::AlertHandle) {
        let _ = alerts;
    }

    /// Receives the longest token lifetime any configured issuer allows (`None`: some
    /// issuer bounds none), after which no revoked token can be valid any longer. Called
    /// once when the configuration is built; the default ignores it.
    fn attach_longest_lifetime(&self, lifetime: Option<std::time::Duration>) {
        let _ = lifetime;
    }
}

/// Whether a revocation store can answer for every revocation made so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationFreshness {
    /// It can.
    Current,
    /// It cannot: authenticated requests are refused (503) until it can.
    Behind {
        /// Why, for an operator (no secret in it).
        reason: String,
    },
}

impl RevocationFreshness {
    /// Whether the store is current.
    pub fn is_current(&self) -> bool {
        matches!(self, RevocationFreshness::Current)
    }
}

/// Revocations held in memory: entries expire with the tokens they refuse.
///
/// Entries are keyed by a keyed hash of (issuer, id), so a lookup allocates nothing. Two
/// pairs sharing a hash is a 2⁻⁶⁴ chance, and could only refuse a token wrongly, never
/// accept one.
#[derive(Debug, Default)]
pub struct MemoryRevocations {
    /// hash(issuer, jti) → the token's expiry.
    tokens: DashMap<u64, u64>,
    /// hash(issuer, subject) → (issued before, keep until).
    subjects: DashMap<u64, (u64, u64)>,
    /// Entries in both maps, so that an empty store costs one load per request.
    entries: AtomicUsize,
    hasher: RandomState,
}

impl MemoryRevocations {
    /// An empty store.
    pub fn new() -> Self {
        MemoryRevocations::default()
    }

    fn key(&self, issuer: &str, id: &str) -> u64 {
        self.hasher.hash_one((issuer, id))
    }

    /// Revokes the token `jti` of `issuer` until `expires_at`.
    pub fn revoke_token_now(&self, issuer: &str, jti: &str, expires_at: u64) {
        let key = self.key(issuer, jti);
        if self.tokens.insert(key, expires_at).is_none() {
            self.entries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Revokes every token of `subject` issued before `issued_before`, until `keep_until`.
    pub fn revoke_subject_now(
        &self,
        issuer: &str,
        subject: &str,
        issued_before: u64,
        keep_until: u64,
    ) {
        let key = self.key(issuer, subject);
        let mut created = true;
        self.subjects
            .entry(key)
            .and_modify(|entry| {
                created = false;
                *entry = (entry.0.max(issued_before), entry.1.max(keep_until));
            })
            .or_insert((issued_before, keep_until));
        if created {
            self.entries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether the token is revoked at `now`. A token without `iat` whose subject was
    /// revoked counts as revoked: its age cannot be told, so it fails closed.
    #[inline]
    pub fn is_revoked_now(&self, token: TokenIdentity<'_>, now: u64) -> bool {
        if self.entries.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let revoked_id = token.token_id.is_some_and(|jti| {
            self.tokens
                .get(&self.key(token.issuer, jti))
                .is_some_and(|expires_at| now <= *expires_at)
        });
        let revoked_subject = token.subject.is_some_and(|subject| {
            self.subjects
                .get(&self.key(token.issuer, subject))
                .is_some_and(|entry| {
                    let (issued_before, keep_until) = *entry;
                    now <= keep_until && token.issued_at.is_none_or(|iat| iat < issued_before)
                })
        });
        revoked_id || revoked_subject
    }

    /// Drops the entries whose tokens have all expired by `now`.
    pub fn purge_expired(&self, now: u64) {
        let before = self.tokens.len() + self.subjects.len();
        self.tokens.retain(|_, expires_at| *expires_at >= now);
        self.subjects
            .retain(|_, (_, keep_until)| *keep_until >= now);
        let after = self.tokens.len() + self.subjects.len();
        self.entries
            .fetch_sub(before.saturating_sub(after), Ordering::Relaxed);
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.entries.load(Ordering::Relaxed)
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl RevocationStore for MemoryRevocations {
    fn revoke_token<'a>(
        &'a self,
        issuer: &'a str,
        jti: &'a str,
        expires_at: u64,
    ) -> RevocationFuture<'a, ()> {
        self.revoke_token_now(issuer, jti, expires_at);
        Box::pin(std::future::ready(Ok(())))
    }

    fn revoke_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
        issued_before: u64,
        keep_until: u64,
    ) -> RevocationFuture<'a, ()> {
        self.revoke_subject_now(issuer, subject, issued_before, keep_until);
        Box::pin(std::future::ready(Ok(())))
    }

    fn is_revoked<'a>(&'a self, token: TokenIdentity<'a>, now: u64) -> RevocationFuture<'a, bool> {
        Box::pin(std::future::ready(Ok(self.is_revoked_now(token, now))))
    }
}

/// The configured store: memory is called directly (no allocation per request), others
/// through the trait.
#[derive(Debug, Clone)]
pub(crate) enum Revocations {
    Memory(Arc<MemoryRevocations>),
    Shared(Arc<dyn RevocationStore>),
}

impl Revocations {
    /// [`is_revoked`](Self::is_revoked) when it can be answered without waiting:
    /// revocations held in memory, or a shared store's copy in memory. `None` when a
    /// shared store must be asked.
    #[inline]
    pub(crate) fn is_revoked_now(
        &self,
        token: TokenIdentity<'_>,
        now: u64,
    ) -> Option<Result<bool, RevocationError>> {
        match self {
            Revocations::Memory(memory) => Some(Ok(memory.is_revoked_now(token, now))),
            Revocations::Shared(store) => store.decide_now(token, now),
        }
    }

    #[inline]
    pub(crate) async fn is_revoked(
        &self,
        token: TokenIdentity<'_>,
        now: u64,
    ) -> Result<bool, RevocationError> {
        match self {
            Revocations::Memory(memory) => Ok(memory.is_revoked_now(token, now)),
            Revocations::Shared(store) => store.is_revoked(token, now).await,
        }
    }

    pub(crate) fn store(&self) -> &dyn RevocationStore {
        match self {
            Revocations::Memory(memory) => memory.as_ref(),
            Revocations::Shared(store) => store.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity<'a>(
        jti: Option<&'a str>,
        subject: Option<&'a str>,
        iat: Option<u64>,
    ) -> TokenIdentity<'a> {
        TokenIdentity {
            issuer: "https://i/",
            token_id: jti,
            subject,
            issued_at: iat,
        }
    }

    #[test]
    fn tokens_by_jti_until_they_expire() {
        let store = MemoryRevocations::new();
        assert!(!store.is_revoked_now(identity(Some("j1"), None, None), 100));
        store.revoke_token_now("https://i/", "j1", 200);
        assert!(store.is_revoked_now(identity(Some("j1"), None, None), 150));
        assert!(!store.is_revoked_now(identity(Some("j2"), None, None), 150));
        let other_issuer = TokenIdentity {
            issuer: "https://other/",
            ..identity(Some("j1"), None, None)
        };
        assert!(
            !store.is_revoked_now(other_issuer, 150),
            "a jti is scoped to its issuer"
        );
        store.purge_expired(201);
        assert!(store.is_empty());
    }

    #[test]
    fn subjects_before_a_time() {
        let store = MemoryRevocations::new();
        store.revoke_subject_now("https://i/", "alice", 1_000, 5_000);
        assert!(store.is_revoked_now(identity(None, Some("alice"), Some(999)), 1_100));
        assert!(!store.is_revoked_now(identity(None, Some("alice"), Some(1_000)), 1_100));
        assert!(
            store.is_revoked_now(identity(None, Some("alice"), None), 1_100),
            "no iat: fails closed"
        );
        assert!(!store.is_revoked_now(identity(None, Some("bob"), Some(1)), 1_100));
        // A later revocation moves the line; an earlier one does not move it back.
        store.revoke_subject_now("https://i/", "alice", 2_000, 6_000);
        store.revoke_subject_now("https://i/", "alice", 1_500, 5_500);
        assert!(store.is_revoked_now(identity(None, Some("alice"), Some(1_999)), 1_100));
        assert_eq!(store.len(), 1);
        store.purge_expired(6_001);
        assert_eq!(store.len(), 0);
    }
}
