//! The verified-token cache: a token seen and verified before is not verified again until
//! it expires, its keys change, or a configured maximum passes.
//!
//! Entries are found by the whole token: the hash covers only its last 16 bytes (the end of
//! the signature, uniformly random in a token that verified) and its length, but a hit
//! compares every byte, so a cache can never hand
//! one token's principal to another token. Only tokens that verified are cached, and a
//! revocation is checked on every request, hits included.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::{Equivalent, UnitWeighter};

use super::{KeySet, Principal};
use crate::authz::ScopeRegistry;

/// How many bytes at the end of a token the hash covers.
const HASHED_SUFFIX: usize = 16;

fn hash_token<H: Hasher>(bytes: &[u8], state: &mut H) {
    bytes[bytes.len().saturating_sub(HASHED_SUFFIX)..].hash(state);
    bytes.len().hash(state);
}

/// An owned token, as a cache key.
#[derive(Clone)]
struct TokenKey(Arc<str>);

impl Hash for TokenKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_token(self.0.as_bytes(), state);
    }
}

impl PartialEq for TokenKey {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for TokenKey {}

/// A borrowed token, to look up without allocating (or checking its characters: only
/// tokens that verified are in the cache).
struct TokenRef<'a>(&'a [u8]);

impl Hash for TokenRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_token(self.0, state);
    }
}

impl Equivalent<TokenKey> for TokenRef<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        // The whole token, byte for byte.
        self.0 == key.0.as_bytes()
    }
}

/// What a hit returns.
#[derive(Clone)]
pub(crate) struct CachedToken {
    pub(crate) principal: Principal,
    /// The key set the token was verified with: a refresh that replaces it invalidates the
    /// entry, so a removed key stops working at the next refresh. `None` for an opaque
    /// token, whose introspection answer is kept until `valid_until`.
    pub(crate) keys: Option<Arc<KeySet>>,
    /// The issuer's index in the verifier.
    pub(crate) issuer: usize,
    /// The registry the principal's scope set was computed with.
    pub(crate) registry: Option<&'static ScopeRegistry>,
    /// Unix seconds after which the entry is stale: given as a bound to
    /// [`insert`](TokenCache::insert) (0 for none), which lowers it to the token's expiry and
    /// the cache's maximum age.
    pub(crate) valid_until: u64,
}

/// The cache's hasher: foldhash, seeded at random once per process. The keys are tokens a
/// client chooses, but only tokens that verified are ever inserted, so no one can fill a
/// bucket with colliding entries (a lookup that lands on another token's bucket compares
/// that token's bytes, nothing more).
type TokenHasher = foldhash::fast::RandomState;

/// A bounded concurrent cache of verified tokens.
pub(crate) struct TokenCache {
    entries: Cache<TokenKey, CachedToken, UnitWeighter, TokenHasher>,
    max_age: u64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens, each kept at most `max_age` seconds.
    pub(crate) fn new(capacity: usize, max_age: u64) -> Self {
        TokenCache {
            entries: Cache::with(
                capacity.max(1),
                capacity.max(1) as u64,
                UnitWeighter,
                TokenHasher::default(),
                DefaultLifecycle::default(),
            ),
            max_age,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The entry for exactly `token`, if fresh at `now`.
    #[inline(always)]
    pub(crate) fn get(&self, token: &[u8], now: u64) -> Option<CachedToken> {
        let found = self
            .entries
            .get(&TokenRef(token))
            .filter(|entry| now < entry.valid_until);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Remembers a verified token until its expiry, the cache's maximum age or the entry's
    /// own `valid_until` (when not 0), whichever comes first.
    pub(crate) fn insert(&self, token: &str, mut entry: CachedToken, now: u64) {
        let bound = match entry.valid_until {
            0 => u64::MAX,
            bound => bound,
        };
        entry.valid_until = entry
            .principal
            .expires_at_unix()
            .min(now.saturating_add(self.max_age))
            .min(bound);
        if entry.valid_until > now {
            self.entries.insert(TokenKey(Arc::from(token)), entry);
        }
    }

    /// Forgets `token`.
    pub(crate) fn remove(&self, token: &[u8]) {
        self.entries.remove(&TokenRef(token));
    }

    /// (hits, misses) so far.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// How many tokens are cached.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(expires_at: u64) -> CachedToken {
        CachedToken {
            principal: Principal::builder("i")
                .subject("alice")
                .times(None, expires_at)
                .build(),
            keys: Some(Arc::new(KeySet::new())),
            issuer: 0,
            registry: None,
            valid_until: 0,
        }
    }

    #[test]
    fn hits_only_the_same_token() {
        let cache = TokenCache::new(16, 300);
        let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJl";
        cache.insert(token, entry(1_000), 100);
        assert!(cache.get(token.as_bytes(), 101).is_some());
        // One byte differs anywhere (here: early in the payload, outside the hashed tail).
        let mut other = token.to_owned().into_bytes();
        other[25] ^= 1;
        assert!(cache.get(&other, 101).is_none());
        // A different length with the same tail.
        assert!(cache.get(format!("x{token}").as_bytes(), 101).is_none());
        assert_eq!(cache.stats(), (1, 2));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// A principal that names its token, so that a hit can be checked exactly.
        fn entry_for(token: &str) -> CachedToken {
            CachedToken {
                principal: Principal::builder("i")
                    .subject(token)
                    .times(None, 1_000)
                    .build(),
                ..entry(1_000)
            }
        }

        #[derive(Debug, Clone)]
        enum Op {
            Insert(usize),
            /// Looks up a token, or a variant of it: one byte changed, cut or extended.
            Get(usize, Variant),
            Remove(usize),
        }

        #[derive(Debug, Clone)]
        enum Variant {
            Same,
            Flip(usize, u8),
            Cut(usize),
            Prefix(char),
        }

        fn op() -> impl Strategy<Value = Op> {
            let variant = prop_oneof![
                3 => Just(Variant::Same),
                2 => (any::<usize>(), 1u8..128).prop_map(|(at, bit)| Variant::Flip(at, bit)),
                1 => any::<usize>().prop_map(Variant::Cut),
                1 => prop::char::range('a', 'z').prop_map(Variant::Prefix),
            ];
            prop_oneof![
                3 => any::<usize>().prop_map(Op::Insert),
                4 => (any::<usize>(), variant).prop_map(|(index, variant)| Op::Get(index, variant)),
                1 => any::<usize>().prop_map(Op::Remove),
            ]
        }

        fn apply(token: &str, variant: &Variant) -> String {
            let mut bytes = token.as_bytes().to_vec();
            match variant {
                Variant::Same => {}
                Variant::Flip(at, bit) if !bytes.is_empty() => {
                    let at = at % bytes.len();
                    // Stays ASCII, and so UTF-8.
                    bytes[at] = (bytes[at] ^ bit) & 0x7f;
                }
                Variant::Flip(..) => {}
                Variant::Cut(at) => bytes.truncate(at % (bytes.len() + 1)),
                Variant::Prefix(c) => bytes.insert(0, *c as u8),
            }
            String::from_utf8(bytes).expect("ASCII")
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Tokens share their hashed tail and length as often as not; whatever is
            /// inserted, looked up, evicted or removed, a hit is always the principal of
            /// exactly the token looked up.
            #[test]
            fn never_returns_another_tokens_principal(
                tail in "[A-Za-z0-9_-]{0,64}",
                heads in prop::collection::vec("[a-c.]{0,6}", 1..24),
                capacity in 1usize..32,
                ops in prop::collection::vec(op(), 1..120),
            ) {
                let tokens: Vec<String> = heads.iter().map(|head| format!("{head}{tail}")).collect();
                let cache = TokenCache::new(capacity, 300);
                let mut present = std::collections::HashSet::new();
                for op in ops {
                    match op {
                        Op::Insert(index) => {
                            let token = &tokens[index % tokens.len()];
                            cache.insert(token, entry_for(token), 100);
                            present.insert(token.clone());
                        }
                        Op::Get(index, variant) => {
                            let token = apply(&tokens[index % tokens.len()], &variant);
                            if let Some(hit) = cache.get(token.as_bytes(), 101) {
                                prop_assert_eq!(hit.principal.subject(), Some(token.as_str()));
                                prop_assert!(present.contains(&token));
                            }
                        }
                        Op::Remove(index) => {
                            let token = &tokens[index % tokens.len()];
                            cache.remove(token.as_bytes());
                            present.remove(token);
                            prop_assert!(cache.get(token.as_bytes(), 101).is_none());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn entries_expire_with_the_token_or_the_maximum_age() {
        let cache = TokenCache::new(16, 300);
        cache.insert("a.b.c", entry(150), 100);
        assert!(cache.get(b"a.b.c", 149).is_some());
        assert!(cache.get(b"a.b.c", 150).is_none());
        cache.insert("d.e.f", entry(10_000), 100);
        assert!(cache.get(b"d.e.f", 399).is_some());
        assert!(cache.get(b"d.e.f", 400).is_none());
        cache.insert("g.h.i", entry(50), 100);
        assert_eq!(cache.len(), 2, "an expired token is not cached");
        cache.remove(b"d.e.f");
        assert!(cache.get(b"d.e.f", 101).is_none());
    }
}
