//! The development authorization server: token endpoint, JWKS, discovery, key rotation.

#![cfg(feature = "dev")]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http_body_util::BodyExt;
use portcullis_runtime::auth::MAX_LEEWAY;
use portcullis_runtime::dev::{DevError, DevIssuer, MAX_BODY_BYTES};
use portcullis_runtime::{Issuer, Principal, Rate, Security};
use secrecy::SecretString;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

const ISSUER: &str = "http://127.0.0.1:3000/dev";
const AUDIENCE: &str = "orders-api";
const CLIENT: &str = "cli";
const SECRET: &str = "cli-secret-7f3a9";

fn dev_with(grace: Option<Duration>) -> DevIssuer {
    let mut builder = DevIssuer::builder(ISSUER, AUDIENCE).client(
        CLIENT,
        SecretString::from(SECRET),
        ["orders:read", "orders:write"],
    );
    if let Some(grace) = grace {
        builder = builder.rotation_grace(grace);
    }
    builder.build().unwrap()
}

fn dev() -> DevIssuer {
    dev_with(None)
}

/// What came back.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON: {}", self.text))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|value| value.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    fn token(&self) -> String {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        self.json()["access_token"].as_str().unwrap().to_owned()
    }

    /// Checks an RFC 6749 error answer and returns its code.
    fn error(&self, status: StatusCode) -> String {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.header("cache-control"), "no-store");
        assert_eq!(self.header("pragma"), "no-cache");
        assert!(
            self.header("content-type").starts_with("application/json"),
            "{:?}",
            self.headers
        );
        let json = self.json();
        assert!(json["error_description"].is_string(), "{json}");
        json["error"].as_str().expect("an error code").to_owned()
    }
}

async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn form_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `Authorization: Basic` for `id` and `secret`, form-urlencoded first (RFC 6749 §2.3.1).
fn basic(id: &str, secret: &str) -> String {
    let pair = format!("{}:{}", form_encode(id), form_encode(secret));
    format!("Basic {}", STANDARD.encode(pair))
}

fn token_request(body: impl Into<Body>, authorization: Option<&str>) -> Request<Body> {
    let mut request =
        Request::post("/oauth/token").header("content-type", "application/x-www-form-urlencoded");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.body(body.into()).unwrap()
}

async fn security(issuer: Issuer) -> Security {
    Security::builder()
        .issuer(issuer)
        .default_rate(Rate::per_minute(60))
        .build()
        .await
        .unwrap()
}

async fn verify(security: &Security, token: &str) -> Principal {
    security
        .verify(token, None)
        .await
        .unwrap_or_else(|failure| panic!("token refused: {failure:?}"))
}

fn part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn published_kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn fetch_jwks(app: &Router) -> Value {
    let reply = send(
        app,
        Request::get("/.well-known/jwks.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json()
}

#[tokio::test]
async fn a_client_gets_an_rfc9068_token_with_the_scope_it_asked_for() {
    let dev = dev();
    let app: Router = dev.router();
    let reply = send(
        &app,
        token_request(
            "grant_type=client_credentials&scope=orders%3Aread",
            Some(&basic(CLIENT, SECRET)),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), "no-store");
    assert_eq!(reply.header("pragma"), "no-cache");
    let json = reply.json();
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 600);
    assert_eq!(json["scope"], "orders:read");
    let token = reply.token();

    let header = part(&token, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], dev.kid());
    let claims = part(&token, 1);
    for claim in [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "jti",
        "client_id",
        "scope",
    ] {
        assert!(claims.get(claim).is_some(), "no {claim} in {claims}");
    }
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["sub"], CLIENT);
    assert_eq!(claims["client_id"], CLIENT);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        600
    );

    let security = security(dev.issuer()).await;
    let principal = verify(&security, &token).await;
    assert_eq!(principal.subject(), Some(CLIENT));
    assert_eq!(principal.client_id(), Some(CLIENT));
    assert_eq!(principal.scopes().collect::<Vec<_>>(), ["orders:read"]);
    assert!(!principal.has_scope("orders:write"));

    // Each token has its own id.
    let again = send(
        &app,
        token_request(
            "grant_type=client_credentials&scope=orders%3Aread",
            Some(&basic(CLIENT, SECRET)),
        ),
    )
    .await
    .token();
    assert_ne!(part(&again, 1)["jti"], claims["jti"]);
}

#[tokio::test]
async fn without_a_scope_the_client_gets_every_scope_it_may_have_and_post_auth_works() {
    let dev = dev();
    let app: Router = dev.router();
    let body = format!("grant_type=client_credentials&client_id={CLIENT}&client_secret={SECRET}");
    let reply = send(&app, token_request(body, None)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["scope"], "orders:read orders:write");
    let principal = verify(&security(dev.issuer()).await, &reply.token()).await;
    assert_eq!(
        principal.scopes().collect::<Vec<_>>(),
        ["orders:read", "orders:write"]
    );

    // A scope asked for twice is granted once, and Basic with a matching client_id is fine.
    let reply = send(
        &app,
        token_request(
            "grant_type=client_credentials&client_id=cli&scope=orders:write+orders:write",
            Some(&basic(CLIENT, SECRET)),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["scope"], "orders:write");
}

#[tokio::test]
async fn secrets_with_special_characters_are_form_decoded() {
    let dev = dev();
    let id = "svc:1 u?".to_owned();
    let secret = "p@ss:wörd+&%/= ~\"é";
    dev.register_client(id.as_str(), SecretString::from(secret), ["orders:read"])
        .unwrap();
    let app: Router = dev.router();

    let reply = send(
        &app,
        token_request("grant_type=client_credentials", Some(&basic(&id, secret))),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(part(&reply.token(), 1)["client_id"], id.as_str());

    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        form_encode(&id),
        form_encode(secret)
    );
    let reply = send(&app, token_request(body, None)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    // The raw secret, not form-encoded, is not the secret.
    let raw = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{secret}", form_encode(&id)))
    );
    let reply = send(
        &app,
        token_request("grant_type=client_credentials", Some(&raw)),
    )
    .await;
    assert_eq!(reply.error(StatusCode::UNAUTHORIZED), "invalid_client");
}

#[tokio::test]
async fn failures_are_rfc6749_errors() {
    let dev = dev();
    let app: Router = dev.router();
    let grant = "grant_type=client_credentials";

    // Wrong secret, by Basic: 401 with a Basic challenge.
    let reply = send(&app, token_request(grant, Some(&basic(CLIENT, "wrong")))).await;
    assert_eq!(reply.error(StatusCode::UNAUTHORIZED), "invalid_client");
    assert!(
        reply.header("www-authenticate").starts_with("Basic "),
        "{:?}",
        reply.headers
    );
    assert!(reply.header("www-authenticate").contains(r#"realm="dev""#));
    // A prefix of the secret, a longer one, an empty one.
    for secret in [&SECRET[..5], &format!("{SECRET}x"), ""] {
        let reply = send(&app, token_request(grant, Some(&basic(CLIENT, secret)))).await;
        assert_eq!(reply.error(StatusCode::UNAUTHORIZED), "invalid_client");
    }

    // Wrong secret, by post.
    let body = format!("{grant}&client_id={CLIENT}&client_secret=wrong");
    let reply = send(&app, token_request(body, None)).await;
    assert_eq!(reply.error(StatusCode::UNAUTHORIZED), "invalid_client");

    // Unknown client, both ways.
    let reply = send(&app, token_request(grant, Some(&basic("nobody", SECRET)))).await;
    assert_eq!(reply.error(StatusCode::UNAUTHORIZED), "invalid_client");
    let body = format!("{grant}&client_id=nobody&client_secret={SECRET}");
    let reply = send(&app, token_request(body, None)).await;
    assert_eq!(reply.error(StatusCode::UNAUTHORIZED), "invalid_client");

    // No client authentication at all, or only a client id, or another scheme.
    let reply = send(&app, token_request(grant, None)).await;
    assert_eq!(reply.error(StatusCode::UNAUTHORIZED), "invalid_client");
    let reply = send(
        &app,
        token_request(format!("{grant}&client_id={CLIENT}"), None),
    )
    .await;
    assert_eq!(reply.error(StatusCode::UNAUTHORIZED), "invalid_client");
    let reply = send(&app, token_request(grant, Some("Bearer abc"))).await;
    assert_eq!(reply.error(StatusCode::UNAUTHORIZED), "invalid_client");
    let reply = send(&app, token_request(grant, Some("Basic !!!"))).await;
    assert_eq!(reply.error(StatusCode::UNAUTHORIZED), "invalid_client");

    // A scope the client may not have.
    let body = format!("{grant}&scope=orders:read+orders:admin");
    let reply = send(&app, token_request(body, Some(&basic(CLIENT, SECRET)))).await;
    assert_eq!(reply.error(StatusCode::BAD_REQUEST), "invalid_scope");
    let reply = send(
        &app,
        token_request(format!("{grant}&scope=+"), Some(&basic(CLIENT, SECRET))),
    )
    .await;
    assert_eq!(reply.error(StatusCode::BAD_REQUEST), "invalid_scope");

    // Another grant type, or none.
    let reply = send(
        &app,
        token_request(
            "grant_type=password&username=a&password=b",
            Some(&basic(CLIENT, SECRET)),
        ),
    )
    .await;
    assert_eq!(
        reply.error(StatusCode::BAD_REQUEST),
        "unsupported_grant_type"
    );
    let reply = send(
        &app,
        token_request("scope=orders:read", Some(&basic(CLIENT, SECRET))),
    )
    .await;
    assert_eq!(reply.error(StatusCode::BAD_REQUEST), "invalid_request");

    // Both authentication methods at once, even with the right secret.
    let body = format!("{grant}&client_id={CLIENT}&client_secret={SECRET}");
    let reply = send(&app, token_request(body, Some(&basic(CLIENT, SECRET)))).await;
    assert_eq!(reply.error(StatusCode::BAD_REQUEST), "invalid_request");
    // A client_id naming another client than the Basic one.
    let body = format!("{grant}&client_id=other");
    let reply = send(&app, token_request(body, Some(&basic(CLIENT, SECRET)))).await;
    assert_eq!(reply.error(StatusCode::BAD_REQUEST), "invalid_request");

    // A repeated parameter.
    let body = format!("{grant}&{grant}");
    let reply = send(&app, token_request(body, Some(&basic(CLIENT, SECRET)))).await;
    assert_eq!(reply.error(StatusCode::BAD_REQUEST), "invalid_request");
}

#[tokio::test]
async fn malformed_requests_are_400_invalid_request() {
    let dev = dev();
    let app: Router = dev.router();
    let auth = basic(CLIENT, SECRET);
    let garbage: Vec<Body> = vec![
        Body::from("grant_type=client_credentials&scope=%zz"),
        Body::from("%"),
        Body::from(vec![0xff, 0xfe, 0x00, 0x80]),
        Body::from("grant_type=client_credentials&".repeat(MAX_BODY_BYTES / 10)),
    ];
    for body in garbage {
        let reply = send(&app, token_request(body, Some(&auth))).await;
        assert_eq!(reply.error(StatusCode::BAD_REQUEST), "invalid_request");
    }
    // A body larger than the cap without a Content-Length (streamed).
    let chunks = futures_stream(MAX_BODY_BYTES * 2);
    let reply = send(&app, token_request(chunks, Some(&auth))).await;
    assert_eq!(reply.error(StatusCode::BAD_REQUEST), "invalid_request");

    // Not a form.
    let request = Request::post("/oauth/token")
        .header("content-type", "application/json")
        .header("authorization", &auth)
        .body(Body::from(r#"{"grant_type": "client_credentials"}"#))
        .unwrap();
    let reply = send(&app, request).await;
    assert_eq!(reply.error(StatusCode::BAD_REQUEST), "invalid_request");
    let request = Request::post("/oauth/token")
        .header("authorization", &auth)
        .body(Body::from("grant_type=client_credentials"))
        .unwrap();
    let reply = send(&app, request).await;
    assert_eq!(reply.error(StatusCode::BAD_REQUEST), "invalid_request");

    // The media type is matched case-insensitively, with parameters.
    let request = Request::post("/oauth/token")
        .header(
            "content-type",
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
        )
        .header("authorization", &auth)
        .body(Body::from("grant_type=client_credentials"))
        .unwrap();
    assert_eq!(send(&app, request).await.status, StatusCode::OK);

    // Only POST.
    let reply = send(
        &app,
        Request::get("/oauth/token").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// A body of `bytes` bytes of form data, streamed in chunks with no declared length.
fn futures_stream(bytes: usize) -> Body {
    let chunk = "a".repeat(1024);
    let chunks: Vec<Result<String, std::io::Error>> =
        (0..bytes / 1024).map(|_| Ok(chunk.clone())).collect();
    Body::from_stream(futures_util::stream::iter(chunks))
}

#[tokio::test]
async fn jwks_and_discovery_are_served_and_nestable() {
    let dev = dev();
    let app: Router = Router::new().nest("/dev", dev.router());

    let reply = send(
        &app,
        Request::get("/dev/.well-known/openid-configuration")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let discovery = reply.json();
    assert_eq!(discovery, dev.discovery());
    assert_eq!(discovery["issuer"], ISSUER);
    assert_eq!(discovery["token_endpoint"], format!("{ISSUER}/oauth/token"));
    assert_eq!(
        discovery["jwks_uri"],
        format!("{ISSUER}/.well-known/jwks.json")
    );
    assert_eq!(
        discovery["grant_types_supported"],
        serde_json::json!(["client_credentials"])
    );
    assert_eq!(
        discovery["scopes_supported"],
        serde_json::json!(["orders:read", "orders:write"])
    );
    let reply = send(
        &app,
        Request::get("/dev/.well-known/oauth-authorization-server")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.json(), discovery);

    let reply = send(
        &app,
        Request::get("/dev/.well-known/jwks.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("cache-control").contains("max-age"));
    let jwks = reply.json();
    assert_eq!(published_kids(&jwks), [dev.kid(), dev.next_kid()]);
    for key in jwks["keys"].as_array().unwrap() {
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["alg"], "ES256");
        assert!(key.get("d").is_none(), "private key material published");
    }

    // The token endpoint, nested, issues tokens the API trusts.
    let mut request = token_request(
        "grant_type=client_credentials",
        Some(&basic(CLIENT, SECRET)),
    );
    *request.uri_mut() = "/dev/oauth/token".parse().unwrap();
    let token = send(&app, request).await.token();
    verify(&security(dev.issuer()).await, &token).await;
}

#[tokio::test]
async fn clones_share_clients_and_keys() {
    let dev = dev();
    let app: Router = dev.router();
    let clone = dev.clone();
    clone
        .register_client("late", SecretString::from("late-secret"), ["orders:read"])
        .unwrap();
    let reply = send(
        &app,
        token_request(
            "grant_type=client_credentials",
            Some(&basic("late", "late-secret")),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    clone.rotate().unwrap();
    assert_eq!(dev.kid(), clone.kid());
    assert_eq!(published_kids(&fetch_jwks(&app).await)[0], clone.kid());

    // Re-registering replaces the client.
    dev.register_client("late", SecretString::from("new-secret"), ["orders:write"])
        .unwrap();
    let reply = send(
        &app,
        token_request(
            "grant_type=client_credentials",
            Some(&basic("late", "late-secret")),
        ),
    )
    .await;
    assert_eq!(reply.error(StatusCode::UNAUTHORIZED), "invalid_client");
}

#[tokio::test]
async fn bad_registrations_are_refused() {
    let dev = dev();
    for (id, secret, scope) in [
        ("", "secret", "a"),
        ("id\n", "secret", "a"),
        ("id", "", "a"),
        ("id", "secret", "two words"),
        ("id", "secret", "quo\"te"),
        ("id", "secret", ""),
    ] {
        let refused = dev.register_client(id, SecretString::from(secret), [scope]);
        assert!(
            matches!(refused, Err(DevError::InvalidClient { .. })),
            "{id:?} {scope:?}"
        );
    }
    let built = DevIssuer::builder(ISSUER, AUDIENCE)
        .client("id", SecretString::from("s"), ["a b"])
        .build();
    assert!(matches!(built, Err(DevError::InvalidClient { .. })));
}

#[tokio::test]
async fn the_secret_never_shows_in_debug() {
    let dev = dev();
    dev.register_client("other", SecretString::from("other-secret-xyz"), ["a"])
        .unwrap();
    let shown = format!("{dev:?} {dev:#?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(!shown.contains("other-secret-xyz"), "{shown}");
    assert!(shown.contains(CLIENT), "{shown}");
    let builder =
        DevIssuer::builder(ISSUER, AUDIENCE).client(CLIENT, SecretString::from(SECRET), ["a"]);
    assert!(!format!("{builder:?}").contains(SECRET));
}

#[tokio::test(start_paused = true)]
async fn rotation_publishes_the_next_key_first_and_keeps_the_previous_one_for_the_grace_period() {
    let grace = Duration::from_secs(60);
    let dev = dev_with(Some(grace));
    let app: Router = dev.router();
    let (first, second) = (dev.kid(), dev.next_kid());
    assert_ne!(first, second);
    // The next key is published before it signs.
    assert_eq!(
        published_kids(&fetch_jwks(&app).await),
        [first.clone(), second.clone()]
    );
    let security_before = security(dev.issuer()).await;

    let auth = basic(CLIENT, SECRET);
    let old_token = send(
        &app,
        token_request("grant_type=client_credentials", Some(&auth)),
    )
    .await
    .token();
    assert_eq!(part(&old_token, 0)["kid"], first);

    dev.rotate().unwrap();
    assert_eq!(dev.kid(), second);
    let third = dev.next_kid();
    assert!(third != first && third != second);
    let new_token = send(
        &app,
        token_request("grant_type=client_credentials", Some(&auth)),
    )
    .await
    .token();
    assert_eq!(part(&new_token, 0)["kid"], second);
    // A resource server that fetched the JWKS before the rotation knows the new key.
    verify(&security_before, &new_token).await;

    // During the grace period the old key is still published, and a fresh issuer built
    // from the new JWKS accepts both tokens.
    tokio::time::advance(grace - Duration::from_secs(1)).await;
    let jwks = fetch_jwks(&app).await;
    assert_eq!(
        published_kids(&jwks),
        [second.clone(), third.clone(), first.clone()]
    );
    let fresh = Issuer::new(ISSUER)
        .audience(AUDIENCE)
        .jwks_json(&jwks.to_string())
        .rfc9068();
    let fresh = security(fresh).await;
    verify(&fresh, &old_token).await;
    verify(&fresh, &new_token).await;

    // After it, the old key is gone.
    tokio::time::advance(Duration::from_secs(2)).await;
    let jwks = fetch_jwks(&app).await;
    assert_eq!(published_kids(&jwks), [second.clone(), third.clone()]);
    assert_eq!(dev.jwks(), jwks);
    let after = security(dev.issuer()).await;
    assert!(after.verify(&old_token, None).await.is_err());
    verify(&after, &new_token).await;
}

#[tokio::test(start_paused = true)]
async fn by_default_a_retired_key_outlives_every_token_it_signed() {
    let dev = dev();
    let first = dev.kid();
    // A token living two hours, much longer than the endpoint's ten minutes.
    let _long = dev.token().lifetime(Duration::from_secs(7200)).sign();
    dev.rotate().unwrap();
    tokio::time::advance(Duration::from_secs(7200)).await;
    assert!(published_kids(&dev.jwks()).contains(&first));
    tokio::time::advance(MAX_LEEWAY + Duration::from_secs(2)).await;
    assert!(!published_kids(&dev.jwks()).contains(&first));

    // A key that signed nothing long-lived is kept for the token lifetime plus leeway.
    let second = dev.kid();
    dev.rotate().unwrap();
    tokio::time::advance(dev.token_lifetime()).await;
    assert!(published_kids(&dev.jwks()).contains(&second));
    tokio::time::advance(MAX_LEEWAY + Duration::from_secs(2)).await;
    assert!(!published_kids(&dev.jwks()).contains(&second));
}

#[tokio::test(start_paused = true)]
async fn automatic_rotation_stops_with_the_issuer() {
    let dev = dev_with(Some(Duration::from_secs(30)));
    let (first, second) = (dev.kid(), dev.next_kid());
    let task = dev.spawn_rotation(Duration::from_secs(600));
    tokio::time::sleep(Duration::from_secs(601)).await;
    assert_eq!(dev.kid(), second);
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_ne!(dev.kid(), second);
    assert!(!published_kids(&dev.jwks()).contains(&first));

    drop(dev);
    tokio::time::timeout(Duration::from_secs(1200), task)
        .await
        .expect("the rotation task ends once the issuer is dropped")
        .unwrap();
}

#[tokio::test]
async fn it_serves_on_its_own_port() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let dev = DevIssuer::builder(format!("http://{address}"), AUDIENCE)
        .client(CLIENT, SECRET.into(), ["orders:read"])
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(dev.clone().serve_with_shutdown(listener, async {
        let _ = stopped.await;
    }));

    let body = "grant_type=client_credentials";
    let request = format!(
        "POST /oauth/token HTTP/1.1\r\nHost: {address}\r\nAuthorization: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        basic(CLIENT, SECRET),
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let json: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let token = json["access_token"].as_str().unwrap();
    let principal = verify(&security(dev.issuer()).await, token).await;
    assert_eq!(principal.issuer(), format!("http://{address}"));

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
