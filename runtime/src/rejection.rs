//! Every way Portcullis refuses a request, each a type that renders the standard answer:
//! RFC 6750 `WWW-Authenticate` challenges, `Retry-After`, and RFC 9457 problem details.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::body::HttpBody;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, Request, StatusCode, Version, header};

use crate::audit::Reason;
use crate::auth::{AuthFailure, BearerErrorCode, DpopFailure};
use crate::context::RequestContext;
use crate::problem::{FieldViolation, Problem};

/// Marks a refusal answered before `request`'s body was read as the connection's last
/// answer (`Connection: close`), on HTTP/1.1 and older. hyper does not read an unread
/// body of any length to keep the connection: it closes the connection unless the whole
/// body has already arrived, and decides so after writing the response. Said in the
/// response, the client does not send its next request into a connection about to close.
/// HTTP/2 ends the stream alone, and keeps the connection.
pub(crate) fn close_when_body_unread<B: HttpBody>(request: &Request<B>, response: &mut Response) {
    if request.version() <= Version::HTTP_11 && !request.body().is_end_stream() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

/// The realm used when no configuration is at hand.
pub const DEFAULT_REALM: &str = "api";

/// Marks a response with the reason it was refused, for the audit event the pipeline
/// writes once the response is known.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DenialReason(pub(crate) Reason);

fn challenge(realm: &str, error: Option<(&str, &str)>, scope: Option<&str>) -> HeaderValue {
    scheme_challenge("Bearer", realm, error, scope, None)
}

/// A challenge of `scheme` (`Bearer`, `DPoP`), with an error, a scope and the algorithms a
/// DPoP proof may use (`algs`, RFC 9449 §7.1) when given.
fn scheme_challenge(
    scheme: &'static str,
    realm: &str,
    error: Option<(&str, &str)>,
    scope: Option<&str>,
    algs: Option<&str>,
) -> HeaderValue {
    let mut value = format!("{scheme} realm=\"{realm}\"");
    if let Some((code, description)) = error {
        let _ = write!(
            value,
            ", error=\"{code}\", error_description=\"{description}\""
        );
    }
    if let Some(scope) = scope {
        let _ = write!(value, ", scope=\"{scope}\"");
    }
    if let Some(algs) = algs {
        let _ = write!(value, ", algs=\"{algs}\"");
    }
    // The realm is checked when configured, scopes when declared, algorithms are JWA
    // names, descriptions are ours: all visible ASCII without quotes or backslashes.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(scheme))
}

fn with_reason(mut response: Response, reason: Reason) -> Response {
    response.extensions_mut().insert(DenialReason(reason));
    response
}

/// Authentication failed: 401 with a Bearer challenge (400 for a malformed request), and a
/// DPoP challenge when DPoP is configured (RFC 9449 §7.1); a failed DPoP proof or binding
/// is told in the DPoP challenge.
#[derive(Debug, Clone)]
pub struct AuthRejection {
    failure: AuthFailure,
    realm: Arc<str>,
    /// Whether the description names the precise reason (development only).
    detailed: bool,
    /// The algorithms of the DPoP challenge, when DPoP is configured.
    dpop_algs: Option<Arc<str>>,
    /// A fresh server nonce, for a `use_dpop_nonce` answer.
    dpop_nonce: Option<String>,
}

impl AuthRejection {
    /// A rejection for `failure`, challenging for `realm`.
    pub fn new(failure: AuthFailure, realm: Arc<str>) -> Self {
        AuthRejection {
            failure,
            realm,
            detailed: false,
            dpop_algs: None,
            dpop_nonce: None,
        }
    }

    /// A rejection for `failure` with the realm and settings of the configuration
    /// `security`.
    pub fn configured(failure: AuthFailure, security: &crate::Security) -> Self {
        AuthRejection {
            failure,
            realm: security.realm_arc(),
            detailed: security.error_details(),
            dpop_algs: security.dpop_algs(),
            dpop_nonce: match failure {
                AuthFailure::Dpop(DpopFailure::UseNonce) => security.dpop_nonce(),
                _ => None,
            },
        }
    }

    /// A rejection for `failure` with the realm of the endpoint `parts` belongs to.
    pub fn for_request(parts: &Parts, failure: AuthFailure) -> Self {
        match parts.extensions.get::<RequestContext>() {
            Some(context) => AuthRejection::configured(failure, context.security()),
            None => AuthRejection::new(failure, Arc::from(DEFAULT_REALM)),
        }
    }

    /// The precise reason (never sent to the client).
    pub fn failure(&self) -> AuthFailure {
        self.failure
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        if let Some(retry_after) = self.failure.retry_after() {
            // Not the client's fault: the server cannot check the token now (its issuer's
            // keys have not arrived, or the revocation store did not answer), and refuses
            // rather than guess.
            let secs = crate::rate::ceil_secs(retry_after).max(1);
            let mut response = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service Unavailable",
            )
            .with_detail("the access token cannot be checked right now; retry later")
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return with_reason(response, Reason::Authentication(self.failure));
        }
        let code = self.failure.error_code();
        let description: Cow<'static, str> = if self.detailed && code.is_some() {
            Cow::Owned(self.failure.to_string())
        } else {
            Cow::Borrowed(self.failure.public_description())
        };
        let (status, kind, title) = match code {
            None => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            Some(BearerErrorCode::InvalidToken) => (
                StatusCode::UNAUTHORIZED,
                "invalid-token",
                "Invalid access token",
            ),
            Some(BearerErrorCode::InvalidRequest) => (
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "Invalid authentication request",
            ),
            Some(BearerErrorCode::InvalidDpopProof) => (
                StatusCode::UNAUTHORIZED,
                "invalid-dpop-proof",
                "Invalid DPoP proof",
            ),
            Some(BearerErrorCode::UseDpopNonce) => (
                StatusCode::UNAUTHORIZED,
                "use-dpop-nonce",
                "DPoP nonce required",
            ),
        };
        let mut response = Problem::new(status, kind, title)
            .with_detail(description.clone())
            .into_response();
        let error = code.map(|code| (code.as_str(), description.as_ref()));
        let dpop_error = matches!(self.failure, AuthFailure::Dpop(_));
        let headers = response.headers_mut();
        if let Some(nonce) = self
            .dpop_nonce
            .as_deref()
            .and_then(|nonce| HeaderValue::from_str(nonce).ok())
        {
            headers.insert("dpop-nonce", nonce);
        }
        if dpop_error {
            headers.append(
                header::WWW_AUTHENTICATE,
                scheme_challenge("DPoP", &self.realm, error, None, self.dpop_algs.as_deref()),
            );
            headers.append(header::WWW_AUTHENTICATE, challenge(&self.realm, None, None));
        } else {
            headers.append(
                header::WWW_AUTHENTICATE,
                challenge(&self.realm, error, None),
            );
            if let Some(algs) = &self.dpop_algs {
                headers.append(
                    header::WWW_AUTHENTICATE,
                    scheme_challenge("DPoP", &self.realm, None, None, Some(algs)),
                );
            }
        }
        with_reason(response, Reason::Authentication(self.failure))
    }
}

/// Why a valid token was not enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForbiddenReason {
    /// A required scope is missing.
    InsufficientScope,
    /// A required role is missing.
    MissingRole,
    /// The endpoint's policy refused.
    PolicyDenied,
}

impl From<ForbiddenReason> for Reason {
    fn from(reason: ForbiddenReason) -> Reason {
        match reason {
            ForbiddenReason::InsufficientScope => Reason::InsufficientScope,
            ForbiddenReason::MissingRole => Reason::MissingRole,
            ForbiddenReason::PolicyDenied => Reason::PolicyDenied,
        }
    }
}

/// The token is valid but not enough: 403 `insufficient_scope`.
#[derive(Debug, Clone)]
pub struct ForbiddenRejection {
    realm: Arc<str>,
    scope: Option<String>,
    reason: ForbiddenReason,
}

impl ForbiddenRejection {
    /// A refusal for `reason`, naming the `scopes` that would have been enough.
    pub fn new<'a>(
        realm: Arc<str>,
        scopes: impl IntoIterator<Item = &'a str>,
        reason: ForbiddenReason,
    ) -> Self {
        let mut joined = String::new();
        for scope in scopes {
            if !joined.is_empty() {
                joined.push(' ');
            }
            joined.push_str(scope);
        }
        ForbiddenRejection {
            realm,
            scope: (!joined.is_empty()).then_some(joined),
            reason,
        }
    }
}

impl IntoResponse for ForbiddenRejection {
    fn into_response(self) -> Response {
        let detail = match self.reason {
            ForbiddenReason::InsufficientScope => "the access token lacks a required scope",
            ForbiddenReason::MissingRole => "the access token lacks a required role",
            ForbiddenReason::PolicyDenied => {
                "the access policy of this endpoint refused the request"
            }
        };
        let mut response = Problem::new(StatusCode::FORBIDDEN, "insufficient-scope", "Forbidden")
            .with_detail(detail)
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            challenge(
                &self.realm,
                Some(("insufficient_scope", detail)),
                self.scope.as_deref(),
            ),
        );
        with_reason(response, self.reason.into())
    }
}

/// The problem type of draft-ietf-httpapi-ratelimit-headers-10 §5.1 for a used-up quota.
pub const QUOTA_EXCEEDED: &str = "https://iana.org/assignments/http-problem-types#quota-exceeded";

/// The problem type of draft-ietf-httpapi-ratelimit-headers-10 §5.3, for a client throttled
/// for failing authentication too often.
pub const ABNORMAL_USAGE: &str =
    "https://iana.org/assignments/http-problem-types#abnormal-usage-detected";

/// The policy name of the throttle of failed authentication.
pub const AUTHENTICATION_POLICY: &str = "authentication-failures";

/// Which limit a [`RateLimitedRejection`] is for.
#[derive(Debug, Clone, Copy)]
enum Limited {
    /// The endpoint's quota.
    Quota,
    /// The throttle of failed authentication.
    FailedAuthentication,
}

/// The quota is used up: 429 with `Retry-After` and the RateLimit fields.
#[derive(Debug, Clone)]
pub struct RateLimitedRejection {
    retry_after: Duration,
    reason: Limited,
    policy: String,
    policy_header: HeaderValue,
}

impl RateLimitedRejection {
    /// The quota of `policy` is used up; a request is allowed again after `retry_after`.
    pub fn quota_exceeded(retry_after: Duration, policy: &str, policy_header: HeaderValue) -> Self {
        RateLimitedRejection {
            retry_after,
            reason: Limited::Quota,
            policy: policy.to_owned(),
            policy_header,
        }
    }

    /// The client IP failed authentication more often than `rate` allows.
    pub fn authentication_throttled(retry_after: Duration, rate: crate::rate::Rate) -> Self {
        RateLimitedRejection {
            retry_after,
            reason: Limited::FailedAuthentication,
            policy: AUTHENTICATION_POLICY.to_owned(),
            policy_header: crate::rate::headers::policy_value(AUTHENTICATION_POLICY, rate),
        }
    }

    /// Whole seconds to wait, rounded up, at least one.
    pub fn retry_after_secs(&self) -> u64 {
        crate::rate::ceil_secs(self.retry_after).max(1)
    }
}

impl IntoResponse for RateLimitedRejection {
    fn into_response(self) -> Response {
        let secs = self.retry_after_secs();
        let (problem, reason) = match self.reason {
            Limited::FailedAuthentication => (
                Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "abnormal-usage-detected",
                    "Request not satisfied due to detection of abnormal request pattern",
                )
                .with_type_uri(ABNORMAL_USAGE)
                .with_detail(format!(
                    "too many failed authentications; retry in {secs} s"
                )),
                Reason::AuthenticationThrottled,
            ),
            Limited::Quota => (
                Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "quota-exceeded",
                    "Request cannot be satisfied as assigned quota has been exceeded",
                )
                .with_type_uri(QUOTA_EXCEEDED)
                .with_detail(format!("the quota is used up; retry in {secs} s")),
                Reason::RateLimited,
            ),
        };
        let limit = crate::rate::headers::limit_value(&self.policy, 0, Duration::from_secs(secs));
        let mut response = problem
            .with_extension("violated-policies", vec![self.policy])
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        headers.insert(crate::rate::headers::RATELIMIT_POLICY, self.policy_header);
        headers.insert(crate::rate::headers::RATELIMIT, limit);
        with_reason(response, reason)
    }
}

/// A shared store did not answer and the configuration fails closed: 503.
#[derive(Debug, Clone)]
pub struct UnavailableRejection {
    detail: &'static str,
    reason: Reason,
}

impl UnavailableRejection {
    /// The rate-limit store is unreachable.
    pub fn rate_limits() -> Self {
        UnavailableRejection {
            detail: "the rate limits cannot be checked right now; retry later",
            reason: Reason::RateLimitUnavailable,
        }
    }
}

impl IntoResponse for UnavailableRejection {
    fn into_response(self) -> Response {
        let mut response = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service Unavailable",
        )
        .with_detail(self.detail)
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        with_reason(response, self.reason)
    }
}

/// The server is misconfigured for this request: a decision keyed by the client's IP
/// found no address (served without `ConnectInfo`, and no trusted proxy named the
/// client). 500, so that nobody is counted in a shared bucket or let through unthrottled.
#[derive(Debug, Clone)]
pub struct MisconfiguredRejection(());

impl MisconfiguredRejection {
    /// No client address for an IP-keyed decision.
    pub fn client_address_unknown() -> Self {
        MisconfiguredRejection(())
    }
}

impl IntoResponse for MisconfiguredRejection {
    fn into_response(self) -> Response {
        let response = Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server-misconfigured",
            "Internal Server Error",
        )
        .with_detail("the server cannot tell the client's address")
        .into_response();
        with_reason(response, Reason::ClientAddressUnknown)
    }
}

/// An input was refused: 400, 413, 415 or 422 with the fields at fault.
#[derive(Debug, Clone)]
pub struct InputRejection {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: Cow<'static, str>,
    errors: Vec<FieldViolation>,
}

impl InputRejection {
    /// 400: the input could not be parsed.
    pub fn malformed(detail: impl Into<Cow<'static, str>>, errors: Vec<FieldViolation>) -> Self {
        InputRejection {
            status: StatusCode::BAD_REQUEST,
            kind: "malformed-input",
            title: "Malformed input",
            detail: detail.into(),
            errors,
        }
    }

    /// 413: the body is larger than the limit.
    pub fn too_large(limit: usize) -> Self {
        InputRejection {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            kind: "payload-too-large",
            title: "Payload Too Large",
            detail: format!("the request body exceeds {limit} bytes").into(),
            errors: Vec::new(),
        }
    }

    /// 415: the body has the wrong media type.
    pub fn unsupported_media_type(expected: &'static str) -> Self {
        InputRejection {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            kind: "unsupported-media-type",
            title: "Unsupported Media Type",
            detail: format!("expected a `Content-Type: {expected}` body").into(),
            errors: Vec::new(),
        }
    }

    /// 422: the input parsed but is not acceptable (wrong types, unknown fields, failed
    /// validation rules).
    pub fn invalid(detail: impl Into<Cow<'static, str>>, errors: Vec<FieldViolation>) -> Self {
        InputRejection {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            kind: "invalid-input",
            title: "Invalid input",
            detail: detail.into(),
            errors,
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The fields at fault.
    pub fn errors(&self) -> &[FieldViolation] {
        &self.errors
    }
}

impl IntoResponse for InputRejection {
    fn into_response(self) -> Response {
        let response = Problem::new(self.status, self.kind, self.title)
            .with_detail(self.detail)
            .with_errors(self.errors)
            .into_response();
        with_reason(response, Reason::InvalidInput)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal_to(version: Version, body: &'static str) -> Response {
        let request = Request::builder()
            .method("POST")
            .version(version)
            .body(axum::body::Body::from(body))
            .unwrap();
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        close_when_body_unread(&request, &mut response);
        response
    }

    #[test]
    fn only_an_http_1_refusal_with_a_body_left_closes_the_connection() {
        let close = |response: Response| response.headers().get(header::CONNECTION).cloned();
        let closing = Some(HeaderValue::from_static("close"));
        assert_eq!(close(refusal_to(Version::HTTP_11, "{\"item\":")), closing);
        assert_eq!(close(refusal_to(Version::HTTP_10, "{")), closing);
        assert_eq!(close(refusal_to(Version::HTTP_11, "")), None);
        assert_eq!(close(refusal_to(Version::HTTP_2, "{")), None);
    }
}
