//! Checking one DPoP proof (RFC 9449 §4.3 and §7.1), every check in the order that reveals
//! the least: the proof's form, its key and signature, then what it says of the request,
//! the token and the time, and last whether it was used before (so that a proof that fails
//! another check uses up nothing).

use http::Method;
use serde_json::{Map, Value};

use super::nonce::NonceStanding;
use super::thumbprint::{jwk_thumbprint, token_hash};
use super::{DpopFailure, DpopRules, MAX_PROOF_BYTES, PROOF_CLOCK_SKEW, ProofId, PublicOrigin};
use crate::auth::jws::CompactJws;
use crate::auth::keys::public_key_from_jwk;
use crate::auth::{Algorithm, AuthFailure};

/// The longest `jti` accepted.
const MAX_JTI_BYTES: usize = 256;

/// The members of a JWK that only a private (or symmetric) key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// What a proof is checked against.
pub(crate) struct ProofRequest<'a> {
    /// The request's method.
    pub(crate) method: &'a Method,
    /// The path of the request as the client sent it.
    pub(crate) path: &'a str,
    /// The origin a trusted proxy forwarded, when believed: it replaces the configured one.
    pub(crate) origin: Option<&'a PublicOrigin>,
    /// The access token sent with the proof (`None` at a token endpoint, where there is
    /// none yet and `ath` is not checked).
    pub(crate) token: Option<&'a str>,
    /// The thumbprint the token is bound to (`cnf.jkt`; `None` at a token endpoint, where
    /// the proof's key is the one the new token will be bound to).
    pub(crate) jkt: Option<&'a str>,
    /// Unix seconds.
    pub(crate) now: u64,
}

/// A proof that passed every check but the replay check: the id to record, and until
/// when.
#[derive(Debug)]
pub(crate) struct VerifiedProof {
    pub(crate) id: ProofId,
    pub(crate) expires_at: u64,
    /// The RFC 7638 thumbprint of the proof's key (what a token endpoint binds its token
    /// to).
    #[cfg_attr(not(feature = "dev"), allow(dead_code))]
    pub(crate) jkt: String,
    /// The proof's server nonce is of the previous time step, so it expires at the end of
    /// this one: the response should carry a fresh nonce (RFC 9449 §8.2).
    pub(crate) renew_nonce: bool,
}

/// Checks `proof` against `request` under `rules`, all but the replay check.
pub(crate) fn verify_proof(
    proof: &str,
    rules: &DpopRules,
    request: &ProofRequest<'_>,
) -> Result<VerifiedProof, DpopFailure> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(DpopFailure::Malformed);
    }
    let jws = CompactJws::parse(proof).map_err(|_| DpopFailure::Malformed)?;
    if !jws
        .header
        .typ
        .as_deref()
        .is_some_and(|typ| typ.eq_ignore_ascii_case("dpop+jwt"))
    {
        return Err(DpopFailure::WrongType);
    }
    let alg = Algorithm::from_name(&jws.header.alg)
        .filter(|alg| rules.algorithms.contains(alg))
        .ok_or(DpopFailure::AlgorithmNotAllowed)?;
    let jwk = jws.header.jwk.as_ref().ok_or(DpopFailure::BadKey)?;
    if PRIVATE_MEMBERS
        .iter()
        .any(|member| jwk.contains_key(*member))
    {
        return Err(DpopFailure::PrivateKey);
    }
    let key = public_key_from_jwk(jwk).ok_or(DpopFailure::BadKey)?;
    if !key.verify(jws.signing_input.as_bytes(), jws.signature, alg) {
        return Err(DpopFailure::BadSignature);
    }
    let claims = &jws.claims;
    let jti = string(claims, "jti")?;
    if jti.is_empty() || jti.len() > MAX_JTI_BYTES {
        return Err(DpopFailure::Malformed);
    }
    if string(claims, "htm")? != request.method.as_str() {
        return Err(DpopFailure::MethodMismatch);
    }
    let origin = request.origin.unwrap_or(&rules.origin);
    if !origin.matches(string(claims, "htu")?, request.path) {
        return Err(DpopFailure::UriMismatch);
    }
    let iat = match claims.get("iat") {
        Some(Value::Number(number)) => number
            .as_u64()
            .or_else(|| number.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .ok_or(DpopFailure::Malformed)?,
        _ => return Err(DpopFailure::Malformed),
    };
    if iat > request.now.saturating_add(PROOF_CLOCK_SKEW.as_secs()) {
        return Err(DpopFailure::IssuedInFuture);
    }
    if request.now.saturating_sub(iat) > rules.window {
        return Err(DpopFailure::Stale);
    }
    let renew_nonce = match &rules.nonces {
        None => false,
        Some(nonces) => match claims
            .get("nonce")
            .and_then(Value::as_str)
            .and_then(|nonce| nonces.check(nonce, request.now))
        {
            Some(standing) => standing == NonceStanding::Expiring,
            None => return Err(DpopFailure::UseNonce),
        },
    };
    if let Some(token) = request.token
        && string(claims, "ath")? != token_hash(token)
    {
        return Err(DpopFailure::TokenHashMismatch);
    }
    let thumbprint = jwk_thumbprint(jwk).ok_or(DpopFailure::BadKey)?;
    if request.jkt.is_some_and(|jkt| jkt != thumbprint) {
        return Err(DpopFailure::KeyMismatch);
    }
    Ok(VerifiedProof {
        id: ProofId::new(&thumbprint, jti),
        // Accepted while `now - iat <= window`: remembered one second past that.
        expires_at: iat.saturating_add(rules.window).saturating_add(1),
        jkt: thumbprint,
        renew_nonce,
    })
}

fn string<'c>(claims: &'c Map<String, Value>, name: &str) -> Result<&'c str, DpopFailure> {
    match claims.get(name) {
        Some(Value::String(text)) => Ok(text),
        _ => Err(DpopFailure::Malformed),
    }
}

impl From<DpopFailure> for AuthFailure {
    fn from(failure: DpopFailure) -> AuthFailure {
        AuthFailure::Dpop(failure)
    }
}
