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
mod connection;
mod error;
mod feed;
mod gcra;
mod health;
mod keys;
mod lease;
mod rate;
mod revocations;

use std::sync::Arc;
use std::time::Duration;

pub use connection::RedisBuilder;
pub use error::RedisConnectError;
pub use feed::{DEFAULT_MAX_COPY_AGE, DEFAULT_MAX_ENTRIES, RevocationFeed};
pub use lease::{LEASE_LIFE, MAX_LEASE};
pub use rate::{RedisRateStore, WhenUnreachable};
pub use revocations::RedisRevocations;

use connection::{Clients, Connection};
use health::Health;
use keys::KeySpace;

/// How long one Redis call may take before it counts as a failure.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);

/// How long Redis is left alone after a failure before it is tried again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// A connection to Redis (one server, or a Cluster), shared by the stores built from it.
///
/// Build it with [`Redis::connect`] (one URL) or [`Redis::builder`] (a Cluster, a CA of
/// your own, a key prefix, a timeout). The URL's password never appears in a log line, an
/// error or `Debug`.
#[derive(Clone)]
pub struct Redis {
    connection: Connection,
    clients: Clients,
    keys: KeySpace,
    timeout: Duration,
    health: Arc<Health>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("Redis")
            .field("cluster", &self.clients.is_cluster())
            .field("prefix", &self.keys.prefix())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

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

    /// Revocations shared by every instance, with feed settings of your own.
    pub async fn revocations_with(&self, feed: RevocationFeed) -> RedisRevocations {
        RedisRevocations::start(self.clone(), feed).await
    }

    /// Whether the last call to Redis succeeded.
    pub fn is_reachable(&self) -> bool {
        !self.health.is_down()
    }

    /// Whether this is a connection to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.clients.is_cluster()
    }

    /// Runs `call` with the timeout, Redis' health tracked: after a failure Redis is not
    /// tried for [`RETRY_AFTER_FAILURE`]; one alert per outage, one note on recovery.
    pub(crate) async fn call<T, F>(
        &self,
        what: &'static str,
        fallback: &'static str,
        call: F,
    ) -> Result<T, String>
    where
        F: std::future::Future<Output = Result<T, ::redis::RedisError>>,
    {
        if self.health.resting() {
            return Err("Redis is unreachable (retrying shortly)".to_owned());
        }
        let outcome = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(error::describe(&error)),
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        };
        match &outcome {
            Ok(_) => self.health.succeeded(),
            Err(error) => self.health.failed(what, fallback, error),
        }
        outcome
    }

    pub(crate) fn attach_alerts(&self, alerts: crate::alert::AlertHandle) {
        self.health.attach_alerts(alerts);
    }

    pub(crate) fn connection(&self) -> Connection {
        self.connection.clone()
    }

    pub(crate) fn clients(&self) -> &Clients {
        &self.clients
    }

    pub(crate) fn keys(&self) -> &KeySpace {
        &self.keys
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }
}
