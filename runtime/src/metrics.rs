//! Metrics through the [`metrics`](https://docs.rs/metrics) facade, with the `metrics`
//! feature: install any recorder (Prometheus, StatsD, ...) before building the
//! [`Security`](crate::Security) and the router, and these series appear:
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `portcullis_decisions_total` | counter | `route`, `method`, `decision`, `reason` |
//! | `portcullis_rate_limited_total` | counter | `route`, `method` |
//! | `portcullis_authentication_seconds` | histogram | (time of authentications that had to wait: a verification, a shared revocation store; cache hits decided in memory are counted in `portcullis_token_cache_total`, not timed) |
//! | `portcullis_token_cache_total` | counter | `result` = `hit` / `miss` |
//! | `portcullis_signature_checks_total` | counter | |
//! | `portcullis_jwks_fetches_total` | counter | `outcome` = `ok` / `failed` |
//!
//! Handles are registered once, when the configuration and the router are built, so a
//! request never formats a label. Without the feature, nothing is recorded and the
//! `metrics` crate is not built.

use dashmap::DashMap;

use crate::audit::{Decision, Reason};

#[cfg(feature = "metrics")]
mod handles {
    pub(crate) use metrics::{Counter, Histogram};

    /// The counter `name` with `labels`, registered with the installed recorder.
    pub(crate) fn counter(name: &'static str, labels: &[(&'static str, &'static str)]) -> Counter {
        let labels: Vec<metrics::Label> = labels
            .iter()
            .map(|(key, value)| metrics::Label::new(*key, *value))
            .collect();
        metrics::counter!(name, labels)
    }

    /// The histogram `name`, registered with the installed recorder.
    pub(crate) fn histogram(name: &'static str) -> Histogram {
        metrics::histogram!(name)
    }
}

#[cfg(not(feature = "metrics"))]
mod handles {
    /// A counter that records nothing (no `metrics` feature).
    #[derive(Clone, Debug)]
    pub(crate) struct Counter;

    impl Counter {
        #[inline]
        pub(crate) fn increment(&self, _: u64) {}
    }

    /// A histogram that records nothing (no `metrics` feature).
    #[derive(Debug)]
    pub(crate) struct Histogram;

    impl Histogram {
        #[inline]
        pub(crate) fn record(&self, _: f64) {}
    }

    pub(crate) fn counter(_: &'static str, _: &[(&'static str, &'static str)]) -> Counter {
        Counter
    }

    pub(crate) fn histogram(_: &'static str) -> Histogram {
        Histogram
    }
}

pub(crate) use handles::{Counter, Histogram, counter, histogram};

/// Decisions by reason.
pub const DECISIONS: &str = "portcullis_decisions_total";
/// Requests refused by a quota.
pub const RATE_LIMITED: &str = "portcullis_rate_limited_total";
/// Time spent authenticating a request.
pub const AUTHENTICATION_SECONDS: &str = "portcullis_authentication_seconds";
/// Lookups in the verified-token cache.
pub const TOKEN_CACHE: &str = "portcullis_token_cache_total";
/// Token signatures checked.
pub const SIGNATURE_CHECKS: &str = "portcullis_signature_checks_total";
/// JWKS fetches.
pub const JWKS_FETCHES: &str = "portcullis_jwks_fetches_total";

/// The handles of one endpoint.
pub(crate) struct EndpointMetrics {
    route: &'static str,
    method: &'static str,
    allowed: Counter,
    denied: DashMap<&'static str, Counter>,
    rate_limited: Counter,
}

impl EndpointMetrics {
    /// The handles of the endpoint at `route` (its path, prefixes included).
    pub(crate) fn new(route: &'static str, method: &'static str) -> Self {
        EndpointMetrics {
            route,
            method,
            allowed: counter(
                DECISIONS,
                &[
                    ("route", route),
                    ("method", method),
                    ("decision", "allow"),
                    ("reason", "allowed"),
                ],
            ),
            denied: DashMap::new(),
            rate_limited: counter(RATE_LIMITED, &[("route", route), ("method", method)]),
        }
    }

    /// Counts one decision.
    #[inline]
    pub(crate) fn decision(&self, decision: Decision, reason: Reason) {
        match decision {
            Decision::Allow => self.allowed.increment(1),
            Decision::Deny => self.denial(reason),
        }
    }

    /// Counts one denial.
    fn denial(&self, reason: Reason) {
        if reason == Reason::RateLimited {
            self.rate_limited.increment(1);
        }
        let name = reason.as_str();
        let counter = match self.denied.get(name) {
            Some(counter) => counter.clone(),
            None => {
                let counter = counter(
                    DECISIONS,
                    &[
                        ("route", self.route),
                        ("method", self.method),
                        ("decision", "deny"),
                        ("reason", name),
                    ],
                );
                self.denied.insert(name, counter.clone());
                counter
            }
        };
        counter.increment(1);
    }
}

/// The handles of a configuration.
pub(crate) struct SecurityMetrics {
    pub(crate) authentication: Histogram,
    pub(crate) cache_hits: Counter,
    pub(crate) cache_misses: Counter,
    pub(crate) signature_checks: Counter,
}

impl SecurityMetrics {
    pub(crate) fn new() -> Self {
        SecurityMetrics {
            authentication: histogram(AUTHENTICATION_SECONDS),
            cache_hits: counter(TOKEN_CACHE, &[("result", "hit")]),
            cache_misses: counter(TOKEN_CACHE, &[("result", "miss")]),
            signature_checks: counter(SIGNATURE_CHECKS, &[]),
        }
    }
}
