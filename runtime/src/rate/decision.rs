//! The outcome of one rate-limit check.

use std::time::Duration;

/// The outcome of one rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Allowed: `remaining` more requests are allowed right now, and more quota is
    /// available in `reset` (at most).
    Allowed {
        /// Requests left in the current burst.
        remaining: u32,
        /// Time until one more request is available.
        reset: Duration,
    },
    /// Refused; the next request is allowed after `retry_after`.
    Limited {
        /// How long until one request is allowed again.
        retry_after: Duration,
    },
}
