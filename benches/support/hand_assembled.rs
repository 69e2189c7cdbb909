//! The hand-assembled stack: what a competent team writes today without Portcullis, to
//! compare against. Plain axum 0.8 with
//!
//! 1. a hand-written `from_fn_with_state` middleware per route that takes the
//!    `Authorization: Bearer` token, verifies it with `jsonwebtoken` (RS256 against a
//!    `DecodingKey` made from the issuer's PEM public key; `iss`, `aud`, `exp` validated)
//!    and checks that the `scope` claim holds the route's scope;
//! 2. a governor keyed rate limiter per route (`DefaultKeyedRateLimiter`), keyed by the
//!    token's `client_id`, else its `sub`;
//! 3. a garde-validating JSON extractor for `POST /orders`.
//!
//! Every request's token is verified, as a typical middleware does: there is no cache of
//! verified tokens. That is the point of the comparison, not a handicap.
//!
//! Shared by the criterion bench `hand_assembled` and the load server `load_server`.

#![allow(dead_code)]

use std::sync::Arc;

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The claims the handlers need.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    /// The subject.
    pub sub: String,
    /// The OAuth client, when the issuer says.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: String,
}

/// The issuer's key and the rules a token must meet.
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl Verifier {
    /// RS256 tokens of `issuer` for `audience`, signed by the key of `public_pem`.
    pub fn rs256(
        public_pem: &str,
        issuer: &str,
        audience: &str,
    ) -> Result<Verifier, jsonwebtoken::errors::Error> {
        let key = DecodingKey::from_rsa_pem(public_pem.as_bytes())?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(Verifier { key, validation })
    }

    /// The verified claims of `token`.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map(|data| data.claims)
    }
}

/// What the middleware of one route needs: the verifier, the route's scope, its limiter.
#[derive(Clone)]
struct Guard {
    verifier: Arc<Verifier>,
    scope: &'static str,
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
}

impl Guard {
    fn new(verifier: Arc<Verifier>, scope: &'static str, quota: Quota) -> Guard {
        Guard {
            verifier,
            scope,
            limiter: Arc::new(RateLimiter::keyed(quota)),
        }
    }
}

/// A JSON error with a status; the token is never echoed.
fn refuse(status: StatusCode, error: &'static str) -> Response {
    let mut response = (status, Json(serde_json::json!({ "error": error }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    }
    response
}

/// Authenticates, authorizes and rate-limits one request, then runs the handler.
async fn authenticate(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let verified = {
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            });
        match token {
            Some(token) => guard.verifier.verify(token),
            None => return refuse(StatusCode::UNAUTHORIZED, "missing bearer token"),
        }
    };
    let claims = match verified {
        Ok(claims) => claims,
        Err(_) => return refuse(StatusCode::UNAUTHORIZED, "invalid token"),
    };
    if !claims.scope.split(' ').any(|scope| scope == guard.scope) {
        return refuse(StatusCode::FORBIDDEN, "insufficient scope");
    }
    let key = claims
        .client_id
        .clone()
        .unwrap_or_else(|| claims.sub.clone());
    if guard.limiter.check_key(&key).is_err() {
        return refuse(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
    }
    request.extensions_mut().insert(claims);
    next.run(request).await
}

/// A JSON body that garde has validated.
pub struct ValidatedJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidatedJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + garde::Validate<Context = ()>,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match value.validate() {
            Ok(()) => Ok(ValidatedJson(value)),
            Err(report) => Err((
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(serde_json::json!({ "error": report.to_string() })),
            )
                .into_response()),
        }
    }
}

/// One order, as `GET /orders/{id}` returns it.
#[derive(Serialize)]
pub struct Order {
    /// Its number.
    pub id: u64,
    /// What was ordered.
    pub item: &'static str,
}

/// A new order, as `POST /orders` takes it.
#[derive(Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// What to order.
    #[garde(length(chars, min = 1, max = 64))]
    pub item: String,
    /// How many.
    #[garde(range(min = 1, max = 1000))]
    pub quantity: u32,
}

/// An order just created.
#[derive(Serialize)]
pub struct Created {
    /// Its number.
    pub id: u64,
    /// What was ordered.
    pub item: String,
    /// How many.
    pub quantity: u32,
}

async fn get_order(Path(id): Path<u64>) -> Json<Order> {
    Json(Order { id, item: "tea" })
}

async fn create_order(
    Extension(_claims): Extension<Claims>,
    ValidatedJson(new): ValidatedJson<NewOrder>,
) -> (StatusCode, Json<Created>) {
    (
        StatusCode::CREATED,
        Json(Created {
            id: 1,
            item: new.item,
            quantity: new.quantity,
        }),
    )
}

/// `GET /orders/{id}` (scope `orders:read`, `read` per client) and `POST /orders` (scope
/// `orders:write`, `write` per client), each behind its own middleware and limiter.
pub fn router(verifier: Arc<Verifier>, read: Quota, write: Quota) -> Router {
    let read = Guard::new(verifier.clone(), "orders:read", read);
    let write = Guard::new(verifier, "orders:write", write);
    Router::new()
        .route(
            "/orders/{id}",
            get(get_order).route_layer(middleware::from_fn_with_state(read, authenticate)),
        )
        .route(
            "/orders",
            post(create_order).route_layer(middleware::from_fn_with_state(write, authenticate)),
        )
        // Routes built once, as `axum::serve` does for each connection.
        .with_state(())
}
