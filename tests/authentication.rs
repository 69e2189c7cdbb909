//! Authentication over the real router: every rule a resource server must apply to a
//! bearer token, each refusal with its RFC 6750 answer and its audit reason.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use common::*;
use portcullis::audit::Decision;
use portcullis::prelude::*;
use serde_json::json;

portcullis::scopes! {
    "orders:read" => "Read orders",
}

/// Counts handler runs, so tests can prove a refused request never reached it.
type Calls = Arc<AtomicUsize>;

#[secure(get, path = "/orders", scope = "orders:read", rate = "unlimited")]
async fn list_orders(State(calls): State<Calls>, who: Principal) -> String {
    calls.fetch_add(1, Ordering::SeqCst);
    format!("orders of {}", who.subject().unwrap_or("?"))
}

#[derive(serde::Deserialize)]
struct TenantClaims {
    tenant: String,
    #[serde(default)]
    plan: Option<String>,
}

#[secure(get, path = "/tenant", scope = "orders:read", rate = "unlimited")]
async fn tenant(Claims(claims): Claims<TenantClaims>, who: Principal) -> String {
    format!(
        "{} {} {:?}",
        who.client_id().unwrap_or("?"),
        claims.tenant,
        claims.plan
    )
}

struct Fixture {
    dev: portcullis::dev::DevIssuer,
    app: axum::Router,
    audit: AuditLog,
    calls: Calls,
}

async fn fixture() -> Fixture {
    let dev = dev_issuer();
    let audit = AuditLog::default();
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1000/s"))
        .realm("orders")
        .audit_sink(audit.sink())
        .build()
        .await
        .unwrap();
    let calls = Calls::default();
    let app = SecureRouter::new(security)
        .mount(routes![list_orders, tenant])
        .into_router()
        .with_state(calls.clone());
    Fixture {
        dev,
        app,
        audit,
        calls,
    }
}

/// Asserts a 401 `invalid_token` whose audit reason is `reason`, that the handler did not
/// run, and that the token is not echoed.
async fn assert_refused(fixture: &Fixture, token: &str, reason: &str) {
    let before = fixture.calls.load(Ordering::SeqCst);
    let reply = send(&fixture.app, get("/orders", token)).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{reason}: {}",
        reply.text
    );
    assert_eq!(
        reply.bearer_error().as_deref(),
        Some("invalid_token"),
        "{reason}"
    );
    assert!(
        reply
            .header("www-authenticate")
            .starts_with("Bearer realm=\"orders\"")
    );
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert_eq!(reply.json()["status"], 401);
    assert!(!reply.text.contains(token), "the token was echoed");
    assert_eq!(
        fixture.calls.load(Ordering::SeqCst),
        before,
        "the handler ran for {reason}"
    );
    let event = fixture.audit.last();
    assert_eq!(
        (event.decision, event.reason.as_str(), event.status),
        (Decision::Deny, reason, 401)
    );
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler() {
    let fixture = fixture().await;
    let token = fixture
        .dev
        .token()
        .subject("alice")
        .client("app-1")
        .scopes(["orders:read"])
        .sign();
    let reply = send(&fixture.app, get("/orders", &token)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text, "orders of alice");
    assert_eq!(reply.header("cache-control"), "no-store");
    let event = fixture.audit.last();
    assert_eq!(event.decision, Decision::Allow);
    assert_eq!(event.reason, "authorized");
    assert_eq!(event.subject.as_deref(), Some("alice"));
    assert_eq!(event.client.as_deref(), Some("app-1"));
}

#[tokio::test]
async fn no_token_is_a_challenge_without_error_code() {
    let fixture = fixture().await;
    for request in [
        Request::get("/orders").body(Body::empty()).unwrap(),
        Request::get("/orders")
            .header("authorization", "Basic YWxpY2U6c2VjcmV0")
            .body(Body::empty())
            .unwrap(),
    ] {
        let reply = send(&fixture.app, request).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.header("www-authenticate"), "Bearer realm=\"orders\"");
        assert_eq!(
            reply.json()["type"],
            "tag:portcullis.rs,2026:problem:unauthenticated"
        );
        assert_eq!(fixture.audit.last().reason, "missing_token");
    }
}

#[tokio::test]
async fn malformed_requests_are_invalid_request() {
    let fixture = fixture().await;
    let token = fixture.dev.token().scopes(["orders:read"]).sign();
    let two_headers = Request::get("/orders")
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let reply = send(&fixture.app, two_headers).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.bearer_error().as_deref(), Some("invalid_request"));
    assert_eq!(
        fixture.audit.last().reason,
        "multiple_authorization_headers"
    );

    let in_query = Request::get(format!("/orders?access_token={token}"))
        .body(Body::empty())
        .unwrap();
    let reply = send(&fixture.app, in_query).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.bearer_error().as_deref(), Some("invalid_request"));
    assert!(!reply.text.contains(&token));
    assert_eq!(fixture.audit.last().reason, "token_in_query");
}

#[tokio::test]
async fn malformed_tokens() {
    let fixture = fixture().await;
    assert_refused(&fixture, "not-a-jwt", "malformed_token").await;
    assert_refused(&fixture, "a.b.c", "malformed_token").await;
    assert_refused(
        &fixture,
        &format!("{}.{}.", b64("{}"), b64("{}")),
        "malformed_token",
    )
    .await;
    let jwe = format!("{}.a.b.c.d", b64(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#));
    assert_refused(&fixture, &jwe, "malformed_token").await;
    let long = "a".repeat(9 * 1024);
    assert_refused(&fixture, &long, "token_too_large").await;
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens() {
    let fixture = fixture().await;
    let now = now();
    let mut expired = claims("orders:read");
    expired["iat"] = json!(now - 3600);
    expired["exp"] = json!(now - 120);
    let reply = send(
        &fixture.app,
        get(
            "/orders",
            &fixture.dev.sign_claims(Some("at+jwt"), &expired),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply
            .header("www-authenticate")
            .contains("error_description=\"the access token expired\"")
    );
    assert_eq!(fixture.audit.last().reason, "expired");

    // Within the 30 s leeway an expiry is tolerated.
    let mut just_expired = claims("orders:read");
    just_expired["iat"] = json!(now - 600);
    just_expired["exp"] = json!(now - 5);
    let reply = send(
        &fixture.app,
        get(
            "/orders",
            &fixture.dev.sign_claims(Some("at+jwt"), &just_expired),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);

    let mut early = claims("orders:read");
    early["nbf"] = json!(now + 300);
    assert_refused(
        &fixture,
        &fixture.dev.sign_claims(Some("at+jwt"), &early),
        "not_yet_valid",
    )
    .await;

    let mut future = claims("orders:read");
    future["iat"] = json!(now + 300);
    assert_refused(
        &fixture,
        &fixture.dev.sign_claims(Some("at+jwt"), &future),
        "issued_in_future",
    )
    .await;

    let mut long_lived = claims("orders:read");
    long_lived["exp"] = json!(now + 2 * 24 * 3600);
    assert_refused(
        &fixture,
        &fixture.dev.sign_claims(Some("at+jwt"), &long_lived),
        "lifetime_too_long",
    )
    .await;

    for (name, value) in [
        ("exp", json!("tomorrow")),
        ("exp", json!(-5)),
        ("iat", json!(null)),
    ] {
        let mut bad = claims("orders:read");
        bad[name] = value;
        assert_refused(
            &fixture,
            &fixture.dev.sign_claims(Some("at+jwt"), &bad),
            "malformed_claim",
        )
        .await;
    }
    let mut no_exp = claims("orders:read");
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_refused(
        &fixture,
        &fixture.dev.sign_claims(Some("at+jwt"), &no_exp),
        "missing_claim",
    )
    .await;
}

#[tokio::test]
async fn issuer_and_audience_compare_exactly() {
    let fixture = fixture().await;
    for issuer in [
        "https://evil.test/",
        "https://issuer.test",
        "https://issuer.test/x",
        "HTTPS://ISSUER.TEST/",
        "",
    ] {
        let mut wrong = claims("orders:read");
        wrong["iss"] = json!(issuer);
        assert_refused(
            &fixture,
            &fixture.dev.sign_claims(Some("at+jwt"), &wrong),
            "unknown_issuer",
        )
        .await;
    }
    for audience in [
        json!("orders-api-2"),
        json!("orders"),
        json!([]),
        json!(["billing"]),
    ] {
        let mut wrong = claims("orders:read");
        wrong["aud"] = audience;
        assert_refused(
            &fixture,
            &fixture.dev.sign_claims(Some("at+jwt"), &wrong),
            "wrong_audience",
        )
        .await;
    }
    let mut listed = claims("orders:read");
    listed["aud"] = json!(["billing", AUDIENCE]);
    let reply = send(
        &fixture.app,
        get("/orders", &fixture.dev.sign_claims(Some("at+jwt"), &listed)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn signatures_must_come_from_the_issuers_key() {
    let fixture = fixture().await;
    // Another key that claims to be the same issuer.
    let impostor = dev_issuer();
    let forged = impostor.token().scopes(["orders:read"]).sign();
    assert_refused(&fixture, &forged, "unknown_kid").await;

    // The impostor's signature under our key id.
    let mut parts: Vec<String> = forged.split('.').map(str::to_owned).collect();
    parts[0] = b64(json!({"alg": "ES256", "typ": "at+jwt", "kid": fixture.dev.kid()}).to_string());
    let swapped = impostor.sign_claims(Some("at+jwt"), &claims("orders:read"));
    parts[2] = swapped.split('.').nth(2).unwrap().to_owned();
    assert_refused(&fixture, &parts.join("."), "bad_signature").await;

    // A valid token whose payload was changed after signing.
    let valid = fixture.dev.token().scopes(["orders:read"]).sign();
    let pieces: Vec<&str> = valid.split('.').collect();
    let mut tampered_claims = claims("orders:read");
    tampered_claims["sub"] = json!("mallory");
    let tampered = format!(
        "{}.{}.{}",
        pieces[0],
        b64(tampered_claims.to_string()),
        pieces[2]
    );
    assert_refused(&fixture, &tampered, "bad_signature").await;
}

#[tokio::test]
async fn alg_none_is_refused_in_every_casing() {
    let fixture = fixture().await;
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": fixture.dev.kid()});
        let unsigned = format!(
            "{}.{}.",
            b64(header.to_string()),
            b64(claims("orders:read").to_string())
        );
        assert_refused(&fixture, &unsigned, "malformed_token").await;
        let with_junk = raw_token(&header, &claims("orders:read"), b"junk");
        assert_refused(&fixture, &with_junk, "algorithm_not_allowed").await;
    }
}

#[tokio::test]
async fn hmac_signed_with_the_public_key_is_refused() {
    let fixture = fixture().await;
    let public_jwk = fixture.dev.jwks_json();
    let header = jsonwebtoken::Header {
        kid: Some(fixture.dev.kid().to_owned()),
        typ: Some("at+jwt".to_owned()),
        ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
    };
    // The classic confusion: the public key, as the attacker knows it, as an HMAC secret.
    let key = jsonwebtoken::EncodingKey::from_secret(public_jwk.as_bytes());
    let forged = jsonwebtoken::encode(&header, &claims("orders:read"), &key).unwrap();
    assert_refused(&fixture, &forged, "algorithm_not_allowed").await;
}

#[tokio::test]
async fn explicit_typing_and_crit() {
    let fixture = fixture().await;
    // The development issuer's configuration is RFC 9068: `typ` must be `at+jwt`.
    assert_refused(
        &fixture,
        &fixture.dev.sign_claims(Some("JWT"), &claims("orders:read")),
        "wrong_token_type",
    )
    .await;
    assert_refused(
        &fixture,
        &fixture.dev.sign_claims(None, &claims("orders:read")),
        "wrong_token_type",
    )
    .await;
    let mut id_token = claims("orders:read");
    id_token.as_object_mut().unwrap().remove("client_id");
    assert_refused(
        &fixture,
        &fixture.dev.sign_claims(Some("at+jwt"), &id_token),
        "missing_claim",
    )
    .await;

    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": fixture.dev.kid(), "crit": ["exp"], "exp": 1});
    assert_refused(
        &fixture,
        &raw_token(&header, &claims("orders:read"), b"sig"),
        "critical_header",
    )
    .await;
}

#[tokio::test]
async fn duplicate_claims_are_refused() {
    let fixture = fixture().await;
    let valid = fixture.dev.token().scopes(["orders:read"]).sign();
    let header = valid.split('.').next().unwrap();
    let payload = claims("orders:read")
        .to_string()
        .replacen('{', "{\"sub\":\"admin\",", 1);
    let token = format!("{header}.{}.c2ln", b64(payload));
    assert_refused(&fixture, &token, "duplicate_claim").await;
}

#[tokio::test]
async fn a_principal_outside_a_secure_route_is_refused() {
    async fn sneaky(who: Principal) -> String {
        who.subject().unwrap_or_default().to_owned()
    }
    let app = axum::Router::new().route("/sneaky", axum::routing::get(sneaky));
    let reply = send(&app, Request::get("/sneaky").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

/// A hand-written extractor that reads the verified caller inside: the compiler cannot see
/// it in a `#[public]` endpoint, so the request is refused at run time.
struct Tenant(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Tenant {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let who = Principal::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Tenant(who.subject().unwrap_or_default().to_owned()))
    }
}

impl portcullis::SafeExtractor for Tenant {}

#[public(get, path = "/public-tenant", rate = "unlimited")]
async fn public_tenant(State(calls): State<Calls>, Tenant(tenant): Tenant) -> String {
    calls.fetch_add(1, Ordering::SeqCst);
    tenant
}

/// Log lines written while a test runs, for the assertions on what the log says.
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_caller_read_inside_an_extractor_of_a_public_endpoint_is_refused_and_logged() {
    let logs = Logs::default();
    let writer = logs.clone();
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish(),
    );
    let dev = dev_issuer();
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap();
    let calls = Calls::default();
    let app = SecureRouter::new(security)
        .mount(routes![public_tenant])
        .into_router()
        .with_state(calls.clone());
    let token = dev.token().subject("alice").scopes(["orders:read"]).sign();
    let reply = send(&app, get("/public-tenant", &token)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    assert!(!reply.text.contains("alice"));
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the handler ran");
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("an extractor of the #[public] endpoint asked for the verified caller")
            && logged.contains("handler=\"public_tenant\""),
        "{logged}"
    );
}

#[tokio::test]
async fn keys_from_pem_and_jwks_of_every_type() {
    use common::keys::{TestKey, jwks};
    use jsonwebtoken::Algorithm;
    let rsa = TestKey::rsa("rsa", aws_lc_rs::rsa::KeySize::Rsa2048);
    let p256 = TestKey::ec("p256", false);
    let p384 = TestKey::ec("p384", true);
    let ed = TestKey::ed25519("ed");
    let by_pem = Issuer::new("https://pem.test/")
        .audience(AUDIENCE)
        .pem_key(Some("rsa"), rsa.public_pem().as_bytes())
        .pem_key(Some("p384"), p384.public_pem().as_bytes())
        .pem_key(Some("ed"), ed.public_pem().as_bytes());
    let by_jwks = Issuer::new("https://jwks.test/")
        .audience(AUDIENCE)
        .jwks_json(&jwks(&[&rsa, &p256, &ed]));
    let security = Security::builder()
        .issuer(by_pem)
        .issuer(by_jwks)
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security)
        .mount(routes![list_orders])
        .into_router()
        .with_state(Calls::default());
    let claims_for = |issuer: &str| {
        let mut claims = claims("orders:read");
        claims["iss"] = json!(issuer);
        claims
    };
    let accepted = [
        ("https://pem.test/", &rsa, Algorithm::RS256),
        ("https://pem.test/", &rsa, Algorithm::PS384),
        ("https://pem.test/", &p384, Algorithm::ES384),
        ("https://pem.test/", &ed, Algorithm::EdDSA),
        ("https://jwks.test/", &rsa, Algorithm::RS512),
        ("https://jwks.test/", &rsa, Algorithm::PS256),
        ("https://jwks.test/", &p256, Algorithm::ES256),
        ("https://jwks.test/", &ed, Algorithm::EdDSA),
    ];
    for (issuer, key, alg) in accepted {
        let token = key.sign(alg, Some("at+jwt"), &claims_for(issuer));
        let reply = send(&app, get("/orders", &token)).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{issuer} {alg:?}: {}",
            reply.text
        );
    }
    // A key of one issuer never validates a token claiming the other.
    let token = p256.sign(
        Algorithm::ES256,
        Some("at+jwt"),
        &claims_for("https://pem.test/"),
    );
    assert_eq!(
        send(&app, get("/orders", &token)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn custom_claims_deserialize_into_your_type() {
    let fixture = fixture().await;
    let token = fixture
        .dev
        .token()
        .client("app-9")
        .scopes(["orders:read"])
        .claim("tenant", "acme")
        .sign();
    let reply = send(&fixture.app, get("/tenant", &token)).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (StatusCode::OK, "app-9 acme None")
    );
    // Claims that do not fit the type: the token is not what this API needs.
    let token = fixture
        .dev
        .token()
        .scopes(["orders:read"])
        .claim("tenant", 42)
        .sign();
    let reply = send(&fixture.app, get("/tenant", &token)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.bearer_error().as_deref(), Some("invalid_token"));
    assert_eq!(fixture.audit.last().reason, "malformed_claim");
}

#[secure(get, path = "/limited", scope = "orders:read", rate = "3/min")]
async fn limited(who: Principal, request_id: portcullis::audit::RequestId) -> String {
    format!("{} {}", who.subject().unwrap_or("?"), request_id.as_str())
}

/// The first request verifies the token; the next ones find it in the cache and are decided
/// without waiting for anything. The answers must be the same but for the quota drawn on.
#[tokio::test]
async fn a_cached_token_is_answered_as_when_it_was_verified() {
    let dev = dev_issuer();
    let (security, audit) = audited_security(&dev).await;
    let app: axum::Router = SecureRouter::new(security.clone())
        .mount(routes![limited])
        .into_router();
    let alice = dev.token().subject("alice").scopes(["orders:read"]).sign();

    let mut remaining = Vec::new();
    for _ in 0..3 {
        let reply = send(&app, get("/limited", &alice)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let request_id = reply.header("x-request-id");
        assert_eq!(reply.text, format!("alice {request_id}"));
        assert_eq!(reply.header("cache-control"), "no-store");
        assert_eq!(reply.header("ratelimit-policy"), "\"limited\";q=3;w=60");
        let field = reply.header("ratelimit");
        let r = field.split(';').find_map(|p| p.strip_prefix("r=")).unwrap();
        remaining.push(r.parse::<u32>().unwrap());
        let event = audit.last();
        assert_eq!(
            (
                event.decision,
                event.reason.as_str(),
                event.subject.as_deref()
            ),
            (Decision::Allow, "authorized", Some("alice"))
        );
    }
    assert_eq!(remaining, [2, 1, 0], "one quota, whichever path decided");
    let reply = send(&app, get("/limited", &alice)).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(audit.last().reason, "rate_limited");

    // Refusals of a valid token are the same from the cache too.
    let nobody = dev.token().subject("bob").scopes(Vec::<&str>::new()).sign();
    for _ in 0..2 {
        let reply = send(&app, get("/limited", &nobody)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(reply.bearer_error().as_deref(), Some("insufficient_scope"));
        assert_eq!(audit.last().reason, "insufficient_scope");
    }

    // A token revoked after it was cached is refused from the cache (another client: the
    // quota above is per client).
    let carol = dev
        .token()
        .subject("carol")
        .client("app-2")
        .scopes(["orders:read"])
        .sign();
    assert_eq!(
        send(&app, get("/limited", &carol)).await.status,
        StatusCode::OK
    );
    security
        .revoke_subject(ISSUER, "carol", now() + 1)
        .await
        .unwrap();
    let reply = send(&app, get("/limited", &carol)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(audit.last().reason, "revoked");
}
