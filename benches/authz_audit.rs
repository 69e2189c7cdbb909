//! Two parts of the request path on their own, measured side by side in one run:
//!
//! - `scope_check`: Portcullis' check (a bit set computed once per token, compared with the
//!   endpoint's set fixed at start-up) next to what hand-written middleware does on every
//!   request (split the `scope` claim and compare strings), for one and for four required
//!   scopes;
//! - `audit`: a cached-token request through the whole pipeline with nobody listening to
//!   the audit events, with a `tracing` subscriber formatting them, and with the JSON-lines
//!   sink writing them (both into `io::sink`, so only the formatting is measured).
//!
//! Run: `cargo bench --bench authz_audit`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use criterion::{Criterion, criterion_group, criterion_main};
use portcullis::audit::JsonLinesSink;
use portcullis::prelude::*;
use tower::ServiceExt;

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Write orders",
    "orders:refund" => "Refund orders",
    "customers:read" => "Read customers",
    "reports:read" => "Read reports",
}

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

/// The `scope` claim of a typical token: six granted scopes.
const SCOPE_CLAIM: &str = "openid profile orders:read orders:write customers:read reports:read";

fn scope_check(c: &mut Criterion) {
    let registry = &__portcullis_scopes::REGISTRY;
    let granted_set = registry.set_of(SCOPE_CLAIM.split(' '));
    let granted_list: Vec<String> = SCOPE_CLAIM.split(' ').map(str::to_owned).collect();
    let one = ["orders:read"];
    let four = [
        "orders:read",
        "orders:write",
        "customers:read",
        "reports:read",
    ];
    let one_set = registry.set_of(one);
    let four_set = registry.set_of(four);

    let mut group = c.benchmark_group("scope_check");
    group.bench_function("portcullis_bitset/1", |b| {
        b.iter(|| black_box(&granted_set).contains_all(black_box(one_set)))
    });
    group.bench_function("portcullis_bitset/4", |b| {
        b.iter(|| black_box(&granted_set).contains_all(black_box(four_set)))
    });
    group.bench_function("strings_parsed_once/4", |b| {
        b.iter(|| {
            black_box(four)
                .iter()
                .all(|required| granted_list.iter().any(|granted| granted == required))
        })
    });
    group.bench_function("claim_split_per_request/1", |b| {
        b.iter(|| {
            let claim = black_box(SCOPE_CLAIM);
            black_box(one)
                .iter()
                .all(|required| claim.split(' ').any(|granted| granted == *required))
        })
    });
    group.bench_function("claim_split_per_request/4", |b| {
        b.iter(|| {
            let claim = black_box(SCOPE_CLAIM);
            black_box(four)
                .iter()
                .all(|required| claim.split(' ').any(|granted| granted == *required))
        })
    });
    group.finish();
}

fn audit(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dev = common::dev_issuer();
    let token = dev.token().scopes(["orders:read"]).sign();
    let authorization = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");
    let app = |security: Security| -> axum::Router {
        SecureRouter::new(security)
            .mount(routes![get_order])
            .into_router()
    };
    let (quiet, with_sink) = runtime.block_on(async {
        let quiet = Security::builder()
            .issuer(dev.issuer())
            .default_rate(rate!("1000000/s"))
            .build()
            .await
            .expect("security");
        let with_sink = Security::builder()
            .issuer(dev.issuer())
            .default_rate(rate!("1000000/s"))
            .audit_sink(JsonLinesSink::writer(std::io::sink(), 65_536))
            .build()
            .await
            .expect("security");
        (app(quiet), app(with_sink))
    });
    let call = |router: &axum::Router| {
        let router = router.clone();
        let request = Request::get("/orders/7")
            .header("authorization", authorization.clone())
            .body(Body::empty())
            .expect("request");
        async move {
            let response = router.oneshot(request).await.expect("response");
            assert_eq!(response.status(), StatusCode::OK);
            black_box(
                axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .expect("body"),
            );
        }
    };
    // Verify the token once, so every measured request is a cache hit.
    runtime.block_on(call(&quiet));
    runtime.block_on(call(&with_sink));

    let mut group = c.benchmark_group("audit");
    group.bench_function("nobody_listening", |b| {
        b.to_async(&runtime).iter(|| call(&quiet))
    });
    group.bench_function("json_lines_sink", |b| {
        b.to_async(&runtime).iter(|| call(&with_sink))
    });
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_max_level(tracing::Level::INFO)
        .finish();
    // The current-thread runtime polls on this thread, so a thread-scoped subscriber sees
    // every event.
    let _guard = tracing::subscriber::set_default(subscriber);
    group.bench_function("tracing_fmt_subscriber", |b| {
        b.to_async(&runtime).iter(|| call(&quiet))
    });
    group.finish();
}

criterion_group!(benches, scope_check, audit);
criterion_main!(benches);
