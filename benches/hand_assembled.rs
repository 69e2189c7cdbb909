//! Portcullis against the stack a team assembles by hand today (jsonwebtoken in a
//! hand-written middleware, a governor keyed limiter, a garde-validating extractor; see
//! `support/hand_assembled.rs`) and against bare axum, in process (tower `oneshot`), in one
//! run, on `GET /orders/{id}`:
//!
//! - `bare_axum`: the handler alone, the floor;
//! - `portcullis_cached`: a repeated RS256 token (verified once, then a cache hit);
//! - `portcullis_first_seen_RS256`, `portcullis_first_seen_ES256`: a token never seen before
//!   on every request (signature verified);
//! - `portcullis_uncached_RS256`: a repeated RS256 token with the token cache off, so that
//!   it is verified on every request (with `first_seen`, this splits the cost of a new
//!   token into verification and the cache's bookkeeping);
//! - `hand_repeated_RS256`: the hand-assembled stack with a repeated RS256 token;
//! - `hand_first_seen_RS256`: the hand-assembled stack with distinct RS256 tokens.
//!
//! Every variant trusts the same RSA key (`support/tokens.rs`), and every request carries an
//! `Authorization` header, bare axum's included. At the end the bench prints each variant's
//! mean time and its ratios to bare axum and to the hand-assembled stack.
//!
//! Run: `cargo bench --bench hand_assembled`. Signing the distinct RS256 tokens (outside the
//! timed part) takes most of the run's wall-clock time.

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Create orders",
}

#[path = "support/apps.rs"]
mod apps;
#[path = "support/hand_assembled.rs"]
mod hand_assembled;
#[path = "support/tokens.rs"]
mod tokens;

use std::hint::black_box;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use criterion::{Criterion, criterion_group, criterion_main};
use governor::Quota;
use tokio::runtime::Runtime;
use tower::ServiceExt;

use tokens::{AUDIENCE, Alg, BenchKeys, ISSUER};

/// The benchmark group, and the directory criterion writes its estimates to.
const GROUP: &str = "hand_assembled";

/// Every variant, in the order of the summary.
const VARIANTS: [&str; 7] = [
    "bare_axum",
    "portcullis_cached",
    "portcullis_uncached_RS256",
    "portcullis_first_seen_RS256",
    "portcullis_first_seen_ES256",
    "hand_repeated_RS256",
    "hand_first_seen_RS256",
];

fn get(token: &str) -> Request<Body> {
    Request::get("/orders/7")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request")
}

fn post(token: &str, body: &str) -> Request<Body> {
    Request::post("/orders")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

async fn call(app: &axum::Router, request: Request<Body>) -> StatusCode {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    black_box(
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body"),
    );
    status
}

/// Distinct tokens of one algorithm, signed in batches as the bench asks for them.
struct Pool<'k> {
    keys: &'k BenchKeys,
    alg: Alg,
    tokens: Vec<String>,
    next: usize,
}

impl<'k> Pool<'k> {
    fn new(keys: &'k BenchKeys, alg: Alg) -> Pool<'k> {
        Pool {
            keys,
            alg,
            tokens: Vec::new(),
            next: 0,
        }
    }

    /// The next `count` tokens, none handed out before since the last rewind.
    fn take(&mut self, count: usize) -> Vec<String> {
        let end = self.next + count;
        if end > self.tokens.len() {
            let more = (end - self.tokens.len()).max(1024);
            let prefix = format!("{}-{}", self.alg.name(), self.tokens.len());
            let signed = self
                .keys
                .sign_many(self.alg, &prefix, more, tokens::now(), 3600);
            self.tokens.extend(signed);
        }
        let taken = self.tokens[self.next..end].to_vec();
        self.next = end;
        taken
    }

    /// Hands the same tokens out again (for a verifier that remembers none).
    fn rewind(&mut self) {
        self.next = 0;
    }
}

/// Answers with the expected statuses, so that every variant measures success.
fn check(runtime: &Runtime, apps: &[(&str, &axum::Router)], keys: &BenchKeys) {
    let rs = keys.sign(Alg::Rs256, "check-rs", tokens::now(), 600);
    let es = keys.sign(Alg::Es256, "check-es", tokens::now(), 600);
    runtime.block_on(async {
        for (name, app) in apps {
            assert_eq!(call(app, get(&rs)).await, StatusCode::OK, "{name}");
            let created = call(app, post(&rs, r#"{"item": "tea", "quantity": 2}"#)).await;
            assert_eq!(created, StatusCode::CREATED, "{name}");
            if *name != "bare" {
                let invalid = call(app, post(&rs, r#"{"item": "", "quantity": 2}"#)).await;
                assert_eq!(invalid, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
                let tampered = format!("{}x", &rs[..rs.len() - 1]);
                let refused = call(app, get(&tampered)).await;
                assert_eq!(refused, StatusCode::UNAUTHORIZED, "{name}");
            }
        }
        assert_eq!(call(apps[1].1, get(&es)).await, StatusCode::OK, "ES256");
    });
}

fn compare(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let keys = BenchKeys::generate();
    let bare = apps::bare();
    let portcullis = runtime.block_on(apps::portcullis(&keys.jwks()));
    let uncached = runtime.block_on(apps::portcullis_with_cache(&keys.jwks(), 0));
    let verifier = hand_assembled::Verifier::rs256(&keys.rsa_public_pem(), ISSUER, AUDIENCE)
        .expect("RSA public key");
    let unlimited = Quota::per_second(NonZeroU32::new(1_000_000_000).expect("non-zero"));
    let hand = hand_assembled::router(Arc::new(verifier), unlimited, unlimited);
    check(
        &runtime,
        &[
            ("bare", &bare),
            ("portcullis", &portcullis),
            ("portcullis_uncached", &uncached),
            ("hand", &hand),
        ],
        &keys,
    );

    let repeated = keys.sign(Alg::Rs256, "repeated", tokens::now(), 3600);
    let mut group = c.benchmark_group(GROUP);
    for (name, app) in [
        ("bare_axum", &bare),
        ("portcullis_cached", &portcullis),
        ("portcullis_uncached_RS256", &uncached),
        ("hand_repeated_RS256", &hand),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&runtime)
                .iter(|| async { assert_eq!(call(app, get(&repeated)).await, StatusCode::OK) })
        });
    }
    let mut pools = [Pool::new(&keys, Alg::Rs256), Pool::new(&keys, Alg::Es256)];
    // Signed before any measurement, so that signing (untimed, but it evicts the CPU's
    // caches) rarely happens between samples: about as many as the runs below use.
    pools[0].take(150_000);
    pools[0].rewind();
    pools[1].take(60_000);
    pools[1].rewind();
    for (name, app, pool, rewind) in [
        ("portcullis_first_seen_RS256", &portcullis, 0, false),
        ("portcullis_first_seen_ES256", &portcullis, 1, false),
        // The hand-assembled stack remembers nothing: the RS256 tokens Portcullis has seen
        // are new to it.
        ("hand_first_seen_RS256", &hand, 0, true),
    ] {
        let pool = &mut pools[pool];
        if rewind {
            pool.rewind();
        }
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let tokens = pool.take(usize::try_from(iters).expect("iterations"));
                async move {
                    let started = Instant::now();
                    for token in &tokens {
                        assert_eq!(call(app, get(token)).await, StatusCode::OK);
                    }
                    started.elapsed()
                }
            })
        });
    }
    group.finish();
    summary();
}

/// The time per request criterion estimated for `variant` in this run, if it ran: the
/// slope of its linear samples (what criterion prints as `time`), else the mean.
fn mean_ns(variant: &str) -> Option<f64> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let path = target
        .join("criterion")
        .join(GROUP)
        .join(variant)
        .join("new")
        .join("estimates.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    json["slope"]["point_estimate"]
        .as_f64()
        .or_else(|| json["mean"]["point_estimate"].as_f64())
}

/// Each variant's time per request, its throughput on one core, and its ratios to bare axum and to the
/// hand-assembled stack with the same kind of token.
fn summary() {
    let bare = mean_ns("bare_axum");
    let hand_repeated = mean_ns("hand_repeated_RS256");
    let hand_first = mean_ns("hand_first_seen_RS256");
    println!("\n| variant | time | requests/s (1 core) | vs bare axum | vs hand-assembled |");
    println!("|---|---:|---:|---:|---:|");
    for variant in VARIANTS {
        let Some(mean) = mean_ns(variant) else {
            continue;
        };
        let versus_bare = bare.map_or("-".to_owned(), |bare| format!("{:.2}", bare / mean));
        let hand = if variant.contains("first_seen") {
            hand_first
        } else {
            hand_repeated
        };
        let versus_hand = match hand {
            Some(hand) if !variant.starts_with("hand") => format!("{:.2}x", hand / mean),
            _ => "-".to_owned(),
        };
        println!(
            "| {variant} | {:.2} µs | {:.0} | {versus_bare} | {versus_hand} |",
            mean / 1000.0,
            1e9 / mean
        );
    }
    println!(
        "\n`vs bare axum` is bare's time over the variant's (1.00 = as fast as bare); \
         `vs hand-assembled` is how many times faster than the hand-assembled stack with \
         the same kind of token (repeated, or first-seen)."
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = compare
}
criterion_main!(benches);
