//! Why a request failed authentication: the precise reason for the audit log, and the
//! standard RFC 6750 answer for the client.

use std::fmt;
use std::time::Duration;

use super::dpop::DpopFailure;

/// The precise reason a bearer token was not accepted.
///
/// The audit log records [`as_str`](AuthFailure::as_str); the client only ever learns the
/// RFC 6750 error code and a short description, never which check failed (except that
/// an expired token says so, which lets honest clients refresh).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthFailure {
    /// No `Authorization` header, or one with another scheme than `Bearer`.
    MissingToken,
    /// More than one `Authorization` header.
    MultipleAuthorizationHeaders,
    /// An access token in the query string (RFC 6750 §2.3 is not supported: URLs leak).
    TokenInQuery,
    /// The token is longer than the configured cap.
    TokenTooLarge,
    /// Not a compact JWS: wrong number of parts, bad base64url, bad JSON.
    Malformed,
    /// The header's `alg` is `none`, unknown, or not allowed for the issuer.
    AlgorithmNotAllowed,
    /// The header lists `crit` extensions, none of which are understood.
    CriticalHeader,
    /// The header's `typ` is not the one the issuer requires.
    WrongType,
    /// The `kid` is not among the issuer's signing keys.
    UnknownKey,
    /// No `kid`, and more than one key could have signed the token.
    AmbiguousKey,
    /// The key found cannot be used with the token's algorithm.
    KeyAlgorithmMismatch,
    /// The issuer has no usable keys at all: every token fails (and an alert is raised).
    NoKeys,
    /// The signature does not verify.
    BadSignature,
    /// The payload repeats a claim name.
    DuplicateClaim,
    /// A required claim is missing.
    MissingClaim(&'static str),
    /// A claim has the wrong type or an impossible value.
    MalformedClaim(&'static str),
    /// The `iss` claim names no configured issuer.
    UnknownIssuer,
    /// The `iss` claim fits an issuer template
    /// ([`Issuer::discover_tenants`](crate::Issuer::discover_tenants)) for a tenant not on
    /// its list. Nothing is fetched for such a tenant.
    TenantNotAllowed,
    /// The `tid` claim of a tenant's token is not the tenant its `iss` names.
    TenantMismatch,
    /// The `aud` claim does not name this API.
    WrongAudience,
    /// `exp` has passed.
    Expired,
    /// `nbf` is still in the future.
    NotYetValid,
    /// `iat` is in the future.
    IssuedInFuture,
    /// `exp - iat` is longer than the issuer's maximum token lifetime.
    LifetimeTooLong,
    /// The token was revoked.
    Revoked,
    /// The revocation store could not say whether the token was revoked (it fails closed).
    RevocationUnavailable,
    /// The token names an issuer whose signing keys have not arrived yet (its discovery
    /// or first key fetch keeps failing, and is retried in the background). The request
    /// is answered 503 with `Retry-After`.
    KeysUnavailable {
        /// How long until the next attempt to fetch the keys.
        retry_after: Duration,
    },
    /// The route takes a principal but was not mounted through `#[secure]`.
    NotAuthenticated,
    /// The token is bound (`cnf`) by a confirmation method Portcullis does not check (an
    /// embedded key, a key id): refused, since accepting it as a bearer token would let
    /// whoever holds it use it.
    UnsupportedConfirmation,
    /// A DPoP-bound token or a DPoP proof was refused (RFC 9449).
    Dpop(DpopFailure),
    /// A certificate-bound token (`cnf.x5t#S256`, RFC 8705) on a connection without a client
    /// certificate.
    CertificateMissing,
    /// A certificate-bound token on a connection whose client certificate is another.
    CertificateMismatch,
    /// The issuer's introspection endpoint answered that the opaque token is not active
    /// (unknown, expired, revoked, or not for this resource server), now or within the
    /// time inactive answers are kept.
    InactiveToken,
    /// The issuer's introspection endpoint could not be asked about an opaque token, failed,
    /// or answered what cannot be read. The request is answered 503 (fail closed).
    IntrospectionUnavailable,
}

/// The RFC 6750 error code of a failure, if it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerErrorCode {
    /// `invalid_request` (400): the request itself is malformed.
    InvalidRequest,
    /// `invalid_token` (401).
    InvalidToken,
    /// `invalid_dpop_proof` (401, RFC 9449): the DPoP proof is missing or does not hold.
    InvalidDpopProof,
    /// `use_dpop_nonce` (401, RFC 9449 §8): the proof must carry the server's nonce, given
    /// in `DPoP-Nonce`.
    UseDpopNonce,
}

impl BearerErrorCode {
    /// The code as it appears in `WWW-Authenticate`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            BearerErrorCode::InvalidRequest => "invalid_request",
            BearerErrorCode::InvalidToken => "invalid_token",
            BearerErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            BearerErrorCode::UseDpopNonce => "use_dpop_nonce",
        }
    }
}

impl AuthFailure {
    /// A stable snake_case name for logs, metrics and audit events.
    pub const fn as_str(&self) -> &'static str {
        match self {
            AuthFailure::MissingToken => "missing_token",
            AuthFailure::MultipleAuthorizationHeaders => "multiple_authorization_headers",
            AuthFailure::TokenInQuery => "token_in_query",
            AuthFailure::TokenTooLarge => "token_too_large",
            AuthFailure::Malformed => "malformed_token",
            AuthFailure::AlgorithmNotAllowed => "algorithm_not_allowed",
            AuthFailure::CriticalHeader => "critical_header",
            AuthFailure::WrongType => "wrong_token_type",
            AuthFailure::UnknownKey => "unknown_kid",
            AuthFailure::AmbiguousKey => "ambiguous_key",
            AuthFailure::KeyAlgorithmMismatch => "key_algorithm_mismatch",
            AuthFailure::NoKeys => "no_keys",
            AuthFailure::BadSignature => "bad_signature",
            AuthFailure::DuplicateClaim => "duplicate_claim",
            AuthFailure::MissingClaim(_) => "missing_claim",
            AuthFailure::MalformedClaim(_) => "malformed_claim",
            AuthFailure::UnknownIssuer => "unknown_issuer",
            AuthFailure::TenantNotAllowed => "tenant_not_allowed",
            AuthFailure::TenantMismatch => "tenant_mismatch",
            AuthFailure::WrongAudience => "wrong_audience",
            AuthFailure::Expired => "expired",
            AuthFailure::NotYetValid => "not_yet_valid",
            AuthFailure::IssuedInFuture => "issued_in_future",
            AuthFailure::LifetimeTooLong => "lifetime_too_long",
            AuthFailure::Revoked => "revoked",
            AuthFailure::RevocationUnavailable => "revocation_unavailable",
            AuthFailure::KeysUnavailable { .. } => "keys_unavailable",
            AuthFailure::NotAuthenticated => "not_authenticated",
            AuthFailure::UnsupportedConfirmation => "unsupported_confirmation",
            AuthFailure::Dpop(failure) => failure.as_str(),
            AuthFailure::CertificateMissing => "certificate_missing",
            AuthFailure::CertificateMismatch => "certificate_mismatch",
            AuthFailure::InactiveToken => "inactive_token",
            AuthFailure::IntrospectionUnavailable => "introspection_unavailable",
        }
    }

    /// The claim concerned, for missing and malformed claims.
    pub const fn claim(&self) -> Option<&'static str> {
        match self {
            AuthFailure::MissingClaim(claim) | AuthFailure::MalformedClaim(claim) => Some(claim),
            _ => None,
        }
    }

    /// The RFC 6750 error code: none when no token was offered.
    pub const fn error_code(&self) -> Option<BearerErrorCode> {
        match self {
            AuthFailure::MissingToken | AuthFailure::NotAuthenticated => None,
            AuthFailure::MultipleAuthorizationHeaders | AuthFailure::TokenInQuery => {
                Some(BearerErrorCode::InvalidRequest)
            }
            AuthFailure::Dpop(DpopFailure::UseNonce) => Some(BearerErrorCode::UseDpopNonce),
            AuthFailure::Dpop(failure) if failure.is_proof_failure() => {
                Some(BearerErrorCode::InvalidDpopProof)
            }
            _ => Some(BearerErrorCode::InvalidToken),
        }
    }

    /// What the client is told: short, and the same for every forged-token reason.
    pub const fn public_description(&self) -> &'static str {
        match self {
            AuthFailure::MissingToken | AuthFailure::NotAuthenticated => {
                "a bearer access token is required"
            }
            AuthFailure::MultipleAuthorizationHeaders => "send exactly one Authorization header",
            AuthFailure::TokenInQuery => {
                "access tokens are accepted only in the Authorization header"
            }
            AuthFailure::Expired => "the access token expired",
            AuthFailure::Dpop(failure) => failure.public_description(),
            _ => "the access token is invalid",
        }
    }

    /// Whether the failure means something is wrong on the server's side (no keys, keys
    /// not arrived yet, revocations or DPoP proofs seen unknown), so that an operator must be alerted; the
    /// client is not counted as failing authentication.
    pub const fn is_server_side(&self) -> bool {
        matches!(
            self,
            AuthFailure::NoKeys
                | AuthFailure::RevocationUnavailable
                | AuthFailure::KeysUnavailable { .. }
                | AuthFailure::Dpop(DpopFailure::ReplayUnavailable)
                | AuthFailure::IntrospectionUnavailable
        )
    }

    /// How long the client should wait before trying again, when the failure is temporary
    /// and on the server's side: the time until the next attempt to fetch the keys, or one
    /// second for a revocation store, replay store or introspection endpoint that did not
    /// answer. `None` otherwise.
    pub const fn retry_after(&self) -> Option<Duration> {
        match self {
            AuthFailure::KeysUnavailable { retry_after } => Some(*retry_after),
            AuthFailure::RevocationUnavailable
            | AuthFailure::Dpop(DpopFailure::ReplayUnavailable)
            | AuthFailure::IntrospectionUnavailable => Some(Duration::from_secs(1)),
            _ => None,
        }
    }
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.claim() {
            Some(claim) => write!(f, "{} ({claim})", self.as_str()),
            None => f.write_str(self.as_str()),
        }
    }
}

impl std::error::Error for AuthFailure {}
