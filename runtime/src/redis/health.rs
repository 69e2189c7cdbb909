//! Whether Redis answers, and what was said about it: one alert per outage, one note on
//! recovery, and a rest after each failure so that requests do not queue on a dead server.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::timing::RETRY_AFTER_FAILURE;
use crate::alert::{Alert, AlertHandle, AlertKind};

/// The health of one Redis connection.
pub(crate) struct Health {
    alerts: OnceLock<AlertHandle>,
    start: Instant,
    /// Milliseconds since `start` before which Redis is not tried.
    resting_until: AtomicU64,
    down: AtomicBool,
}

impl Health {
    pub(crate) fn new() -> Self {
        Health {
            alerts: OnceLock::new(),
            start: Instant::now(),
            resting_until: AtomicU64::new(0),
            down: AtomicBool::new(false),
        }
    }

    pub(crate) fn attach_alerts(&self, alerts: AlertHandle) {
        let _ = self.alerts.set(alerts);
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn resting(&self) -> bool {
        self.now_ms() < self.resting_until.load(Ordering::Relaxed)
    }

    pub(crate) fn failed(&self, what: &str, fallback: &'static str, error: &str) {
        let retry = u64::try_from(RETRY_AFTER_FAILURE.as_millis()).unwrap_or(1000);
        self.resting_until
            .store(self.now_ms() + retry, Ordering::Relaxed);
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::error!(target: "portcullis::alert", store = "redis", operation = what, %error, "Redis is unreachable");
            self.raise(AlertKind::StoreUnreachable {
                store: "redis",
                fallback,
            });
        }
    }

    pub(crate) fn succeeded(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::warn!(target: "portcullis::alert", store = "redis", "Redis is reachable again");
            self.raise(AlertKind::StoreRecovered { store: "redis" });
        }
    }

    pub(crate) fn raise(&self, kind: AlertKind) {
        if let Some(alerts) = self.alerts.get() {
            alerts.raise(Alert {
                kind,
                count: 1,
                window: Duration::ZERO,
            });
        }
    }

    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }
}
