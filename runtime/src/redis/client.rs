//! The connection every store of one [`Redis`] shares, with its health and key space.

use std::sync::Arc;
use std::time::Duration;

use super::connection::{Clients, Connection};
use super::error::describe;
use super::health::Health;
use super::keys::KeySpace;

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
    pub(crate) fn new(
        connection: Connection,
        clients: Clients,
        keys: KeySpace,
        timeout: Duration,
    ) -> Redis {
        Redis {
            connection,
            clients,
            keys,
            timeout,
            health: Arc::new(Health::new()),
        }
    }

    /// Whether the last call to Redis succeeded.
    pub fn is_reachable(&self) -> bool {
        !self.health.is_down()
    }

    /// Whether this is a connection to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.clients.is_cluster()
    }

    /// Runs `call` on a connection with the timeout, Redis' health tracked: after a failure
    /// Redis is not tried for [`RETRY_AFTER_FAILURE`](super::RETRY_AFTER_FAILURE); one alert
    /// per outage, one note on recovery.
    ///
    /// A call that finds its connection broken (Redis restarted, or a failover closed it) is
    /// made once more, on the connection that replaces it, within the same timeout: a
    /// restart between two requests costs neither a refusal nor an alert. A call whose
    /// answer was lost with its connection may have run: the calls made here may run twice
    /// (a revocation written again; permits or a DPoP proof counted twice, which refuses
    /// more, never less).
    pub(crate) async fn call<T, F, Fut>(
        &self,
        what: &'static str,
        fallback: &'static str,
        mut call: F,
    ) -> Result<T, String>
    where
        F: FnMut(Connection) -> Fut,
        Fut: std::future::Future<Output = Result<T, ::redis::RedisError>>,
    {
        if self.health.resting() {
            return Err("Redis is unreachable (retrying shortly)".to_owned());
        }
        let attempts = async {
            match call(self.connection()).await {
                // The connection manager replaces a connection that failed this way.
                Err(error) if error.is_unrecoverable_error() => call(self.connection()).await,
                outcome => outcome,
            }
        };
        let outcome = match tokio::time::timeout(self.timeout, attempts).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(describe(&error)),
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
