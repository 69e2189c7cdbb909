//! Throttling of failed authentication per IP, checked before any token is verified, so
//! that nobody can make the server verify signatures without bound.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;

use super::{MemoryLimiter, Rate, RateDecision, RateKey};

/// Counts authentication failures per IP; an IP over its budget is refused until the
/// budget refills, without its token being looked at.
#[derive(Debug)]
pub(crate) struct FailureThrottle {
    failures: MemoryLimiter,
    blocked: DashMap<IpAddr, Instant>,
    /// Entries in `blocked`, so that a request costs one load while nobody is blocked
    /// (`DashMap::is_empty` locks every shard in turn).
    blocked_count: AtomicUsize,
}

impl FailureThrottle {
    pub(crate) fn new(rate: Rate) -> Self {
        FailureThrottle {
            failures: MemoryLimiter::new(rate),
            blocked: DashMap::new(),
            blocked_count: AtomicUsize::new(0),
        }
    }

    pub(crate) fn rate(&self) -> Rate {
        self.failures.rate()
    }

    /// Whether any IP is refused now (one load).
    #[inline]
    pub(crate) fn blocks_anyone(&self) -> bool {
        self.blocked_count.load(Ordering::Acquire) != 0
    }

    /// How long `ip` is still refused, if it is.
    #[inline]
    pub(crate) fn blocked_for(&self, ip: IpAddr) -> Option<Duration> {
        if !self.blocks_anyone() {
            return None;
        }
        let until = *self.blocked.get(&ip)?;
        let now = Instant::now();
        if now < until {
            Some(until - now)
        } else {
            if self
                .blocked
                .remove_if(&ip, |_, until| *until <= now)
                .is_some()
            {
                self.blocked_count.fetch_sub(1, Ordering::Release);
            }
            None
        }
    }

    /// Counts one failure of `ip`.
    pub(crate) fn record_failure(&self, ip: IpAddr) {
        if let RateDecision::Limited { retry_after } = self.failures.check(RateKey::of_ip(ip))
            && self
                .blocked
                .insert(ip, Instant::now() + retry_after)
                .is_none()
        {
            self.blocked_count.fetch_add(1, Ordering::Release);
        }
    }

    /// Forgets what is no longer needed.
    pub(crate) fn evict_idle(&self) {
        let now = Instant::now();
        let mut removed = 0;
        self.blocked.retain(|_, until| {
            let keep = *until > now;
            removed += usize::from(!keep);
            keep
        });
        self.blocked_count.fetch_sub(removed, Ordering::Release);
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

    /// Many failing addresses are tracked only until their blocks end and their failures
    /// are forgotten: the sweep then empties both maps.
    #[test]
    fn many_failing_addresses_are_forgotten_once_quiet() {
        // One failure per 20 ms: a second failure blocks for at most 20 ms.
        let rate = Rate::new(1, Duration::from_millis(20)).unwrap();
        let throttle = FailureThrottle::new(rate);
        let addresses = (0..20_000u32).map(|n| IpAddr::from((0x0a00_0000 + n).to_be_bytes()));
        for ip in addresses.clone() {
            throttle.record_failure(ip);
            throttle.record_failure(ip);
        }
        assert_eq!(throttle.blocked.len(), 20_000);
        assert_eq!(throttle.blocked_count.load(Ordering::Acquire), 20_000);
        assert_eq!(throttle.failures.tracked_keys(), 20_000);
        std::thread::sleep(Duration::from_millis(80));
        throttle.evict_idle();
        assert!(throttle.blocked.is_empty());
        assert_eq!(throttle.blocked_count.load(Ordering::Acquire), 0);
        assert_eq!(throttle.failures.tracked_keys(), 0);
        assert!(
            addresses
                .take(3)
                .all(|ip| throttle.blocked_for(ip).is_none())
        );
    }

    #[test]
    fn the_count_of_blocked_ips_follows_the_map() {
        // One failure per 20 ms: a second failure blocks for at most 20 ms.
        let rate = Rate::new(1, Duration::from_millis(20)).unwrap();
        let throttle = FailureThrottle::new(rate);
        let (a, b) = (IpAddr::from([192, 0, 2, 1]), IpAddr::from([192, 0, 2, 2]));
        for ip in [a, a, b, b, b] {
            throttle.record_failure(ip);
        }
        assert_eq!(throttle.blocked_count.load(Ordering::Acquire), 2);
        assert!(throttle.blocked_for(a).is_some() && throttle.blocked_for(b).is_some());
        std::thread::sleep(Duration::from_millis(30));
        // An expired block is forgotten when looked at, or by the sweep.
        assert_eq!(throttle.blocked_for(a), None);
        assert_eq!(throttle.blocked_count.load(Ordering::Acquire), 1);
        throttle.evict_idle();
        assert_eq!(throttle.blocked_count.load(Ordering::Acquire), 0);
        assert!(throttle.blocked.is_empty());
        // And a new block is seen again.
        throttle.record_failure(a);
        throttle.record_failure(a);
        assert!(throttle.blocked_for(a).is_some());
        assert_eq!(throttle.blocked_count.load(Ordering::Acquire), 1);
    }
}
