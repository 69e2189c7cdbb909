//! Opaque access tokens checked by introspection (RFC 7662), as a user meets them: an
//! issuer found by discovery whose document names its introspection endpoint, both JWTs
//! and opaque tokens of one issuer, an endpoint that fails (503, one alert per outage, the
//! token in no log line), and the development issuer's own opaque tokens, introspection and
//! revocation, served on loopback.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get as route_get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::introspection::{CLIENT_ID, CLIENT_SECRET, IntrospectionServer, active};
use common::keys::{TestKey, jwks};
use common::*;
use portcullis::alert::{Alert, AlertKind};
use portcullis::auth::{Introspection, OPENID_CONFIGURATION};
use portcullis::dev::{DevIssuer, OPAQUE_TOKEN_PREFIX};
use portcullis::prelude::*;
use secrecy::SecretString;
use serde_json::{Value, json};

portcullis::scopes! {
    "orders:read" => "Read orders",
}

#[secure(get, path = "/orders", scope = "orders:read", rate = "unlimited")]
async fn list_orders(who: Principal) -> String {
    format!("orders of {}", who.subject().unwrap_or("?"))
}

fn app(security: Security) -> axum::Router {
    SecureRouter::new(security)
        .mount(routes![list_orders])
        .into_router()
}

/// A provider on loopback publishing a discovery document (naming `introspection` as its
/// `introspection_endpoint`) and the JWKS of `key`. Its issuer identifier.
async fn provider(key: &TestKey, introspection: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let document = json!({
        "issuer": base,
        "jwks_uri": format!("{base}/jwks"),
        "introspection_endpoint": introspection,
    });
    let keys: Value = serde_json::from_str(&jwks(&[key])).unwrap();
    let app = axum::Router::new()
        .route(OPENID_CONFIGURATION, route_get(axum::Json(document)))
        .route("/jwks", route_get(axum::Json(keys)));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

fn introspection() -> Introspection {
    Introspection::new(CLIENT_ID, SecretString::from(CLIENT_SECRET))
}

#[tokio::test]
async fn a_discovered_issuer_takes_its_jwts_and_its_opaque_tokens() {
    let endpoint = IntrospectionServer::start().await;
    let key = TestKey::ec("k1", false);
    let issuer = provider(&key, &endpoint.url).await;
    let security = Security::builder()
        .issuer(
            Issuer::discover(&issuer)
                .audience(AUDIENCE)
                .introspection(introspection()),
        )
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap();
    let app = app(security);

    let opaque = "2YotnFZFEjr1zCsicMWpAA-discovered";
    endpoint.answer(opaque, active(&issuer, "orders:read"));
    let reply = send(&app, get("/orders", opaque)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.text, "orders of partner");

    let mut claims = claims("orders:read");
    claims["iss"] = json!(issuer);
    let jwt = key.sign(portcullis::auth::Algorithm::ES256, Some("at+jwt"), &claims);
    let reply = send(&app, get("/orders", &jwt)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(endpoint.total_hits(), 1, "the JWT is not introspected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_requests_with_a_new_token_asks_the_endpoint_once() {
    let endpoint = IntrospectionServer::start().await;
    let issuer = "https://opaque.test/";
    let security = Security::builder()
        .issuer(
            Issuer::new(issuer)
                .audience(AUDIENCE)
                .introspection(introspection().endpoint(&endpoint.url)),
        )
        .default_rate(rate!("1000/s"))
        .auth_failure_limit(None)
        .build()
        .await
        .unwrap();
    let app = app(security);
    endpoint.slow_down(Duration::from_millis(300));
    for (token, answer) in [
        (
            "burst-active-2YotnFZFEjr1zCsicMWpAA",
            Some(active(issuer, "orders:read")),
        ),
        ("burst-inactive-2YotnFZFEjr1zCsicMWpAA", None),
    ] {
        if let Some(answer) = answer {
            endpoint.answer(token, answer);
        }
        let requests: Vec<_> = (0..16)
            .map(|_| {
                let app = app.clone();
                tokio::spawn(async move { send(&app, get("/orders", token)).await.status })
            })
            .collect();
        let mut statuses = Vec::new();
        for request in requests {
            statuses.push(request.await.unwrap());
        }
        let expected = if token.contains("inactive") {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        assert!(
            statuses.iter().all(|status| *status == expected),
            "{statuses:?}"
        );
        assert_eq!(
            endpoint.hits(token),
            1,
            "{token}: one question for 16 requests"
        );
    }
}

#[tokio::test]
async fn a_failing_endpoint_refuses_with_503_alerts_once_and_logs_no_token() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(logs.clone())
            .finish(),
    );
    let endpoint = IntrospectionServer::start().await;
    let alerts: Arc<Mutex<Vec<Alert>>> = Arc::default();
    let into = alerts.clone();
    let issuer = "https://opaque.test/";
    let security = Security::builder()
        .issuer(
            Issuer::new(issuer)
                .audience(AUDIENCE)
                .introspection(introspection().endpoint(&endpoint.url)),
        )
        .default_rate(rate!("1000/s"))
        .auth_failure_limit(None)
        .alert_sink(move |alert: &Alert| into.lock().unwrap().push(alert.clone()))
        .build()
        .await
        .unwrap();
    let app = app(security);
    let token = "secret-opaque-token-2YotnFZFEjr1zCsicMWpAA";
    endpoint.answer(token, active(issuer, "orders:read"));

    endpoint.fail_with(Some(StatusCode::INTERNAL_SERVER_ERROR));
    for _ in 0..3 {
        let reply = send(&app, get("/orders", token)).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    }
    endpoint.fail_with(None);
    assert_eq!(
        send(&app, get("/orders", token)).await.status,
        StatusCode::OK
    );

    let kinds: Vec<AlertKind> = alerts
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.kind.clone())
        .collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(
        matches!(&kinds[0], AlertKind::IntrospectionUnavailable { issuer: of, error }
            if of == issuer && error.contains("HTTP 500") && error.contains(&endpoint.url)),
        "{kinds:?}"
    );
    assert_eq!(
        kinds[1],
        AlertKind::IntrospectionAvailable {
            issuer: issuer.to_owned()
        }
    );
    let logged = logs.text();
    assert!(logged.contains("introspection"), "{logged}");
    assert!(!logged.contains(token), "the token was logged:\n{logged}");
    assert!(!logged.contains(CLIENT_SECRET), "the secret was logged");
    assert!(
        !logged.contains(&STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))),
        "the credentials were logged"
    );
}

/// A `tracing` writer that keeps what is written.
#[derive(Clone, Default)]
struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A form request to the development issuer's `path`, with HTTP Basic `id:secret`.
fn form(path: &str, basic: (&str, &str), body: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            format!(
                "Basic {}",
                STANDARD.encode(format!("{}:{}", basic.0, basic.1))
            ),
        )
        .body(axum::body::Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn the_development_issuer_issues_introspects_and_revokes_opaque_tokens() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dev = DevIssuer::builder(
        format!("http://{}", listener.local_addr().unwrap()),
        AUDIENCE,
    )
    .opaque_client(
        "partner",
        SecretString::from("partner-secret"),
        ["orders:read"],
    )
    .client("app", SecretString::from("app-secret"), ["orders:read"])
    .build()
    .unwrap();
    tokio::spawn(dev.clone().serve(listener));
    let security = Security::builder()
        .issuer(
            dev.issuer()
                .introspection(dev.introspection().max_age(Duration::from_secs(1))),
        )
        .default_rate(rate!("1000/s"))
        .auth_failure_limit(None)
        .build()
        .await
        .unwrap();
    let api = app(security);
    let issuer_routes: axum::Router = dev.router();

    // An opaque token from the token endpoint, accepted by the API.
    let reply = send(
        &issuer_routes,
        form(
            "/oauth/token",
            ("partner", "partner-secret"),
            "grant_type=client_credentials",
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let token = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with(OPAQUE_TOKEN_PREFIX), "{token}");
    assert!(!token.contains('.'), "not a JWT: {token}");
    let reply = send(&api, get("/orders", &token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.text, "orders of partner");

    // The introspection endpoint answers the resource server only.
    let body = format!("token={token}");
    let reply = send(
        &issuer_routes,
        form("/oauth/introspect", ("partner", "partner-secret"), &body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert_eq!(reply.json()["error"], "unauthorized_client");
    let reply = send(
        &issuer_routes,
        form("/oauth/introspect", (AUDIENCE, "wrong"), &body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    let discovery = dev.discovery();
    assert!(
        discovery["introspection_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/oauth/introspect")
    );
    assert!(
        discovery["revocation_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/oauth/revoke")
    );

    // Another client cannot revoke it; its own client can.
    let reply = send(
        &issuer_routes,
        form("/oauth/revoke", ("app", "app-secret"), &body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        send(&api, get("/orders", &token)).await.status,
        StatusCode::OK
    );
    let reply = send(
        &issuer_routes,
        form("/oauth/revoke", ("partner", "partner-secret"), &body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    // The cached answer holds until its maximum age (1 s), then the token is refused.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let reply = send(&api, get("/orders", &token)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);

    // JWT clients still get JWTs, which are verified, not introspected.
    let reply = send(
        &issuer_routes,
        form(
            "/oauth/token",
            ("app", "app-secret"),
            "grant_type=client_credentials",
        ),
    )
    .await;
    let jwt = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt.split('.').count(), 3);
    assert_eq!(
        send(&api, get("/orders", &jwt)).await.status,
        StatusCode::OK
    );
}

#[test]
fn the_introspection_configuration_never_shows_its_secret() {
    let dev = DevIssuer::new("http://127.0.0.1:9/", AUDIENCE).unwrap();
    let shown = format!("{:?}", dev.introspection());
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(shown.contains(OPAQUE_TOKEN_PREFIX), "{shown}");
    let shown = format!("{:?}", introspection());
    assert!(!shown.contains(CLIENT_SECRET), "{shown}");
}

#[tokio::test]
async fn the_openapi_document_states_which_tokens_each_issuer_takes() {
    let document = |security: Security| async move {
        let app = SecureRouter::new(security)
            .mount(routes![list_orders])
            .with_openapi("/openapi.json")
            .into_router();
        let request = axum::http::Request::get("/openapi.json")
            .body(axum::body::Body::empty())
            .unwrap();
        send(&app, request).await.json()["components"]["securitySchemes"].clone()
    };
    let endpoint = IntrospectionServer::start().await;
    let key = TestKey::ec("k1", false);

    // JWTs and opaque tokens of a discovered issuer.
    let issuer = provider(&key, &endpoint.url).await;
    let both = Security::builder()
        .issuer(
            Issuer::discover(&issuer)
                .audience(AUDIENCE)
                .introspection(introspection()),
        )
        .default_rate(rate!("10/s"))
        .build()
        .await
        .unwrap();
    let schemes = document(both).await;
    let description = schemes["openIdConnect"]["description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!(
            "OpenID Connect access tokens (RFC 9068 JWTs, or opaque tokens checked by \
             introspection (RFC 7662)) issued by {issuer}"
        )),
        "{description}"
    );

    // Opaque tokens only: no keys, no token endpoint.
    let opaque = Security::builder()
        .issuer(
            Issuer::new("https://opaque.test/")
                .audience(AUDIENCE)
                .introspection(introspection().endpoint(&endpoint.url)),
        )
        .default_rate(rate!("10/s"))
        .build()
        .await
        .unwrap();
    let schemes = document(opaque).await;
    let bearer = &schemes["bearer"];
    assert_eq!(bearer["bearerFormat"], "opaque", "{bearer}");
    let description = bearer["description"].as_str().unwrap();
    assert!(
        description.starts_with(
            "Bearer access tokens (opaque tokens checked by introspection (RFC 7662))"
        ),
        "{description}"
    );

    // An issuer of JWTs only says nothing of introspection.
    let jwts = Security::builder()
        .issuer(
            Issuer::new("https://jwt.test/")
                .audience(AUDIENCE)
                .jwks_json(&jwks(&[&key])),
        )
        .default_rate(rate!("10/s"))
        .build()
        .await
        .unwrap();
    let schemes = document(jwts).await;
    assert_eq!(schemes["bearer"]["bearerFormat"], "JWT");
    assert!(
        !schemes["bearer"]["description"]
            .as_str()
            .unwrap()
            .contains("introspection")
    );
}
