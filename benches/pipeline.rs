//! The cost of one request through the whole pipeline, in process (tower `oneshot`), next
//! to the same handler on bare axum, measured in the same run:
//!
//! - `bare_axum`: the handler alone;
//! - `cached`: a secured endpoint with a token already verified (a cache hit);
//! - `first_seen/{ES256,RS256,EdDSA}`: a token never seen before (signature verified);
//! - `jwks_refresh`: a token naming an unknown key, which makes the issuer's JWKS be fetched
//!   again over loopback (the request is then refused);
//! - `dpop_cached/{ES256,EdDSA}`: a DPoP-bound token already verified, with a fresh proof
//!   signed by a client key of that type (made outside the measured time), its replay
//!   check in memory;
//! - `dpop_cached_redis/ES256`: the same, the replay check in a `redis-server` on loopback
//!   (started by the benchmark; skipped when there is none);
//!
//! Run: `cargo bench --bench pipeline`. The ratios between lines matter, not the absolute
//! numbers of a noisy machine.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::keys::{TestKey, jwks};
use common::{AUDIENCE, claims};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jsonwebtoken::Algorithm;
use portcullis::auth::{Dpop, JwksOptions};
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

#[secure(get, path = "/orders/{id}", scope = "orders:read", rate = "unlimited")]
async fn get_order(_who: Principal, Path(id): Path<u64>) -> Json<Order> {
    Json(Order { id, item: "tea" })
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

fn request(token: Option<&str>) -> Request<Body> {
    let mut builder = Request::get("/orders/7");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(Body::empty()).unwrap()
}

async fn call(app: &axum::Router, request: Request<Body>) -> StatusCode {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    black_box(
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap(),
    );
    status
}

fn claims_for(issuer: &str) -> serde_json::Value {
    let mut claims = claims("orders:read");
    claims["iss"] = serde_json::json!(issuer);
    claims
}

fn pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let es = TestKey::ec("es", false);
    let rs = TestKey::rsa("rs", aws_lc_rs::rsa::KeySize::Rsa2048);
    let ed = TestKey::ed25519("ed");
    let idp = runtime.block_on(common::idp::Idp::start(jwks(&[&es, &rs, &ed])));
    let issuer = idp.base.clone();
    let options = JwksOptions {
        unknown_kid_cooldown: Duration::ZERO,
        ..JwksOptions::default()
    };
    let security = runtime.block_on(async {
        Security::builder()
            .issuer(
                Issuer::new(&issuer)
                    .audience(AUDIENCE)
                    .jwks_url(idp.jwks_url())
                    .jwks_options(options),
            )
            .default_rate(rate!("1000000/s"))
            .token_cache(1_000_000, Duration::from_secs(600))
            .dpop(Dpop::new("http://localhost"))
            .build()
            .await
            .unwrap()
    });
    let app: axum::Router = SecureRouter::new(security)
        .mount(routes![get_order])
        .into_router()
        // Routes built once, as `axum::serve` does for each connection.
        .with_state(());
    let bare = axum::Router::new()
        .route("/orders/{id}", axum::routing::get(bare_get_order))
        .with_state(());

    let mut group = c.benchmark_group("request");
    group.bench_function("bare_axum", |b| {
        b.to_async(&runtime)
            .iter(|| async { assert_eq!(call(&bare, request(None)).await, StatusCode::OK) })
    });
    let cached = es.sign(Algorithm::ES256, None, &claims_for(&issuer));
    runtime
        .block_on(async { assert_eq!(call(&app, request(Some(&cached))).await, StatusCode::OK) });
    group.bench_function("cached", |b| {
        b.to_async(&runtime)
            .iter(|| async { assert_eq!(call(&app, request(Some(&cached))).await, StatusCode::OK) })
    });
    for (name, key, alg) in [
        ("first_seen/ES256", &es, Algorithm::ES256),
        ("first_seen/RS256", &rs, Algorithm::RS256),
        ("first_seen/EdDSA", &ed, Algorithm::EdDSA),
    ] {
        let mut n = 0u64;
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_batched(
                || {
                    n += 1;
                    let mut claims = claims_for(&issuer);
                    claims["jti"] = serde_json::json!(format!("{name}-{n}"));
                    key.sign(alg, None, &claims)
                },
                |token| {
                    let app = &app;
                    async move { assert_eq!(call(app, request(Some(&token))).await, StatusCode::OK) }
                },
                BatchSize::SmallInput,
            )
        });
    }
    // The same application with the proofs seen kept in Redis.
    let redis_server = common::redis::RedisServer::start("dpop_cached_redis");
    let redis_app = redis_server.as_ref().map(|server| {
        runtime.block_on(async {
            let redis = portcullis::redis::Redis::connect(&server.url())
                .await
                .unwrap();
            let security = Security::builder()
                .issuer(
                    Issuer::new(&issuer)
                        .audience(AUDIENCE)
                        .jwks_url(idp.jwks_url()),
                )
                .default_rate(rate!("1000000/s"))
                .token_cache(1_000_000, Duration::from_secs(600))
                .dpop(
                    Dpop::new("http://localhost")
                        .replay_store(std::sync::Arc::new(redis.dpop_replay_store())),
                )
                .build()
                .await
                .unwrap();
            let app: axum::Router = SecureRouter::new(security)
                .mount(routes![get_order])
                .into_router()
                .with_state(());
            app
        })
    });
    let variants = [
        ("dpop_cached/ES256", TestKey::ec("client", false), &app),
        ("dpop_cached/EdDSA", TestKey::ed25519("client"), &app),
    ]
    .into_iter()
    .chain(redis_app.as_ref().map(|redis_app| {
        (
            "dpop_cached_redis/ES256",
            TestKey::ec("client", false),
            redis_app,
        )
    }));
    for (name, client, app) in variants {
        let mut claims = claims_for(&issuer);
        claims["cnf"] = serde_json::json!({ "jkt": common::dpop::thumbprint(&client) });
        let token = es.sign(Algorithm::ES256, None, &claims);
        let proved = |token: &str, proof: &str| {
            Request::get("/orders/7")
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", proof)
                .body(Body::empty())
                .unwrap()
        };
        let htu = "http://localhost/orders/7";
        let first = common::dpop::proof(&client, "GET", htu, &token);
        runtime.block_on(async {
            assert_eq!(call(app, proved(&token, &first)).await, StatusCode::OK)
        });
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_batched(
                || proved(&token, &common::dpop::proof(&client, "GET", htu, &token)),
                |request| {
                    let app = &app;
                    async move { assert_eq!(call(app, request).await, StatusCode::OK) }
                },
                BatchSize::SmallInput,
            )
        });
    }
    let stranger =
        TestKey::ec("not-published", false).sign(Algorithm::ES256, None, &claims_for(&issuer));
    let fetches_before = idp.jwks_fetches();
    let mut requests = 0usize;
    group.bench_function("jwks_refresh", |b| {
        b.to_async(&runtime).iter(|| {
            requests += 1;
            async {
                assert_eq!(
                    call(&app, request(Some(&stranger))).await,
                    StatusCode::UNAUTHORIZED
                )
            }
        })
    });
    group.finish();
    // Every one of those requests fetched the JWKS (the cooldown is zero here).
    assert_eq!(
        idp.jwks_fetches() - fetches_before,
        requests,
        "jwks_refresh must fetch on every request"
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = pipeline
}
criterion_main!(benches);
