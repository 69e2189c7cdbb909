//! The per-endpoint pipeline: the bearer guard and the throttle of failed
//! authentication, authentication, authorization, the rate limit, then the handler; the
//! RateLimit fields and `Cache-Control` on the way out; one audit event per request.

mod context;

pub(crate) use context::EndpointContext;
pub use context::RequestContext;
use context::{Limits, Quota};

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, Request};
use axum::handler::Handler;
use axum::response::{IntoResponse, Response};
use http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};

use crate::audit::{AuditEvent, Decision, REQUEST_ID, Reason, RequestId};
use crate::auth::{AuthFailure, Principal};
use crate::authz::{PolicyDecision, PolicyRequest, Refusal, Requirements};
use crate::rate::{
    FailureThrottle, RateDecision, RateIdentity, RateKey, RateKeyKind, RateRequest, headers,
};
use crate::rejection::{
    AuthRejection, DenialReason, ForbiddenRejection, MisconfiguredRejection, RateLimitedRejection,
    UnavailableRejection,
};

/// A handler behind its endpoint's security: what [`SecureRouter`](crate::SecureRouter)
/// routes a request to. The pipeline runs inside the handler's own route rather than in a
/// layer around it, so a request passes through one route and one clone of the handler.
#[derive(Clone)]
pub(crate) struct Secured<H> {
    handler: H,
    context: Arc<EndpointContext>,
}

impl<H> Secured<H> {
    pub(crate) fn new(handler: H, context: Arc<EndpointContext>) -> Self {
        Secured { handler, context }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

impl<H, T, S> Handler<T, S> for Secured<H>
where
    H: Handler<T, S>,
    T: 'static,
    S: Send + 'static,
{
    type Future = SecuredFuture<H::Future>;

    /// Most requests are decided here, before any waiting: a cached token, in-memory
    /// revocations and limits; only the handler is then awaited. The rest (a token to
    /// verify, a policy, shared stores) take the asynchronous path.
    fn call(self, mut request: Request, state: S) -> Self::Future {
        let Secured { handler, context } = self;
        let mut ip = ClientIp::of(&context, &request);
        let mut arrival = Arrival::of(&context, &request, &mut ip);
        let decided = admit_now(&context, &request, &mut ip);
        // A refusal's audit event and alerts, and the asynchronous path, need the address.
        arrival.ip = match decided {
            Some(Ok(_)) => ip.read_so_far(),
            _ => ip.get(),
        };
        match decided {
            Some(Ok(admitted)) => {
                add_context(&context, &mut request, &admitted, &arrival);
                SecuredFuture::Handling {
                    handling: handler.call(request, state),
                    finish: Some(Finish {
                        context,
                        admitted,
                        arrival,
                    }),
                }
            }
            Some(Err(refused)) => SecuredFuture::Refused {
                response: Some(reject(&context, refused, &arrival)),
            },
            None => SecuredFuture::Waiting {
                future: Box::pin(async move {
                    let ip = ClientIp::known(arrival.ip);
                    match admit(&context, &mut request, ip).await {
                        Ok(admitted) => {
                            add_context(&context, &mut request, &admitted, &arrival);
                            let response = handler.call(request, state).await;
                            respond(&context, response, admitted, &arrival)
                        }
                        Err(refused) => reject(&context, refused, &arrival),
                    }
                }),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of a secured request: not boxed when it was decided without waiting
    /// (the router boxes it once already).
    #[project = SecuredProjection]
    pub(crate) enum SecuredFuture<F> {
        /// Admitted without waiting: the handler runs, then its response is finished.
        Handling { #[pin] handling: F, finish: Option<Finish> },
        /// Refused without waiting.
        Refused { response: Option<Response> },
        /// A token to verify, a policy or a shared store to wait for.
        Waiting { future: BoxFuture },
    }
}

/// What finishing an admitted request's response needs.
pub(crate) struct Finish {
    context: Arc<EndpointContext>,
    admitted: Admitted,
    arrival: Arrival,
}

impl<F: Future<Output = Response>> Future for SecuredFuture<F> {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        match self.project() {
            SecuredProjection::Handling { handling, finish } => {
                let response = std::task::ready!(handling.poll(cx));
                Poll::Ready(match finish.take() {
                    Some(Finish {
                        context,
                        admitted,
                        arrival,
                    }) => respond(&context, response, admitted, &arrival),
                    // Polled again after it completed: the handler's future decides.
                    None => response,
                })
            }
            SecuredProjection::Refused { response } => Poll::Ready(
                response
                    .take()
                    .unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
            ),
            SecuredProjection::Waiting { future } => future.as_mut().poll(cx),
        }
    }
}

/// What every outcome of a request needs to know of its arrival.
struct Arrival {
    request_id: RequestId,
    /// The client's address, past trusted proxies; known when an audit event will name it
    /// (a refusal, or anything while someone listens).
    ip: Option<IpAddr>,
    /// When it arrived; only taken when an audit event may record the latency.
    started: Option<Instant>,
}

impl Arrival {
    /// The arrival of `request`; its address is read now only when someone listens.
    fn of(context: &EndpointContext, request: &Request, ip: &mut ClientIp<'_>) -> Arrival {
        let listening = context.security().auditor().listening();
        Arrival {
            request_id: RequestId::from_headers(request.headers()),
            ip: if listening { ip.get() } else { None },
            started: listening.then(Instant::now),
        }
    }
}

/// The client's address, past trusted proxies.
fn client_ip(
    context: &EndpointContext,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> Option<IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    context
        .security()
        .trusted_proxies()
        .client_ip(peer, headers)
}

/// The client's address, read from the request when first needed: most requests with a
/// cached token never need it (no one blocked, limits per client, no one listening).
struct ClientIp<'r> {
    ip: Option<Option<IpAddr>>,
    from: Option<(&'r EndpointContext, &'r HeaderMap, &'r Extensions)>,
}

impl<'r> ClientIp<'r> {
    fn known(ip: Option<IpAddr>) -> Self {
        ClientIp {
            ip: Some(ip),
            from: None,
        }
    }

    fn of(context: &'r EndpointContext, request: &'r Request) -> Self {
        ClientIp {
            ip: None,
            from: Some((context, request.headers(), request.extensions())),
        }
    }

    /// The address if it was read already, without reading it.
    fn read_so_far(&self) -> Option<IpAddr> {
        self.ip.flatten()
    }

    fn get(&mut self) -> Option<IpAddr> {
        let from = self.from;
        *self.ip.get_or_insert_with(|| {
            from.and_then(|(context, headers, extensions)| client_ip(context, headers, extensions))
        })
    }
}

/// An admitted request, with what the handler's extractors read.
fn add_context(
    context: &Arc<EndpointContext>,
    request: &mut Request,
    admitted: &Admitted,
    arrival: &Arrival,
) {
    request.extensions_mut().insert(RequestContext::new(
        context.clone(),
        arrival.request_id.clone(),
        admitted.principal.clone(),
    ));
}

/// The handler's response, with the fields of the pipeline, audited.
fn respond(
    context: &EndpointContext,
    mut response: Response,
    admitted: Admitted,
    arrival: &Arrival,
) -> Response {
    let Admitted { principal, rate } = admitted;
    // An extractor's rejection, or a handler's `ApiError`, in the API's error format.
    context.security().renderer().finish(&mut response);
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
    response_headers.insert(REQUEST_ID, arrival.request_id.header_value());
    let seen = Seen {
        arrival,
        principal: principal.as_ref(),
        detail: None,
    };
    audit(context, &response, seen);
    response
}

/// The response to a refused request, audited.
fn reject(context: &EndpointContext, refused: Refused, arrival: &Arrival) -> Response {
    let mut response = (*refused.rejection).into_response();
    context.security().renderer().finish(&mut response);
    response
        .headers_mut()
        .insert(REQUEST_ID, arrival.request_id.header_value());
    let seen = Seen {
        arrival,
        principal: refused.principal.as_ref(),
        detail: refused.detail.as_deref(),
    };
    audit(context, &response, seen);
    response
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
    Misconfigured(MisconfiguredRejection),
}

impl From<MisconfiguredRejection> for Rejection {
    fn from(rejection: MisconfiguredRejection) -> Self {
        Rejection::Misconfigured(rejection)
    }
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
            Rejection::Misconfigured(rejection) => rejection.into_response(),
        }
    }
}

/// A refusal, with what the audit event needs. The rejection is boxed: a refusal is the
/// rarer outcome, and every step's `Result` stays small.
struct Refused {
    rejection: Box<Rejection>,
    principal: Option<Principal>,
    detail: Option<String>,
}

impl Refused {
    fn new(rejection: impl Into<Rejection>) -> Self {
        Refused {
            rejection: Box::new(rejection.into()),
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

/// [`admit`] when it can be decided without waiting, which the endpoint knows in advance
/// (no policy, limits and revocations in memory) and the token cache tells: `None` when a
/// token must be verified, before anything was counted.
fn admit_now(
    context: &EndpointContext,
    request: &Request,
    ip: &mut ClientIp<'_>,
) -> Option<Result<Admitted, Refused>> {
    if !context.decides_without_waiting() {
        return None;
    }
    let Some(requirements) = context.requirements() else {
        let caller = match public_caller(context, ip) {
            Ok(caller) => caller,
            Err(refused) => return Some(Err(refused)),
        };
        let rate = limit_now(context, caller, 0)?;
        return Some(rate.map(|rate| Admitted {
            principal: None,
            rate,
        }));
    };
    let throttle = match throttle(context, ip) {
        Ok(throttle) => throttle,
        Err(refused) => return Some(Err(refused)),
    };
    let authenticated = context.security().authenticate_now(
        request.headers(),
        request.uri(),
        context.registry(),
    )?;
    let admitted =
        authenticated_principal(context, throttle, ip, authenticated).and_then(|principal| {
            check_requirements(context, requirements, &principal).map_err(|r| r.by(&principal))?;
            let (caller, tier) = authenticated_caller(context, &principal, None, ip)
                .map_err(|r| r.by(&principal))?;
            // The endpoint's limits are in memory (`decides_without_waiting`): decided now.
            // Were they not, the request is refused rather than let through uncounted.
            let rate = limit_now(context, caller, tier)
                .unwrap_or_else(|| Err(Refused::new(UnavailableRejection::rate_limits())))
                .map_err(|refused| refused.by(&principal))?;
            Ok(Admitted {
                principal: Some(principal),
                rate,
            })
        });
    Some(admitted)
}

/// Authentication, authorization and the rate limit, in that order.
async fn admit(
    context: &EndpointContext,
    request: &mut Request,
    mut ip: ClientIp<'_>,
) -> Result<Admitted, Refused> {
    let Some(requirements) = context.requirements() else {
        let rate = limit(context, public_caller(context, &mut ip)?, 0).await?;
        return Ok(Admitted {
            principal: None,
            rate,
        });
    };
    let security = context.security();
    let throttle = throttle(context, &mut ip)?;
    // Timed here only: what is decided without waiting (a cache hit) is counted, not timed.
    let authenticating = Instant::now();
    let authenticated = security
        .authenticate(request.headers(), request.uri(), context.registry())
        .await;
    security
        .metrics()
        .authentication
        .record(authenticating.elapsed().as_secs_f64());
    let principal = authenticated_principal(context, throttle, &mut ip, authenticated)?;
    authorize(context, requirements, &principal, request)
        .await
        .map_err(|refused| refused.by(&principal))?;
    let custom = match context.spec().rate_key {
        RateKeyKind::Custom(key) => {
            let spec = context.spec();
            viewed(request, |parts, params| {
                (key.key)(&PolicyRequest::new(&principal, parts, spec, params))
            })
            .await
            .map(|picked| picked.identity(principal.client_id()))
        }
        _ => None,
    };
    let (caller, tier) = authenticated_caller(context, &principal, custom.as_deref(), &mut ip)
        .map_err(|r| r.by(&principal))?;
    let rate = limit(context, caller, tier)
        .await
        .map_err(|refused| refused.by(&principal))?;
    Ok(Admitted {
        principal: Some(principal),
        rate,
    })
}

/// Who a public endpoint's quota counts: its IP, unless the quota is global (or there is
/// no quota: nothing is counted).
fn public_caller(
    context: &EndpointContext,
    ip: &mut ClientIp<'_>,
) -> Result<Caller<'static>, Refused> {
    if context.limits().is_none() {
        return Ok(Caller::GLOBAL);
    }
    match context.spec().rate_key {
        RateKeyKind::Global => Ok(Caller::GLOBAL),
        _ => ip
            .get()
            .map(Caller::ip)
            .ok_or_else(|| address_unknown(context)),
    }
}

/// The refusal of a request whose IP-keyed decision found no address: 500, alerted
/// once. Never a shared bucket, never a pass.
fn address_unknown(context: &EndpointContext) -> Refused {
    context.security().alerter().client_address_unknown();
    Refused::new(MisconfiguredRejection::client_address_unknown())
}

/// Who an authenticated request's quota counts, and the caller's tier (0: none).
///
/// `custom` is what the endpoint's key function picked, if it has one and it picked
/// something; otherwise such an endpoint counts per client.
fn authenticated_caller<'p>(
    context: &EndpointContext,
    principal: &'p Principal,
    custom: Option<&'p str>,
    ip: &mut ClientIp<'_>,
) -> Result<(Caller<'p>, usize), Refused> {
    if context.limits().is_none() {
        return Ok((Caller::GLOBAL, 0));
    }
    let id = |(id, key)| Caller {
        identity: RateIdentity::Id(id),
        key,
    };
    let caller = match context.spec().rate_key {
        RateKeyKind::Custom(_) => match custom {
            Some(identity) => Some(Caller {
                identity: RateIdentity::Id(identity),
                key: RateKey::of_id(identity),
            }),
            None => principal.client_key().map(id),
        },
        RateKeyKind::Client => principal.client_key().map(id),
        RateKeyKind::Subject => principal.subject_key().map(id),
        RateKeyKind::Ip => Some(
            ip.get()
                .map(Caller::ip)
                .ok_or_else(|| address_unknown(context))?,
        ),
        RateKeyKind::Global => None,
    };
    let tier = context
        .security()
        .tiers()
        .and_then(|tiers| tiers.tier_of(principal))
        .map_or(0, |tier| tier + 1);
    Ok((caller.unwrap_or(Caller::GLOBAL), tier))
}

/// Who a request counts against: the identity a shared store names, and its key in memory.
#[derive(Clone, Copy)]
struct Caller<'a> {
    identity: RateIdentity<'a>,
    key: RateKey,
}

impl Caller<'_> {
    const GLOBAL: Caller<'static> = Caller {
        identity: RateIdentity::Global,
        key: RateKey::GLOBAL,
    };

    fn ip(ip: IpAddr) -> Caller<'static> {
        Caller {
            identity: RateIdentity::Ip(ip),
            key: RateKey::of_ip(ip),
        }
    }
}

/// An IP that failed authentication too often is refused before its token is read;
/// otherwise the throttle that will count this request's failure, if any.
fn throttle<'c>(
    context: &'c EndpointContext,
    ip: &mut ClientIp<'_>,
) -> Result<Option<&'c FailureThrottle>, Refused> {
    let throttle = context.security().failure_throttle();
    if let Some(throttle) = throttle
        && throttle.blocks_anyone()
    {
        let Some(ip) = ip.get() else {
            return Err(address_unknown(context));
        };
        if let Some(wait) = throttle.blocked_for(ip) {
            let rejection = RateLimitedRejection::authentication_throttled(wait, throttle.rate());
            return Err(Refused::new(rejection));
        }
    }
    Ok(throttle)
}

/// The principal of an authenticated request, or the refusal of one that is not.
fn authenticated_principal(
    context: &EndpointContext,
    throttle: Option<&FailureThrottle>,
    ip: &mut ClientIp<'_>,
    authenticated: Result<Option<Principal>, AuthFailure>,
) -> Result<Principal, Refused> {
    match authenticated {
        Ok(Some(principal)) => Ok(principal),
        Ok(None) => Err(refuse(context, throttle, ip, AuthFailure::MissingToken)),
        Err(failure) => Err(refuse(context, throttle, ip, failure)),
    }
}

/// The refusal for a failed authentication, counted against the client's IP.
fn refuse(
    context: &EndpointContext,
    throttle: Option<&FailureThrottle>,
    ip: &mut ClientIp<'_>,
    failure: AuthFailure,
) -> Refused {
    if let Some(throttle) = throttle
        && !failure.is_server_side()
    {
        match ip.get() {
            Some(ip) => throttle.record_failure(ip),
            // Uncounted, the failure would escape the throttle.
            None => return address_unknown(context),
        }
    }
    Refused::new(AuthRejection::configured(failure, context.security()))
}

/// The endpoint's scopes and roles.
fn check_requirements(
    context: &EndpointContext,
    requirements: &Requirements,
    principal: &Principal,
) -> Result<(), Refused> {
    let reason = match requirements.check(principal) {
        Ok(()) => return Ok(()),
        Err(Refusal::Scope) => Reason::InsufficientScope,
        Err(Refusal::Role) => Reason::MissingRole,
    };
    Err(Refused::new(forbidden(context, requirements, reason)))
}

fn forbidden(
    context: &EndpointContext,
    requirements: &Requirements,
    reason: Reason,
) -> ForbiddenRejection {
    ForbiddenRejection::new(
        context.security().realm_arc(),
        requirements.scope_hint(),
        reason,
    )
}

/// The endpoint's scopes and roles, then its policy.
async fn authorize(
    context: &EndpointContext,
    requirements: &Requirements,
    principal: &Principal,
    request: &mut Request,
) -> Result<(), Refused> {
    check_requirements(context, requirements, principal)?;
    let Some(policy) = requirements.policy else {
        return Ok(());
    };
    let spec = context.spec();
    let decision = viewed(request, |parts, params| {
        (policy.check)(&PolicyRequest::new(principal, parts, spec, params))
    })
    .await;
    match decision {
        PolicyDecision::Allow => Ok(()),
        PolicyDecision::Deny(detail) => Err(Refused {
            detail: Some(format!("{}: {detail}", policy.name)),
            ..Refused::new(forbidden(context, requirements, Reason::PolicyDenied))
        }),
    }
}

/// What `look` makes of the request head and its raw path parameters (for a policy or a
/// key function); the request is left as it was.
async fn viewed<R>(
    request: &mut Request,
    look: impl FnOnce(&http::request::Parts, &[(String, String)]) -> R,
) -> R {
    let (mut parts, body) = std::mem::take(request).into_parts();
    let params: Vec<(String, String)> =
        match RawPathParams::from_request_parts(&mut parts, &()).await {
            Ok(raw) => raw
                .iter()
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect(),
            Err(_) => Vec::new(),
        };
    let result = look(&parts, &params);
    *request = Request::from_parts(parts, body);
    result
}

/// Counts the request against the endpoint's quota (of the caller's tier).
async fn limit(
    context: &EndpointContext,
    caller: Caller<'_>,
    tier: usize,
) -> Result<Option<RateHeaders>, Refused> {
    if let Some(decided) = limit_now(context, caller, tier) {
        return decided;
    }
    let (Some(limits), Some(store)) = (context.limits(), context.security().rate_store()) else {
        return Ok(None);
    };
    let Some(quota) = limits.quota(tier) else {
        return Ok(None);
    };
    let request = RateRequest {
        quota: &quota.store_name,
        identity: caller.identity,
        rate: quota.rate,
    };
    match store.check(request).await {
        Ok(decision) => rate_outcome(limits, quota, decision),
        Err(error) => {
            tracing::error!(target: "portcullis::alert", %error, "rate limits unavailable: request refused");
            Err(Refused::new(UnavailableRejection::rate_limits()))
        }
    }
}

/// [`limit`] when no shared store need be asked: no limits, or limits in memory. `None`
/// when the store must be asked, before anything was counted.
fn limit_now(
    context: &EndpointContext,
    caller: Caller<'_>,
    tier: usize,
) -> Option<Result<Option<RateHeaders>, Refused>> {
    let Some(limits) = context.limits() else {
        return Some(Ok(None));
    };
    let Some(quota) = limits.quota(tier) else {
        return Some(Ok(None));
    };
    match (&quota.memory, context.security().rate_store()) {
        (Some(memory), _) => Some(rate_outcome(limits, quota, memory.check(caller.key))),
        (None, Some(_)) => None,
        (None, None) => Some(Ok(None)),
    }
}

/// The RateLimit fields of an allowed request, or the refusal of a limited one.
fn rate_outcome(
    limits: &Limits,
    quota: &Quota,
    decision: RateDecision,
) -> Result<Option<RateHeaders>, Refused> {
    match decision {
        RateDecision::Allowed { remaining, reset } => Ok(Some(RateHeaders {
            policy: quota.policy_header.clone(),
            limit: quota.limit_field.value(remaining, reset),
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
    arrival: &'a Arrival,
    principal: Option<&'a Principal>,
    detail: Option<&'a str>,
}

/// One audit event, and the metrics and alerts it feeds. An allowed request's event is
/// only built when a sink or a `tracing` subscriber takes it; a denial's always is (the
/// alerts count denials).
fn audit(context: &EndpointContext, response: &Response, seen: Seen<'_>) {
    let spec = context.spec();
    let (decision, reason) = match response.extensions().get::<DenialReason>() {
        Some(DenialReason(reason)) => (Decision::Deny, *reason),
        None if seen.principal.is_some() => (Decision::Allow, Reason::Authorized),
        None => (Decision::Allow, Reason::Public),
    };
    context.metrics().decision(decision, reason);
    let security = context.security();
    if decision == Decision::Allow && !security.auditor().listening_to_allowed() {
        return;
    }
    let event = AuditEvent {
        time: SystemTime::now(),
        request_id: seen.arrival.request_id.as_str(),
        handler: spec.handler,
        method: spec.method.as_str(),
        route: context.route(),
        decision,
        reason,
        detail: seen.detail,
        subject: seen.principal.and_then(Principal::subject),
        client: seen.principal.and_then(Principal::client_id),
        ip: seen.arrival.ip,
        required_scopes: context.requirements().map_or(&[], |r| r.all_scope_names),
        granted_scopes: seen.principal.map_or(&[], Principal::scope_list),
        status: response.status().as_u16(),
        latency: seen
            .arrival
            .started
            .map_or(Duration::ZERO, |started| started.elapsed()),
    };
    security.auditor().emit(&event);
    security.alerter().observe(&event);
}
