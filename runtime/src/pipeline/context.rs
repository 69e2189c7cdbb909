//! What the pipeline knows about an endpoint, and what it leaves in each request for the
//! extractors.

use std::sync::Arc;

use crate::authz::ScopeRegistry;
use crate::config::Security;
use crate::endpoint::EndpointSpec;
use crate::rate::{EndpointRate, MemoryLimiter};

/// One mounted endpoint: its record, its limiter and the shared configuration.
pub(crate) struct EndpointContext {
    security: Security,
    spec: &'static EndpointSpec,
    registry: Option<&'static ScopeRegistry>,
    limiter: Option<MemoryLimiter>,
    body_limit: usize,
}

impl EndpointContext {
    pub(crate) fn new(
        security: Security,
        spec: &'static EndpointSpec,
        registry: Option<&'static ScopeRegistry>,
    ) -> EndpointContext {
        let scale = security.rate_scale();
        let limiter = match spec.rate {
            EndpointRate::Default => Some(MemoryLimiter::new(security.default_rate())),
            EndpointRate::Limit(rate) => Some(MemoryLimiter::new(rate.scaled(scale))),
            EndpointRate::Unlimited => None,
        };
        let body_limit = spec.body_limit.unwrap_or(security.body_limit());
        EndpointContext {
            security,
            spec,
            registry,
            limiter,
            body_limit,
        }
    }

    pub(crate) fn security(&self) -> &Security {
        &self.security
    }

    pub(crate) fn spec(&self) -> &'static EndpointSpec {
        self.spec
    }

    pub(crate) fn registry(&self) -> Option<&'static ScopeRegistry> {
        self.registry
    }

    pub(crate) fn limiter(&self) -> Option<&MemoryLimiter> {
        self.limiter.as_ref()
    }
}

/// The endpoint a request is for, left in the request's extensions by the pipeline.
///
/// Custom extractors can read it to learn the endpoint and its configuration.
#[derive(Clone)]
pub struct RequestContext(Arc<EndpointContext>);

impl RequestContext {
    pub(crate) fn new(context: Arc<EndpointContext>) -> Self {
        RequestContext(context)
    }

    /// The security configuration.
    pub fn security(&self) -> &Security {
        &self.0.security
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &'static EndpointSpec {
        self.0.spec
    }

    /// The largest body this endpoint accepts.
    pub fn body_limit(&self) -> usize {
        self.0.body_limit
    }

    /// The scope registry of the API.
    pub fn registry(&self) -> Option<&'static ScopeRegistry> {
        self.0.registry
    }
}

impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("endpoint", &self.0.spec.path)
            .finish_non_exhaustive()
    }
}

/// In a handler mounted through [`SecureRouter`](crate::SecureRouter), the endpoint and its
/// configuration; anywhere else the request fails with 500, logged.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestContext {
    type Rejection = crate::ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .ok_or_else(|| {
                crate::ApiError::internal(
                    "RequestContext asked for on a route not mounted through SecureRouter",
                )
            })
    }
}
