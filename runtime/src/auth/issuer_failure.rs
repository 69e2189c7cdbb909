//! Why an issuer's keys did not arrive, as alerts and metrics name it.

/// What kind of failure kept an issuer's keys from arriving. Each kind raises one
/// [`AlertKind::IssuerUnavailable`](crate::alert::AlertKind::IssuerUnavailable) until the keys arrive, however many retries fail that
/// way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IssuerFailure {
    /// No connection: refused, unreachable, a name that does not resolve, a TLS handshake
    /// that failed (an unknown certificate authority among others), a broken exchange.
    Connection,
    /// The exchange took longer than its deadline.
    Timeout,
    /// The provider answered with an error status (a discovery document missing at both
    /// well-known URLs among others).
    HttpStatus,
    /// The provider answered with a redirect, which is never followed.
    Redirected,
    /// The document is larger than the cap.
    TooLarge,
    /// The discovery document or the JWKS does not parse, or lacks what it must have.
    InvalidDocument,
    /// The discovery document names another issuer: its keys must not be trusted.
    IssuerMismatch,
    /// The discovery document names a `jwks_uri` the URL policy refuses (plain `http://`
    /// off loopback, credentials in it, not a URL).
    RefusedUrl,
    /// The JWKS has no key that can verify signatures.
    NoUsableKeys,
}

impl IssuerFailure {
    /// A stable snake_case name for logs and metrics.
    pub const fn as_str(&self) -> &'static str {
        match self {
            IssuerFailure::Connection => "connection",
            IssuerFailure::Timeout => "timeout",
            IssuerFailure::HttpStatus => "http_status",
            IssuerFailure::Redirected => "redirected",
            IssuerFailure::TooLarge => "too_large",
            IssuerFailure::InvalidDocument => "invalid_document",
            IssuerFailure::IssuerMismatch => "issuer_mismatch",
            IssuerFailure::RefusedUrl => "refused_url",
            IssuerFailure::NoUsableKeys => "no_usable_keys",
        }
    }
}
