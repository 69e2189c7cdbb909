//! One request path, repeated, for an instruction-counting profiler: deterministic where
//! wall-clock benchmarks on a shared machine are not.
//!
//! ```text
//! cargo bench --bench hot_path --no-run
//! valgrind --tool=callgrind --callgrind-out-file=cached.out target/release/deps/hot_path-* cached 20000
//! valgrind --tool=callgrind --callgrind-out-file=bare.out   target/release/deps/hot_path-* bare 20000
//! callgrind_annotate cached.out | head -40
//! ```
//!
//! The variant is the first argument (`bare`, `cached`, `public`, `fresh`: a new ES256 token
//! on every request), the number of requests the second. Instructions per request = (total
//! of N requests − total of 0 requests) / N; for `fresh`, read the inclusive cost of
//! `Secured::call` instead (the tokens are signed up front, in the same process).

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::net::SocketAddr;

use axum::extract::ConnectInfo;

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use portcullis::prelude::*;
use serde::Serialize;
use tower::ServiceExt;

portcullis::scopes! { "orders:read" => "Read orders" }

#[output]
#[derive(Clone)]
struct Order {
    id: u64,
    item: &'static str,
}

#[secure(
    get,
    path = "/orders/{id}",
    scope = "orders:read",
    rate = "1000000000/s"
)]
async fn get_order(_who: Principal, Path(id): Path<u64>) -> Json<Order> {
    Json(Order { id, item: "tea" })
}

#[public(get, path = "/health", rate = "1000000000/s")]
async fn health() -> &'static str {
    "ok"
}

#[derive(Serialize)]
struct BareOrder {
    id: u64,
    item: &'static str,
}

async fn bare_get_order(
    axum::extract::Path(id): axum::extract::Path<u64>,
) -> axum::Json<BareOrder> {
    axum::Json(BareOrder { id, item: "tea" })
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"));
    let variant = args.next().unwrap_or_else(|| "cached".to_owned());
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dev = common::dev_issuer();
        let security = Security::builder()
            .issuer(dev.issuer())
            .default_rate(rate!("1000000/s"))
            .build()
            .await
            .expect("security");
        let app: axum::Router = SecureRouter::new(security)
            .mount(routes![get_order, health])
            .into_router()
            // As `axum::serve` does for every connection: the routes are built once, not
            // on every request.
            .with_state(());
        let bare = axum::Router::new()
            .route("/orders/{id}", axum::routing::get(bare_get_order))
            .with_state(());
        let token = dev.token().scopes(["orders:read"]).sign();
        // Built once, so the count measures the server, not the client.
        let authorization = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");
        // Portcullis is served with `ConnectInfo` (as its documentation asks, and as
        // `benches/load_server.rs` serves it); bare axum without.
        let peer =
            (variant != "bare").then(|| ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let request = |path: &str, authorization: Option<&HeaderValue>| {
            let mut builder = Request::get(path);
            if let Some(value) = authorization {
                builder = builder.header("authorization", value.clone());
            }
            if let Some(peer) = peer {
                builder = builder.extension(peer);
            }
            builder.body(Body::empty()).expect("request")
        };
        // `fresh`: every request carries a token never seen before (signed up front).
        let fresh: Vec<HeaderValue> = match variant.as_str() {
            "fresh" => (0..=count)
                .map(|n| {
                    let token = dev
                        .token()
                        .subject(format!("user-{n}"))
                        .scopes(["orders:read"])
                        .sign();
                    HeaderValue::from_str(&format!("Bearer {token}")).expect("header")
                })
                .collect(),
            _ => Vec::new(),
        };
        let (router, path, token) = match variant.as_str() {
            // The same request as Portcullis gets, token included (as `benches/load.sh` sends).
            "bare" => (bare, "/orders/7", Some(&authorization)),
            "public" => (app, "/health", None),
            _ => (app, "/orders/7", Some(&authorization)),
        };
        // With one token, the first request verifies it and the rest hit the cache.
        for n in 0..=count {
            let token = fresh.get(n).or(token);
            let response = router
                .clone()
                .oneshot(request(path, token))
                .await
                .expect("response");
            assert_eq!(response.status(), StatusCode::OK);
            black_box(
                axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .expect("body"),
            );
        }
    });
}
