//! Rates: how many requests per period, and how many at once.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

/// A request rate: `count` requests per `period`, with up to `burst` at once.
///
/// Endpoint rates are written in the attribute (`rate = "100/min"`) and checked at compile
/// time; the configured default rate is written with [`rate!`](../../portcullis/macro.rate.html)
/// for the same check, or built here from numbers known only at run time.
///
/// ```
/// use portcullis_runtime::Rate;
/// use std::time::Duration;
///
/// let rate = Rate::per_minute(100).with_burst(10);
/// assert_eq!(rate.count(), 100);
/// assert_eq!(rate.period(), Duration::from_secs(60));
/// assert_eq!(rate.burst(), 10);
/// assert_eq!(rate.to_string(), "100/min (burst 10)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    count: NonZeroU32,
    period: Duration,
    burst: NonZeroU32,
}

/// Why a [`Rate`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// The count or the burst was zero.
    #[error("a rate needs at least one request per period (and a burst of at least one)")]
    Zero,
    /// The period was zero, or too short for the count.
    #[error("the period of a rate must be at least one nanosecond per request")]
    PeriodTooShort,
}

impl Rate {
    /// `count` requests per `period`, burst equal to `count`.
    pub const fn new(count: u32, period: Duration) -> Result<Rate, RateError> {
        let Some(count) = NonZeroU32::new(count) else {
            return Err(RateError::Zero);
        };
        if period.as_nanos() < count.get() as u128 {
            return Err(RateError::PeriodTooShort);
        }
        Ok(Rate {
            count,
            period,
            burst: count,
        })
    }

    const fn per(count: u32, seconds: u64) -> Rate {
        match Rate::new(count, Duration::from_secs(seconds)) {
            Ok(rate) => rate,
            Err(_) => panic!("a rate needs at least one request per period"),
        }
    }

    /// `count` requests per second.
    ///
    /// # Panics
    ///
    /// When `count` is zero (a compile error in a constant).
    pub const fn per_second(count: u32) -> Rate {
        Rate::per(count, 1)
    }

    /// `count` requests per minute.
    ///
    /// # Panics
    ///
    /// When `count` is zero.
    pub const fn per_minute(count: u32) -> Rate {
        Rate::per(count, 60)
    }

    /// `count` requests per hour.
    ///
    /// # Panics
    ///
    /// When `count` is zero.
    pub const fn per_hour(count: u32) -> Rate {
        Rate::per(count, 3600)
    }

    /// `count` requests per day.
    ///
    /// # Panics
    ///
    /// When `count` is zero.
    pub const fn per_day(count: u32) -> Rate {
        Rate::per(count, 86_400)
    }

    /// The same rate with at most `burst` requests at once.
    ///
    /// # Panics
    ///
    /// When `burst` is zero.
    pub const fn with_burst(self, burst: u32) -> Rate {
        match NonZeroU32::new(burst) {
            Some(burst) => Rate { burst, ..self },
            None => panic!("a burst must allow at least one request"),
        }
    }

    /// The rate with its count and burst multiplied by `factor` (at least one each), the
    /// period unchanged. Used to scale every quota of a deployment at once.
    pub fn scaled(self, factor: f64) -> Rate {
        let scale = |value: NonZeroU32| {
            let scaled = (f64::from(value.get()) * factor).round();
            let clamped = scaled.clamp(1.0, f64::from(u32::MAX)) as u32;
            NonZeroU32::new(clamped).unwrap_or(NonZeroU32::MIN)
        };
        let count = scale(self.count);
        let period = if self.period.as_nanos() < u128::from(count.get()) {
            Duration::from_nanos(u64::from(count.get()))
        } else {
            self.period
        };
        Rate {
            count,
            period,
            burst: scale(self.burst),
        }
    }

    /// Requests allowed per period.
    pub const fn count(&self) -> u32 {
        self.count.get()
    }

    /// The period.
    pub const fn period(&self) -> Duration {
        self.period
    }

    /// Requests allowed at once.
    pub const fn burst(&self) -> u32 {
        self.burst.get()
    }

    /// The time after which one more request is allowed.
    #[inline]
    pub fn replenish_interval(&self) -> Duration {
        self.period / self.count.get()
    }

    /// The governor quota of this rate.
    pub(crate) fn quota(&self) -> governor::Quota {
        let interval = self.replenish_interval().max(Duration::from_nanos(1));
        governor::Quota::with_period(interval)
            .unwrap_or_else(|| governor::Quota::per_second(self.count))
            .allow_burst(self.burst)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.period.as_secs();
        let unit = match (seconds, self.period.subsec_nanos()) {
            (1, 0) => Some("s"),
            (60, 0) => Some("min"),
            (3600, 0) => Some("h"),
            (86_400, 0) => Some("d"),
            _ => None,
        };
        match unit {
            Some(unit) => write!(f, "{}/{unit}", self.count)?,
            None => write!(f, "{}/{:?}", self.count, self.period)?,
        }
        if self.burst != self.count {
            write!(f, " (burst {})", self.burst)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The rate an endpoint declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointRate {
    /// No `rate` in the attribute: the configured default rate applies.
    Default,
    /// `rate = "N/unit"`, with its burst.
    Limit(Rate),
    /// `rate = "unlimited"`: the explicit opt-out.
    Unlimited,
}

/// What requests are counted together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateKeyKind {
    /// Per client: the token's `client_id`, else `azp`, `cid` (Okta) or `appid` (Entra ID
    /// v1), else `sub`.
    Client,
    /// Per subject (`sub`): a user across all the clients acting for them.
    Subject,
    /// Per client IP address.
    Ip,
    /// One quota shared by every caller.
    Global,
    /// What a key function picks (`rate_key = path::to::fn`), per client when it picks
    /// nothing.
    Custom(super::RateKeyFn),
}

impl RateKeyKind {
    /// The keyword used in the attribute, or the key function's path.
    pub const fn as_str(&self) -> &'static str {
        match self {
            RateKeyKind::Client => "client",
            RateKeyKind::Subject => "subject",
            RateKeyKind::Ip => "ip",
            RateKeyKind::Global => "global",
            RateKeyKind::Custom(key) => key.name,
        }
    }
}

/// The keyword, or `fn path::to::key` for a key function.
impl std::fmt::Display for RateKeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateKeyKind::Custom(key) => write!(f, "fn {}", key.name),
            other => f.write_str(other.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_and_display() {
        assert_eq!(Rate::per_second(10).to_string(), "10/s");
        assert_eq!(Rate::per_hour(5).to_string(), "5/h");
        assert_eq!(Rate::per_day(1).with_burst(3).to_string(), "1/d (burst 3)");
        assert_eq!(Rate::new(0, Duration::from_secs(1)), Err(RateError::Zero));
        assert_eq!(
            Rate::new(10, Duration::from_nanos(5)),
            Err(RateError::PeriodTooShort)
        );
        assert_eq!(
            Rate::per_minute(100).replenish_interval(),
            Duration::from_millis(600)
        );
    }

    #[test]
    fn scaling_keeps_at_least_one() {
        let rate = Rate::per_minute(100).with_burst(10);
        let up = rate.scaled(1000.0);
        assert_eq!((up.count(), up.burst()), (100_000, 10_000));
        let down = rate.scaled(0.0001);
        assert_eq!((down.count(), down.burst()), (1, 1));
    }
}
