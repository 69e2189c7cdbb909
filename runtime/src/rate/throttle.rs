//! Throttling of failed authentication per IP, checked before any token is verified, so
//! that nobody can make the server verify signatures without bound.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use dashmap::DashMap;

use super::{MemoryLimiter, Rate, RateDecision, RateKey};

/// Counts authentication failures per IP; an IP over its budget is refused until the
/// budget refills, without its token being looked at.
#[derive(Debug)]
pub(crate) struct FailureThrottle {
    failures: MemoryLimiter,
    blocked: DashMap<IpAddr, Instant>,
}

impl FailureThrottle {
    pub(crate) fn new(rate: Rate) -> Self {
        FailureThrottle {
            failures: MemoryLimiter::new(rate),
            blocked: DashMap::new(),
        }
    }

    pub(crate) fn rate(&self) -> Rate {
        self.failures.rate()
    }

    /// How long `ip` is still refused, if it is.
    #[inline]
    pub(crate) fn blocked_for(&self, ip: IpAddr) -> Option<Duration> {
        if self.blocked.is_empty() {
            return None;
        }
        let until = *self.blocked.get(&ip)?;
        let now = Instant::now();
        if now < until {
            Some(until - now)
        } else {
            self.blocked.remove(&ip);
            None
        }
    }

    /// Counts one failure of `ip`.
    pub(crate) fn record_failure(&self, ip: IpAddr) {
        if let RateDecision::Limited { retry_after } = self.failures.check(RateKey::of_ip(ip)) {
            self.blocked.insert(ip, Instant::now() + retry_after);
        }
    }

    /// Forgets what is no longer needed.
    pub(crate) fn evict_idle(&self) {
        let now = Instant::now();
        self.blocked.retain(|_, until| *until > now);
        self.failures.evict_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_an_ip_past_its_failures() {
        let throttle = FailureThrottle::new(Rate::per_minute(3));
        let ip = IpAddr::from([192, 0, 2, 1]);
        for _ in 0..3 {
            assert_eq!(throttle.blocked_for(ip), None);
            throttle.record_failure(ip);
        }
        assert_eq!(
            throttle.blocked_for(ip),
            None,
            "three failures are within the budget"
        );
        throttle.record_failure(ip);
        let blocked = throttle.blocked_for(ip).unwrap();
        assert!(blocked > Duration::from_secs(19) && blocked <= Duration::from_secs(20));
        assert_eq!(throttle.blocked_for(IpAddr::from([192, 0, 2, 2])), None);
    }
}
