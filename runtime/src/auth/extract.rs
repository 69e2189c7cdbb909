//! `Principal` as an extractor.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use super::{AuthFailure, Claims, Principal, RequestHead};
use crate::context::RequestContext;
use crate::rejection::AuthRejection;

/// An extractor that yields the caller a verified access token identifies: [`Principal`],
/// [`Claims`]. A `#[public]` endpoint verifies no token, so it cannot take one (a compile
/// error, whatever name the type goes by); it takes `Option<..>` of it instead.
///
/// Implement it for your own extractors that need a verified caller, so that `#[public]`
/// refuses them too.
pub trait VerifiedCaller {}

impl VerifiedCaller for Principal {}

impl<T> VerifiedCaller for Claims<T> {}

/// In a `#[secure]` endpoint, the principal the pipeline authenticated.
///
/// Anywhere else there is none, and the request is refused with 401: a route that was
/// not mounted through `#[secure]` never sees a principal, even by mistake.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts
            .extensions
            .get::<RequestContext>()
            .and_then(RequestContext::principal)
        {
            Some(principal) => Ok(principal.clone()),
            None => {
                match parts.extensions.get::<RequestContext>() {
                    Some(context) => tracing::error!(
                        target: "portcullis",
                        route = context.endpoint().path,
                        handler = context.endpoint().handler,
                        "an extractor of the #[public] endpoint asked for the verified caller \
                         (Principal), which a #[public] endpoint does not have; refused. An \
                         extractor that needs it belongs on a #[secure] endpoint; one that \
                         serves anyone reads Option<Principal>"
                    ),
                    None => tracing::error!(
                        target: "portcullis",
                        path = parts.uri.path(),
                        "a handler asked for a Principal on a route that is not #[secure]; refused"
                    ),
                }
                Err(AuthRejection::for_request(
                    parts,
                    AuthFailure::NotAuthenticated,
                ))
            }
        }
    }
}

/// Optional authentication, for `#[public]` endpoints that serve anyone but say more to
/// a known caller: `None` without a bearer token, the principal with a valid one, and 401
/// with an invalid one (a bad token is never silently ignored).
impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let Some(context) = parts.extensions.get::<RequestContext>() else {
            return Ok(None);
        };
        if let Some(principal) = context.principal() {
            return Ok(Some(principal.clone()));
        }
        let security = context.security();
        security
            .authenticator()
            .authenticate(
                RequestHead::new(
                    &parts.method,
                    &parts.uri,
                    &parts.headers,
                    &parts.extensions,
                    security.trusted_proxies(),
                ),
                context.registry(),
            )
            .await
            .map(|authenticated| {
                context.authenticated_later(
                    authenticated.principal.as_ref(),
                    authenticated.renew_dpop_nonce,
                );
                authenticated.principal
            })
            .map_err(|failure| AuthRejection::new(failure, security.realm_arc()))
    }
}
