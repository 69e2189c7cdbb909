//! The runtime of [Portcullis](https://docs.rs/portcullis): everything that runs per
//! request. Depend on the `portcullis` crate, which re-exports this one with its macros.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audit;
pub mod auth;
pub mod authz;
mod config;
#[cfg(feature = "dev")]
pub mod dev;
pub mod endpoint;
pub mod input;
mod pipeline;
mod problem;
pub mod rate;
mod rejection;
mod router;

pub use auth::{AuthFailure, Claims, Issuer, KeySet, Principal, RolesClaim};
pub use authz::{PolicyDecision, PolicyRequest, ScopeDecl, ScopeRegistry, ScopeSet};
pub use config::{
    ConfigError, DEFAULT_BODY_LIMIT, DEFAULT_MAX_TOKEN_BYTES, Security, SecurityBuilder,
};
pub use endpoint::{Endpoint, EndpointSpec};
pub use input::{Form, Input, Json, Path, Query, SafeExtractor, Unchecked};
pub use pipeline::RequestContext;
pub use problem::{ApiError, FieldViolation, PROBLEM_JSON, Problem};
pub use rate::{Rate, RateKeyKind};
pub use rejection::{AuthRejection, ForbiddenRejection, InputRejection, RateLimitedRejection};
pub use router::{RouterError, Routes, SecureRouter};

/// Re-exports for the code `portcullis-macros` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::authz::{Policy, PolicyFn, Requirements, ScopeDecl, ScopeRegistry, ScopeSet};
    pub use crate::endpoint::{Access, EndpointFuture, EndpointMeta, EndpointSpec, HttpMethod};
    pub use crate::input::{Input, assert_safe_extractor, violations};
    pub use crate::problem::FieldViolation;
    pub use crate::rate::{EndpointRate, Rate, RateKeyKind};
    pub use crate::router::Routes;
    pub use garde;
    pub use serde;

    /// Builds a rate the macros have already checked.
    pub const fn checked_rate(count: u32, period_secs: u64, burst: u32) -> Rate {
        match Rate::new(count, std::time::Duration::from_secs(period_secs)) {
            Ok(rate) => rate.with_burst(burst),
            Err(_) => panic!("invalid rate"),
        }
    }
}
