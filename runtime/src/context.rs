//! What the pipeline knows about an endpoint, and what it leaves in each request for the
//! extractors.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use http::HeaderValue;

use crate::audit::RequestId;
use crate::auth::Principal;
use crate::authz::{Requirements, ScopeRegistry};
use crate::endpoint::{EndpointSpec, MountedEndpoint};
use crate::metrics::EndpointMetrics;
use crate::rate::headers::{self, QuotaLimitField};
use crate::rate::{EndpointRate, MemoryLimiter, Rate};
use crate::security::Security;
use crate::static_value;

/// How many fields a secured response may carry: `Content-Type`, the five the pipeline
/// adds (`Cache-Control`, `RateLimit-Policy`, `RateLimit`, `X-Request-Id`,
/// `X-Content-Type-Options`), then on the way out `Content-Length` and
/// `Strict-Transport-Security`. A header map with room for them is allocated once; one that
/// fills up is rebuilt.
pub(crate) const RESPONSE_FIELDS: usize = 8;

/// One quota of an endpoint: its base rate, or the rate of a tier.
pub(crate) struct Quota {
    pub(crate) rate: Rate,
    /// The name shared stores count it under: the same on every instance.
    pub(crate) store_name: String,
    /// `RateLimit-Policy`, formatted once and kept for the life of the process.
    pub(crate) policy_header: HeaderValue,
    /// `RateLimit`, its common values made in advance.
    pub(crate) limit_field: QuotaLimitField,
    /// The limiter, when quotas are counted in this process.
    pub(crate) memory: Option<MemoryLimiter>,
}

/// The quotas of an endpoint: index 0 is its own, then one per tier.
pub(crate) struct Limits {
    /// The policy name in the RateLimit fields.
    pub(crate) policy: String,
    pub(crate) quotas: Vec<Quota>,
}

impl Limits {
    /// The quota of tier `tier` (0: no tier), or the endpoint's own.
    pub(crate) fn quota(&self, tier: usize) -> Option<&Quota> {
        self.quotas.get(tier).or(self.quotas.first())
    }

    fn new(security: &Security, mounted: MountedEndpoint) -> Option<Limits> {
        let spec = mounted.spec;
        let (rate, name) = match spec.rate {
            EndpointRate::Default => (security.default_rate(), "default"),
            EndpointRate::Limit(rate) => (rate.scaled(security.rate_scale()), spec.handler),
            EndpointRate::Unlimited => return None,
        };
        let policy = policy_name(mounted.prefix, name);
        let in_memory = security.rate_store().is_none();
        let base_name = format!("{} {}", spec.method.as_str(), mounted.path);
        let tiers = security.tiers();
        let mut quotas = Vec::with_capacity(1 + tiers.map_or(0, |t| t.len()));
        let quota = |rate: Rate, store_name: String| Quota {
            rate,
            store_name,
            policy_header: static_value::for_life(headers::policy_value(&policy, rate)),
            limit_field: QuotaLimitField::new(&policy, rate),
            memory: in_memory.then(|| MemoryLimiter::new(rate)),
        };
        quotas.push(quota(rate, base_name.clone()));
        if let Some(tiers) = tiers {
            for (index, name) in tiers.names().enumerate() {
                quotas.push(quota(
                    tiers.rate_of(index, rate),
                    format!("{base_name}#{name}"),
                ));
            }
        }
        Some(Limits { policy, quotas })
    }
}

/// The name of a rate-limit policy in the RateLimit fields: the endpoint's handler (or
/// `default`), under the prefix it is mounted at, as `api/v1/get_order`.
pub(crate) fn policy_name(prefix: &str, name: &str) -> String {
    match prefix.trim_start_matches('/') {
        "" => name.to_owned(),
        prefix => format!("{prefix}/{name}"),
    }
}

/// One mounted endpoint: its record, its limits and the shared configuration.
pub(crate) struct EndpointContext {
    security: Security,
    spec: &'static EndpointSpec,
    /// The path it answers at, prefixes included.
    route: &'static str,
    /// Its requirements over the app's combined scope registry.
    requirements: Option<Requirements>,
    registry: Option<&'static ScopeRegistry>,
    limits: Option<Limits>,
    body_limit: usize,
    metrics: EndpointMetrics,
    decides_without_waiting: bool,
    authenticates_later: bool,
}

impl EndpointContext {
    pub(crate) fn new(
        security: Security,
        mounted: MountedEndpoint,
        registry: Option<&'static ScopeRegistry>,
        requirements: Option<Requirements>,
    ) -> EndpointContext {
        let spec = mounted.spec;
        let limits = Limits::new(&security, mounted);
        let body_limit = spec.body_limit.unwrap_or(security.body_limit());
        let metrics = EndpointMetrics::new(mounted.path, spec.method.as_str());
        // Policies and key functions are plain functions: they never wait. Shared stores
        // may (a lease to take, a store with no copy in memory).
        let local_limits = limits.is_none()
            || security
                .rate_store()
                .is_none_or(|store| store.may_decide_now());
        let decides_without_waiting = local_limits && security.revocations_decide_now();
        // A public endpoint's caller is authenticated by its extractor, after the pipeline.
        let authenticates_later = requirements.is_none();
        EndpointContext {
            security,
            spec,
            route: mounted.path,
            requirements,
            registry,
            limits,
            body_limit,
            metrics,
            decides_without_waiting,
            authenticates_later,
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

    /// The path the endpoint answers at, prefixes included.
    pub(crate) fn route(&self) -> &'static str {
        self.route
    }

    /// What a caller must have, over the app's combined scope registry; `None` for a
    /// public endpoint.
    #[inline]
    pub(crate) fn requirements(&self) -> Option<&Requirements> {
        self.requirements.as_ref()
    }

    pub(crate) fn limits(&self) -> Option<&Limits> {
        self.limits.as_ref()
    }

    pub(crate) fn metrics(&self) -> &EndpointMetrics {
        &self.metrics
    }

    /// Whether a request with a cached token can be admitted without waiting: limits and
    /// revocations in memory.
    pub(crate) fn decides_without_waiting(&self) -> bool {
        self.decides_without_waiting
    }

    /// Whether the endpoint is public: a caller is authenticated, if at all, by its
    /// handler's optional authentication ([`LaterAuthentication`]).
    pub(crate) fn authenticates_later(&self) -> bool {
        self.authenticates_later
    }

    /// Forgets idle rate-limit keys.
    pub(crate) fn evict_idle(&self) {
        for quota in self.limits.iter().flat_map(|limits| &limits.quotas) {
            if let Some(memory) = &quota.memory {
                memory.evict_idle();
            }
        }
    }
}

/// What the pipeline admitted a request with: the endpoint, the request id and the
/// principal. The one value the pipeline leaves in the request's extensions.
///
/// Custom extractors and handlers can take it to learn the endpoint and reach the
/// configuration (for example to revoke a token). [`Principal`] and [`RequestId`] are
/// extractors of their own, read from it.
///
/// ```
/// use portcullis_runtime::RequestContext;
///
/// async fn handler(context: RequestContext) -> String {
///     format!("{} {}", context.endpoint().handler, context.request_id().as_str())
/// }
/// ```
#[derive(Clone)]
pub struct RequestContext {
    endpoint: Arc<EndpointContext>,
    request_id: RequestId,
    principal: Option<Principal>,
    /// On a `#[public]` endpoint: what its optional authentication tells the pipeline.
    later: Option<Arc<LaterAuthentication>>,
}

/// What the optional authentication of a `#[public]` endpoint, in its handler, tells the
/// pipeline for the response and its audit event: the caller it authenticated (so that
/// the event names the caller and the response is marked `Cache-Control: no-store`, as a
/// secured endpoint's), and whether the DPoP proof it checked had a server nonce that
/// expires at the end of the current step (the response then carries the next one).
#[derive(Debug, Default)]
pub(crate) struct LaterAuthentication {
    principal: OnceLock<Principal>,
    renew_dpop_nonce: AtomicBool,
}

impl LaterAuthentication {
    /// Records the caller the handler authenticated; the first one stays.
    pub(crate) fn authenticated(&self, principal: &Principal) {
        if self.principal.get().is_none() {
            let _ = self.principal.set(principal.clone());
        }
    }

    /// The caller the handler authenticated, if it did.
    pub(crate) fn principal(&self) -> Option<&Principal> {
        self.principal.get()
    }

    /// Asks the response for the next DPoP server nonce.
    pub(crate) fn renew_dpop_nonce(&self) {
        self.renew_dpop_nonce.store(true, Ordering::Relaxed);
    }

    /// Whether the response should carry the next DPoP server nonce.
    pub(crate) fn dpop_nonce_renewal_asked(&self) -> bool {
        self.renew_dpop_nonce.load(Ordering::Relaxed)
    }
}

impl RequestContext {
    pub(crate) fn new(
        endpoint: Arc<EndpointContext>,
        request_id: RequestId,
        principal: Option<Principal>,
        later: Option<Arc<LaterAuthentication>>,
    ) -> Self {
        RequestContext {
            endpoint,
            request_id,
            principal,
            later,
        }
    }

    /// Tells the pipeline what the optional authentication of a `#[public]` endpoint found:
    /// the caller, if any, and whether the response carries the next DPoP server nonce (a
    /// secured endpoint's pipeline knows both from its own authentication).
    pub(crate) fn authenticated_later(
        &self,
        principal: Option<&Principal>,
        renew_dpop_nonce: bool,
    ) {
        let Some(later) = &self.later else { return };
        if let Some(principal) = principal {
            later.authenticated(principal);
        }
        if renew_dpop_nonce {
            later.renew_dpop_nonce();
        }
    }

    /// The security configuration.
    pub fn security(&self) -> &Security {
        &self.endpoint.security
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &'static EndpointSpec {
        self.endpoint.spec
    }

    /// The path the endpoint answers at: its declared path under the prefixes it is
    /// mounted at.
    pub fn route(&self) -> &'static str {
        self.endpoint.route
    }

    /// The largest body this endpoint accepts.
    pub fn body_limit(&self) -> usize {
        self.endpoint.body_limit
    }

    /// The scope registry of the API.
    pub fn registry(&self) -> Option<&'static ScopeRegistry> {
        self.endpoint.registry
    }

    /// The request's id, as sent back in `X-Request-Id` and written in its audit event.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// The authenticated caller: always present on `#[secure]` endpoints, never on
    /// `#[public]` ones (whose optional authentication happens in the extractor).
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }
}

impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("endpoint", &self.endpoint.route)
            .field("request_id", &self.request_id.as_str())
            .finish_non_exhaustive()
    }
}

/// In a handler mounted through [`SecureRouter`](crate::SecureRouter), the request's id;
/// anywhere else the request fails with 500, logged.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestId {
    type Rejection = crate::ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let context = RequestContext::from_request_parts(parts, state).await?;
        Ok(context.request_id)
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
