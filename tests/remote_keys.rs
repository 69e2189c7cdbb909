//! Production token authentication against a real JWKS and discovery server on loopback:
//! rotation without a failed request, bounded refreshes, stale-while-failing, several
//! issuers, the verified-token cache and revocation.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::idp::Idp;
use common::keys::{TestKey, jwks};
use common::*;
use jsonwebtoken::Algorithm;
use portcullis::auth::JwksOptions;
use portcullis::prelude::*;
use serde_json::{Value, json};

portcullis::scopes! { "orders:read" => "Read orders" }

#[secure(get, path = "/orders", scope = "orders:read", rate = "unlimited")]
async fn list_orders(who: Principal) -> String {
    who.subject().unwrap_or_default().to_owned()
}

fn claims_for(issuer: &str) -> Value {
    let mut claims = claims("orders:read");
    claims["iss"] = json!(issuer);
    claims
}

fn fast_refresh() -> JwksOptions {
    JwksOptions {
        refresh_interval: Duration::from_secs(3600),
        unknown_kid_cooldown: Duration::from_millis(300),
        ..JwksOptions::default()
    }
}

async fn app_for(issuers: Vec<Issuer>, audit: &AuditLog) -> axum::Router {
    let mut builder = Security::builder()
        .default_rate(rate!("1000/s"))
        .audit_sink(audit.sink());
    for issuer in issuers {
        builder = builder.issuer(issuer);
    }
    SecureRouter::new(builder.build().await.unwrap())
        .mount(routes![list_orders])
        .into_router()
}

async fn status(app: &axum::Router, token: &str) -> StatusCode {
    send(app, get("/orders", token)).await.status
}

#[tokio::test]
async fn a_rotated_key_works_on_first_sight_and_a_removed_one_stops() {
    let old = TestKey::ec("old", false);
    let new = TestKey::ec("new", false);
    let idp = Idp::start(jwks(&[&old])).await;
    let issuer = Issuer::new(&idp.base)
        .audience(AUDIENCE)
        .jwks_url(idp.jwks_url())
        .jwks_options(fast_refresh());
    let audit = AuditLog::default();
    let app = app_for(vec![issuer], &audit).await;
    let old_token = old.sign(Algorithm::ES256, None, &claims_for(&idp.base));
    assert_eq!(status(&app, &old_token).await, StatusCode::OK);

    // The provider publishes the next key, then starts signing with it: the very first
    // request with the new kid succeeds.
    idp.publish(jwks(&[&old, &new]));
    let new_token = new.sign(Algorithm::ES256, None, &claims_for(&idp.base));
    assert_eq!(status(&app, &new_token).await, StatusCode::OK);
    assert_eq!(
        status(&app, &old_token).await,
        StatusCode::OK,
        "the old key is still published"
    );

    // The old key is withdrawn: once the keys are refreshed, its tokens stop working, even
    // though the old token is in the verified-token cache.
    idp.publish(jwks(&[&new]));
    tokio::time::sleep(Duration::from_millis(350)).await;
    let another_new = new.sign(
        Algorithm::ES256,
        None,
        &claims_for(&idp.base).tap_subject("bob"),
    );
    let unknown =
        TestKey::ec("unknown", false).sign(Algorithm::ES256, None, &claims_for(&idp.base));
    assert_eq!(
        status(&app, &unknown).await,
        StatusCode::UNAUTHORIZED,
        "refreshes the keys"
    );
    assert_eq!(status(&app, &old_token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(audit.last().reason, "unknown_kid");
    assert_eq!(status(&app, &another_new).await, StatusCode::OK);
}

trait TapSubject {
    fn tap_subject(self, subject: &str) -> Self;
}

impl TapSubject for Value {
    fn tap_subject(mut self, subject: &str) -> Self {
        self["sub"] = json!(subject);
        self
    }
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_at_most_two_fetches() {
    let key = TestKey::ec("k", false);
    let idp = Idp::start(jwks(&[&key])).await;
    let issuer = Issuer::new(&idp.base)
        .audience(AUDIENCE)
        .jwks_url(idp.jwks_url());
    let app = app_for(vec![issuer], &AuditLog::default()).await;
    let start = idp.jwks_fetches();
    let mut requests = Vec::new();
    for n in 0..200 {
        let forged = TestKey::ed25519(&format!("forged-{n}"));
        let token = forged.sign(Algorithm::EdDSA, None, &claims_for(&idp.base));
        let app = app.clone();
        requests.push(tokio::spawn(async move { status(&app, &token).await }));
    }
    for request in requests {
        assert_eq!(request.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    let fetched = idp.jwks_fetches() - start;
    assert!(fetched <= 2, "{fetched} JWKS fetches for 200 unknown kids");
}

#[tokio::test]
async fn cached_keys_outlive_a_provider_that_fails() {
    let key = TestKey::rsa("rsa", aws_lc_rs::rsa::KeySize::Rsa2048);
    let idp = Idp::start(jwks(&[&key])).await;
    let issuer = Issuer::new(&idp.base)
        .audience(AUDIENCE)
        .jwks_url(idp.jwks_url())
        .jwks_options(fast_refresh());
    let (alerts, sink) = alert_kinds();
    let security = Security::builder()
        .issuer(issuer)
        .default_rate(rate!("1000/s"))
        .auth_failure_limit(None)
        .alert_sink(sink)
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security)
        .mount(routes![list_orders])
        .into_router();

    // Garbage: the keys stay.
    idp.publish("{\"keys\": 5}".to_owned());
    let unknown = TestKey::ec("x", false).sign(Algorithm::ES256, None, &claims_for(&idp.base));
    assert_eq!(
        status(&app, &unknown).await,
        StatusCode::UNAUTHORIZED,
        "triggers a refresh"
    );
    let token = key.sign(Algorithm::RS256, None, &claims_for(&idp.base));
    assert_eq!(status(&app, &token).await, StatusCode::OK);

    // Errors, then no answer at all: the keys stay.
    idp.fail_with(StatusCode::INTERNAL_SERVER_ERROR);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(status(&app, &unknown).await, StatusCode::UNAUTHORIZED);
    idp.stop();
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(status(&app, &unknown).await, StatusCode::UNAUTHORIZED);
    let fresh_token = key.sign(
        Algorithm::PS256,
        None,
        &claims_for(&idp.base).tap_subject("carol"),
    );
    assert_eq!(status(&app, &fresh_token).await, StatusCode::OK);
    // One alert for the outage, however many fetches failed.
    let seen = alerts.lock().unwrap().clone();
    let failures = seen
        .iter()
        .filter(|kind| matches!(kind, portcullis::alert::AlertKind::KeyFetchFailed { .. }))
        .count();
    assert_eq!(failures, 1, "{seen:?}");
}

#[tokio::test]
async fn discovery_finds_the_keys_and_checks_the_issuer() {
    let key = TestKey::ed25519("ed");
    let idp = Idp::start(jwks(&[&key])).await;
    let audit = AuditLog::default();
    let app = app_for(vec![Issuer::discover(&idp.base).audience(AUDIENCE)], &audit).await;
    let token = key.sign(Algorithm::EdDSA, None, &claims_for(&idp.base));
    assert_eq!(status(&app, &token).await, StatusCode::OK);

    // A document naming another issuer: the service starts, but the keys it names are not
    // fetched, the issuer waits (and says why), and its tokens are refused with 503.
    idp.claim_issuer("https://impostor.test/");
    let fetched = idp.jwks_fetches();
    let (alerts, sink) = alert_kinds();
    let audit = AuditLog::default();
    let security = Security::builder()
        .issuer(Issuer::discover(&idp.base).audience(AUDIENCE))
        .default_rate(rate!("1000/s"))
        .alert_sink(sink)
        .audit_sink(audit.sink())
        .build()
        .await
        .unwrap();
    let readiness = security.readiness();
    assert!(!readiness.is_ready());
    let message = readiness.to_string();
    assert!(message.contains("says issuer"), "{message}");
    assert!(message.contains("\"https://impostor.test/\""), "{message}");
    assert!(matches!(
        alerts.lock().unwrap().as_slice(),
        [portcullis::alert::AlertKind::IssuerUnavailable {
            failure: portcullis::auth::IssuerFailure::IssuerMismatch,
            ..
        }]
    ));
    assert_eq!(
        idp.jwks_fetches(),
        fetched,
        "no key of the impostor is fetched"
    );
    let app = SecureRouter::new(security)
        .mount(routes![list_orders])
        .into_router();
    assert_eq!(status(&app, &token).await, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(audit.last().reason, "keys_unavailable");

    let insecure = Security::builder()
        .issuer(
            Issuer::new("https://idp.example.com/")
                .audience(AUDIENCE)
                .jwks_url("http://idp.example.com/jwks"),
        )
        .default_rate(rate!("1/s"))
        .build()
        .await
        .unwrap_err();
    assert!(
        insecure.to_string().contains("could not be fetched"),
        "{insecure}"
    );
}

#[tokio::test]
async fn each_issuer_is_verified_with_its_own_keys() {
    let a = TestKey::ec("shared-kid", false);
    let b = TestKey::ec("shared-kid", false);
    let idp_a = Idp::start(jwks(&[&a])).await;
    let idp_b = Idp::start(jwks(&[&b])).await;
    let app = app_for(
        vec![
            Issuer::new(&idp_a.base)
                .audience(AUDIENCE)
                .jwks_url(idp_a.jwks_url()),
            Issuer::new(&idp_b.base)
                .audience(AUDIENCE)
                .jwks_url(idp_b.jwks_url()),
        ],
        &AuditLog::default(),
    )
    .await;
    assert_eq!(
        status(
            &app,
            &a.sign(Algorithm::ES256, None, &claims_for(&idp_a.base))
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        status(
            &app,
            &b.sign(Algorithm::ES256, None, &claims_for(&idp_b.base))
        )
        .await,
        StatusCode::OK
    );
    // Same kid, other issuer's key: refused both ways.
    assert_eq!(
        status(
            &app,
            &a.sign(Algorithm::ES256, None, &claims_for(&idp_b.base))
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(
            &app,
            &b.sign(Algorithm::ES256, None, &claims_for(&idp_a.base))
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn embedded_key_headers_are_never_used() {
    let ours = TestKey::ec("ours", false);
    let idp = Idp::start(jwks(&[&ours])).await;
    let audit = AuditLog::default();
    let app = app_for(
        vec![
            Issuer::new(&idp.base)
                .audience(AUDIENCE)
                .jwks_url(idp.jwks_url()),
        ],
        &audit,
    )
    .await;
    let attacker = TestKey::ec("ours", false);
    let attacker_url = format!("{}/jwks-of-the-attacker", idp.base);
    for extra in [
        json!({"jwk": attacker.jwk()}),
        json!({"jku": attacker_url}),
        json!({"x5u": attacker_url}),
        json!({"x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}),
    ] {
        let mut header = json!({"alg": "ES256", "kid": "ours"});
        for (name, value) in extra.as_object().unwrap() {
            header[name] = value.clone();
        }
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string()),
            b64(claims_for(&idp.base).to_string())
        );
        let signature = attacker.raw_signature(signing_input.as_bytes());
        let token = format!("{signing_input}.{}", b64(signature));
        assert_eq!(
            status(&app, &token).await,
            StatusCode::UNAUTHORIZED,
            "{extra}"
        );
        assert_eq!(audit.last().reason, "bad_signature");
    }
    // ECDSA with r = s = 0 (CVE-2022-21449 "psychic signatures").
    let header = json!({"alg": "ES256", "kid": "ours"});
    let zero = raw_token(&header, &claims_for(&idp.base), &[0u8; 64]);
    assert_eq!(status(&app, &zero).await, StatusCode::UNAUTHORIZED);
    assert_eq!(audit.last().reason, "bad_signature");
}

#[tokio::test]
async fn a_revoked_token_is_refused_on_a_cache_hit() {
    let dev = dev_issuer();
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security.clone())
        .mount(routes![list_orders])
        .into_router();
    let token = dev.token().subject("alice").scopes(["orders:read"]).sign();
    let sibling = dev.token().subject("alice").scopes(["orders:read"]).sign();
    assert_eq!(status(&app, &token).await, StatusCode::OK);
    assert_eq!(status(&app, &token).await, StatusCode::OK);
    let stats = security.token_cache_stats();
    assert!(stats.hits >= 1 && stats.entries >= 1, "{stats:?}");

    let jti = jwt_claim(&token, "jti");
    let exp = jwt_claim(&token, "exp").parse().unwrap();
    security.revoke_token(ISSUER, &jti, exp).await.unwrap();
    let reply = send(&app, get("/orders", &token)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.bearer_error().as_deref(), Some("invalid_token"));
    assert_eq!(
        status(&app, &sibling).await,
        StatusCode::OK,
        "only that token"
    );

    // Every token of a subject issued before now.
    security
        .revoke_subject(ISSUER, "alice", now() + 1)
        .await
        .unwrap();
    assert_eq!(status(&app, &sibling).await, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = dev.token().subject("alice").scopes(["orders:read"]).sign();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        status(&app, &later).await,
        StatusCode::OK,
        "issued after the revocation"
    );
}

fn jwt_claim(token: &str, name: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    match &claims[name] {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn a_token_differing_in_one_byte_is_not_a_cache_hit() {
    let dev = dev_issuer();
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security.clone())
        .mount(routes![list_orders])
        .into_router();
    let token = dev.token().subject("alice").scopes(["orders:read"]).sign();
    assert_eq!(status(&app, &token).await, StatusCode::OK);
    for position in [10, token.len() / 2, token.len() - 60, token.len() - 2] {
        let mut bytes = token.clone().into_bytes();
        bytes[position] = if bytes[position] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(bytes).unwrap();
        assert_eq!(
            status(&app, &changed).await,
            StatusCode::UNAUTHORIZED,
            "byte {position}"
        );
    }
    assert_eq!(status(&app, &token).await, StatusCode::OK);
}

#[tokio::test]
async fn the_fetched_key_set_is_current_until_a_refresh_replaces_it() {
    use std::sync::Arc;

    use portcullis::auth::{KeySet, RemoteJwks};

    let first_key = TestKey::ec("first", false);
    let idp = Idp::start(jwks(&[&first_key])).await;
    let remote = RemoteJwks::fetch(&idp.jwks_url(), fast_refresh())
        .await
        .expect("fetch");
    let first = remote.current();
    assert!(remote.is_current(&first));
    assert!(!remote.is_current(&Arc::new(KeySet::new())));

    idp.publish(jwks(&[&first_key, &TestKey::ec("second", false)]));
    let second = remote.refresh_now().await.expect("refresh");
    assert!(Arc::ptr_eq(&second, &remote.current()));
    assert!(remote.is_current(&second), "the refreshed set is current");
    assert!(!remote.is_current(&first), "the set it replaced is not");
    // Once the replaced set is gone, a new set may be allocated where it was (the allocator
    // often reuses the place): it is not current either.
    drop(first);
    let maybe_same_place = Arc::new(KeySet::new());
    assert!(!remote.is_current(&maybe_same_place));
}
