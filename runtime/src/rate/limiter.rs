//! The in-memory GCRA limiter of one quota, keyed per caller (governor).

use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;

use super::{Rate, RateDecision, RateKey};

type Governor = governor::RateLimiter<
    RateKey,
    DashMapStateStore<RateKey>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// A keyed GCRA limiter held in memory: governor's lock-free cell per key, in a sharded
/// map. A tracked key costs its 8-byte hash, its 8-byte state and the map's overhead.
#[derive(Debug)]
pub struct MemoryLimiter {
    rate: Rate,
    governor: Governor,
}

impl MemoryLimiter {
    /// A limiter allowing `rate` per key.
    pub fn new(rate: Rate) -> MemoryLimiter {
        let governor = governor::RateLimiter::dashmap(rate.quota())
            .with_middleware::<StateInformationMiddleware>();
        MemoryLimiter { rate, governor }
    }

    /// The rate enforced.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Counts one request under `key`.
    ///
    /// On an allowed request, `reset` is an upper bound: governor does not expose when
    /// the next unit of quota accrues, only that it does within one emission interval.
    #[inline]
    pub fn check(&self, key: RateKey) -> RateDecision {
        match self.governor.check_key(&key) {
            Ok(snapshot) => RateDecision::Allowed {
                remaining: snapshot.remaining_burst_capacity(),
                reset: self.rate.replenish_interval(),
            },
            Err(not_until) => RateDecision::Limited {
                retry_after: not_until.wait_time_from(self.governor.clock().now()),
            },
        }
    }

    /// Forgets keys whose state is back to full capacity, and returns the memory.
    pub fn evict_idle(&self) {
        self.governor.retain_recent();
        self.governor.shrink_to_fit();
    }

    /// The number of keys tracked.
    pub fn tracked_keys(&self) -> usize {
        self.governor.len()
    }
}

/// Seconds, rounded up.
pub(crate) fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refuses() {
        let limiter = MemoryLimiter::new(Rate::per_minute(3));
        let key = RateKey::of_id("client");
        for remaining in [2, 1, 0] {
            assert!(
                matches!(limiter.check(key), RateDecision::Allowed { remaining: r, .. } if r == remaining)
            );
        }
        match limiter.check(key) {
            RateDecision::Limited { retry_after } => {
                assert!(retry_after <= Duration::from_secs(20));
                assert!(retry_after > Duration::from_secs(19));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let other = RateKey::of_ip(std::net::IpAddr::from([127, 0, 0, 1]));
        assert!(matches!(
            limiter.check(other),
            RateDecision::Allowed { remaining: 2, .. }
        ));
        assert_eq!(limiter.tracked_keys(), 2);
    }
}
