//! Redis (feature `redis`): rate limits and revocations shared by every instance.
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
//!     .rate_store(Arc::new(redis.rate_store(WhenUnreachable::UseLocalLimits)))
//!     .revocations(Arc::new(redis.revocations()))
//!     .build()
//!     .await?;
//! # Ok(()) }
//! ```

mod rate;
mod revocations;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use rate::{RedisRateStore, WhenUnreachable};
pub use revocations::RedisRevocations;

/// How long one Redis call may take before it counts as a failure.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);

/// How long Redis is left alone after a failure before it is tried again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// A Redis connection shared by the stores built from it.
#[derive(Clone)]
pub struct Redis {
    connection: ConnectionManager,
    prefix: Arc<str>,
    timeout: Duration,
    health: Arc<Health>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// Connects to `url` (`redis://[:password@]host:port/db`, or `rediss://` for TLS where
    /// the redis crate is built with it). Keys are prefixed with `portcullis:`.
    pub async fn connect(url: &str) -> Result<Redis, ::redis::RedisError> {
        Redis::connect_with(url, "portcullis:", DEFAULT_TIMEOUT).await
    }

    /// Connects with a key prefix and a per-call timeout.
    pub async fn connect_with(
        url: &str,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Redis, ::redis::RedisError> {
        let client = ::redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            .set_number_of_retries(1)
            .set_max_delay(100);
        let connection = client.get_connection_manager_with_config(config).await?;
        Ok(Redis {
            connection,
            prefix: Arc::from(prefix),
            timeout,
            health: Arc::new(Health::new()),
        })
    }

    /// A rate store on this connection.
    pub fn rate_store(&self, when_unreachable: WhenUnreachable) -> RedisRateStore {
        RedisRateStore::new(self.clone(), when_unreachable)
    }

    /// A revocation store on this connection.
    pub fn revocations(&self) -> RedisRevocations {
        RedisRevocations::new(self.clone())
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
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        };
        match &outcome {
            Ok(_) => self.health.succeeded(),
            Err(error) => self.health.failed(what, fallback, error),
        }
        outcome
    }

    pub(crate) fn attach_alerts(&self, alerts: crate::alert::AlertHandle) {
        let _ = self.health.alerts.set(alerts);
    }

    /// Whether the last call to Redis succeeded.
    pub fn is_reachable(&self) -> bool {
        !self.health.is_down()
    }

    pub(crate) fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    pub(crate) fn key(&self, parts: &[&str]) -> String {
        let mut key = String::with_capacity(
            self.prefix.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>(),
        );
        key.push_str(&self.prefix);
        for (index, part) in parts.iter().enumerate() {
            if index > 0 {
                key.push(':');
            }
            key.push_str(part);
        }
        key
    }
}

/// Whether Redis answers, and what was said about it.
struct Health {
    alerts: std::sync::OnceLock<crate::alert::AlertHandle>,
    start: Instant,
    /// Milliseconds since `start` before which Redis is not tried.
    resting_until: AtomicU64,
    down: AtomicBool,
}

impl Health {
    fn new() -> Self {
        Health {
            alerts: std::sync::OnceLock::new(),
            start: Instant::now(),
            resting_until: AtomicU64::new(0),
            down: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn resting(&self) -> bool {
        self.now_ms() < self.resting_until.load(Ordering::Relaxed)
    }

    fn failed(&self, what: &str, fallback: &'static str, error: &str) {
        let retry = u64::try_from(RETRY_AFTER_FAILURE.as_millis()).unwrap_or(1000);
        self.resting_until
            .store(self.now_ms() + retry, Ordering::Relaxed);
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::error!(target: "portcullis::alert", store = "redis", operation = what, %error, "Redis is unreachable");
            self.raise(crate::alert::AlertKind::StoreUnreachable {
                store: "redis",
                fallback,
            });
        }
    }

    fn succeeded(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::warn!(target: "portcullis::alert", store = "redis", "Redis is reachable again");
            self.raise(crate::alert::AlertKind::StoreRecovered { store: "redis" });
        }
    }

    fn raise(&self, kind: crate::alert::AlertKind) {
        if let Some(alerts) = self.alerts.get() {
            alerts.raise(crate::alert::Alert {
                kind,
                count: 1,
                window: Duration::ZERO,
            });
        }
    }

    fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }
}
