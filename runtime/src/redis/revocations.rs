//! Revocations shared through Redis: written to a sorted set and announced on a stream,
//! in one script call; read from this instance's copy, which the stream keeps current, so
//! that checking a token waits on nothing.

use std::sync::Arc;
use std::time::Duration;

use ::redis::Script;

use super::Redis;
use super::feed::{Copy, Entry, RevocationFeed, follow, watch};
use crate::auth::{
    RevocationError, RevocationFreshness, RevocationFuture, RevocationStore, TokenIdentity,
    unix_now,
};

/// KEYS[1]: the set of revocations; KEYS[2]: their stream. ARGV[1]: the entry; ARGV[2]:
/// until when (Unix seconds); ARGV[3]: about how many entries the stream keeps.
/// Adds the entry (a later `until` wins), announces it, and drops expired entries.
const REVOKE: &str = r#"
if redis.replicate_commands then pcall(redis.replicate_commands) end
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'entry', ARGV[1], 'until', ARGV[2])
local time = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. time[1])
return id
"#;

/// About how many announcements the stream keeps: a feed that falls further behind reloads
/// the whole set (`feed.rs`).
const STREAM_LENGTH: u64 = 100_000;

/// What happens to requests while the revocations cannot be checked.
const FAIL_CLOSED: &str = "authenticated requests are refused (503) until it returns";

/// Revocations shared by every instance; built by [`Redis::revocations`].
///
/// A revocation made through any instance (or written into Redis by another service, in
/// the format of `docs/redis.md`) reaches every instance's copy without a request waiting
/// on Redis. While the copy is older than its bound, or full, authenticated requests are
/// refused (503), audited and alerted; [`Security::readiness`](crate::Security::readiness)
/// reports it.
pub struct RedisRevocations {
    redis: Redis,
    copy: Arc<Copy>,
    revoke: Script,
    feed: tokio::task::AbortHandle,
}

impl std::fmt::Debug for RedisRevocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRevocations")
            .field("redis", &self.redis)
            .field("entries", &self.copy.len())
            .finish_non_exhaustive()
    }
}

impl Drop for RedisRevocations {
    fn drop(&mut self) {
        self.feed.abort();
    }
}

impl RedisRevocations {
    pub(crate) async fn start(redis: Redis, settings: RevocationFeed) -> Self {
        let copy = Arc::new(Copy::new(settings));
        let feed = tokio::spawn(follow(redis.clone(), Arc::downgrade(&copy))).abort_handle();
        // Ends on its own with the copy.
        tokio::spawn(watch(Arc::downgrade(&copy)));
        copy.loaded().await;
        RedisRevocations {
            redis,
            copy,
            revoke: Script::new(REVOKE),
            feed,
        }
    }

    /// How many revocations this instance's copy holds.
    pub fn len(&self) -> usize {
        self.copy.len()
    }

    /// Whether the copy holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes `entry` to Redis, then into this instance's copy (so that this instance
    /// refuses the token as soon as the call returns).
    async fn write(
        &self,
        entry: Entry<'_>,
        until: u64,
        what: &'static str,
    ) -> Result<(), RevocationError> {
        if let Entry::Token { issuer, .. } | Entry::Subject { issuer, .. } = entry
            && issuer.contains(char::is_whitespace)
        {
            return Err(RevocationError(
                "an issuer with white space cannot be revoked in Redis".to_owned(),
            ));
        }
        let member = entry.member();
        let mut invocation = self.revoke.key(self.redis.keys().revocation_entries());
        invocation
            .key(self.redis.keys().revocation_feed())
            .arg(&member)
            .arg(until.min(i64::MAX as u64))
            .arg(STREAM_LENGTH);
        self.redis
            .call(what, FAIL_CLOSED, |mut connection| {
                let invocation = &invocation;
                async move { invocation.invoke_async::<String>(&mut connection).await }
            })
            .await
            .map_err(RevocationError)?;
        self.copy.add(&member, until);
        Ok(())
    }
}

impl RevocationStore for RedisRevocations {
    fn attach_alerts(&self, alerts: crate::alert::AlertHandle) {
        self.redis.attach_alerts(alerts.clone());
        self.copy.attach_alerts(alerts);
    }

    fn attach_longest_lifetime(&self, lifetime: Option<Duration>) {
        self.copy.attach_longest_lifetime(lifetime);
    }

    fn revoke_token<'a>(
        &'a self,
        issuer: &'a str,
        jti: &'a str,
        expires_at: u64,
    ) -> RevocationFuture<'a, ()> {
        Box::pin(async move {
            if expires_at <= unix_now() {
                return Ok(());
            }
            self.write(Entry::Token { issuer, id: jti }, expires_at, "revoke token")
                .await
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
        issued_before: u64,
        keep_until: u64,
    ) -> RevocationFuture<'a, ()> {
        Box::pin(async move {
            if keep_until <= unix_now() {
                return Ok(());
            }
            let entry = Entry::Subject {
                issuer,
                before: issued_before,
                subject,
            };
            self.write(entry, keep_until, "revoke subject").await
        })
    }

    fn is_revoked<'a>(&'a self, token: TokenIdentity<'a>, now: u64) -> RevocationFuture<'a, bool> {
        Box::pin(std::future::ready(self.copy.check(token, now)))
    }

    #[inline]
    fn decide_now(
        &self,
        token: TokenIdentity<'_>,
        now: u64,
    ) -> Option<Result<bool, RevocationError>> {
        Some(self.copy.check(token, now))
    }

    fn may_decide_now(&self) -> bool {
        true
    }

    fn freshness(&self) -> RevocationFreshness {
        self.copy.freshness()
    }
}
