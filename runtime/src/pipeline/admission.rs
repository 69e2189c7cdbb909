//! Admission: authentication, authorization and the rate limit, in that order, written
//! once.
//!
//! [`admit`] states every rule. It runs in one of two [`Waiting`] modes: [`Now`], polled
//! once when the request arrives, decides whatever needs no waiting (a cached token,
//! revocations and limits in memory) and stops, before anything is counted, at the first
//! step that would wait; [`Later`] awaits every step. A request `Now` cannot decide is
//! admitted `Later`, from the start, so both ways apply the same rules in the same order.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Instant, SystemTime};

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, Request};
use axum::response::{IntoResponse, Response};
use http::{Extensions, HeaderMap, HeaderValue};

use crate::auth::{
    AuthFailure, Authenticated, DpopFailure, Principal, RequestHead, unix_now, unix_seconds,
};
use crate::authz::{Policy, PolicyDecision, PolicyRequest, Refusal, Requirements};
use crate::context::{EndpointContext, LaterAuthentication, Limits, Quota};
use crate::rate::{
    FailureThrottle, RateDecision, RateIdentity, RateKey, RateKeyKind, RateRequest, RateStore,
};
use crate::rejection::{
    AuthRejection, ForbiddenReason, ForbiddenRejection, MisconfiguredRejection,
    RateLimitedRejection, UnavailableRejection,
};

/// One request being admitted: its endpoint, the request, and the client's address once
/// read.
pub(super) struct Admission<'a> {
    pub(super) context: &'a EndpointContext,
    pub(super) request: &'a mut Request,
    pub(super) ip: &'a mut ClientIp,
    /// When the request arrived, if the clock was read then (for its audit event).
    pub(super) arrived: Option<SystemTime>,
}

impl Admission<'_> {
    /// The client's address, past trusted proxies; read on first use.
    fn ip(&mut self) -> Option<IpAddr> {
        self.ip.get(self.context, self.request)
    }

    /// The time tokens are checked at, in Unix seconds: the request's arrival, or now.
    fn now(&self) -> u64 {
        self.arrived.map_or_else(unix_now, unix_seconds)
    }
}

/// Why admission stopped: a refusal, or (`Now` only) a step that would wait.
pub(super) enum Stop<W> {
    Refused(Refused),
    Wait(W),
}

impl<W> From<Refused> for Stop<W> {
    fn from(refused: Refused) -> Self {
        Stop::Refused(refused)
    }
}

/// How admission meets the two steps that may wait: verifying a token (or asking a shared
/// revocation store), and asking a shared rate-limit store.
pub(super) trait Waiting {
    /// What a step that would wait returns instead.
    type Wait;

    /// The authentication of a request with head `head` at time `now` (Unix seconds): no
    /// principal when it carries no token.
    fn authenticate<'a>(
        context: &'a EndpointContext,
        head: RequestHead<'a>,
        now: u64,
    ) -> impl Future<Output = Result<Result<Authenticated, AuthFailure>, Self::Wait>> + 'a;

    /// Counts the request, as `identity`, against a quota kept in the shared store.
    fn ask<'a>(
        shared: SharedQuota<'a>,
        identity: RateIdentity<'a>,
    ) -> impl Future<Output = Result<Result<Option<RateHeaders>, Refused>, Self::Wait>> + 'a;
}

/// Decides without waiting, or stops with [`MustWait`] before anything is counted. Its
/// steps are futures that are ready at once.
pub(super) struct Now;

/// A step of [`Now`] would have waited: a token to verify, a shared store to ask.
pub(super) struct MustWait;

impl Waiting for Now {
    type Wait = MustWait;

    #[inline]
    fn authenticate<'a>(
        context: &'a EndpointContext,
        head: RequestHead<'a>,
        now: u64,
    ) -> impl Future<Output = Result<Result<Authenticated, AuthFailure>, MustWait>> + 'a {
        std::future::ready(
            context
                .security()
                .authenticator()
                .authenticate_now(head, context.registry(), now)
                .map(|decided| decided.map(Authenticated::from))
                .ok_or(MustWait),
        )
    }

    #[inline]
    fn ask<'a>(
        shared: SharedQuota<'a>,
        identity: RateIdentity<'a>,
    ) -> impl Future<Output = Result<Result<Option<RateHeaders>, Refused>, MustWait>> + 'a {
        std::future::ready(shared.decide_now(identity).ok_or(MustWait))
    }
}

/// Awaits every step.
pub(super) struct Later;

impl Waiting for Later {
    type Wait = std::convert::Infallible;

    async fn authenticate<'a>(
        context: &'a EndpointContext,
        head: RequestHead<'a>,
        now: u64,
    ) -> Result<Result<Authenticated, AuthFailure>, Self::Wait> {
        let security = context.security();
        // Timed here only: what is decided without waiting (a cache hit) is counted, not
        // timed.
        let authenticating = Instant::now();
        let authenticated = security
            .authenticator()
            .authenticate_at(head, context.registry(), now)
            .await;
        security
            .metrics()
            .authentication
            .record(authenticating.elapsed().as_secs_f64());
        Ok(authenticated)
    }

    async fn ask<'a>(
        shared: SharedQuota<'a>,
        identity: RateIdentity<'a>,
    ) -> Result<Result<Option<RateHeaders>, Refused>, Self::Wait> {
        Ok(shared.check(identity).await)
    }
}

/// A quota counted in the shared store.
pub(super) struct SharedQuota<'c> {
    limits: &'c Limits,
    quota: &'c Quota,
    store: &'c dyn RateStore,
}

impl SharedQuota<'_> {
    fn request<'i>(&'i self, identity: RateIdentity<'i>) -> RateRequest<'i> {
        RateRequest {
            quota: &self.quota.store_name,
            identity,
            rate: self.quota.rate,
        }
    }

    /// Asks the store; refused when it cannot answer.
    async fn check(self, identity: RateIdentity<'_>) -> Result<Option<RateHeaders>, Refused> {
        let decided = self.store.check(self.request(identity)).await;
        self.outcome(decided)
    }

    /// What the store decides without waiting, if it can (nothing counted otherwise).
    fn decide_now(
        &self,
        identity: RateIdentity<'_>,
    ) -> Option<Result<Option<RateHeaders>, Refused>> {
        let decided = self.store.decide_now(self.request(identity))?;
        Some(self.outcome(decided))
    }

    fn outcome(
        &self,
        decided: Result<RateDecision, crate::rate::RateStoreError>,
    ) -> Result<Option<RateHeaders>, Refused> {
        match decided {
            Ok(decision) => rate_outcome(self.limits, self.quota, decision),
            Err(error) => {
                tracing::error!(target: "portcullis::alert", %error, "rate limits unavailable: request refused");
                Err(Refused::new(UnavailableRejection::rate_limits()))
            }
        }
    }
}

/// Counts the request against the endpoint's quota of `tier` when it is counted in this
/// process (or not at all); otherwise the shared store to ask.
#[inline(always)]
fn limit_locally<'c>(
    context: &'c EndpointContext,
    caller: Caller<'_>,
    tier: usize,
) -> Result<Result<Option<RateHeaders>, Refused>, SharedQuota<'c>> {
    let Some(limits) = context.limits() else {
        return Ok(Ok(None));
    };
    let Some(quota) = limits.quota(tier) else {
        return Ok(Ok(None));
    };
    match (&quota.memory, context.security().rate_store()) {
        (Some(memory), _) => Ok(rate_outcome(limits, quota, memory.check(caller.key))),
        (None, Some(store)) => Err(SharedQuota {
            limits,
            quota,
            store,
        }),
        (None, None) => Ok(Ok(None)),
    }
}

/// The admission rules: authentication, authorization and the rate limit, in that order.
pub(super) async fn admit<W: Waiting>(
    admission: &mut Admission<'_>,
) -> Result<Admitted, Stop<W::Wait>> {
    let context = admission.context;
    let Some(requirements) = context.requirements() else {
        let caller = public_caller(admission)?;
        let rate = match limit_locally(context, caller, 0) {
            Ok(decided) => decided?,
            Err(shared) => W::ask(shared, caller.identity)
                .await
                .map_err(Stop::Wait)??,
        };
        return Ok(Admitted {
            principal: None,
            rate,
            renew_dpop_nonce: false,
            later: None,
        });
    };
    let throttle = throttle(admission)?;
    let now = admission.now();
    let request = &*admission.request;
    let head = RequestHead::new(
        request.method(),
        request.uri(),
        request.headers(),
        request.extensions(),
        context.security().trusted_proxies(),
    );
    let authenticated = W::authenticate(context, head, now)
        .await
        .map_err(Stop::Wait)?;
    let renew_dpop_nonce = authenticated
        .as_ref()
        .is_ok_and(|authenticated| authenticated.renew_dpop_nonce);
    let principal = authenticated_principal(
        admission,
        throttle,
        authenticated.map(|authenticated| authenticated.principal),
    )?;
    if requirements.dpop && principal.dpop_thumbprint().is_none() {
        return Err(refuse(admission, throttle, DpopFailure::Required.into()).into());
    }
    check_requirements(context, requirements, &principal)
        .map_err(|refused| refused.by(&principal, renew_dpop_nonce))?;
    if let Some(policy) = requirements.policy {
        apply(policy, context, requirements, &principal, admission.request)
            .await
            .map_err(|refused| refused.by(&principal, renew_dpop_nonce))?;
    }
    let custom = match context.spec().rate_key {
        RateKeyKind::Custom(key) => {
            let endpoint = (context.spec().handler, context.route());
            viewed(admission.request, |parts, params| {
                (key.key)(&PolicyRequest::new(&principal, parts, endpoint, params))
            })
            .await
            .map(|picked| picked.identity(principal.client_id()))
        }
        _ => None,
    };
    let (caller, tier) = authenticated_caller(admission, &principal, custom.as_deref())
        .map_err(|refused| refused.by(&principal, renew_dpop_nonce))?;
    let rate = match limit_locally(context, caller, tier) {
        Ok(decided) => decided,
        Err(shared) => W::ask(shared, caller.identity).await.map_err(Stop::Wait)?,
    }
    .map_err(|refused| refused.by(&principal, renew_dpop_nonce))?;
    Ok(Admitted {
        principal: Some(principal),
        rate,
        renew_dpop_nonce,
        later: None,
    })
}

/// [`admit`] in the [`Now`] mode: polled once, as its steps never wait.
#[inline]
pub(super) fn admit_now(admission: &mut Admission<'_>) -> Result<Admitted, Stop<MustWait>> {
    let admitting = pin!(admit::<Now>(admission));
    match admitting.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(decided) => decided,
        // No step of `Now` waits; were one to, the request is admitted `Later`.
        Poll::Pending => Err(Stop::Wait(MustWait)),
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
#[derive(Default)]
pub(super) struct ClientIp(Option<Option<IpAddr>>);

impl ClientIp {
    /// An address already read (`None`: the request has none).
    pub(super) fn known(ip: Option<IpAddr>) -> Self {
        ClientIp(Some(ip))
    }

    /// The address if it was read already, without reading it.
    pub(super) fn read_so_far(&self) -> Option<IpAddr> {
        self.0.flatten()
    }

    /// The address of `request`, read once.
    pub(super) fn get(&mut self, context: &EndpointContext, request: &Request) -> Option<IpAddr> {
        *self
            .0
            .get_or_insert_with(|| client_ip(context, request.headers(), request.extensions()))
    }
}

/// The RateLimit fields of an allowed request.
pub(super) struct RateHeaders {
    pub(super) policy: HeaderValue,
    pub(super) limit: HeaderValue,
}

/// What the pipeline learned about the caller before the handler ran.
pub(super) struct Admitted {
    pub(super) principal: Option<Principal>,
    pub(super) rate: Option<RateHeaders>,
    /// The response carries a fresh DPoP server nonce: the proof's expires at the end of
    /// the current step.
    pub(super) renew_dpop_nonce: bool,
    /// On a public endpoint: what its optional authentication, in the handler, found (set
    /// when the request gets its context).
    pub(super) later: Option<Arc<LaterAuthentication>>,
}

/// Why the pipeline refused; rendered into a response once, at the end.
pub(super) enum Rejection {
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
pub(super) struct Refused {
    pub(super) rejection: Box<Rejection>,
    pub(super) principal: Option<Principal>,
    pub(super) detail: Option<String>,
    /// Whether the request's DPoP proof's server nonce expires at the end of the current
    /// step: the refusal carries the next one too.
    pub(super) renew_dpop_nonce: bool,
}

impl Refused {
    fn new(rejection: impl Into<Rejection>) -> Self {
        Refused {
            rejection: Box::new(rejection.into()),
            principal: None,
            detail: None,
            renew_dpop_nonce: false,
        }
    }

    /// The refusal of an authenticated caller, `principal`.
    fn by(self, principal: &Principal, renew_dpop_nonce: bool) -> Self {
        Refused {
            principal: Some(principal.clone()),
            renew_dpop_nonce,
            ..self
        }
    }
}

/// Who a public endpoint's quota counts: its IP, unless the quota is global (or there is
/// no quota: nothing is counted).
fn public_caller(admission: &mut Admission<'_>) -> Result<Caller<'static>, Refused> {
    let context = admission.context;
    if context.limits().is_none() {
        return Ok(Caller::GLOBAL);
    }
    match context.spec().rate_key {
        RateKeyKind::Global => Ok(Caller::GLOBAL),
        _ => admission
            .ip()
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
    admission: &mut Admission<'_>,
    principal: &'p Principal,
    custom: Option<&'p str>,
) -> Result<(Caller<'p>, usize), Refused> {
    let context = admission.context;
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
            admission
                .ip()
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
pub(super) struct Caller<'a> {
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
#[inline]
fn throttle<'c>(admission: &mut Admission<'c>) -> Result<Option<&'c FailureThrottle>, Refused> {
    let context = admission.context;
    let throttle = context.security().failure_throttle();
    if let Some(throttle) = throttle
        && throttle.blocks_anyone()
    {
        let Some(ip) = admission.ip() else {
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
#[inline]
fn authenticated_principal(
    admission: &mut Admission<'_>,
    throttle: Option<&FailureThrottle>,
    authenticated: Result<Option<Principal>, AuthFailure>,
) -> Result<Principal, Refused> {
    match authenticated {
        Ok(Some(principal)) => Ok(principal),
        Ok(None) => Err(refuse(admission, throttle, AuthFailure::MissingToken)),
        Err(failure) => Err(refuse(admission, throttle, failure)),
    }
}

/// The refusal for a failed authentication, counted against the client's IP.
fn refuse(
    admission: &mut Admission<'_>,
    throttle: Option<&FailureThrottle>,
    failure: AuthFailure,
) -> Refused {
    let context = admission.context;
    if let Some(throttle) = throttle
        && !failure.is_server_side()
    {
        match admission.ip() {
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
        Err(Refusal::Scope) => ForbiddenReason::InsufficientScope,
        Err(Refusal::Role) => ForbiddenReason::MissingRole,
    };
    Err(Refused::new(forbidden(context, requirements, reason)))
}

fn forbidden(
    context: &EndpointContext,
    requirements: &Requirements,
    reason: ForbiddenReason,
) -> ForbiddenRejection {
    ForbiddenRejection::new(
        context.security().realm_arc(),
        requirements.scope_hint(),
        reason,
    )
}

/// The endpoint's policy.
async fn apply(
    policy: Policy,
    context: &EndpointContext,
    requirements: &Requirements,
    principal: &Principal,
    request: &mut Request,
) -> Result<(), Refused> {
    let endpoint = (context.spec().handler, context.route());
    let decision = viewed(request, |parts, params| {
        (policy.check)(&PolicyRequest::new(principal, parts, endpoint, params))
    })
    .await;
    match decision {
        PolicyDecision::Allow => Ok(()),
        PolicyDecision::Deny(detail) => Err(Refused {
            detail: Some(format!("{}: {detail}", policy.name)),
            ..Refused::new(forbidden(
                context,
                requirements,
                ForbiddenReason::PolicyDenied,
            ))
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

/// The RateLimit fields of an allowed request, or the refusal of a limited one.
#[inline]
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
