//! Server nonces for DPoP proofs (RFC 9449 §8): a nonce any instance can check without
//! sharing state, as an HMAC over a time step with a key the instances share. A proof must
//! carry a nonce of the current or the previous step; a client without one is answered
//! `use_dpop_nonce` with a fresh nonce in `DPoP-Nonce`.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretSlice};
use std::time::Duration;

/// The shortest key accepted, in bytes.
pub const MIN_NONCE_KEY_BYTES: usize = 32;

/// How long a nonce's time step lasts by default: a nonce is accepted during its step and
/// the next one.
pub const DEFAULT_NONCE_STEP: Duration = Duration::from_secs(60);

/// The bytes of the HMAC a nonce carries.
const TAG_BYTES: usize = 16;

/// How an accepted nonce stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceStanding {
    /// Of the current time step.
    Current,
    /// Of the previous time step: it expires at the end of this one.
    Expiring,
}

/// Server nonces: the key the instances share, and the time step.
#[derive(Clone)]
pub struct DpopNonces {
    key: hmac::Key,
    key_len: usize,
    step: u64,
}

impl std::fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("DpopNonces")
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl DpopNonces {
    /// Nonces keyed with `key` (at least [`MIN_NONCE_KEY_BYTES`], the same on every
    /// instance, from a secret store: see `portcullis::secrets`), stepping every
    /// [`DEFAULT_NONCE_STEP`].
    pub fn new(key: &SecretSlice<u8>) -> DpopNonces {
        DpopNonces {
            key: hmac::Key::new(hmac::HMAC_SHA256, key.expose_secret()),
            key_len: key.expose_secret().len(),
            step: DEFAULT_NONCE_STEP.as_secs(),
        }
    }

    /// The time step (at least one second).
    pub fn step(mut self, step: Duration) -> DpopNonces {
        self.step = step.as_secs().max(1);
        self
    }

    /// Whether the key is long enough.
    pub(crate) fn key_is_strong(&self) -> bool {
        self.key_len >= MIN_NONCE_KEY_BYTES
    }

    /// The nonce of the step `now` (Unix seconds) falls in.
    pub(crate) fn issue(&self, now: u64) -> String {
        let step = now / self.step;
        let mut bytes = step.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.tag(step).as_ref()[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// How `nonce` stands at `now`: of this step, or of the previous one (it expires at
    /// the end of this step); `None` when it is neither, or not one of this key's.
    pub(crate) fn check(&self, nonce: &str, now: u64) -> Option<NonceStanding> {
        let mut bytes = [0u8; 8 + TAG_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(nonce, &mut bytes) {
            Ok(len) if len == bytes.len() => {}
            _ => return None,
        }
        let mut step = [0u8; 8];
        step.copy_from_slice(&bytes[..8]);
        let step = u64::from_be_bytes(step);
        let current = now / self.step;
        let standing = if step == current {
            NonceStanding::Current
        } else if step.saturating_add(1) == current {
            NonceStanding::Expiring
        } else {
            return None;
        };
        verify_slices_are_equal(&bytes[8..], &self.tag(step).as_ref()[..TAG_BYTES])
            .ok()
            .map(|()| standing)
    }

    /// Whether `nonce` is one of this step's or the previous one's.
    #[cfg(test)]
    fn accepts(&self, nonce: &str, now: u64) -> bool {
        self.check(nonce, now).is_some()
    }

    fn tag(&self, step: u64) -> hmac::Tag {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(b"portcullis dpop nonce\0");
        context.update(&step.to_be_bytes());
        context.sign()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed(key: u8) -> DpopNonces {
        DpopNonces::new(&SecretSlice::from(vec![key; 32])).step(Duration::from_secs(60))
    }

    #[test]
    fn a_nonce_holds_for_its_step_and_the_next() {
        let nonces = keyed(1);
        let nonce = nonces.issue(6_000);
        assert!(nonces.accepts(&nonce, 6_000));
        assert!(nonces.accepts(&nonce, 6_119));
        assert!(!nonces.accepts(&nonce, 6_120));
        assert!(!nonces.accepts(&nonce, 5_999));
        // Any instance with the key checks it; another key does not.
        assert!(DpopNonces::new(&SecretSlice::from(vec![1; 32])).accepts(&nonce, 6_030));
        assert!(!keyed(2).accepts(&nonce, 6_000));
    }

    #[test]
    fn a_nonce_is_current_in_its_step_and_expiring_in_the_next() {
        let nonces = keyed(1);
        let nonce = nonces.issue(6_000);
        assert_eq!(nonces.check(&nonce, 6_000), Some(NonceStanding::Current));
        assert_eq!(nonces.check(&nonce, 6_059), Some(NonceStanding::Current));
        // Still accepted in the next step, and expiring at its end.
        assert_eq!(nonces.check(&nonce, 6_060), Some(NonceStanding::Expiring));
        assert_eq!(nonces.check(&nonce, 6_119), Some(NonceStanding::Expiring));
        assert_eq!(nonces.check(&nonce, 6_120), None);
        assert_eq!(nonces.check("not a nonce", 6_000), None);
    }

    #[test]
    fn forged_nonces_are_refused() {
        let nonces = keyed(1);
        let nonce = nonces.issue(6_000);
        let mut bytes = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        bytes[7] += 1;
        assert!(!nonces.accepts(&URL_SAFE_NO_PAD.encode(&bytes), 6_060));
        for forged in ["", "abc", &nonce[1..], &format!("{nonce}A")] {
            assert!(!nonces.accepts(forged, 6_000), "{forged:?}");
        }
    }
}
