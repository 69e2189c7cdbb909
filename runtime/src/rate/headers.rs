//! The RateLimit header fields of the IETF HTTPAPI working group,
//! draft-ietf-httpapi-ratelimit-headers-10 (Structured Fields):
//!
//! ```text
//! RateLimit-Policy: "get_order";q=100;w=60
//! RateLimit: "get_order";r=42;t=1
//! ```
//!
//! `q` is the quota per window `w` (seconds); `r` the requests left; `t` the seconds until
//! more quota is available. A burst different from the quota is the vendor parameter
//! `portcullis-burst`. On a 429, `Retry-After` is never earlier than `t`.

use std::fmt::Write as _;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

use super::Rate;
use super::limiter::ceil_secs;
use crate::static_value;

/// The `RateLimit-Policy` field.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The `RateLimit` field.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// `RateLimit-Policy` for the policy `name` enforcing `rate`.
pub fn policy_value(name: &str, rate: Rate) -> HeaderValue {
    let mut value = format!(
        "{};q={};w={}",
        sf_string(name),
        rate.count(),
        ceil_secs(rate.period()).max(1)
    );
    if rate.burst() != rate.count() {
        let _ = write!(value, ";portcullis-burst={}", rate.burst());
    }
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("\"default\";q=0"))
}

/// `RateLimit` for the policy `name`: `remaining` requests left, more in `reset`.
pub fn limit_value(name: &str, remaining: u32, reset: Duration) -> HeaderValue {
    LimitField::new(name).value(remaining, reset)
}

/// The `RateLimit` field of one policy, its name quoted once: every allowed request
/// sends one.
///
/// ```
/// use std::time::Duration;
/// use portcullis_runtime::rate::headers::LimitField;
///
/// let field = LimitField::new("get_order");
/// assert_eq!(field.value(42, Duration::from_millis(900)), "\"get_order\";r=42;t=1");
/// ```
#[derive(Debug, Clone)]
pub struct LimitField {
    /// `"name";r=`
    prefix: Box<[u8]>,
}

impl LimitField {
    /// The field for the policy `name`.
    pub fn new(name: &str) -> LimitField {
        LimitField {
            prefix: format!("{};r=", sf_string(name)).into_bytes().into(),
        }
    }

    /// The value: `remaining` requests left, more in `reset`.
    pub fn value(&self, remaining: u32, reset: Duration) -> HeaderValue {
        let (mut remaining_digits, mut reset_digits) = (itoa::Buffer::new(), itoa::Buffer::new());
        let remaining = remaining_digits.format(remaining).as_bytes();
        let reset = reset_digits.format(ceil_secs(reset)).as_bytes();
        // Exactly sized, so the buffer becomes the header's bytes without another allocation.
        let mut value = Vec::with_capacity(self.prefix.len() + remaining.len() + 3 + reset.len());
        value.extend_from_slice(&self.prefix);
        value.extend_from_slice(remaining);
        value.extend_from_slice(b";t=");
        value.extend_from_slice(reset);
        HeaderValue::from_maybe_shared(bytes::Bytes::from(value))
            .unwrap_or_else(|_| HeaderValue::from_static("\"default\";r=0"))
    }
}

/// The `RateLimit` field of one quota, with the values most responses carry made in
/// advance.
///
/// A caller well within its quota finds its bucket full, or nearly, at each request: the
/// value it is sent has `r` one below the burst (a few below, after a short burst) and
/// `t` the interval in which one request accrues, which the in-memory limiter always
/// reports. Those values are made when the endpoint is mounted, kept for the life of the
/// process, and a response clones one by copying a pointer; any other value is formatted
/// when it is sent.
#[derive(Debug, Clone)]
pub(crate) struct QuotaLimitField {
    field: LimitField,
    /// `t` of the values made in advance.
    reset_secs: u64,
    /// `r` of `common[0]`: one below the burst.
    top: u32,
    /// The values of `r = top, top - 1, ...`, `t = reset_secs`.
    common: Box<[HeaderValue]>,
}

impl QuotaLimitField {
    /// How many values are made in advance: a burst of this many requests in one
    /// interval still finds its value made.
    const COMMON: u32 = 8;

    /// The field of the policy `name` enforcing `rate`.
    pub(crate) fn new(name: &str, rate: Rate) -> QuotaLimitField {
        let field = LimitField::new(name);
        let reset = rate.replenish_interval();
        let top = rate.burst().saturating_sub(1);
        let common = (0..Self::COMMON.min(rate.burst()))
            .map(|below| static_value::for_life(field.value(top - below, reset)))
            .collect();
        QuotaLimitField {
            field,
            reset_secs: ceil_secs(reset),
            top,
            common,
        }
    }

    /// The value: `remaining` requests left, more in `reset`.
    #[inline]
    pub(crate) fn value(&self, remaining: u32, reset: Duration) -> HeaderValue {
        let made = self
            .top
            .checked_sub(remaining)
            .and_then(|below| self.common.get(below as usize))
            .filter(|_| ceil_secs(reset) == self.reset_secs);
        match made {
            Some(value) => value.clone(),
            None => self.field.value(remaining, reset),
        }
    }
}

/// An RFC 8941 String: quoted, with `"` and `\` escaped, printable ASCII only.
fn sf_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars().filter(|c| (' '..='~').contains(c)) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_field_makes_the_common_values_in_advance() {
        let rate = Rate::per_minute(100);
        let field = QuotaLimitField::new("get_order", rate);
        let interval = rate.replenish_interval();
        let plain = LimitField::new("get_order");
        // Each value is the one formatted per request, made in advance or not.
        for remaining in [99, 98, 92, 91, 50, 0, 100, 1_000] {
            for reset in [interval, Duration::from_millis(100), Duration::from_secs(7)] {
                assert_eq!(
                    field.value(remaining, reset),
                    plain.value(remaining, reset),
                    "r={remaining} t={reset:?}"
                );
            }
        }
        // The eight below the burst, at the replenish interval, share bytes kept for life:
        // two responses carry the same value, not two copies of it.
        for remaining in 92..=99 {
            let (a, b) = (
                field.value(remaining, interval),
                field.value(remaining, interval),
            );
            assert_eq!(
                a.as_bytes().as_ptr(),
                b.as_bytes().as_ptr(),
                "r={remaining}"
            );
        }
        let (a, b) = (field.value(91, interval), field.value(91, interval));
        assert_ne!(a.as_bytes().as_ptr(), b.as_bytes().as_ptr());
        // A burst smaller than the values made in advance.
        let one = QuotaLimitField::new("p", Rate::per_second(1));
        assert_eq!(one.value(0, Duration::from_secs(1)), "\"p\";r=0;t=1");
        assert_eq!(one.value(1, Duration::from_secs(1)), "\"p\";r=1;t=1");
    }

    #[test]
    fn formats_draft_10_fields() {
        assert_eq!(
            policy_value("default", Rate::per_minute(100)),
            "\"default\";q=100;w=60"
        );
        assert_eq!(
            policy_value("get_order", Rate::per_second(10).with_burst(20)),
            "\"get_order\";q=10;w=1;portcullis-burst=20"
        );
        assert_eq!(
            limit_value("default", 42, Duration::from_millis(17_200)),
            "\"default\";r=42;t=18"
        );
        assert_eq!(limit_value("a\"b", 0, Duration::ZERO), "\"a\\\"b\";r=0;t=0");
        assert_eq!(
            LimitField::new("p").value(u32::MAX, Duration::from_secs(u64::MAX)),
            format!("\"p\";r={};t={}", u32::MAX, u64::MAX).as_str()
        );
        for (remaining, reset) in [(0, 0), (9, 10), (99, 100), (1_000_007, 59)] {
            assert_eq!(
                LimitField::new("p").value(remaining, Duration::from_secs(reset)),
                format!("\"p\";r={remaining};t={reset}").as_str()
            );
        }
    }
}
