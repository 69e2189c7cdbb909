//! The per-endpoint pipeline: the bearer guard and the throttle of failed
//! authentication, authentication, authorization, the rate limit, then the handler; the
//! RateLimit fields and `Cache-Control` on the way out; one audit event per request.

mod admission;
#[cfg(test)]
mod tests;

use admission::{Admission, Admitted, ClientIp, Later, Refused, Stop, admit, admit_now};

use crate::context::{EndpointContext, LaterAuthentication, RESPONSE_FIELDS, RequestContext};

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::extract::Request;
use axum::handler::Handler;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode, header};

use crate::audit::latency::Started;
use crate::audit::{AuditEvent, Decision, REQUEST_ID, Reason, RequestId};
use crate::auth::Principal;
use crate::rate::headers;
use crate::rejection::{DenialReason, close_when_body_unread};

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
    /// verify, shared stores) are admitted again on the asynchronous path, by the same
    /// rules (`admission.rs`).
    fn call(self, mut request: Request, state: S) -> Self::Future {
        let Secured { handler, context } = self;
        let mut ip = ClientIp::default();
        let mut arrival = Arrival::of(&context, &request, &mut ip);
        let decided = if context.decides_without_waiting() {
            admit_now(&mut Admission {
                context: &context,
                request: &mut request,
                ip: &mut ip,
                arrived: arrival.time,
            })
        } else {
            Err(Stop::Wait(admission::MustWait))
        };
        // A refusal's audit event and alerts, and the asynchronous path, need the address.
        arrival.ip = match decided {
            Ok(_) => ip.read_so_far(),
            Err(_) => ip.get(&context, &request),
        };
        match decided {
            Ok(mut admitted) => {
                add_context(&context, &mut request, &mut admitted, &arrival);
                SecuredFuture::Handling {
                    handling: handler.call(request, state),
                    finish: Some(Finish {
                        context,
                        admitted,
                        arrival,
                    }),
                }
            }
            Err(Stop::Refused(refused)) => {
                let mut response = reject(&context, refused, &arrival);
                close_when_body_unread(&request, &mut response);
                SecuredFuture::Refused {
                    response: Some(response),
                }
            }
            Err(Stop::Wait(_)) => SecuredFuture::Waiting {
                future: Box::pin(async move {
                    let mut ip = ClientIp::known(arrival.ip);
                    let mut admission = Admission {
                        context: &context,
                        request: &mut request,
                        ip: &mut ip,
                        arrived: arrival.time,
                    };
                    match admit::<Later>(&mut admission).await {
                        Ok(mut admitted) => {
                            add_context(&context, &mut request, &mut admitted, &arrival);
                            let response = handler.call(request, state).await;
                            respond(&context, response, admitted, &arrival)
                        }
                        Err(Stop::Refused(refused)) => {
                            let mut response = reject(&context, refused, &arrival);
                            close_when_body_unread(&request, &mut response);
                            response
                        }
                        Err(Stop::Wait(never)) => match never {},
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
    /// When it arrived, by the wall clock: the time of its audit event, and the time its
    /// token is checked at. Only read when an audit event may record it.
    time: Option<SystemTime>,
    /// When it arrived, by the latency clock, for the latency its audit event records.
    started: Option<Started>,
}

impl Arrival {
    /// The arrival of `request`; its address and times are read now only when someone
    /// listens.
    fn of(context: &EndpointContext, request: &Request, ip: &mut ClientIp) -> Arrival {
        let listening = context.security().auditor().listening();
        let (started, time) = match listening {
            true => {
                let (started, time) = Started::now_with_wall_time();
                (Some(started), Some(time))
            }
            false => (None, None),
        };
        Arrival {
            request_id: RequestId::from_headers(request.headers()),
            ip: if listening {
                ip.get(context, request)
            } else {
                None
            },
            time,
            started,
        }
    }
}

/// An admitted request, with what the handler's extractors read.
fn add_context(
    context: &Arc<EndpointContext>,
    request: &mut Request,
    admitted: &mut Admitted,
    arrival: &Arrival,
) {
    if context.authenticates_later() {
        admitted.later = Some(Arc::default());
    }
    request.extensions_mut().insert(RequestContext::new(
        context.clone(),
        arrival.request_id.clone(),
        admitted.principal.clone(),
        admitted.later.clone(),
    ));
}

/// Where a response gives the client the DPoP server nonce to use next.
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The handler's response, with the fields of the pipeline, audited.
fn respond(
    context: &EndpointContext,
    mut response: Response,
    admitted: Admitted,
    arrival: &Arrival,
) -> Response {
    let Admitted {
        principal,
        rate,
        renew_dpop_nonce,
        later,
    } = admitted;
    // On a public endpoint, the caller its handler authenticated, if it did.
    let later_principal = later.as_deref().and_then(LaterAuthentication::principal);
    let principal = principal.as_ref().or(later_principal);
    // An extractor's rejection, or a handler's `ApiError`, in the API's error format.
    context.security().renderer().finish(&mut response);
    let response_headers = response.headers_mut();
    // At most one rebuild, while the map is small (none for `Json`, made with the room).
    response_headers.reserve(RESPONSE_FIELDS.saturating_sub(response_headers.len()));
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
    response_headers.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    if renew_dpop_nonce
        || later
            .as_deref()
            .is_some_and(LaterAuthentication::dpop_nonce_renewal_asked)
    {
        renew_the_dpop_nonce(context, &mut response);
    }
    let seen = Seen {
        arrival,
        principal,
        detail: None,
    };
    audit(context, &response, seen);
    response
}

/// Gives the client the next DPoP server nonce: the one its proof carried expires at the
/// end of this step, and the next, sent before the client needs it (RFC 9449 §8.2), saves
/// it a refusal.
fn renew_the_dpop_nonce(context: &EndpointContext, response: &mut Response) {
    if let Some(nonce) = context
        .security()
        .dpop_nonce()
        .and_then(|nonce| HeaderValue::try_from(nonce).ok())
    {
        response.headers_mut().insert(DPOP_NONCE, nonce);
    }
}

/// `X-Content-Type-Options` of every response of an endpoint: its body is what its
/// `Content-Type` says, never sniffed as something else (a page, a script).
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");

/// The response to a refused request, audited.
fn reject(context: &EndpointContext, refused: Refused, arrival: &Arrival) -> Response {
    let mut response = (*refused.rejection).into_response();
    context.security().renderer().finish(&mut response);
    let response_headers = response.headers_mut();
    response_headers.insert(REQUEST_ID, arrival.request_id.header_value());
    response_headers.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    if refused.renew_dpop_nonce {
        renew_the_dpop_nonce(context, &mut response);
    }
    let seen = Seen {
        arrival,
        principal: refused.principal.as_ref(),
        detail: refused.detail.as_deref(),
    };
    audit(context, &response, seen);
    response
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
        // A public endpoint's caller may be known (its handler authenticated it): the
        // decision was still that the endpoint is public.
        None if seen.principal.is_some() && !context.authenticates_later() => {
            (Decision::Allow, Reason::Authorized)
        }
        None => (Decision::Allow, Reason::Public),
    };
    context.metrics().decision(decision, reason);
    let security = context.security();
    if decision == Decision::Allow && !security.auditor().listening_to_allowed() {
        return;
    }
    let event = AuditEvent {
        time: seen.arrival.time.unwrap_or_else(SystemTime::now),
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
        principal: seen.principal,
        status: response.status().as_u16(),
        latency: seen
            .arrival
            .started
            .map_or(Duration::ZERO, Started::elapsed),
    };
    security.auditor().emit(&event);
    if let Some(denial) = event.denial() {
        security.alerter().observe(denial);
    }
}
