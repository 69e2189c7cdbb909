//! Rate limiting: rates, keys and the per-endpoint limiter.

mod limiter;
mod quota;

pub use limiter::{MemoryLimiter, RateDecision, RateKey};
pub use quota::{EndpointRate, Rate, RateError, RateKeyKind};
