use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request};
use axum::routing::{any, get};
use serde_json::{Map, Value, json};
use tower_layer::Layer;

use super::*;
use crate::Principal;
use crate::auth::{AuthFailure, CompactJws, unix_now};
use crate::transport::SecurityHeadersLayer;

const ISSUER: &str = "https://idp.test/";
const AUDIENCE: &str = "orders-api";

fn kit() -> TestKit {
    TestKit::new(ISSUER, AUDIENCE)
}

/// A token, decoded.
struct Decoded {
    claims: Map<String, Value>,
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
}

fn decode(token: &str) -> Decoded {
    let jws = CompactJws::parse(token).expect("a compact JWS");
    Decoded {
        claims: jws.claims,
        alg: jws.header.alg,
        kid: jws.header.kid,
        typ: jws.header.typ,
    }
}

#[test]
fn a_token_is_an_rfc9068_access_token_with_defaults() {
    let kit = kit();
    let before = unix_now();
    let Decoded {
        claims,
        alg,
        kid,
        typ,
    } = decode(&kit.token().sign());
    assert_eq!(
        (alg.as_str(), kid, typ.as_deref()),
        ("ES256", Some(kit.dev.kid()), Some("at+jwt"))
    );
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["sub"], DEFAULT_SUBJECT);
    assert_eq!(claims["client_id"], DEFAULT_CLIENT_ID);
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert!(iat >= before && iat <= unix_now());
    assert_eq!(exp - iat, DEFAULT_LIFETIME.as_secs());
    assert!(claims["jti"].as_str().is_some_and(|jti| jti.len() == 32));
    // No scope and no role were asked for: no empty claims for them.
    assert!(!claims.contains_key("scope") && !claims.contains_key("roles"));
}

#[test]
fn a_token_carries_what_was_set() {
    let kit = kit();
    let token = kit
        .token()
        .subject("alice")
        .client_id("web")
        .scopes(["orders:read", "orders:write"])
        .roles(["admin", "auditor"])
        .lifetime(Duration::from_secs(60))
        .claim("tenant", "acme")
        .claim("aud", json!(["orders-api", "billing"]))
        .sign();
    let claims = decode(&token).claims;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], "web");
    assert_eq!(claims["scope"], "orders:read orders:write");
    assert_eq!(claims["roles"], json!(["admin", "auditor"]));
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["aud"], json!(["orders-api", "billing"]), "replaced");
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 60);
}

#[test]
fn every_token_has_its_own_id() {
    let kit = kit();
    let ids: std::collections::HashSet<Value> = (0..50)
        .map(|_| decode(&kit.token().sign()).claims["jti"].clone())
        .collect();
    assert_eq!(ids.len(), 50);
}

#[tokio::test]
async fn the_kits_configuration_accepts_its_tokens_even_as_rfc9068_requires() {
    let kit = kit();
    for issuer in [kit.issuer(), kit.issuer().rfc9068()] {
        let security = Security::builder()
            .issuer(issuer)
            .default_rate(TEST_DEFAULT_RATE)
            .build()
            .await
            .unwrap();
        let token = kit.token().subject("alice").scopes(["orders:read"]).sign();
        let alice = security.verify(&token, None).await.unwrap();
        assert_eq!(alice.subject(), Some("alice"));
        assert!(alice.has_scope("orders:read"));
    }
}

#[tokio::test]
async fn another_kit_with_the_same_issuer_and_audience_is_not_trusted() {
    let (kit, impostor) = (kit(), kit());
    let security = kit.security().await.unwrap();
    let forged = impostor.token().scopes(["orders:read"]).sign();
    assert_eq!(
        security.verify(&forged, None).await.unwrap_err(),
        AuthFailure::UnknownKey
    );
    assert!(security.verify(&kit.token().sign(), None).await.is_ok());
}

#[tokio::test]
async fn the_default_rate_is_generous_or_settable() {
    let kit = kit();
    assert_eq!(
        kit.security().await.unwrap().default_rate(),
        TEST_DEFAULT_RATE
    );
    let security = kit
        .security_builder()
        .default_rate(Rate::per_minute(600))
        .build()
        .await
        .unwrap();
    assert_eq!(security.default_rate(), Rate::per_minute(600));
    assert_eq!(security.issuers().collect::<Vec<_>>(), [ISSUER]);
    // Without a default rate, the builder says so, as for any configuration.
    assert_eq!(
        kit.security_builder().build().await.unwrap_err(),
        ConfigError::MissingDefaultRate
    );
}

/// What a principal says about its caller, times left out.
fn fields(principal: &Principal) -> Value {
    let mut claims = principal.claims().clone();
    for varying in ["iat", "exp", "jti"] {
        assert!(claims.remove(varying).is_some(), "{varying} present");
    }
    json!({
        "issuer": principal.issuer(),
        "subject": principal.subject(),
        "client_id": principal.client_id(),
        "has_token_id": principal.token_id().is_some(),
        "scopes": principal.scope_list(),
        "roles": principal.roles().collect::<Vec<_>>(),
        "lifetime": principal.expires_at_unix() - principal.issued_at_unix().unwrap(),
        "claims": claims,
        "scope_set": format!("{:?}", principal.scope_set()),
    })
}

#[tokio::test]
async fn a_principal_is_the_one_its_token_verifies_to() {
    let kit = kit();
    let security = kit.security().await.unwrap();
    // The same settings, given to a token and to a principal.
    macro_rules! both {
        ($($setting:tt)*) => {
            (kit.token()$($setting)*, kit.principal()$($setting)*)
        };
    }
    let pairs = [
        both!(),
        both!(.subject("alice").client_id("web")),
        both!(.scopes(["orders:write", "orders:read", "orders:write"]).roles(["b", "a"])),
        both!(
            .claim("tenant", "acme")
            .claim("scp", json!(["extra:read"]))
            .lifetime(Duration::from_secs(90))
        ),
        // A claim that replaces a standard one is read as the verifier reads it.
        both!(.claim("sub", "bob").claim("client_id", "cli")),
    ];
    for (token, principal) in pairs {
        let verified = security.verify(&token.sign(), None).await.unwrap();
        assert_eq!(fields(&principal.build()), fields(&verified));
    }
}

#[test]
fn a_principal_answers_a_handler_as_a_verified_one_would() {
    let alice = kit()
        .principal()
        .subject("alice")
        .scopes(["orders:read"])
        .roles(["admin"])
        .claim("tenant", "acme")
        .build();
    assert_eq!(alice.issuer(), ISSUER);
    assert_eq!(alice.client_id(), Some(DEFAULT_CLIENT_ID));
    assert!(alice.has_scope("orders:read") && !alice.has_scope("orders:write"));
    assert!(alice.has_role("admin"));
    assert_eq!(alice.claim("tenant"), Some(&json!("acme")));
    assert_eq!(alice.claim("aud"), Some(&json!(AUDIENCE)));
    let now = unix_now();
    assert!(alice.expires_at_unix() > now && alice.expires_at_unix() <= now + 600);
}

/// An app that answers with what it received.
fn echo() -> Router {
    async fn echo(
        ConnectInfo(addr): ConnectInfo<SocketAddr>,
        method: Method,
        headers: HeaderMap,
        body: String,
    ) -> axum::Json<Value> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        axum::Json(json!({
            "addr": addr.to_string(),
            "method": method.as_str(),
            "authorization": header("authorization"),
            "content_type": header("content-type"),
            "content_length": header("content-length"),
            "x_extra": header("x-extra"),
            "body": body,
        }))
    }
    Router::new().route("/echo", any(echo))
}

#[tokio::test]
async fn the_client_address_reaches_the_app() {
    let client = TestClient::new(echo());
    let response = client.get("/echo").send().await;
    assert_eq!(response.json()["addr"], DEFAULT_CLIENT_ADDR.to_string());
    assert_eq!(DEFAULT_CLIENT_ADDR.ip().to_string(), "127.0.0.1");

    let elsewhere = TestClient::new(echo()).client_addr(([10, 0, 0, 2], 4000));
    let response = elsewhere.get("/echo").send().await;
    assert_eq!(response.json()["addr"], "10.0.0.2:4000");
    let response = elsewhere
        .get("/echo")
        .client_addr(([192, 0, 2, 7], 5))
        .send()
        .await;
    assert_eq!(response.json()["addr"], "192.0.2.7:5");

    // A request built by hand keeps the address it carries.
    let mut request = Request::get("/echo").body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 9], 9))));
    assert_eq!(elsewhere.send(request).await.json()["addr"], "192.0.2.9:9");
    let request = Request::get("/echo").body(Body::empty()).unwrap();
    assert_eq!(
        elsewhere.send(request).await.json()["addr"],
        "10.0.0.2:4000"
    );
}

#[tokio::test]
async fn methods_bodies_and_headers_reach_the_app() {
    let client = TestClient::new(echo());
    for (request, method) in [
        (client.get("/echo"), "GET"),
        (client.post("/echo"), "POST"),
        (client.put("/echo"), "PUT"),
        (client.patch("/echo"), "PATCH"),
        (client.delete("/echo"), "DELETE"),
        (client.request(Method::OPTIONS, "/echo"), "OPTIONS"),
    ] {
        let echoed = request.send().await;
        assert_eq!(echoed.json()["method"], method);
        assert_eq!(echoed.json()["content_length"], Value::Null, "no body");
    }

    let echoed = client
        .post("/echo")
        .bearer("abc")
        .header("x-extra", "1")
        .json(&json!({"item": "book"}))
        .send()
        .await;
    assert_eq!(
        echoed.json(),
        &json!({
            "addr": DEFAULT_CLIENT_ADDR.to_string(), "method": "POST",
            "authorization": "Bearer abc", "content_type": "application/json",
            "content_length": "15", "x_extra": "1", "body": r#"{"item":"book"}"#,
        })
    );

    let echoed = client
        .put("/echo")
        .form(&[("item", "a book"), ("quantity", "2")])
        .send()
        .await;
    assert_eq!(
        echoed.json()["content_type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(echoed.json()["body"], "item=a+book&quantity=2");

    let echoed = client
        .patch("/echo")
        .body("application/merge-patch+json", r#"{"item": "#)
        .send()
        .await;
    assert_eq!(
        echoed.json()["content_type"],
        "application/merge-patch+json"
    );
    assert_eq!(echoed.json()["body"], r#"{"item": "#);

    // A content type set as a header wins over the body's.
    let echoed = client
        .post("/echo")
        .header("content-type", "application/vnd.orders+json")
        .json(&json!([]))
        .send()
        .await;
    assert_eq!(echoed.json()["content_type"], "application/vnd.orders+json");
}

#[tokio::test]
async fn a_response_reads_as_bytes_text_or_json() {
    let app = Router::new()
        .route("/text", get(|| async { "plain" }))
        .route(
            "/json",
            get(|| async { axum::Json(json!({"id": 7, "items": ["a"]})) }),
        );
    let client = TestClient::new(app);
    let text = client.get("/text").send().await;
    assert_eq!(text.status(), 200);
    assert_eq!(
        (text.bytes().as_ref(), text.text()),
        (&b"plain"[..], "plain".into())
    );
    assert!(text.try_json().is_none());
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; charset=utf-8")
    );

    let json = client.get("/json").send().await;
    assert_eq!(json.json()["id"], 7);
    assert_eq!(json.json_as::<(u64,)>().ok(), None);
    #[derive(serde::Deserialize)]
    struct Order {
        id: u64,
    }
    assert_eq!(json.json_as::<Order>().unwrap().id, 7);

    let missing = client.get("/nowhere").send().await;
    assert_eq!(missing.status(), 404);
    assert!(missing.header("content-type").is_none());
}

#[tokio::test]
#[should_panic(expected = "the response body is not JSON (status 200 OK): \"plain\"")]
async fn json_of_a_body_that_is_not_json_panics_with_the_body() {
    let app = Router::new().route("/text", get(|| async { "plain" }));
    let _ = TestClient::new(app).get("/text").send().await.json();
}

#[tokio::test]
async fn a_router_inside_a_layer_is_an_app() {
    let app = SecurityHeadersLayer::for_plain_http().layer(echo());
    let client = TestClient::new(app);
    let response = client
        .get("/echo")
        .client_addr(([10, 1, 1, 1], 1))
        .send()
        .await;
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(response.json()["addr"], "10.1.1.1:1");
}

#[tokio::test]
async fn what_keeps_a_response_from_being_read_is_an_error() {
    let client = TestClient::new(echo());
    let bad_header = client
        .get("/echo")
        .header("bad header", "x")
        .try_send()
        .await;
    assert!(
        matches!(bad_header, Err(TestError::Request(_))),
        "{bad_header:?}"
    );
    let bad_path = client.get("not a path").try_send().await;
    assert!(
        matches!(bad_path, Err(TestError::Request(_))),
        "{bad_path:?}"
    );
    let bad_type = client.post("/echo").body("a\nb", "x").try_send().await;
    assert!(
        matches!(bad_type, Err(TestError::Request(_))),
        "{bad_type:?}"
    );
    let unserializable = std::collections::HashMap::from([((1, 2), 3)]);
    let bad_body = client.post("/echo").json(&unserializable).try_send().await;
    assert!(
        matches!(bad_body, Err(TestError::Request(_))),
        "{bad_body:?}"
    );

    let failing = tower::service_fn(|_: Request<Body>| async {
        Err::<axum::response::Response, _>(std::io::Error::other("down"))
    });
    let failed = TestClient::new(failing).get("/").try_send().await;
    assert!(
        matches!(&failed, Err(TestError::App(error)) if error.to_string() == "down"),
        "{failed:?}"
    );
}

#[tokio::test]
async fn the_bearer_error_of_a_challenge() {
    let challenge = |value: &'static str| {
        let app = Router::new().route(
            "/",
            get(move || async move { ([("www-authenticate", value)], "") }),
        );
        TestClient::new(app)
    };
    let cases = [
        (
            r#"Bearer realm="api", error="invalid_token""#,
            Some("invalid_token"),
        ),
        (
            r#"Bearer error_description="x error=\"no\"", error="insufficient_scope", scope="a""#,
            Some("insufficient_scope"),
        ),
        (r#"Bearer realm="api""#, None),
    ];
    for (value, expected) in cases {
        let response = challenge(value).get("/").send().await;
        assert_eq!(response.bearer_error(), expected, "{value}");
    }
    let none = TestClient::new(Router::new()).get("/").send().await;
    assert_eq!(none.bearer_error(), None);
}
