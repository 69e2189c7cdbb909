//! What the fuzz targets share: a fixed issuer and its keys, a fixed clock, a `Security`
//! that trusts them, a router of validated extractors, and a runtime to drive them.
//!
//! Everything is built once per process and is deterministic, so that an input found by
//! one run does the same thing in the next: the keys are the development issuer's keys
//! saved in `fixtures/dev_issuer.json` (with the time its tokens were minted), plus a fixed
//! HMAC secret that the targets use to sign arbitrary claims, so that the checks after the
//! signature are reached as well.

#![forbid(unsafe_code)]

use std::future::Future;
use std::sync::OnceLock;

use aws_lc_rs::hmac;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use portcullis::auth::Algorithm;
use portcullis::prelude::*;
use portcullis::{ScopeRegistry, ScopeSet};
use secrecy::SecretSlice;
use serde_json::Value;
use tower::ServiceExt;

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Create orders",
    "orders:admin" => "Delete orders",
}

/// The issuer of every fixture token.
pub const ISSUER: &str = "https://issuer.fuzz.test/";

/// The audience of every fixture token.
pub const AUDIENCE: &str = "orders-api";

/// The `kid` of the HMAC secret.
pub const HMAC_KID: &str = "fuzz-hs256";

/// The HMAC secret the targets sign arbitrary claims with (a test value, 48 bytes).
pub const HMAC_SECRET: &[u8] = b"portcullis fuzzing secret, never used elsewhere!";

/// The largest token accepted by the fuzzed `Security`.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What `examples/make_corpus.rs` saved of the development issuer.
struct Fixture {
    jwks: String,
    now: u64,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let saved: Value = serde_json::from_str(include_str!("../fixtures/dev_issuer.json"))
            .expect("fixtures/dev_issuer.json is JSON; run `cargo run --example make_corpus`");
        Fixture {
            jwks: saved["jwks"].to_string(),
            now: saved["now"].as_u64().expect("a `now` in the fixture"),
        }
    })
}

/// The development issuer's JWKS, as saved.
pub fn jwks_json() -> &'static str {
    &fixture().jwks
}

/// The fixed clock of the targets (Unix seconds): a minute after the fixture tokens were
/// minted, so that they are valid.
pub fn now() -> u64 {
    fixture().now
}

/// The scopes declared above.
pub fn registry() -> &'static ScopeRegistry {
    &__portcullis_scopes::REGISTRY
}

/// The scope set of `names` in [`registry`].
pub fn scope_set<'a>(names: impl IntoIterator<Item = &'a str>) -> ScopeSet {
    registry().set_of(names)
}

/// A single-threaded runtime, shared by every call of a target.
pub fn block_on<F: Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a runtime")
        })
        .block_on(future)
}

/// The issuer configuration that trusts the fixture keys and the HMAC secret.
pub fn issuer() -> Issuer {
    Issuer::new(ISSUER)
        .audience(AUDIENCE)
        .jwks_json(jwks_json())
        .hmac_secret(Some(HMAC_KID), &SecretSlice::from(HMAC_SECRET.to_vec()))
        .algorithms([
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
            Algorithm::RS256,
            Algorithm::PS256,
            Algorithm::HS256,
        ])
}

/// The `Security` of the targets, built once.
pub fn security() -> &'static Security {
    static SECURITY: OnceLock<Security> = OnceLock::new();
    SECURITY.get_or_init(|| {
        block_on(
            Security::builder()
                .issuer(issuer())
                .default_rate(Rate::per_second(1_000_000))
                .max_token_bytes(MAX_TOKEN_BYTES)
                .auth_failure_limit(None)
                .build(),
        )
        .expect("the fuzz configuration is valid")
    })
}

/// Signs `header` and `payload` (any bytes) as a compact JWS with the HMAC secret.
pub fn sign_hs256(header: &[u8], payload: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, HMAC_SECRET);
    let tag = hmac::sign(&key, signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// Splits `data` in two at its first `sep` byte (the second part empty if none).
pub fn split_at_byte(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|byte| *byte == sep) {
        Some(index) => (&data[..index], &data[index + 1..]),
        None => (data, &[]),
    }
}

// --- The router of validated extractors -------------------------------------------------

/// A new order (a JSON body).
#[input]
pub struct NewOrder {
    #[garde(length(chars, min = 1, max = 64))]
    item: String,
    #[garde(range(min = 1, max = 1000))]
    quantity: u32,
    #[garde(dive)]
    lines: Option<Vec<Line>>,
    #[garde(dive)]
    delivery: Option<Delivery>,
}

/// One line of an order.
#[input]
pub struct Line {
    #[garde(length(min = 1, max = 8), ascii)]
    sku: String,
    #[garde(range(min = -5, max = 5))]
    adjust: Option<i8>,
    #[garde(skip)]
    gift: Option<bool>,
}

/// Where an order goes.
#[input]
pub struct Delivery {
    #[garde(email)]
    email: String,
    #[garde(length(max = 3))]
    tags: Vec<String>,
    #[garde(range(min = 0.0, max = 1.0e6))]
    weight: f64,
}

/// A search (a query string).
#[input]
pub struct Search {
    #[garde(length(min = 2, max = 20))]
    q: String,
    #[garde(range(max = 100))]
    limit: Option<u32>,
    #[garde(pattern(r"^[a-z]+$"))]
    sort: Option<String>,
    #[garde(skip)]
    exact: Option<bool>,
}

/// A login (a form body).
#[input]
pub struct Login {
    #[garde(ascii, length(min = 3, max = 32))]
    user: String,
    #[garde(length(min = 8, max = 128))]
    password: String,
    #[garde(range(min = 1, max = 3650))]
    days: Option<u16>,
}

/// Named path parameters.
#[input]
pub struct Item {
    #[garde(length(min = 1, max = 16), alphanumeric)]
    name: String,
    #[garde(range(max = 9999))]
    version: u16,
}

#[public(post, path = "/orders", rate = "unlimited")]
async fn create_order(Json(order): Json<NewOrder>) -> Json<u32> {
    let gifts = order
        .lines
        .iter()
        .flatten()
        .filter(|line| line.gift == Some(true));
    Json(order.quantity + gifts.count() as u32)
}

#[public(post, path = "/small", rate = "unlimited", body_limit = 64)]
async fn small(Json(value): Json<Vec<u64>>) -> Json<usize> {
    Json(value.len())
}

#[public(get, path = "/search", rate = "unlimited")]
async fn search(Query(search): Query<Search>) -> String {
    format!("{} {:?}", search.q, search.exact)
}

#[public(post, path = "/login", rate = "unlimited")]
async fn login(Form(login): Form<Login>) -> String {
    login.user
}

#[public(get, path = "/orders/{id}/lines/{line}", rate = "unlimited")]
async fn order_line(Path((id, line)): Path<(u64, u8)>) -> String {
    format!("{id}/{line}")
}

#[public(get, path = "/items/{name}/{version}", rate = "unlimited")]
async fn item(Path(item): Path<Item>) -> String {
    item.name
}

#[public(get, path = "/files/{*rest}", rate = "unlimited")]
async fn file(Path(rest): Path<String>) -> String {
    rest
}

#[public(get, path = "/flags/{flag}", rate = "unlimited")]
async fn flag(Path(flag): Path<Option<bool>>) -> String {
    format!("{flag:?}")
}

/// The router of the extractor targets, built once.
pub fn router() -> &'static axum::Router {
    static ROUTER: OnceLock<axum::Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        SecureRouter::new(security().clone())
            .mount(routes![
                create_order,
                small,
                search,
                login,
                order_line,
                item,
                file,
                flag
            ])
            .into_router()
    })
}

/// Sends `request` through [`router`] and returns the status, after reading the whole
/// answer. A server error is a bug: every bad input is a 4xx.
pub fn send(request: Request<Body>) -> StatusCode {
    let mut request = request;
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [192, 0, 2, 1],
            40000,
        ))));
    // Built before entering the runtime: building blocks on it too.
    let router = router().clone();
    block_on(async {
        let response = router.oneshot(request).await.expect("infallible");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        assert!(
            !status.is_server_error(),
            "{status}: {}",
            String::from_utf8_lossy(&body)
        );
        status
    })
}
