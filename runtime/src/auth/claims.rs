//! Custom claim types.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::{AuthFailure, Principal};
use crate::rejection::AuthRejection;

/// The claims of the verified access token, deserialized into your own type.
///
/// Use it beside (or instead of) [`Principal`] for claims your identity provider adds:
///
/// ```
/// use portcullis_runtime::Claims;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct TenantClaims {
///     tenant: String,
/// }
///
/// async fn handler(Claims(claims): Claims<TenantClaims>) -> String {
///     claims.tenant
/// }
/// ```
///
/// When the token's claims do not fit `T`, the request is refused with 401
/// `invalid_token` (audit reason `malformed_claim`).
#[derive(Debug, Clone)]
pub struct Claims<T>(pub T);

impl<S, T> FromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal =
            <Principal as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        decode(&principal, parts)
    }
}

impl<S, T> OptionalFromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <Principal as OptionalFromRequestParts<S>>::from_request_parts(parts, state).await? {
            Some(principal) => decode(&principal, parts).map(Some),
            None => Ok(None),
        }
    }
}

fn decode<T: DeserializeOwned>(
    principal: &Principal,
    parts: &Parts,
) -> Result<Claims<T>, AuthRejection> {
    T::deserialize(principal.claims_value())
        .map(Claims)
        .map_err(|_| AuthRejection::for_request(parts, AuthFailure::MalformedClaim("custom")))
}
