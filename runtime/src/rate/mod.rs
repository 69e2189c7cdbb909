//! Rate limiting: rates, keys, stores, headers, tiers and the throttling of failed
//! authentication.

mod client_ip;
mod custom_key;
mod decision;
pub mod headers;
mod key;
mod limiter;
mod quota;
mod store;
mod throttle;
mod tiers;

pub use client_ip::{InvalidNetwork, TrustedProxies};
pub use custom_key::{CustomRateKey, KeyFn, RateKeyFn};
pub use decision::RateDecision;
pub(crate) use key::BuildRateKeyHasher;
pub use key::{RateIdentity, RateKey};
pub use limiter::MemoryLimiter;
pub use quota::{EndpointRate, Rate, RateError, RateKeyKind};
pub use store::{MemoryRateStore, RateFuture, RateRequest, RateStore, RateStoreError};
pub use tiers::{TierQuota, Tiers};

pub(crate) use limiter::ceil_secs;
pub(crate) use throttle::FailureThrottle;
