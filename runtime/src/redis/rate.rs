//! Rate limits counted in Redis, in one of two modes: exact (every decision asks Redis:
//! one round trip, shared by the decisions queued at the same moment) or leased (permits
//! taken from Redis in small batches, decided locally).

use std::sync::Arc;
use std::time::Duration;

use super::Redis;
use super::batch::Batcher;
use super::gcra::Grant;
use super::lease::Leases;
use crate::rate::{
    MemoryRateStore, RateDecision, RateFuture, RateRequest, RateStore, RateStoreError,
};

/// What to do when Redis does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUnreachable {
    /// Refuse the request (503): no instance lets more through than the shared quota.
    Refuse,
    /// Count in this instance's memory until Redis returns: each instance enforces the
    /// quota alone, so together they may let through up to one quota each.
    UseLocalLimits,
}

impl WhenUnreachable {
    fn fallback(self) -> &'static str {
        match self {
            WhenUnreachable::Refuse => "rate-limited requests are refused (503) until it returns",
            WhenUnreachable::UseLocalLimits => {
                "each instance counts rate limits in its own memory until it returns"
            }
        }
    }
}

/// Rate limits counted in Redis, shared by every instance; built by
/// [`Redis::rate_store`] (exact) or [`Redis::leased_rate_store`] (leased).
pub struct RedisRateStore {
    batcher: Arc<Batcher>,
    when_unreachable: WhenUnreachable,
    local: MemoryRateStore,
    leases: Option<Arc<Leases>>,
}

impl std::fmt::Debug for RedisRateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateStore")
            .field("redis", self.batcher.redis())
            .field("leased", &self.leases.is_some())
            .field("when_unreachable", &self.when_unreachable)
            .finish_non_exhaustive()
    }
}

impl RedisRateStore {
    pub(crate) fn exact(redis: Redis, when_unreachable: WhenUnreachable) -> Self {
        RedisRateStore {
            batcher: Arc::new(Batcher::new(redis, when_unreachable.fallback())),
            when_unreachable,
            local: MemoryRateStore::new(),
            leases: None,
        }
    }

    pub(crate) fn leased(redis: Redis, when_unreachable: WhenUnreachable) -> Self {
        RedisRateStore {
            leases: Some(Arc::new(Leases::new())),
            ..RedisRateStore::exact(redis, when_unreachable)
        }
    }

    /// Whether permits are leased (rather than asked for one decision at a time).
    pub fn is_leased(&self) -> bool {
        self.leases.is_some()
    }

    /// How many permits this instance holds now, over every quota and caller (leased
    /// mode; 0 in exact mode): the most it can grant without asking Redis.
    pub fn permits_held(&self) -> u64 {
        self.leases
            .as_ref()
            .map_or(0, |leases| leases.permits_held())
    }

    /// How many leased permits lapsed unused so far (leased mode; 0 in exact mode).
    pub fn permits_lapsed(&self) -> u64 {
        self.leases.as_ref().map_or(0, |leases| leases.lapsed())
    }

    /// How many times this store asked Redis for permits: once per decision in exact
    /// mode, once per lease in leased mode.
    pub fn takes(&self) -> u64 {
        self.batcher.takes()
    }

    /// What Redis being unreachable comes to for `request`.
    fn unreachable(
        &self,
        request: RateRequest<'_>,
        error: String,
    ) -> Result<RateDecision, RateStoreError> {
        match self.when_unreachable {
            WhenUnreachable::Refuse => Err(RateStoreError(error)),
            WhenUnreachable::UseLocalLimits => Ok(self.local.check_now(request)),
        }
    }
}

/// The decision of a one-permit take.
pub(crate) fn decision(grant: Grant) -> RateDecision {
    let time = Duration::from_micros(grant.micros);
    if grant.granted > 0 {
        RateDecision::Allowed {
            remaining: u32::try_from(grant.remaining).unwrap_or(u32::MAX),
            reset: time,
        }
    } else {
        RateDecision::Limited { retry_after: time }
    }
}

impl RateStore for RedisRateStore {
    fn attach_alerts(&self, alerts: crate::alert::AlertHandle) {
        self.batcher.redis().attach_alerts(alerts);
    }

    fn may_decide_now(&self) -> bool {
        self.leases.is_some()
    }

    fn decide_now(&self, request: RateRequest<'_>) -> Option<Result<RateDecision, RateStoreError>> {
        self.leases
            .as_ref()?
            .check_now(&self.batcher, &request)
            .map(Ok)
    }

    fn check<'a>(&'a self, request: RateRequest<'a>) -> RateFuture<'a> {
        Box::pin(async move {
            let outcome = match &self.leases {
                Some(leases) => leases.check(&self.batcher, &request).await,
                None => self.batcher.take_for(&request, 1).await.map(decision),
            };
            match outcome {
                Ok(decision) => Ok(decision),
                Err(error) => self.unreachable(request, error),
            }
        })
    }
}
