//! Leased quotas: an instance takes permits from a quota's shared GCRA state in Redis in
//! small batches and grants them locally, so most requests make no round trip.
//!
//! A permit is taken from the shared state before it is granted, so the instances
//! together never grant more permits than the shared GCRA gave out: from any moment the
//! shared state starts, at most what one exact GCRA over all their requests would allow.
//! What leasing costs is the other way, under-use:
//!
//! - a lease asks for `1 + ⌈r × 100 ms⌉` permits, `r` being this instance's own recent
//!   rate for that caller and quota, and at most [`MAX_LEASE`] and a quarter of the burst,
//!   and the next lease is taken when half of the current one is left; so at any moment
//!   the permits held but not granted are at most, for each instance, one and a half
//!   leases (and usually about 100 ms of its own traffic);
//! - held permits lapse after [`LEASE_LIFE`] if unused (they are not given back), so an
//!   instance whose traffic stops wastes at most what it holds;
//! - a refusal from Redis comes with the time until a permit is available, and the
//!   instance refuses that caller locally until then: exact, as permits only accrue with
//!   time.
//!
//! The first request of a (caller, quota) on an instance, and any request that finds no
//! permit held, waits for one round trip (shared by the requests that arrive meanwhile).
//! When few permits are left, the next lease is taken in the background, so a steady
//! caller does not wait.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use tokio::sync::Notify;

use super::batch::Batcher;
use super::gcra::Grant;
use crate::rate::{BuildRateKeyHasher, Rate, RateDecision, RateKey, RateRequest};

/// How long leased permits are held before they lapse unused.
pub const LEASE_LIFE: Duration = Duration::from_secs(1);

/// The most permits one lease asks for (also at most a quarter of the quota's burst).
pub const MAX_LEASE: u32 = 64;

/// How much of an instance's own traffic a lease is sized to cover.
const LEASE_HORIZON: Duration = Duration::from_millis(100);

/// The shortest time over which an instance's rate is measured.
const RATE_WINDOW: Duration = Duration::from_millis(20);

/// How long a caller's lease state is kept once idle.
const IDLE: Duration = Duration::from_secs(60);

/// Every quota's leases on this instance.
#[derive(Debug, Default)]
pub(crate) struct Leases {
    quotas: DashMap<String, Arc<QuotaLeases>>,
    /// Leases taken, for the occasional eviction of idle callers.
    leases_taken: AtomicU64,
    lapsed: AtomicU64,
}

/// The leases of one quota, per caller.
#[derive(Debug)]
struct QuotaLeases {
    rate: Rate,
    callers: DashMap<RateKey, Lease, BuildRateKeyHasher>,
}

/// What one instance holds of one caller's quota.
#[derive(Debug)]
struct Lease {
    /// Permits held, oldest first, each batch with the moment it lapses.
    batches: VecDeque<(u32, Instant)>,
    /// Redis said no permit is available before this moment.
    refused_until: Option<Instant>,
    /// What the shared state had left after the last lease, and when more accrues.
    shared_remaining: u64,
    reset: Duration,
    /// A lease is being taken; requests that find nothing held wait for it.
    fetching: bool,
    arrived: Arc<Notify>,
    /// The size of the last lease asked for.
    last_wanted: u32,
    /// This instance's rate for the caller: requests counted since `window_start`.
    window_start: Instant,
    window_count: u32,
    rate: f64,
    last_used: Instant,
}

impl Lease {
    fn new(now: Instant) -> Self {
        Lease {
            batches: VecDeque::new(),
            refused_until: None,
            shared_remaining: 0,
            reset: Duration::ZERO,
            fetching: false,
            arrived: Arc::new(Notify::new()),
            last_wanted: 1,
            window_start: now,
            window_count: 0,
            rate: 0.0,
            last_used: now,
        }
    }

    /// Permits held now; lapsed batches are dropped (and counted in `lapsed`).
    fn held(&mut self, now: Instant, lapsed: &AtomicU64) -> u32 {
        while let Some(&(count, until)) = self.batches.front() {
            if until > now {
                break;
            }
            lapsed.fetch_add(u64::from(count), Ordering::Relaxed);
            self.batches.pop_front();
        }
        self.batches.iter().map(|(count, _)| count).sum()
    }

    /// Grants one held permit, if any: the decision, and how many are left.
    fn grant(&mut self, now: Instant, lapsed: &AtomicU64) -> Option<(RateDecision, u32)> {
        if self.held(now, lapsed) == 0 {
            return None;
        }
        let front = self.batches.front_mut()?;
        front.0 -= 1;
        if front.0 == 0 {
            self.batches.pop_front();
        }
        self.count(now);
        let left = self.batches.iter().map(|(count, _)| count).sum::<u32>();
        let remaining = u64::from(left).saturating_add(self.shared_remaining);
        Some((
            RateDecision::Allowed {
                remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
                reset: self.reset,
            },
            left,
        ))
    }

    /// The local refusal, while Redis said no permit is available.
    fn refusal(&mut self, now: Instant) -> Option<RateDecision> {
        match self.refused_until {
            Some(until) if now < until => {
                self.count(now);
                Some(RateDecision::Limited {
                    retry_after: until - now,
                })
            }
            Some(_) => {
                self.refused_until = None;
                None
            }
            None => None,
        }
    }

    fn count(&mut self, now: Instant) {
        self.window_count = self.window_count.saturating_add(1);
        self.last_used = now;
    }

    /// How many permits the next lease asks for.
    fn wanted(&mut self, now: Instant, burst: u32) -> u32 {
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed >= RATE_WINDOW {
            self.rate = f64::from(self.window_count) / elapsed.as_secs_f64();
            self.window_start = now;
            self.window_count = 0;
        }
        let cap = MAX_LEASE.min((burst / 4).max(1));
        let expected = (self.rate * LEASE_HORIZON.as_secs_f64()).ceil();
        // `as` saturates; the value is clamped to [1, cap] anyway.
        let wanted = (1.0 + expected).min(f64::from(cap)) as u32;
        self.last_wanted = wanted.clamp(1, cap);
        self.last_wanted
    }

    /// Takes in what Redis gave.
    fn receive(&mut self, grant: Grant, now: Instant) {
        self.fetching = false;
        if grant.granted > 0 {
            self.batches.push_back((grant.granted, now + LEASE_LIFE));
            self.shared_remaining = grant.remaining;
            self.reset = Duration::from_micros(grant.micros);
            self.refused_until = None;
        } else {
            self.refused_until = Some(now + Duration::from_micros(grant.micros));
        }
        self.arrived.notify_waiters();
    }

    fn failed(&mut self) {
        self.fetching = false;
        self.arrived.notify_waiters();
    }

    /// Whether a background lease should be taken now that `left` permits are held.
    fn runs_low(&self, left: u32) -> bool {
        !self.fetching && self.last_wanted > 1 && left <= self.last_wanted / 2
    }

    fn is_idle(&self, now: Instant) -> bool {
        !self.fetching
            && self.batches.is_empty()
            && self.refused_until.is_none_or(|until| until <= now)
            && now.saturating_duration_since(self.last_used) > IDLE
    }
}

/// What a request that found no permit held does.
enum Next {
    Decided(RateDecision),
    Wait(tokio::sync::futures::OwnedNotified),
    Take(u32),
}

impl Leases {
    pub(crate) fn new() -> Self {
        Leases::default()
    }

    pub(crate) fn permits_held(&self) -> u64 {
        let now = Instant::now();
        self.quotas
            .iter()
            .map(|quota| {
                quota
                    .callers
                    .iter_mut()
                    .map(|mut lease| u64::from(lease.held(now, &self.lapsed)))
                    .sum::<u64>()
            })
            .sum()
    }

    pub(crate) fn lapsed(&self) -> u64 {
        self.lapsed.load(Ordering::Relaxed)
    }

    /// Decides from what this instance holds, or `None` (nothing counted) when Redis must
    /// be asked.
    pub(crate) fn check_now(
        self: &Arc<Self>,
        batcher: &Arc<Batcher>,
        request: &RateRequest<'_>,
    ) -> Option<RateDecision> {
        let quota = self.quotas.get(request.quota)?;
        if quota.rate != request.rate {
            return None;
        }
        let key = request.identity.key();
        let mut lease = quota.callers.get_mut(&key)?;
        let now = Instant::now();
        // Permits held are granted first: they were taken while available.
        let Some((decision, left)) = lease.grant(now, &self.lapsed) else {
            return lease.refusal(now);
        };
        if lease.runs_low(left) {
            let wanted = lease.wanted(now, request.rate.burst());
            lease.fetching = true;
            drop(lease);
            let quota = Arc::clone(&quota);
            self.take_in_background(batcher, quota, key, request, wanted);
        }
        Some(decision)
    }

    /// Decides, asking Redis for a lease when nothing is held.
    pub(crate) async fn check(
        self: &Arc<Self>,
        batcher: &Arc<Batcher>,
        request: &RateRequest<'_>,
    ) -> Result<RateDecision, String> {
        let key = request.identity.key();
        loop {
            if let Some(decision) = self.check_now(batcher, request) {
                return Ok(decision);
            }
            let quota = self.quota(request.quota, request.rate);
            let now = Instant::now();
            let next = {
                let mut lease = quota.callers.entry(key).or_insert_with(|| Lease::new(now));
                if let Some((decision, _)) = lease.grant(now, &self.lapsed) {
                    Next::Decided(decision)
                } else if let Some(refusal) = lease.refusal(now) {
                    Next::Decided(refusal)
                } else if lease.fetching {
                    Next::Wait(lease.arrived.clone().notified_owned())
                } else {
                    lease.fetching = true;
                    lease.count(now);
                    Next::Take(lease.wanted(now, request.rate.burst()))
                }
            };
            match next {
                Next::Decided(decision) => return Ok(decision),
                Next::Wait(arrived) => {
                    // Bounded: the lease being taken answers or fails within the timeout.
                    let _ = tokio::time::timeout(batcher.redis().timeout() * 2, arrived).await;
                }
                Next::Take(wanted) => {
                    self.evict_now_and_then();
                    let grant = batcher.take_for(request, wanted).await;
                    self.leases_taken.fetch_add(1, Ordering::Relaxed);
                    let now = Instant::now();
                    let mut lease = quota.callers.entry(key).or_insert_with(|| Lease::new(now));
                    return match grant {
                        Ok(grant) => {
                            lease.receive(grant, now);
                            // This request's own permit, first.
                            Ok(match lease.grant(now, &self.lapsed) {
                                Some((decision, _)) => decision,
                                None => lease.refusal(now).unwrap_or(RateDecision::Limited {
                                    retry_after: Duration::from_micros(grant.micros),
                                }),
                            })
                        }
                        Err(error) => {
                            lease.failed();
                            Err(error)
                        }
                    };
                }
            }
        }
    }

    fn quota(&self, name: &str, rate: Rate) -> Arc<QuotaLeases> {
        if let Some(quota) = self.quotas.get(name)
            && quota.rate == rate
        {
            return quota.clone();
        }
        let quota = Arc::new(QuotaLeases {
            rate,
            callers: DashMap::with_hasher(BuildRateKeyHasher::default()),
        });
        self.quotas.insert(name.to_owned(), quota.clone());
        quota
    }

    /// Takes the next lease while the held permits last.
    fn take_in_background(
        self: &Arc<Self>,
        batcher: &Arc<Batcher>,
        quota: Arc<QuotaLeases>,
        key: RateKey,
        request: &RateRequest<'_>,
        wanted: u32,
    ) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            if let Some(mut lease) = quota.callers.get_mut(&key) {
                lease.failed();
            }
            return;
        };
        let taking = batcher.take_for(request, wanted);
        let leases = self.clone();
        runtime.spawn(async move {
            let grant = taking.await;
            leases.leases_taken.fetch_add(1, Ordering::Relaxed);
            if let Some(mut lease) = quota.callers.get_mut(&key) {
                match grant {
                    Ok(grant) => lease.receive(grant, Instant::now()),
                    Err(_) => lease.failed(),
                }
            }
        });
    }

    /// Forgets idle callers, once in a while (every 4096 leases).
    fn evict_now_and_then(&self) {
        if self.leases_taken.load(Ordering::Relaxed) % 4096 != 4095 {
            return;
        }
        let now = Instant::now();
        for quota in self.quotas.iter() {
            quota.callers.retain(|_, lease| !lease.is_idle(now));
        }
    }
}
