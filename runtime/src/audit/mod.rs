//! Audit events: one per request decision, allow or deny.
//!
//! Every event goes to `tracing` on target `portcullis::audit` (cheap when no subscriber
//! listens) and to the configured [`AuditSink`]s, such as [`JsonLinesSink`]. Events never
//! hold a token, a secret or a request body: the route template (not the raw path), the
//! caller's subject and client, the scopes, the decision and its precise reason.

mod json_line;
mod json_lines;
pub(crate) mod latency;
mod request_id;

pub use json_lines::{JsonLinesSink, JsonLinesStats};
pub use request_id::{REQUEST_ID, RequestId};

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::alert::Denial;
use crate::auth::{AuthFailure, Principal};

/// The `tracing` target of audit events.
pub const AUDIT_TARGET: &str = "portcullis::audit";

/// Allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// The request reached the handler.
    Allow,
    /// The request was refused.
    Deny,
}

impl Decision {
    /// `allow` or `deny`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
        }
    }
}

/// Why a decision was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// Authenticated and authorized.
    Authorized,
    /// A public endpoint (whose handler may still have authenticated the caller through
    /// `Option<Principal>`: the event then names it).
    Public,
    /// Authentication failed.
    Authentication(AuthFailure),
    /// A required scope is missing.
    InsufficientScope,
    /// A required role is missing.
    MissingRole,
    /// The endpoint's policy refused.
    PolicyDenied,
    /// The client's quota is used up.
    RateLimited,
    /// The client IP failed authentication too often and is throttled before verification.
    AuthenticationThrottled,
    /// An input failed parsing or validation.
    InvalidInput,
    /// The shared rate-limit store did not answer, and the configuration refuses then.
    RateLimitUnavailable,
    /// The request is for a route the app's [`Guard`](crate::Guard) does not list: neither
    /// mounted through Portcullis nor declared deliberately unsecured.
    UnlistedRoute,
    /// A decision keyed by the client's IP found no address: the server is served without
    /// `ConnectInfo` and no trusted proxy named the client (a misconfiguration: 500).
    ClientAddressUnknown,
}

impl Reason {
    /// A stable snake_case name.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Reason::Authorized => "authorized",
            Reason::Public => "public",
            Reason::Authentication(failure) => failure.as_str(),
            Reason::InsufficientScope => "insufficient_scope",
            Reason::MissingRole => "missing_role",
            Reason::PolicyDenied => "policy_denied",
            Reason::RateLimited => "rate_limited",
            Reason::AuthenticationThrottled => "authentication_throttled",
            Reason::InvalidInput => "invalid_input",
            Reason::RateLimitUnavailable => "rate_limit_unavailable",
            Reason::UnlistedRoute => "unlisted_route",
            Reason::ClientAddressUnknown => "client_address_unknown",
        }
    }
}

/// One audited decision.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    /// When the request arrived and its decision was taken (its response left
    /// [`latency`](Self::latency) later).
    pub time: SystemTime,
    /// The request's id: its `X-Request-Id` when well formed, else a generated one (and
    /// either way sent back in the response's `X-Request-Id`).
    pub request_id: &'a str,
    /// The handler's name.
    pub handler: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// The route template, such as `/orders/{id}` (never the raw path).
    pub route: &'static str,
    /// Allow or deny.
    pub decision: Decision,
    /// Why.
    pub reason: Reason,
    /// A policy's own explanation of a denial.
    pub detail: Option<&'a str>,
    /// The token's subject, once verified (on a `#[public]` endpoint, by its handler's
    /// optional authentication).
    pub subject: Option<&'a str>,
    /// The token's client, once verified.
    pub client: Option<&'a str>,
    /// The client IP, when known.
    pub ip: Option<IpAddr>,
    /// The scopes the endpoint requires (all of).
    pub required_scopes: &'static [&'static str],
    /// The scopes the token grants, once verified.
    pub granted_scopes: &'a [String],
    /// The verified caller, whose subject, client and scopes the fields above repeat; a
    /// sink can read more of it (its roles, its token id, a claim).
    pub principal: Option<&'a Principal>,
    /// The HTTP status of the response.
    pub status: u16,
    /// Time from the request entering Portcullis to the response leaving it.
    pub latency: Duration,
}

impl AuditEvent<'_> {
    /// What the alerts count of this decision: nothing for an allowed request, nor for a
    /// refusal that is the server's own (unavailable keys, stores or addresses).
    pub(crate) fn denial(&self) -> Option<Denial<'_>> {
        if self.decision == Decision::Allow {
            return None;
        }
        match self.reason {
            Reason::Authentication(AuthFailure::Revoked) => Some(Denial::RevokedToken),
            Reason::Authentication(failure) if !failure.is_server_side() => {
                Some(Denial::AuthenticationFailed { ip: self.ip })
            }
            Reason::UnlistedRoute => Some(Denial::UnlistedRoute { ip: self.ip }),
            Reason::Authentication(_)
            | Reason::RateLimitUnavailable
            | Reason::ClientAddressUnknown => None,
            _ => Some(Denial::ClientDenied {
                client: self.client,
            }),
        }
    }
}

/// A destination for audit events besides `tracing`.
///
/// ```
/// use portcullis_runtime::audit::{AuditEvent, AuditSink};
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// #[derive(Default)]
/// struct CountDenials(AtomicUsize);
///
/// impl AuditSink for CountDenials {
///     fn record(&self, event: &AuditEvent<'_>) {
///         if event.decision == portcullis_runtime::audit::Decision::Deny {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
/// ```
pub trait AuditSink: Send + Sync + 'static {
    /// Records one event. Called on the request path: must not block.
    fn record(&self, event: &AuditEvent<'_>);

    /// Receives the configuration's alerts, to report events it loses (an
    /// [`AlertKind::AuditEventsLost`](crate::alert::AlertKind::AuditEventsLost)). Called
    /// once when the configuration is built; the default ignores them.
    fn attach_alerts(&self, alerts: crate::alert::AlertHandle) {
        let _ = alerts;
    }
}

impl<F> AuditSink for F
where
    F: Fn(&AuditEvent<'_>) + Send + Sync + 'static,
{
    fn record(&self, event: &AuditEvent<'_>) {
        self(event)
    }
}

/// The configured sinks.
#[derive(Clone, Default)]
pub(crate) struct Auditor {
    sinks: Vec<Arc<dyn AuditSink>>,
}

impl Auditor {
    pub(crate) fn add(&mut self, sink: Arc<dyn AuditSink>) {
        self.sinks.push(sink);
    }

    /// Hands `alerts` to every sink.
    pub(crate) fn attach_alerts(&self, alerts: &crate::alert::AlertHandle) {
        for sink in &self.sinks {
            sink.attach_alerts(alerts.clone());
        }
    }

    /// Whether an allowed request's event goes anywhere: a sink, or a `tracing`
    /// subscriber that takes `portcullis::audit` at INFO.
    #[inline]
    pub(crate) fn listening_to_allowed(&self) -> bool {
        !self.sinks.is_empty() || tracing::enabled!(target: AUDIT_TARGET, tracing::Level::INFO)
    }

    /// Whether any event goes anywhere (denials are logged at WARN): when none does, a
    /// request's latency need not be measured.
    #[inline]
    pub(crate) fn listening(&self) -> bool {
        !self.sinks.is_empty() || tracing::enabled!(target: AUDIT_TARGET, tracing::Level::WARN)
    }

    /// Emits `event` to `tracing` and every sink.
    pub(crate) fn emit(&self, event: &AuditEvent<'_>) {
        match event.decision {
            Decision::Allow => tracing::info!(
                target: AUDIT_TARGET,
                request_id = %event.request_id,
                handler = %event.handler,
                method = %event.method,
                route = %event.route,
                decision = %event.decision.as_str(),
                reason = %event.reason.as_str(),
                subject = event.subject,
                client = event.client,
                ip = event.ip.map(tracing::field::display),
                status = event.status,
                latency_us = event.latency.as_micros() as u64,
            ),
            Decision::Deny => tracing::warn!(
                target: AUDIT_TARGET,
                request_id = %event.request_id,
                handler = %event.handler,
                method = %event.method,
                route = %event.route,
                decision = %event.decision.as_str(),
                reason = %event.reason.as_str(),
                detail = event.detail,
                subject = event.subject,
                client = event.client,
                ip = event.ip.map(tracing::field::display),
                status = event.status,
                latency_us = event.latency.as_micros() as u64,
            ),
        }
        for sink in &self.sinks {
            sink.record(event);
        }
    }
}
