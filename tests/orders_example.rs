//! The orders example, tested: its API is included from `examples/orders/api.rs`, and its
//! OpenAPI document is kept as a snapshot so that a change in the API surface shows in
//! review.
//!
//! After an intended change, regenerate the snapshot with
//! `PORTCULLIS_BLESS=1 cargo test --test orders_example` (or
//! `cargo run --example orders -- --openapi tests/snapshots/orders.openapi.json`).

mod common;

include!("../examples/orders/api.rs");

use axum::body::Body;
use axum::http::Request;
use common::{Reply, get, post_json, send};
use portcullis::dev::DevIssuer;

const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/snapshots/orders.openapi.json"
);

/// The issuer the example uses at its default address.
fn example_issuer() -> DevIssuer {
    DevIssuer::new("http://127.0.0.1:3000/dev", "orders-api").unwrap()
}

#[tokio::test]
async fn the_openapi_document_matches_its_snapshot() {
    let dev = example_issuer();
    let document = api(security(dev.issuer(), 1.0, None).await.unwrap())
        .openapi()
        .unwrap();
    let json = serde_json::to_string_pretty(&document).unwrap() + "\n";
    if std::env::var_os("PORTCULLIS_BLESS").is_some() {
        std::fs::write(SNAPSHOT, &json).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert!(
        json == expected,
        "the orders API's OpenAPI document changed; if that is intended, regenerate the snapshot with \
         `PORTCULLIS_BLESS=1 cargo test --test orders_example` and review the diff"
    );
}

async fn app() -> (DevIssuer, axum::Router) {
    let dev = example_issuer();
    let router = api(security(dev.issuer(), 1.0, None).await.unwrap())
        .into_router()
        .with_state(Store::default());
    (dev, router)
}

#[tokio::test]
async fn orders_round_trip_with_the_right_scopes() {
    let (dev, app) = app().await;
    let writer = dev
        .token()
        .subject("bob")
        .scopes(["orders:read", "orders:write"])
        .sign();
    let reader = dev.token().subject("alice").scopes(["orders:read"]).sign();
    let admin = dev.token().scopes(["orders:admin"]).sign();

    let created = send(
        &app,
        post_json("/orders", &writer, r#"{"item":"tea","quantity":2}"#),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json()["created_by"], "bob");
    let id = created.json()["id"].as_u64().unwrap();

    let fetched = send(&app, get(&format!("/orders/{id}"), &reader)).await;
    assert_eq!(
        (fetched.status.as_u16(), fetched.json()["item"].as_str()),
        (200, Some("tea"))
    );
    assert_eq!(
        send(&app, get("/orders", &reader))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let refused: Reply = send(
        &app,
        post_json("/orders", &reader, r#"{"item":"tea","quantity":2}"#),
    )
    .await;
    assert_eq!(refused.status, 403);
    let delete = |token: &str| {
        Request::delete(format!("/orders/{id}"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&app, delete(&reader)).await.status, 403);
    assert_eq!(send(&app, delete(&admin)).await.status, 204);
    assert_eq!(send(&app, delete(&admin)).await.status, 404);
    assert_eq!(
        send(&app, get(&format!("/orders/{id}"), &reader))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn invalid_orders_are_refused() {
    let (dev, app) = app().await;
    let writer = dev.token().scopes(["orders:write"]).sign();
    for body in [
        r#"{"item":"","quantity":2}"#,
        r#"{"item":"tea","quantity":1001}"#,
        r#"{"item":"tea","quantity":2,"price":1}"#,
    ] {
        assert_eq!(
            send(&app, post_json("/orders", &writer, body)).await.status,
            422,
            "{body}"
        );
    }
    let long = format!(r#"{{"item":"{}","quantity":2}}"#, "é".repeat(64));
    assert_eq!(
        send(&app, post_json("/orders", &writer, &long))
            .await
            .status,
        201,
        "64 characters are allowed"
    );
    let too_long = format!(r#"{{"item":"{}","quantity":2}}"#, "é".repeat(65));
    assert_eq!(
        send(&app, post_json("/orders", &writer, &too_long))
            .await
            .status,
        422
    );
}

#[tokio::test]
async fn operators_can_revoke_a_token() {
    let (dev, app) = app().await;
    let reader = dev.token().subject("alice").scopes(["orders:read"]).sign();
    assert_eq!(send(&app, get("/orders", &reader)).await.status, 200);
    let jti = claim(&reader, "jti");
    let exp = claim(&reader, "exp");
    let body = format!(r#"{{"jti":{jti},"exp":{exp}}}"#);
    let admin = dev.token().scopes(["tokens:revoke"]).sign();
    assert_eq!(
        send(&app, post_json("/admin/revocations", &reader, &body))
            .await
            .status,
        403
    );
    assert_eq!(
        send(&app, post_json("/admin/revocations", &admin, &body))
            .await
            .status,
        204
    );
    assert_eq!(send(&app, get("/orders", &reader)).await.status, 401);
}

fn claim(token: &str, name: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()[name].to_string()
}

#[tokio::test]
async fn the_security_inventory_matches_its_snapshot() {
    let dev = example_issuer();
    let router = api(security(dev.issuer(), 1.0, None).await.unwrap());
    router.inventory().assert_snapshot(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/orders.inventory.txt"
    ));
}
