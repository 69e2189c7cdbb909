//! The test kit against an app declared with `#[secure]` and `#[public]`: its tokens are
//! accepted with their scopes, roles and claims, another kit's are refused, the client
//! address keys public rate limits, and its principals are what handlers get from its
//! tokens.

use axum::http::StatusCode;
use portcullis::prelude::*;
use portcullis::testing::{DEFAULT_CLIENT_ADDR, TestClient, TestKit};
use portcullis::transport::SecurityHeadersLayer;
use serde_json::{Value, json};
use tower::Layer;

const ISSUER: &str = "https://idp.example.com/";
const AUDIENCE: &str = "orders-api";

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Create orders",
}

/// One order.
#[output]
struct Order {
    id: u64,
    created_by: String,
}

/// A new order.
#[input]
struct NewOrder {
    #[garde(length(chars, min = 1, max = 64))]
    item: String,
}

#[secure(get, path = "/orders/{id}", scope = "orders:read")]
async fn get_order(who: Principal, Path(id): Path<u64>) -> Json<Order> {
    let created_by = who.subject().unwrap_or("?").to_owned();
    Json(Order { id, created_by })
}

#[secure(post, path = "/orders", scope = "orders:write", status = 201)]
async fn create_order(who: Principal, Json(new): Json<NewOrder>) -> (StatusCode, Json<Value>) {
    let body = json!({"item": new.item, "by": who.subject()});
    (StatusCode::CREATED, Json(body))
}

/// Who is calling, as the handler sees it.
#[secure(get, path = "/whoami", roles = ["admin"])]
async fn whoami(who: Principal) -> Json<Value> {
    Json(json!({
        "issuer": who.issuer(),
        "subject": who.subject(),
        "client_id": who.client_id(),
        "scopes": who.scope_list(),
        "roles": who.roles().collect::<Vec<_>>(),
        "tenant": who.claim("tenant"),
    }))
}

#[public(get, path = "/status", rate = "2/min")]
async fn status() -> &'static str {
    "up"
}

/// The app, as production builds it too: its `Security` comes from outside.
fn app(security: Security) -> axum::Router {
    SecureRouter::new(security)
        .mount(routes![get_order, create_order, whoami, status])
        .into_router()
}

/// An app that takes its issuers and builds its own `Security`.
async fn app_with_issuers(issuers: Vec<Issuer>) -> axum::Router {
    let mut security = Security::builder().default_rate(rate!("600/min"));
    for issuer in issuers {
        security = security.issuer(issuer);
    }
    app(security.build().await.expect("configuration"))
}

async fn client(kit: &TestKit) -> TestClient<axum::Router> {
    TestClient::new(app(kit.security().await.expect("configuration")))
}

#[tokio::test]
async fn a_kit_token_is_accepted_with_its_scopes() {
    let kit = TestKit::new(ISSUER, AUDIENCE);
    let client = client(&kit).await;
    let reader = kit.token().subject("alice").scopes(["orders:read"]).sign();
    let writer = kit.token().subject("bob").scopes(["orders:write"]).sign();

    let read = client.get("/orders/7").bearer(&reader).send().await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.json(), &json!({"id": 7, "created_by": "alice"}));
    assert_eq!(read.header("cache-control"), Some("no-store"));

    let created = client
        .post("/orders")
        .bearer(&writer)
        .json(&json!({"item": "book"}))
        .send()
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.json(), &json!({"item": "book", "by": "bob"}));

    // The scopes the token lacks are refused, as is no token.
    let refused = client.get("/orders/7").bearer(&writer).send().await;
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.bearer_error(), Some("insufficient_scope"));
    let invalid = client
        .post("/orders")
        .bearer(&writer)
        .json(&json!({"item": ""}))
        .send()
        .await;
    assert_eq!(invalid.status(), 422, "{}", invalid.text());
    let anonymous = client.get("/orders/7").send().await;
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_token_of_another_kit_with_the_same_issuer_url_is_refused() {
    let kit = TestKit::new(ISSUER, AUDIENCE);
    let impostor = TestKit::new(ISSUER, AUDIENCE);
    let client = client(&kit).await;
    let forged = impostor.token().scopes(["orders:read"]).sign();
    let response = client.get("/orders/7").bearer(&forged).send().await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.bearer_error(), Some("invalid_token"));
    // The kit's own token still passes: the refusal is the keys', not the client's.
    let token = kit.token().scopes(["orders:read"]).sign();
    let response = client.get("/orders/7").bearer(&token).send().await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_client_address_keys_a_public_endpoints_rate_limit() {
    let kit = TestKit::new(ISSUER, AUDIENCE);
    let first = client(&kit).await.client_addr(([10, 0, 0, 1], 40000));
    for _ in 0..2 {
        assert_eq!(first.get("/status").send().await.status(), 200);
    }
    let limited = first.get("/status").send().await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.header("retry-after").is_some());
    // The same app from another address counts in another bucket, and a client's
    // other port is the same client.
    let second = first.clone().client_addr(([10, 0, 0, 2], 40000));
    assert_eq!(second.get("/status").send().await.status(), 200);
    let other_port = first.get("/status").client_addr(([10, 0, 0, 1], 40001));
    assert_eq!(other_port.send().await.status(), 429);
    // Without an address set, requests come from the default one, a third bucket.
    assert_eq!(DEFAULT_CLIENT_ADDR.ip().to_string(), "127.0.0.1");
    let default = TestClient::new(app(kit.security().await.unwrap()));
    assert_eq!(default.get("/status").send().await.status(), 200);
}

#[tokio::test]
async fn roles_and_custom_claims_reach_the_principal() {
    let kit = TestKit::new(ISSUER, AUDIENCE);
    let client = client(&kit).await;
    let admin = kit
        .token()
        .subject("carol")
        .client_id("console")
        .scopes(["orders:write", "orders:read"])
        .roles(["admin", "auditor"])
        .claim("tenant", "acme")
        .sign();
    let response = client.get("/whoami").bearer(&admin).send().await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json(),
        &json!({
            "issuer": ISSUER, "subject": "carol", "client_id": "console",
            "scopes": ["orders:read", "orders:write"], "roles": ["admin", "auditor"],
            "tenant": "acme",
        })
    );
    let not_admin = kit.token().roles(["auditor"]).sign();
    let response = client.get("/whoami").bearer(&not_admin).send().await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_handler_called_directly_sees_what_it_would_see_through_the_app() {
    let kit = TestKit::new(ISSUER, AUDIENCE);
    let client = client(&kit).await;
    let token = kit
        .token()
        .subject("dave")
        .scopes(["orders:read"])
        .roles(["admin"])
        .claim("tenant", "acme")
        .sign();
    let principal = kit
        .principal()
        .subject("dave")
        .scopes(["orders:read"])
        .roles(["admin"])
        .claim("tenant", "acme")
        .build();
    let through_the_app = client.get("/whoami").bearer(&token).send().await;
    let Json(direct) = whoami(principal).await;
    assert_eq!(through_the_app.json(), &direct);

    let alice = kit.principal().subject("alice").build();
    let Json(order) = get_order(alice, Path(7)).await;
    assert_eq!((order.id, order.created_by.as_str()), (7, "alice"));
}

#[tokio::test]
async fn the_default_rate_stays_settable() {
    let kit = TestKit::new(ISSUER, AUDIENCE);
    let security = kit
        .security_builder()
        .default_rate(rate!("2/min"))
        .build()
        .await
        .unwrap();
    let client = TestClient::new(app(security));
    let token = kit.token().scopes(["orders:read"]).sign();
    for expected in [200, 200, 429] {
        let response = client.get("/orders/1").bearer(&token).send().await;
        assert_eq!(response.status(), expected);
    }
}

#[tokio::test]
async fn an_app_that_takes_issuers_takes_the_kits() {
    let kit = TestKit::new(ISSUER, AUDIENCE);
    let client = TestClient::new(app_with_issuers(vec![kit.issuer().rfc9068()]).await);
    let token = kit.token().scopes(["orders:read"]).sign();
    let response = client.get("/orders/3").bearer(&token).send().await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json()["id"], 3);
}

#[tokio::test]
async fn a_layered_app_is_tested_as_it_is_served() {
    let kit = TestKit::new(ISSUER, AUDIENCE);
    let served = SecurityHeadersLayer::for_plain_http().layer(app(kit.security().await.unwrap()));
    let client = TestClient::new(served);
    let token = kit.token().scopes(["orders:read"]).sign();
    let response = client.get("/orders/3").bearer(&token).send().await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
}
