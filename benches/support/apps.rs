//! The two variants the hand-assembled stack is compared with: the same orders endpoints on
//! bare axum (no security at all, the floor) and on Portcullis.
//!
//! The crate that includes this module must declare, at its root,
//! `portcullis::scopes! { "orders:read" => "...", "orders:write" => "..." }`: the
//! attributes below name those scopes.

#![allow(dead_code)]

use axum::http::StatusCode;
use portcullis::prelude::*;

use super::tokens::{AUDIENCE, ISSUER};

/// One order, as `GET /orders/{id}` returns it.
#[output]
#[derive(Clone)]
pub struct Order {
    id: u64,
    item: &'static str,
}

/// A new order.
#[input]
pub struct NewOrder {
    #[garde(length(chars, min = 1, max = 64))]
    item: String,
    #[garde(range(min = 1, max = 1000))]
    quantity: u32,
}

/// An order just created.
#[output]
pub struct Created {
    id: u64,
    item: String,
    quantity: u32,
}

/// Gets one order. The quota is real (a limiter decides every request) but never reached.
#[secure(
    get,
    path = "/orders/{id}",
    scope = "orders:read",
    rate = "1000000000/s"
)]
async fn get_order(_who: Principal, Path(id): Path<u64>) -> Json<Order> {
    Json(Order { id, item: "tea" })
}

/// Creates an order.
#[secure(
    post,
    path = "/orders",
    scope = "orders:write",
    rate = "1000000000/s",
    status = 201
)]
async fn create_order(_who: Principal, Json(new): Json<NewOrder>) -> (StatusCode, Json<Created>) {
    (
        StatusCode::CREATED,
        Json(Created {
            id: 1,
            item: new.item,
            quantity: new.quantity,
        }),
    )
}

/// The orders endpoints on Portcullis, trusting the keys of `jwks` (issuer [`ISSUER`],
/// audience [`AUDIENCE`]), with the default token cache.
pub async fn portcullis(jwks: &str) -> axum::Router {
    portcullis_with_cache(jwks, portcullis::DEFAULT_TOKEN_CACHE_CAPACITY).await
}

/// The same with a token cache of `capacity` tokens; 0 verifies every request's token, as
/// the hand-assembled stack does.
pub async fn portcullis_with_cache(jwks: &str, capacity: usize) -> axum::Router {
    let security = Security::builder()
        .issuer(Issuer::new(ISSUER).audience(AUDIENCE).jwks_json(jwks))
        .default_rate(rate!("1000000/s"))
        .token_cache(capacity, portcullis::DEFAULT_TOKEN_CACHE_MAX_AGE)
        .build()
        .await
        .expect("security");
    SecureRouter::new(security)
        .mount(routes![get_order, create_order])
        .into_router()
        // Routes built once, as `axum::serve` does for each connection.
        .with_state(())
}

/// A bare order.
#[derive(serde::Serialize)]
struct BareOrder {
    id: u64,
    item: &'static str,
}

/// A bare new order: no validation at all.
#[derive(serde::Deserialize, serde::Serialize)]
struct BareNewOrder {
    item: String,
    quantity: u32,
}

async fn bare_get_order(
    axum::extract::Path(id): axum::extract::Path<u64>,
) -> axum::Json<BareOrder> {
    axum::Json(BareOrder { id, item: "tea" })
}

async fn bare_create_order(
    axum::Json(new): axum::Json<BareNewOrder>,
) -> (StatusCode, axum::Json<BareNewOrder>) {
    (StatusCode::CREATED, axum::Json(new))
}

/// `GET /orders/{id}` on bare axum, answering with the four fields Portcullis adds to an
/// allowed authenticated response (`Cache-Control`, `RateLimit-Policy`, `RateLimit`,
/// `X-Request-Id`), as constants of the same lengths: what sending those fields costs
/// by itself, with no work to compute them.
async fn bare_get_order_with_fields(
    axum::extract::Path(id): axum::extract::Path<u64>,
) -> (
    [(axum::http::HeaderName, axum::http::HeaderValue); 4],
    axum::Json<BareOrder>,
) {
    use axum::http::{HeaderName, HeaderValue, header};
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                HeaderName::from_static("ratelimit-policy"),
                HeaderValue::from_static("\"get_order\";q=1000000000;w=1"),
            ),
            (
                HeaderName::from_static("ratelimit"),
                HeaderValue::from_static("\"get_order\";r=999999999;t=1"),
            ),
            (
                HeaderName::from_static("x-request-id"),
                HeaderValue::from_static("0123456789abcdef-000000000000"),
            ),
        ],
        axum::Json(BareOrder { id, item: "tea" }),
    )
}

/// The orders endpoints on bare axum with `GET /orders/{id}` sending Portcullis' response
/// fields (constants): the floor for a secured response, which carries them.
pub fn bare_with_fields() -> axum::Router {
    axum::Router::new()
        .route(
            "/orders/{id}",
            axum::routing::get(bare_get_order_with_fields),
        )
        .route("/orders", axum::routing::post(bare_create_order))
        .with_state(())
}

/// The same endpoints on bare axum behind one `axum::middleware::map_response` layer that
/// changes nothing: what the lightest axum middleware costs, for scale.
pub fn bare_with_one_middleware() -> axum::Router {
    bare().layer(axum::middleware::map_response(
        |response: axum::response::Response| async move { response },
    ))
}

/// Bare axum answering `GET /orders/{id}` with `bytes` bytes, the same for every request.
pub fn bare_with_body(bytes: usize) -> axum::Router {
    let body = axum::body::Bytes::from(vec![b'x'; bytes]);
    axum::Router::new().route(
        "/orders/{id}",
        axum::routing::get(move || std::future::ready(body.clone())),
    )
}

/// The same endpoints on bare axum, with no security: the floor.
pub fn bare() -> axum::Router {
    axum::Router::new()
        .route("/orders/{id}", axum::routing::get(bare_get_order))
        .route("/orders", axum::routing::post(bare_create_order))
        // Routes built once, as `axum::serve` does for each connection.
        .with_state(())
}
