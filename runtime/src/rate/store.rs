//! Where quotas are counted: in memory on one instance, or in a shared store for many.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use dashmap::DashMap;

use super::{MemoryLimiter, Rate, RateDecision, RateIdentity};

/// A store could not decide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the rate-limit store is unavailable: {0}")]
pub struct RateStoreError(pub String);

/// A future returned by [`RateStore`].
pub type RateFuture<'a> =
    Pin<Box<dyn Future<Output = Result<RateDecision, RateStoreError>> + Send + 'a>>;

/// One request to count.
#[derive(Debug, Clone, Copy)]
pub struct RateRequest<'a> {
    /// The quota's stable name, the same on every instance (`GET /orders/{id}`, with the
    /// tier appended when one applies).
    pub quota: &'a str,
    /// Who is counted.
    pub identity: RateIdentity<'a>,
    /// The rate of the quota.
    pub rate: Rate,
}

/// Counts requests against quotas (GCRA).
///
/// The pipeline keeps its in-memory limiters at hand and calls them directly; a
/// `RateStore` configured with `SecurityBuilder::rate_store` (such as the Redis store,
/// feature `redis`) replaces them, so that several instances enforce one combined quota.
pub trait RateStore: Debug + Send + Sync + 'static {
    /// Counts one request.
    fn check<'a>(&'a self, request: RateRequest<'a>) -> RateFuture<'a>;

    /// Counts one request if that needs no waiting (permits held in memory, say), or
    /// returns `None` having counted nothing: the request then goes through
    /// [`check`](Self::check). The default never decides.
    fn decide_now(&self, request: RateRequest<'_>) -> Option<Result<RateDecision, RateStoreError>> {
        let _ = request;
        None
    }

    /// Whether [`decide_now`](Self::decide_now) ever decides: when it does not, requests
    /// go straight to [`check`](Self::check). The default is `false`.
    fn may_decide_now(&self) -> bool {
        false
    }

    /// Receives the configuration's alerts, to report outages and recoveries. Called once
    /// when the configuration is built; the default ignores them.
    fn attach_alerts(&self, alerts: crate::alert::AlertHandle) {
        let _ = alerts;
    }
}

/// Quotas counted in memory, one governor limiter per quota.
#[derive(Debug, Default)]
pub struct MemoryRateStore {
    limiters: DashMap<String, Arc<MemoryLimiter>>,
}

impl MemoryRateStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryRateStore::default()
    }

    /// Counts one request, without a future.
    pub fn check_now(&self, request: RateRequest<'_>) -> RateDecision {
        let limiter = match self.limiters.get(request.quota) {
            Some(limiter) if limiter.rate() == request.rate => limiter.clone(),
            _ => {
                let limiter = Arc::new(MemoryLimiter::new(request.rate));
                self.limiters
                    .insert(request.quota.to_owned(), limiter.clone());
                limiter
            }
        };
        limiter.check(request.identity.key())
    }

    /// Forgets idle keys of every quota.
    pub fn evict_idle(&self) {
        for limiter in self.limiters.iter() {
            limiter.evict_idle();
        }
    }
}

impl RateStore for MemoryRateStore {
    fn check<'a>(&'a self, request: RateRequest<'a>) -> RateFuture<'a> {
        Box::pin(std::future::ready(Ok(self.check_now(request))))
    }

    fn decide_now(&self, request: RateRequest<'_>) -> Option<Result<RateDecision, RateStoreError>> {
        Some(Ok(self.check_now(request)))
    }

    fn may_decide_now(&self) -> bool {
        true
    }
}
