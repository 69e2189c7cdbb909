//! Each DPoP proof is used once: its id is remembered for as long as the proof could be
//! accepted, and a second use within that time is refused.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use aws_lc_rs::digest;

/// What identifies one proof: the SHA-256 of its key's thumbprint and its `jti` (a `jti`
/// is only unique per key, and an attacker's proofs must not use up a client's ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProofId([u8; 32]);

impl ProofId {
    /// The id of the proof with `jti` signed by the key of thumbprint `jkt`.
    pub fn new(jkt: &str, jti: &str) -> ProofId {
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(jkt.as_bytes());
        context.update(&[0]);
        context.update(jti.as_bytes());
        let mut id = [0u8; 32];
        id.copy_from_slice(context.finish().as_ref());
        ProofId(id)
    }

    /// The 32 bytes of the id.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// A replay store could not record a proof: the request is refused (503: fail closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the DPoP replay store failed: {0}")]
pub struct DpopReplayError(pub String);

/// What [`DpopReplayStore::first_use`] returns.
pub type ReplayFuture<'a> =
    Pin<Box<dyn Future<Output = Result<bool, DpopReplayError>> + Send + 'a>>;

/// Where the ids of the DPoP proofs seen are kept: [`MemoryDpopReplay`] for one instance;
/// a store shared by every instance when there are several (a proof replayed against
/// another instance must be refused too).
pub trait DpopReplayStore: Send + Sync + 'static {
    /// Records `id`, to be remembered until `expires_at` (Unix seconds): `true` when it was
    /// not seen before, `false` when it was (a replay).
    fn first_use<'a>(&'a self, id: &'a ProofId, expires_at: u64, now: u64) -> ReplayFuture<'a>;

    /// [`first_use`](Self::first_use) without waiting, when the store can answer at once
    /// (one in memory); `None` when it must be asked with `first_use`.
    fn first_use_now(
        &self,
        id: &ProofId,
        expires_at: u64,
        now: u64,
    ) -> Option<Result<bool, DpopReplayError>> {
        let _ = (id, expires_at, now);
        None
    }
}

/// The most proof ids [`MemoryDpopReplay::new`] remembers at once.
pub const DEFAULT_REPLAY_CAPACITY: usize = 1_000_000;

/// Proof ids in this instance's memory, forgotten when their proofs expire. Past its
/// capacity it refuses new proofs (503) rather than forget ids still in their window.
#[derive(Debug)]
pub struct MemoryDpopReplay {
    capacity: usize,
    inner: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    until: HashMap<ProofId, u64>,
    /// The ids in the order they arrived, with their expiry, for forgetting.
    order: VecDeque<(u64, ProofId)>,
}

impl MemoryDpopReplay {
    /// A store remembering up to [`DEFAULT_REPLAY_CAPACITY`] ids.
    pub fn new() -> MemoryDpopReplay {
        MemoryDpopReplay::with_capacity(DEFAULT_REPLAY_CAPACITY)
    }

    /// A store remembering up to `capacity` ids.
    pub fn with_capacity(capacity: usize) -> MemoryDpopReplay {
        MemoryDpopReplay {
            capacity,
            inner: Mutex::new(Seen::default()),
        }
    }

    /// How many ids are remembered now.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |seen| seen.until.len())
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn record(&self, id: &ProofId, expires_at: u64, now: u64) -> Result<bool, DpopReplayError> {
        let mut seen = self
            .inner
            .lock()
            .map_err(|_| DpopReplayError("a thread panicked holding the store".to_owned()))?;
        let seen = &mut *seen;
        // Forget what has expired, oldest first; an id whose proof came later with an
        // earlier expiry waits behind the others, which only keeps it longer.
        while let Some(&(until, oldest)) = seen.order.front() {
            if until > now {
                break;
            }
            seen.order.pop_front();
            if seen.until.get(&oldest).is_some_and(|kept| *kept <= now) {
                seen.until.remove(&oldest);
            }
        }
        if seen.until.get(id).is_some_and(|until| *until > now) {
            return Ok(false);
        }
        if seen.until.len() >= self.capacity {
            return Err(DpopReplayError(format!(
                "{} proof ids in their window, the store's capacity",
                self.capacity
            )));
        }
        seen.until.insert(*id, expires_at);
        seen.order.push_back((expires_at, *id));
        Ok(true)
    }
}

impl Default for MemoryDpopReplay {
    fn default() -> Self {
        MemoryDpopReplay::new()
    }
}

impl DpopReplayStore for MemoryDpopReplay {
    fn first_use<'a>(&'a self, id: &'a ProofId, expires_at: u64, now: u64) -> ReplayFuture<'a> {
        let outcome = self.record(id, expires_at, now);
        Box::pin(std::future::ready(outcome))
    }

    fn first_use_now(
        &self,
        id: &ProofId,
        expires_at: u64,
        now: u64,
    ) -> Option<Result<bool, DpopReplayError>> {
        Some(self.record(id, expires_at, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_is_used_once_within_its_window() {
        let store = MemoryDpopReplay::new();
        let id = ProofId::new("thumbprint", "jti-1");
        assert_eq!(store.record(&id, 160, 100), Ok(true));
        assert_eq!(store.record(&id, 160, 159), Ok(false));
        // The same jti under another key is another proof.
        assert_eq!(
            store.record(&ProofId::new("other", "jti-1"), 160, 100),
            Ok(true)
        );
        // Once expired, forgotten.
        assert_eq!(
            store.record(&ProofId::new("thumbprint", "jti-2"), 300, 200),
            Ok(true)
        );
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn full_it_refuses_rather_than_forgets() {
        let store = MemoryDpopReplay::with_capacity(2);
        assert_eq!(store.record(&ProofId::new("k", "1"), 160, 100), Ok(true));
        assert_eq!(store.record(&ProofId::new("k", "2"), 160, 100), Ok(true));
        assert!(store.record(&ProofId::new("k", "3"), 160, 100).is_err());
        assert_eq!(store.record(&ProofId::new("k", "1"), 160, 100), Ok(false));
        // Room again once the first ones expire.
        assert_eq!(store.record(&ProofId::new("k", "3"), 260, 200), Ok(true));
    }
}
