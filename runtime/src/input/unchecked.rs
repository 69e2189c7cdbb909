//! `Unchecked<E>`: any extractor, on purpose.

use axum::extract::{FromRequest, FromRequestParts, Request};
use http::request::Parts;

/// Runs the extractor `E` as it is, without Portcullis validation.
///
/// Handler arguments must be validated extractors; this wrapper is the explicit, greppable
/// way to use another one (a raw `Bytes` body for a webhook whose signature you check, a
/// third-party extractor you trust).
///
/// ```
/// use axum::body::Bytes;
/// use portcullis_runtime::Unchecked;
///
/// async fn webhook(Unchecked(body): Unchecked<Bytes>) -> usize {
///     body.len()
/// }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Unchecked<E>(pub E);

impl<S, E> FromRequestParts<S> for Unchecked<E>
where
    E: FromRequestParts<S>,
    S: Send + Sync,
{
    type Rejection = E::Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        E::from_request_parts(parts, state).await.map(Unchecked)
    }
}

impl<S, E> FromRequest<S> for Unchecked<E>
where
    E: FromRequest<S>,
    S: Send + Sync,
{
    type Rejection = E::Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        E::from_request(request, state).await.map(Unchecked)
    }
}

impl<E> super::SafeExtractor for Unchecked<E> {}
