//! The per-endpoint pipeline: authenticate, authorize, rate limit, then the handler; one
//! audit event per request.

mod context;

pub(crate) use context::EndpointContext;
pub use context::RequestContext;

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, Request};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use tower_layer::Layer;
use tower_service::Service;

use crate::audit::{AuditEvent, Decision, Reason};
use crate::auth::{AuthFailure, Principal};
use crate::authz::{PolicyDecision, PolicyRequest, Refusal, Requirements};
use crate::endpoint::Access;
use crate::rate::{RateDecision, RateKey, RateKeyKind};
use crate::rejection::{AuthRejection, DenialReason, ForbiddenRejection, RateLimitedRejection};

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

/// What the pipeline learned about the caller before the handler ran.
struct Admitted {
    principal: Option<Principal>,
}

/// Why the pipeline refused; rendered into a response once, at the end.
enum Rejection {
    Auth(AuthRejection),
    Forbidden(ForbiddenRejection),
    Limited(RateLimitedRejection),
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

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::Auth(rejection) => rejection.into_response(),
            Rejection::Forbidden(rejection) => rejection.into_response(),
            Rejection::Limited(rejection) => rejection.into_response(),
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
}

async fn handle<I>(context: Arc<EndpointContext>, mut request: Request, mut inner: I) -> Response
where
    I: Service<Request, Response = Response, Error = Infallible>,
{
    let started = Instant::now();
    let ip = peer_ip(&request);
    match admit(&context, &mut request, ip).await {
        Err(refused) => {
            let response = refused.rejection.into_response();
            let principal = refused.principal.as_ref();
            audit(
                &context,
                &response,
                principal,
                refused.detail.as_deref(),
                ip,
                started,
            );
            response
        }
        Ok(Admitted { principal }) => {
            request
                .extensions_mut()
                .insert(RequestContext::new(context.clone()));
            if let Some(principal) = &principal {
                request.extensions_mut().insert(principal.clone());
            }
            let mut response = match inner.call(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if principal.is_some() {
                response
                    .headers_mut()
                    .entry(header::CACHE_CONTROL)
                    .or_insert(HeaderValue::from_static("no-store"));
            }
            audit(&context, &response, principal.as_ref(), None, ip, started);
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
            limit(context, public_key(spec.rate_key, ip))?;
            return Ok(Admitted { principal: None });
        }
        Access::Secured(requirements) => requirements,
    };
    let security = context.security();
    let principal = match security
        .authenticate(request.headers(), request.uri(), context.registry())
        .await
    {
        Ok(Some(principal)) => principal,
        Ok(None) => {
            return Err(Refused::new(
                context.auth_rejection(AuthFailure::MissingToken),
            ));
        }
        Err(failure) => return Err(Refused::new(context.auth_rejection(failure))),
    };
    if let Err(refused) = authorize(context, requirements, &principal, request).await {
        return Err(Refused {
            principal: Some(principal),
            ..refused
        });
    }
    let key = match spec.rate_key {
        RateKeyKind::Client => principal.client_key().cloned().map(RateKey::Id),
        RateKeyKind::Subject => principal.subject_key().cloned().map(RateKey::Id),
        RateKeyKind::Ip => ip.map(RateKey::Ip),
        RateKeyKind::Global => None,
    };
    if let Err(refused) = limit(context, key.unwrap_or(RateKey::Global)) {
        return Err(Refused {
            principal: Some(principal),
            ..refused
        });
    }
    Ok(Admitted {
        principal: Some(principal),
    })
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

fn limit(context: &EndpointContext, key: RateKey) -> Result<(), Refused> {
    let Some(limiter) = context.limiter() else {
        return Ok(());
    };
    match limiter.check(&key) {
        RateDecision::Allowed { .. } => Ok(()),
        RateDecision::Limited { retry_after } => Err(Refused::new(RateLimitedRejection::new(
            retry_after,
            Reason::RateLimited,
        ))),
    }
}

fn public_key(kind: RateKeyKind, ip: Option<IpAddr>) -> RateKey {
    match (kind, ip) {
        (RateKeyKind::Global, _) | (_, None) => RateKey::Global,
        (_, Some(ip)) => RateKey::Ip(ip),
    }
}

/// The address of the peer, when the server was started with connect info.
fn peer_ip(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

fn audit(
    context: &EndpointContext,
    response: &Response,
    principal: Option<&Principal>,
    detail: Option<&str>,
    ip: Option<IpAddr>,
    started: Instant,
) {
    let spec = context.spec();
    let (decision, reason) = match response.extensions().get::<DenialReason>() {
        Some(DenialReason(reason)) => (Decision::Deny, *reason),
        None if principal.is_some() => (Decision::Allow, Reason::Authorized),
        None => (Decision::Allow, Reason::Public),
    };
    let event = AuditEvent {
        handler: spec.handler,
        method: spec.method.as_str(),
        route: spec.path,
        decision,
        reason,
        detail,
        subject: principal.and_then(Principal::subject),
        client: principal.and_then(Principal::client_id),
        ip,
        required_scopes: spec.requirements().map_or(&[], |r| r.all_scope_names),
        status: response.status().as_u16(),
        latency: started.elapsed(),
    };
    context.security().auditor().emit(&event);
}

impl EndpointContext {
    fn auth_rejection(&self, failure: AuthFailure) -> Rejection {
        Rejection::Auth(AuthRejection::new(failure, self.security().realm_arc()))
    }
}
