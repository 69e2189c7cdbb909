//! The in-memory GCRA limiter of one quota, keyed per caller (governor).

use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;

use super::{BuildRateKeyHasher, Rate, RateDecision, RateKey};

type Governor<C> = governor::RateLimiter<
    RateKey,
    DashMapStateStore<RateKey, BuildRateKeyHasher>,
    C,
    StateInformationMiddleware,
>;

/// A keyed GCRA limiter held in memory: governor's lock-free cell per key, in a sharded
/// map. A tracked key costs its 8-byte hash, its 8-byte state and the map's overhead.
#[derive(Debug)]
pub struct MemoryLimiter(Keyed<DefaultClock>);

impl MemoryLimiter {
    /// A limiter allowing `rate` per key.
    pub fn new(rate: Rate) -> MemoryLimiter {
        MemoryLimiter(Keyed::new(rate, DefaultClock::default()))
    }

    /// The rate enforced.
    pub fn rate(&self) -> Rate {
        self.0.rate
    }

    /// Counts one request under `key`.
    ///
    /// On an allowed request, `reset` is an upper bound: governor does not expose when
    /// the next unit of quota accrues, only that it does within one emission interval.
    #[inline]
    pub fn check(&self, key: RateKey) -> RateDecision {
        self.0.check(key)
    }

    /// Forgets keys whose state is back to full capacity, and returns the memory.
    pub fn evict_idle(&self) {
        self.0.evict_idle();
    }

    /// The number of keys tracked.
    pub fn tracked_keys(&self) -> usize {
        self.0.governor.len()
    }
}

/// The limiter on any clock: the system's in production, a fake one in tests.
#[derive(Debug)]
struct Keyed<C: Clock> {
    rate: Rate,
    governor: Governor<C>,
}

impl<C: Clock> Keyed<C> {
    fn new(rate: Rate, clock: C) -> Self {
        let governor = governor::RateLimiter::dashmap_with_clock_and_hasher(
            rate.quota(),
            clock,
            BuildRateKeyHasher::default(),
        )
        .with_middleware::<StateInformationMiddleware>();
        Keyed { rate, governor }
    }

    fn evict_idle(&self) {
        self.governor.retain_recent();
        self.governor.shrink_to_fit();
    }

    #[inline]
    fn check(&self, key: RateKey) -> RateDecision {
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
}

/// Seconds, rounded up.
pub(crate) fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    mod properties {
        use governor::clock::FakeRelativeClock;
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Whatever the arrival times, GCRA never lets through more than the burst plus
            /// what replenishes in the time between: for any two allowed requests `i < j`,
            /// `j - i + 1 <= burst + (t_j - t_i) / interval`. So no window shorter than the
            /// period lets through more than `burst + count`; and a caller keyed apart is
            /// never counted with another.
            #[test]
            fn never_more_than_the_quota_in_any_window(
                count in 1u32..40,
                period_ms in 1u64..10_000,
                burst in 1u32..40,
                gaps in prop::collection::vec(prop_oneof![Just(0u64), any::<u64>()], 1..300),
                keys in prop::collection::vec(0u8..3, 300),
            ) {
                let period = Duration::from_millis(period_ms);
                let rate = Rate::new(count, period).expect("a rate").with_burst(burst);
                let interval = rate.replenish_interval().as_nanos() as u64;
                let clock = FakeRelativeClock::default();
                let limiter = Keyed::new(rate, clock.clone());
                let mut now = 0u64;
                let mut allowed: [Vec<u64>; 3] = Default::default();
                for (gap, key) in gaps.iter().zip(&keys) {
                    // Up to three intervals between requests: bursts, steady traffic and
                    // pauses.
                    let gap = gap % (3 * interval + 1);
                    clock.advance(Duration::from_nanos(gap));
                    now += gap;
                    let decision = limiter.check(RateKey::of_id(&key.to_string()));
                    match decision {
                        RateDecision::Allowed { remaining, .. } => {
                            prop_assert!(remaining < burst);
                            allowed[usize::from(*key)].push(now);
                        }
                        RateDecision::Limited { retry_after } => {
                            prop_assert!(retry_after <= Duration::from_nanos(interval));
                        }
                    }
                }
                for times in &allowed {
                    for i in 0..times.len() {
                        for j in i..times.len() {
                            let passed = (j - i + 1) as u64;
                            let elapsed = times[j] - times[i];
                            prop_assert!(
                                passed <= u64::from(burst) + elapsed / interval,
                                "{} requests passed in {} ns (burst {}, interval {} ns)",
                                passed, elapsed, burst, interval
                            );
                            if elapsed < period.as_nanos() as u64 {
                                prop_assert!(passed <= u64::from(burst) + u64::from(count));
                            }
                        }
                    }
                }
            }

            /// A caller that waits one interval between requests is never refused.
            #[test]
            fn steady_traffic_within_the_rate_passes(
                count in 1u32..40,
                period_ms in 1u64..10_000,
                burst in 1u32..40,
                requests in 1usize..200,
            ) {
                let rate = Rate::new(count, Duration::from_millis(period_ms))
                    .expect("a rate")
                    .with_burst(burst);
                let clock = FakeRelativeClock::default();
                let limiter = Keyed::new(rate, clock.clone());
                for _ in 0..requests {
                    let decision = limiter.check(RateKey::of_id("steady"));
                    prop_assert!(
                        matches!(decision, RateDecision::Allowed { .. }),
                        "{:?}",
                        decision
                    );
                    clock.advance(rate.replenish_interval());
                }
            }
        }
    }

    /// However many callers came, the keys of those back to full capacity are forgotten
    /// at the next sweep; a caller still drawing on its quota is kept.
    #[test]
    fn many_keys_are_forgotten_once_idle_and_busy_ones_kept() {
        use governor::clock::FakeRelativeClock;

        let rate = Rate::per_second(10);
        let clock = FakeRelativeClock::default();
        let limiter = Keyed::new(rate, clock.clone());
        for caller in 0..100_000u32 {
            limiter.check(RateKey::of_id(&caller.to_string()));
        }
        assert_eq!(limiter.governor.len(), 100_000);
        limiter.evict_idle();
        assert_eq!(
            limiter.governor.len(),
            100_000,
            "all still drawing on their quota"
        );
        // A second: every bucket is full again.
        clock.advance(Duration::from_secs(1));
        let busy = RateKey::of_id("7");
        limiter.check(busy);
        limiter.check(busy);
        limiter.evict_idle();
        assert_eq!(limiter.governor.len(), 1);
        assert!(matches!(
            limiter.check(busy),
            RateDecision::Allowed { remaining: 7, .. }
        ));
    }

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
