//! Tiers: a claim of the token, or one of its scopes, selects a bigger (or smaller) quota
//! for the client on every endpoint.

use crate::auth::Principal;

use super::Rate;

/// What a tier's client gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TierQuota {
    /// The endpoint's own rate, count and burst multiplied.
    Multiply(f64),
    /// A fixed rate, whatever the endpoint declares.
    Rate(Rate),
}

/// How the tier of a request is found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TierSource {
    /// The string value of a claim names the tier.
    Claim(String),
    /// The first tier (in the order given) whose name is a granted scope.
    Scope,
}

/// Quota tiers.
///
/// ```
/// use portcullis_runtime::rate::{TierQuota, Tiers};
/// use portcullis_runtime::Rate;
///
/// // `"tier": "gold"` in the token: ten times every quota.
/// let by_claim = Tiers::claim("tier").tier("gold", TierQuota::Multiply(10.0));
/// // Clients granted `plan:unlimited`: 100,000 a minute everywhere.
/// let by_scope = Tiers::scope().tier("plan:unlimited", TierQuota::Rate(Rate::per_minute(100_000)));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Tiers {
    source: TierSource,
    tiers: Vec<(String, TierQuota)>,
}

impl Tiers {
    /// Tiers named by the string value of the claim `name`.
    pub fn claim(name: impl Into<String>) -> Tiers {
        Tiers {
            source: TierSource::Claim(name.into()),
            tiers: Vec::new(),
        }
    }

    /// Tiers named by scopes: a client's tier is the first one whose scope it holds.
    pub fn scope() -> Tiers {
        Tiers {
            source: TierSource::Scope,
            tiers: Vec::new(),
        }
    }

    /// Adds a tier.
    pub fn tier(mut self, name: impl Into<String>, quota: TierQuota) -> Tiers {
        self.tiers.push((name.into(), quota));
        self
    }

    /// The tiers, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tiers.iter().map(|(name, _)| name.as_str())
    }

    /// The rate of tier `index` (0-based) for an endpoint whose own rate is `rate`.
    pub(crate) fn rate_of(&self, index: usize, rate: Rate) -> Rate {
        match self.tiers.get(index).map(|(_, quota)| *quota) {
            Some(TierQuota::Multiply(factor)) => rate.scaled(factor),
            Some(TierQuota::Rate(fixed)) => fixed,
            None => rate,
        }
    }

    /// How many tiers there are.
    pub(crate) fn len(&self) -> usize {
        self.tiers.len()
    }

    /// The tier of `principal`: its index, if any.
    pub(crate) fn tier_of(&self, principal: &Principal) -> Option<usize> {
        match &self.source {
            TierSource::Claim(claim) => {
                let value = principal.claim(claim)?.as_str()?;
                self.tiers.iter().position(|(name, _)| name == value)
            }
            TierSource::Scope => self
                .tiers
                .iter()
                .position(|(name, _)| principal.has_scope(name)),
        }
    }
}
