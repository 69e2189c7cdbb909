//! Heap allocations per request, counted (dhat's testing mode): deterministic where timings
//! are not, so that a change that makes the hot path allocate more fails here rather than
//! hiding in a noisy benchmark.
//!
//! A secured `GET /orders/{id}` with a token already verified makes at most three
//! allocations more than the same handler on bare axum (both as the load benchmark serves
//! them, `benches/support/apps.rs`), each one inherent to what the pipeline adds:
//! 1. axum boxes a clone of each route's service per request: a bare handler is a zero-sized
//!    function, which boxes for free; a secured one carries its endpoint (8 bytes);
//! 2. the request id's `X-Request-Id` value on the response;
//! 3. the `RequestContext` extension the handler's `Principal` is read from.
//!
//! Nothing per request is allocated for the token (no copy, no decoding, no claims cloned),
//! the scope check, the limiter, the `RateLimit` fields of a caller well within its quota
//! (made when the endpoint is mounted), the metrics, or the audit event when nobody
//! listens.
//!
//! The only test of this binary, so that no other test's allocations are counted.

// The scopes the load benchmark's endpoints (`benches/support/apps.rs`) require.
portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Create orders",
}

#[path = "../benches/support/apps.rs"]
mod apps;
#[path = "../benches/support/tokens.rs"]
mod tokens;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode};
use tower::ServiceExt;

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

/// How many requests each count is averaged over.
const REQUESTS: u64 = 200;

/// The same request for both routers, as the load benchmark sends it: the bearer token and
/// the peer's address (`ConnectInfo`, as Portcullis is served).
fn request(authorization: &HeaderValue) -> Request<Body> {
    Request::get("/orders/7")
        .header("authorization", authorization.clone())
        .extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))))
        .body(Body::empty())
        .expect("request")
}

/// Sends one request and reads the whole response, as a server would.
async fn serve_one(router: &axum::Router, request: Request<Body>) {
    let response = router.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    std::hint::black_box(
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body"),
    );
}

/// The heap blocks one request through `router` allocates, averaged over [`REQUESTS`]
/// (requests built beforehand, outside the count; the router warmed up first).
async fn blocks_per_request(router: &axum::Router, authorization: &HeaderValue) -> f64 {
    for _ in 0..3 {
        serve_one(router, request(authorization)).await;
    }
    let requests: Vec<_> = (0..REQUESTS).map(|_| request(authorization)).collect();
    let before = dhat::HeapStats::get().total_blocks;
    for request in requests {
        serve_one(router, request).await;
    }
    let after = dhat::HeapStats::get().total_blocks;
    (after - before) as f64 / REQUESTS as f64
}

#[test]
fn a_cached_secured_request_allocates_at_most_three_blocks_more_than_bare_axum() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (bare, secured) = runtime.block_on(async {
        // The apps of the load benchmark: the same handler on bare axum and on Portcullis
        // (a real quota, never reached), an RS256 token from the benchmark's keys.
        let keys = tokens::BenchKeys::generate();
        let token = keys.sign(tokens::Alg::Rs256, "allocations", tokens::now(), 3600);
        let authorization = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");
        (
            blocks_per_request(&apps::bare(), &authorization).await,
            // The warm-up verifies the token; every counted request is a cache hit.
            blocks_per_request(&apps::portcullis(&keys.jwks()).await, &authorization).await,
        )
    });
    eprintln!("heap blocks per request: bare axum {bare}, Portcullis (cached token) {secured}");
    // The count is real: bare axum allocates too (the route's future, the response body...).
    assert!(bare >= 5.0, "bare axum: {bare} blocks per request");
    let extra = secured - bare;
    assert!(
        extra <= 3.0,
        "a cached secured request allocates {extra} blocks more than bare axum \
         (bare {bare}, secured {secured}); at most 3 are expected, see this file's doc"
    );
}
