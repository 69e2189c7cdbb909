//! The per-endpoint pipeline: the bearer guard and the throttle of failed
//! authentication, authentication, authorization, the rate limit, then the handler; the
//! RateLimit fields and `Cache-Control` on the way out; one audit event per request.

mod context;

pub(crate) use context::EndpointContext;
pub use context::RequestContext;

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, Request};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use tower_layer::Layer;
use tower_service::Service;

use crate::audit::{AuditEvent, Decision, REQUEST_ID, Reason, RequestId};
use crate::auth::{AuthFailure, Principal};
use crate::authz::{PolicyDecision, PolicyRequest, Refusal, Requirements};
use crate::endpoint::Access;
use crate::rate::{RateDecision, RateIdentity, RateKeyKind, RateRequest, headers};
use crate::rejection::{
    AuthRejection, DenialReason, ForbiddenRejection, RateLimitedRejection, UnavailableRejection,
};

/// Applies one endpoint's security to its handler.
#[derive(Clone)]
pub(crate) struct EndpointLayer {
    context: Arc<EndpointContext>,
}

impl EndpointLayer {
    pub(crate) fn new(context: Arc<EndpointContext>) -> Self {
        EndpointLayer { context }
    }
}

impl<I> Layer<I> for EndpointLayer {
    type Service = EndpointService<I>;

    fn layer(&self, inner: I) -> EndpointService<I> {
        EndpointService {
            inner,
            context: self.context.clone(),
        }
    }
}

/// The service [`EndpointLayer`] wraps a handler in.
#[derive(Clone)]
pub(crate) struct EndpointService<I> {
    inner: I,
    context: Arc<EndpointContext>,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<I> Service<Request> for EndpointService<I>
where
    I: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    I::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The inner service is cloned per call and driven to readiness there.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> BoxFuture {
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let context = self.context.clone();
        Box::pin(async move { Ok(handle(context, request, inner).await) })
    }
}

/// The RateLimit fields of an allowed request.
struct RateHeaders {
    policy: HeaderValue,
    limit: HeaderValue,
}

/// What the pipeline learned about the caller before the handler ran.
struct Admitted {
    principal: Option<Principal>,
    rate: Option<RateHeaders>,
}

/// Why the pipeline refused; rendered into a response once, at the end.
enum Rejection {
    Auth(AuthRejection),
    Forbidden(ForbiddenRejection),
    Limited(RateLimitedRejection),
    Unavailable(UnavailableRejection),
}

impl From<AuthRejection> for Rejection {
    fn from(rejection: AuthRejection) -> Self {
        Rejection::Auth(rejection)
    }
}

impl From<ForbiddenRejection> for Rejection {
    fn from(rejection: ForbiddenRejection) -> Self {
        Rejection::Forbidden(rejection)
    }
}

impl From<RateLimitedRejection> for Rejection {
    fn from(rejection: RateLimitedRejection) -> Self {
        Rejection::Limited(rejection)
    }
}

impl From<UnavailableRejection> for Rejection {
    fn from(rejection: UnavailableRejection) -> Self {
        Rejection::Unavailable(rejection)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::Auth(rejection) => rejection.into_response(),
            Rejection::Forbidden(rejection) => rejection.into_response(),
            Rejection::Limited(rejection) => rejection.into_response(),
            Rejection::Unavailable(rejection) => rejection.into_response(),
        }
    }
}

/// A refusal, with what the audit event needs.
struct Refused {
    rejection: Rejection,
    principal: Option<Principal>,
    detail: Option<String>,
}

impl Refused {
    fn new(rejection: impl Into<Rejection>) -> Self {
        Refused {
            rejection: rejection.into(),
            principal: None,
            detail: None,
        }
    }

    fn by(self, principal: &Principal) -> Self {
        Refused {
            principal: Some(principal.clone()),
            ..self
        }
    }
}

async fn handle<I>(context: Arc<EndpointContext>, mut request: Request, mut inner: I) -> Response
where
    I: Service<Request, Response = Response, Error = Infallible>,
{
    let started = Instant::now();
    let request_id = RequestId::from_headers(request.headers());
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let ip = context
        .security()
        .trusted_proxies()
        .client_ip(peer, request.headers());
    match admit(&context, &mut request, ip).await {
        Err(refused) => {
            let mut response = refused.rejection.into_response();
            response
                .headers_mut()
                .insert(REQUEST_ID, request_id.header_value());
            let principal = refused.principal.as_ref();
            let seen = Seen {
                request_id: &request_id,
                principal,
                detail: refused.detail.as_deref(),
                ip,
                started,
            };
            audit(&context, &response, seen);
            response
        }
        Ok(Admitted { principal, rate }) => {
            request.extensions_mut().insert(RequestContext::new(
                context.clone(),
                request_id.clone(),
                principal.clone(),
            ));
            let mut response = match inner.call(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let response_headers = response.headers_mut();
            if principal.is_some() {
                response_headers
                    .entry(header::CACHE_CONTROL)
                    .or_insert(HeaderValue::from_static("no-store"));
            }
            if let Some(rate) = rate {
                response_headers.insert(headers::RATELIMIT_POLICY, rate.policy);
                response_headers.insert(headers::RATELIMIT, rate.limit);
            }
            response_headers.insert(REQUEST_ID, request_id.header_value());
            let seen = Seen {
                request_id: &request_id,
                principal: principal.as_ref(),
                detail: None,
                ip,
                started,
            };
            audit(&context, &response, seen);
            response
        }
    }
}

async fn admit(
    context: &EndpointContext,
    request: &mut Request,
    ip: Option<IpAddr>,
) -> Result<Admitted, Refused> {
    let spec = context.spec();
    let requirements = match &spec.access {
        Access::Public => {
            let identity = match (spec.rate_key, ip) {
                (RateKeyKind::Global, _) | (_, None) => RateIdentity::Global,
                (_, Some(ip)) => RateIdentity::Ip(ip),
            };
            let rate = limit(context, identity, 0).await?;
            return Ok(Admitted {
                principal: None,
                rate,
            });
        }
        Access::Secured(requirements) => requirements,
    };
    let security = context.security();

    // An IP that failed authentication too often is refused before its token is read.
    let throttle = security.failure_throttle().zip(ip);
    if let Some((throttle, ip)) = throttle
        && let Some(wait) = throttle.blocked_for(ip)
    {
        let rejection = RateLimitedRejection::authentication_throttled(wait, throttle.rate());
        return Err(Refused::new(rejection));
    }
    let authenticating = Instant::now();
    let authenticated = security
        .authenticate(request.headers(), request.uri(), context.registry())
        .await;
    security
        .metrics()
        .authentication
        .record(authenticating.elapsed().as_secs_f64());
    let principal = match authenticated {
        Ok(Some(principal)) => principal,
        Ok(None) => return Err(refuse(context, throttle, AuthFailure::MissingToken)),
        Err(failure) => return Err(refuse(context, throttle, failure)),
    };
    authorize(context, requirements, &principal, request)
        .await
        .map_err(|refused| refused.by(&principal))?;

    let identity = match spec.rate_key {
        RateKeyKind::Client => principal.client_key().map(RateIdentity::Id),
        RateKeyKind::Subject => principal.subject_key().map(RateIdentity::Id),
        RateKeyKind::Ip => ip.map(RateIdentity::Ip),
        RateKeyKind::Global => None,
    };
    let tier = security
        .tiers()
        .and_then(|tiers| tiers.tier_of(&principal))
        .map_or(0, |tier| tier + 1);
    let rate = limit(context, identity.unwrap_or(RateIdentity::Global), tier)
        .await
        .map_err(|refused| refused.by(&principal))?;
    Ok(Admitted {
        principal: Some(principal),
        rate,
    })
}

/// The refusal for a failed authentication, counted against the client's IP.
fn refuse(
    context: &EndpointContext,
    throttle: Option<(&crate::rate::FailureThrottle, IpAddr)>,
    failure: AuthFailure,
) -> Refused {
    if let Some((throttle, ip)) = throttle
        && !failure.is_server_side()
    {
        throttle.record_failure(ip);
    }
    let security = context.security();
    Refused::new(AuthRejection::new(failure, security.realm_arc()))
}

async fn authorize(
    context: &EndpointContext,
    requirements: &Requirements,
    principal: &Principal,
    request: &mut Request,
) -> Result<(), Refused> {
    let forbidden = |reason| {
        ForbiddenRejection::new(
            context.security().realm_arc(),
            requirements.scope_hint(),
            reason,
        )
    };
    match requirements.check(principal) {
        Ok(()) => {}
        Err(Refusal::Scope) => return Err(Refused::new(forbidden(Reason::InsufficientScope))),
        Err(Refusal::Role) => return Err(Refused::new(forbidden(Reason::MissingRole))),
    }
    let Some(policy) = requirements.policy else {
        return Ok(());
    };
    let (mut parts, body) = std::mem::take(request).into_parts();
    let params: Vec<(String, String)> =
        match RawPathParams::from_request_parts(&mut parts, &()).await {
            Ok(raw) => raw
                .iter()
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect(),
            Err(_) => Vec::new(),
        };
    let decision = (policy.check)(&PolicyRequest::new(
        principal,
        &parts,
        context.spec(),
        &params,
    ));
    *request = Request::from_parts(parts, body);
    match decision {
        PolicyDecision::Allow => Ok(()),
        PolicyDecision::Deny(detail) => Err(Refused {
            detail: Some(format!("{}: {detail}", policy.name)),
            ..Refused::new(forbidden(Reason::PolicyDenied))
        }),
    }
}

/// Counts the request against the endpoint's quota (of the caller's tier).
async fn limit(
    context: &EndpointContext,
    identity: RateIdentity<'_>,
    tier: usize,
) -> Result<Option<RateHeaders>, Refused> {
    let Some(limits) = context.limits() else {
        return Ok(None);
    };
    let Some(quota) = limits.quotas.get(tier).or(limits.quotas.first()) else {
        return Ok(None);
    };
    let decision = match (&quota.memory, context.security().rate_store()) {
        (Some(memory), _) => memory.check(identity.key()),
        (None, Some(store)) => {
            let request = RateRequest {
                quota: &quota.store_name,
                identity,
                rate: quota.rate,
            };
            match store.check(request).await {
                Ok(decision) => decision,
                Err(error) => {
                    tracing::error!(target: "portcullis::alert", %error, "rate limits unavailable: request refused");
                    return Err(Refused::new(UnavailableRejection::rate_limits()));
                }
            }
        }
        (None, None) => return Ok(None),
    };
    match decision {
        RateDecision::Allowed { remaining, reset } => Ok(Some(RateHeaders {
            policy: quota.policy_header.clone(),
            limit: limits.limit_field.value(remaining, reset),
        })),
        RateDecision::Limited { retry_after } => {
            Err(Refused::new(RateLimitedRejection::quota_exceeded(
                retry_after,
                &limits.policy,
                quota.policy_header.clone(),
            )))
        }
    }
}

/// What the audit event says of the request besides the response.
struct Seen<'a> {
    request_id: &'a RequestId,
    principal: Option<&'a Principal>,
    detail: Option<&'a str>,
    ip: Option<IpAddr>,
    started: Instant,
}

/// One audit event, and the metrics and alerts it feeds.
fn audit(context: &EndpointContext, response: &Response, seen: Seen<'_>) {
    let spec = context.spec();
    let (decision, reason) = match response.extensions().get::<DenialReason>() {
        Some(DenialReason(reason)) => (Decision::Deny, *reason),
        None if seen.principal.is_some() => (Decision::Allow, Reason::Authorized),
        None => (Decision::Allow, Reason::Public),
    };
    context.metrics().decision(decision, reason);
    let security = context.security();
    let event = AuditEvent {
        time: SystemTime::now(),
        request_id: seen.request_id.as_str(),
        handler: spec.handler,
        method: spec.method.as_str(),
        route: spec.path,
        decision,
        reason,
        detail: seen.detail,
        subject: seen.principal.and_then(Principal::subject),
        client: seen.principal.and_then(Principal::client_id),
        ip: seen.ip,
        required_scopes: spec.requirements().map_or(&[], |r| r.all_scope_names),
        granted_scopes: seen.principal.map_or(&[], Principal::scope_list),
        status: response.status().as_u16(),
        latency: seen.started.elapsed(),
    };
    security.auditor().emit(&event);
    security.alerter().observe(&event);
}
