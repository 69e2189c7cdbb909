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
