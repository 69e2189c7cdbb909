//! DPoP proof ids shared by every instance: one `SET NX` with an expiry a proof, so that a
//! proof accepted by one instance is a replay on every other.

use std::fmt::Write;

use crate::auth::{DpopReplayError, DpopReplayStore, ProofId, ReplayFuture};

use super::Redis;

/// What happens to DPoP requests while Redis does not answer.
const FALLBACK: &str = "requests with DPoP proofs are refused (503) until it returns";

/// The ids of the DPoP proofs seen, in Redis; built by [`Redis::dpop_replay_store`].
///
/// Each proof is one key, `<prefix>dpop:<id in hex>`, set with `NX` and an expiry at the
/// end of the proof's window: the first instance to set it accepts the proof, every later
/// attempt (on any instance) is a replay. While Redis does not answer, DPoP requests are
/// refused (503): a proof is never accepted unchecked.
#[derive(Debug, Clone)]
pub struct RedisDpopReplay {
    redis: Redis,
}

impl RedisDpopReplay {
    pub(crate) fn new(redis: Redis) -> RedisDpopReplay {
        RedisDpopReplay { redis }
    }

    fn key(&self, id: &ProofId) -> String {
        let prefix = self.redis.keys().prefix();
        let mut key = String::with_capacity(prefix.len() + 5 + 64);
        key.push_str(prefix);
        key.push_str("dpop:");
        for byte in id.as_bytes() {
            let _ = write!(key, "{byte:02x}");
        }
        key
    }
}

impl DpopReplayStore for RedisDpopReplay {
    fn first_use<'a>(&'a self, id: &'a ProofId, expires_at: u64, now: u64) -> ReplayFuture<'a> {
        Box::pin(async move {
            // Already past its window (a clock far behind Redis'): nothing to remember.
            let expires_at = expires_at.max(now.saturating_add(1));
            let mut command = ::redis::cmd("SET");
            command
                .arg(self.key(id))
                .arg(1)
                .arg("NX")
                .arg("EXAT")
                .arg(expires_at);
            let set: Option<String> = self
                .redis
                .call("DPoP replay check", FALLBACK, |mut connection| {
                    let command = &command;
                    async move { command.query_async(&mut connection).await }
                })
                .await
                .map_err(DpopReplayError)?;
            Ok(set.is_some())
        })
    }
}
