//! The in-memory GCRA limiter of one endpoint, keyed per caller.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;

use super::Rate;

/// What requests are counted under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// A client or subject identifier.
    Id(Arc<str>),
    /// A client IP address.
    Ip(IpAddr),
    /// Everyone together; also callers whose IP is unknown.
    Global,
}

/// The outcome of one rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Allowed; `remaining` more requests are allowed right now.
    Allowed {
        /// Requests left in the current burst.
        remaining: u32,
    },
    /// Refused; the next request is allowed after `retry_after`.
    Limited {
        /// How long until one request is allowed again.
        retry_after: Duration,
    },
}

type Governor = governor::RateLimiter<
    RateKey,
    DashMapStateStore<RateKey>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// A keyed GCRA limiter held in memory (governor, lock-free per key).
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
    #[inline]
    pub fn check(&self, key: &RateKey) -> RateDecision {
        match self.governor.check_key(key) {
            Ok(snapshot) => RateDecision::Allowed {
                remaining: snapshot.remaining_burst_capacity(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refuses() {
        let limiter = MemoryLimiter::new(Rate::per_minute(3));
        let key = RateKey::Id(Arc::from("client"));
        for remaining in [2, 1, 0] {
            assert_eq!(limiter.check(&key), RateDecision::Allowed { remaining });
        }
        match limiter.check(&key) {
            RateDecision::Limited { retry_after } => {
                assert!(retry_after <= Duration::from_secs(20));
                assert!(retry_after > Duration::from_secs(19));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let other = RateKey::Ip(IpAddr::from([127, 0, 0, 1]));
        assert_eq!(
            limiter.check(&other),
            RateDecision::Allowed { remaining: 2 }
        );
        assert_eq!(limiter.tracked_keys(), 2);
    }
}
