//! The key ring: the current signing key, the next one (published before it ever signs),
//! and the previous ones (published for a grace period after a rotation).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::error::DevError;

/// One ES256 key pair with its public JWK.
pub(crate) struct SigningKey {
    kid: String,
    /// Signs ES256: ECDSA on P-256 with SHA-256, `r || s` (RFC 7518 §3.4).
    pair: EcdsaKeyPair,
    jwk: Value,
    /// The latest `exp` of any token this key signed (Unix seconds), so that the default
    /// grace period outlives every token it signed.
    latest_exp: AtomicU64,
}

impl SigningKey {
    /// A freshly generated P-256 key whose `kid` is its RFC 7638 thumbprint.
    pub(crate) fn generate() -> Result<SigningKey, DevError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| DevError::KeyGeneration)?;
        // An uncompressed P-256 point: 0x04, then x and y, 32 bytes each.
        let point = pair.public_key().as_ref();
        let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
            return Err(DevError::KeyGeneration);
        };
        let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
        // RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
        let kid = URL_SAFE_NO_PAD.encode(digest.as_ref());
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "use": "sig", "alg": "ES256"});
        Ok(SigningKey {
            kid,
            pair,
            jwk,
            latest_exp: AtomicU64::new(0),
        })
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// The ES256 signature of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, DevError> {
        let signature = self
            .pair
            .sign(&SystemRandom::new(), message)
            .map_err(|_| DevError::Signing)?;
        Ok(signature.as_ref().to_vec())
    }

    /// Records that a token expiring at `exp` is signed with this key.
    pub(crate) fn note_exp(&self, exp: u64) {
        self.latest_exp.fetch_max(exp, Ordering::Relaxed);
    }

    /// The latest `exp` signed so far (0 when none).
    pub(crate) fn latest_exp(&self) -> u64 {
        self.latest_exp.load(Ordering::Relaxed)
    }
}

/// A key that no longer signs, published until `until`.
struct Retired {
    key: Arc<SigningKey>,
    until: Instant,
}

/// The keys of a development issuer.
pub(crate) struct KeyRing {
    current: Arc<SigningKey>,
    next: Arc<SigningKey>,
    /// Newest first.
    previous: Vec<Retired>,
    /// Counts rotations, so that what was built from the published keys can tell it is
    /// stale.
    generation: u64,
}

impl KeyRing {
    /// A ring with a fresh current key and a fresh next key.
    pub(crate) fn generate() -> Result<KeyRing, DevError> {
        Ok(KeyRing {
            current: Arc::new(SigningKey::generate()?),
            next: Arc::new(SigningKey::generate()?),
            previous: Vec::new(),
            generation: 0,
        })
    }

    /// How many rotations happened.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// When the published set next changes without a rotation: the earliest end of a
    /// grace period still running at `now`.
    pub(crate) fn next_expiry(&self, now: Instant) -> Option<Instant> {
        self.previous
            .iter()
            .map(|retired| retired.until)
            .filter(|until| *until > now)
            .min()
    }

    /// The key that signs.
    pub(crate) fn current(&self) -> &Arc<SigningKey> {
        &self.current
    }

    /// The key that will sign after the next rotation.
    pub(crate) fn next(&self) -> &Arc<SigningKey> {
        &self.next
    }

    /// Promotes next to current, retires current until `until`, and makes `fresh` the
    /// next key. Retired keys whose time is over are forgotten.
    pub(crate) fn rotate(&mut self, fresh: SigningKey, until: Instant, now: Instant) {
        self.previous.retain(|retired| retired.until > now);
        self.generation += 1;
        let next = std::mem::replace(&mut self.next, Arc::new(fresh));
        let outgoing = std::mem::replace(&mut self.current, next);
        self.previous.insert(
            0,
            Retired {
                key: outgoing,
                until,
            },
        );
    }

    /// The public keys to publish at `now`: current, next, then the previous keys still in
    /// their grace period, newest first.
    pub(crate) fn published(&self, now: Instant) -> Vec<Value> {
        [&self.current, &self.next]
            .into_iter()
            .chain(
                self.previous
                    .iter()
                    .filter(|retired| retired.until > now)
                    .map(|retired| &retired.key),
            )
            .map(|key| key.jwk.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn kids(keys: &[Value]) -> Vec<String> {
        keys.iter()
            .map(|key| key["kid"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn kids_are_thumbprints_and_distinct() {
        let ring = KeyRing::generate().unwrap();
        assert_eq!(ring.current().kid().len(), 43);
        assert_ne!(ring.current().kid(), ring.next().kid());
    }

    #[test]
    fn rotation_promotes_next_and_retires_current_for_a_while() {
        let mut ring = KeyRing::generate().unwrap();
        let (first, second) = (
            ring.current().kid().to_owned(),
            ring.next().kid().to_owned(),
        );
        let now = Instant::now();
        let until = now + Duration::from_secs(60);
        ring.rotate(SigningKey::generate().unwrap(), until, now);
        assert_eq!(ring.current().kid(), second);
        let third = ring.next().kid().to_owned();
        assert_eq!(
            kids(&ring.published(now)),
            [second.clone(), third.clone(), first]
        );
        assert_eq!(kids(&ring.published(until)), [second, third]);
        // The expired key is forgotten at the following rotation.
        ring.rotate(SigningKey::generate().unwrap(), until, until);
        assert_eq!(ring.previous.len(), 1);
    }
}
