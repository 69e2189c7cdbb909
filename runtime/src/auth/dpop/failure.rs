//! Why a request with a DPoP-bound token, or a DPoP proof, was refused.

/// The precise reason a DPoP request (RFC 9449) was refused, for the audit log.
///
/// The client learns the RFC 9449 error code (`invalid_dpop_proof` for a proof that does
/// not hold, `invalid_token` for a token used against its binding) and a short description
/// that never says which check of the proof failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DpopFailure {
    /// A DPoP-bound token, and no DPoP configuration (no public origin to check `htu`
    /// against): refused rather than accepted without its proof.
    NotConfigured,
    /// A DPoP-bound token sent with the `Bearer` scheme: a thief could drop the proof.
    BoundTokenAsBearer,
    /// A bearer token of an issuer whose tokens must be DPoP-bound.
    Required,
    /// A DPoP-bound token of an issuer configured to refuse them.
    NotAccepted,
    /// The `DPoP` scheme with a token that is not bound to a key (no `cnf.jkt`).
    TokenNotBound,
    /// No `DPoP` header.
    MissingProof,
    /// More than one `DPoP` header.
    MultipleProofs,
    /// Not a compact JWS with JSON header and claims, a claim missing or of the wrong type.
    Malformed,
    /// The header's `typ` is not `dpop+jwt`.
    WrongType,
    /// `alg` is `none`, an HMAC algorithm, or not among the allowed ones.
    AlgorithmNotAllowed,
    /// The `jwk` header holds a private key.
    PrivateKey,
    /// The `jwk` header is missing or not a usable public key.
    BadKey,
    /// The signature does not verify with the `jwk` of the header.
    BadSignature,
    /// `htm` is not the request's method.
    MethodMismatch,
    /// `htu` is not the request's URI at the configured public origin.
    UriMismatch,
    /// `iat` is older than the proof window.
    Stale,
    /// `iat` is in the future (beyond the allowed clock skew).
    IssuedInFuture,
    /// `ath` is not the hash of the access token sent with the proof.
    TokenHashMismatch,
    /// The thumbprint of the proof's key is not the token's `cnf.jkt`.
    KeyMismatch,
    /// Server nonces are required and the proof has none, or one that is forged or of an
    /// older time step: answered `use_dpop_nonce` with a fresh nonce.
    UseNonce,
    /// The proof (`jti`) was already used within its window.
    Replay,
    /// The replay store could not say whether the proof was used before (it fails closed:
    /// 503).
    ReplayUnavailable,
}

impl DpopFailure {
    /// A stable snake_case name for logs, metrics and audit events.
    pub const fn as_str(&self) -> &'static str {
        match self {
            DpopFailure::NotConfigured => "dpop_not_configured",
            DpopFailure::BoundTokenAsBearer => "dpop_bound_token_as_bearer",
            DpopFailure::Required => "dpop_required",
            DpopFailure::NotAccepted => "dpop_not_accepted",
            DpopFailure::TokenNotBound => "dpop_token_not_bound",
            DpopFailure::MissingProof => "dpop_proof_missing",
            DpopFailure::MultipleProofs => "dpop_multiple_proofs",
            DpopFailure::Malformed => "dpop_malformed_proof",
            DpopFailure::WrongType => "dpop_wrong_type",
            DpopFailure::AlgorithmNotAllowed => "dpop_algorithm_not_allowed",
            DpopFailure::PrivateKey => "dpop_private_key",
            DpopFailure::BadKey => "dpop_bad_key",
            DpopFailure::BadSignature => "dpop_bad_signature",
            DpopFailure::MethodMismatch => "dpop_htm_mismatch",
            DpopFailure::UriMismatch => "dpop_htu_mismatch",
            DpopFailure::Stale => "dpop_stale",
            DpopFailure::IssuedInFuture => "dpop_issued_in_future",
            DpopFailure::TokenHashMismatch => "dpop_ath_mismatch",
            DpopFailure::KeyMismatch => "dpop_key_mismatch",
            DpopFailure::UseNonce => "dpop_use_nonce",
            DpopFailure::Replay => "dpop_replay",
            DpopFailure::ReplayUnavailable => "dpop_replay_unavailable",
        }
    }

    /// Whether the proof is at fault (`invalid_dpop_proof`), rather than the way the token
    /// was used (`invalid_token`).
    pub const fn is_proof_failure(&self) -> bool {
        !matches!(
            self,
            DpopFailure::NotConfigured
                | DpopFailure::BoundTokenAsBearer
                | DpopFailure::Required
                | DpopFailure::NotAccepted
                | DpopFailure::TokenNotBound
                | DpopFailure::ReplayUnavailable
        )
    }

    /// What the client is told.
    pub const fn public_description(&self) -> &'static str {
        match self {
            DpopFailure::BoundTokenAsBearer => {
                "the access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof"
            }
            DpopFailure::Required => "the access token must be DPoP-bound",
            DpopFailure::MissingProof => "a DPoP proof is required",
            DpopFailure::MultipleProofs => "send exactly one DPoP header",
            DpopFailure::UseNonce => "use the nonce of the DPoP-Nonce header in the DPoP proof",
            failure if failure.is_proof_failure() => "the DPoP proof is invalid",
            _ => "the access token is invalid",
        }
    }
}

impl std::fmt::Display for DpopFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
