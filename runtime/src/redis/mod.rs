//! Redis (feature `redis`): rate limits and revocations shared by every instance.
//!
//! Each instance keeps a copy of the revocations, fed from Redis (a stream, read as it
//! grows): checking a token waits on nothing. Quotas are counted in Redis either by
//! leasing permits in small batches ([`Redis::leased_rate_store`], most requests make no
//! round trip) or one decision at a time ([`Redis::rate_store`], one round trip, shared by
//! the decisions queued at the same moment). Standalone Redis or Redis Cluster, over TCP or
//! TLS, with an ACL user; see `docs/redis.md`.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use portcullis_runtime::redis::{Redis, WhenUnreachable};
//! use portcullis_runtime::{Rate, Security};
//!
//! let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
//! let security = Security::builder()
//!     .default_rate(Rate::per_minute(600))
//!     .rate_store(Arc::new(redis.leased_rate_store(WhenUnreachable::UseLocalLimits)))
//!     .revocations(Arc::new(redis.revocations().await))
//!     .build()
//!     .await?;
//! # Ok(()) }
//! ```

mod batch;
mod builder;
mod client;
mod connection;
mod dpop;
mod error;
mod feed;
mod gcra;
mod health;
mod keys;
mod lease;
mod merge;
mod rate;
mod revocations;
mod timing;

pub use builder::RedisBuilder;
pub use client::Redis;
pub use dpop::RedisDpopReplay;
pub use error::RedisConnectError;
pub use feed::{DEFAULT_MAX_COPY_AGE, DEFAULT_MAX_ENTRIES, RevocationFeed};
pub use lease::{LEASE_LIFE, MAX_LEASE};
pub use rate::{RedisRateStore, WhenUnreachable};
pub use revocations::RedisRevocations;
pub use timing::{DEFAULT_TIMEOUT, RETRY_AFTER_FAILURE};

use std::time::Duration;

impl Redis {
    /// Connects to one Redis server at `url`: `redis://[[user]:password@]host:port/db`, or
    /// `rediss://` for TLS (the server's certificate checked against the system's roots;
    /// for a CA of your own, see [`RedisBuilder::root_certificate_pem`]). Keys are
    /// prefixed with `portcullis:`.
    pub async fn connect(url: &str) -> Result<Redis, RedisConnectError> {
        Redis::builder().url(url).connect().await
    }

    /// Connects with a key prefix and a per-call timeout.
    pub async fn connect_with(
        url: &str,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Redis, RedisConnectError> {
        Redis::builder()
            .url(url)
            .prefix(prefix)
            .timeout(timeout)
            .connect()
            .await
    }

    /// Starts a connection's settings: one server or a Cluster, TLS roots, prefix,
    /// timeout.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), portcullis_runtime::redis::RedisConnectError> {
    /// use portcullis_runtime::redis::Redis;
    ///
    /// let ca = std::fs::read("redis-ca.pem").unwrap_or_default();
    /// let redis = Redis::builder()
    ///     .cluster(["rediss://portcullis:secret@10.0.0.1:6379/", "rediss://portcullis:secret@10.0.0.2:6379/"])
    ///     .root_certificate_pem(ca)
    ///     .connect()
    ///     .await?;
    /// # let _ = redis;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> RedisBuilder {
        RedisBuilder::default()
    }

    /// Rate limits counted exactly in Redis: one round trip a decision (the decisions
    /// queued at the same moment share one script call).
    pub fn rate_store(&self, when_unreachable: WhenUnreachable) -> RedisRateStore {
        RedisRateStore::exact(self.clone(), when_unreachable)
    }

    /// Rate limits counted in Redis by leasing permits: an instance takes permits from the
    /// shared state in small batches, sized to its own traffic, and decides locally until
    /// they run out; the instances together never allow more than one exact GCRA would.
    /// See [`LEASE_LIFE`] and [`MAX_LEASE`] for the bounds.
    pub fn leased_rate_store(&self, when_unreachable: WhenUnreachable) -> RedisRateStore {
        RedisRateStore::leased(self.clone(), when_unreachable)
    }

    /// Revocations shared by every instance, with the default feed settings: waits (at
    /// most [`DEFAULT_MAX_COPY_AGE`]) for the first copy, so that the instance starts
    /// ready. Call it inside a Tokio runtime: the feed runs as a task of it.
    pub async fn revocations(&self) -> RedisRevocations {
        self.revocations_with(RevocationFeed::default()).await
    }

    /// The ids of the DPoP proofs seen, shared by every instance (one `SET NX` with an
    /// expiry a DPoP request), for [`Dpop::replay_store`](crate::auth::Dpop::replay_store):
    /// a proof accepted by one instance is refused as a replay by all the others.
    pub fn dpop_replay_store(&self) -> RedisDpopReplay {
        RedisDpopReplay::new(self.clone())
    }

    /// Revocations shared by every instance, with feed settings of your own.
    pub async fn revocations_with(&self, feed: RevocationFeed) -> RedisRevocations {
        RedisRevocations::start(self.clone(), feed).await
    }
}
