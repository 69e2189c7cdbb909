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
use secrecy::ExposeSecret;

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
    let document = api(
        security(dev.issuer(), 1.0, None, "http://127.0.0.1:3000", None)
            .await
            .unwrap(),
    )
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

/// A key ring of one fresh key, of `version`.
fn ring(version: u32) -> KeyRing {
    ring_and_key(version).0
}

/// A key ring of one fresh key, of `version`, and that key as `ORDERS_FIELD_KEYS` takes it.
fn ring_and_key(version: u32) -> (KeyRing, String) {
    let key = KeyRing::generate_key().unwrap();
    let text = KeyRing::encode_key(&key).expose_secret().to_owned();
    (KeyRing::new(version, key), text)
}

async fn app() -> (DevIssuer, axum::Router) {
    app_with(Store::new(ring(1))).await
}

async fn app_with(store: Store) -> (DevIssuer, axum::Router) {
    let dev = example_issuer();
    let router = api(
        security(dev.issuer(), 1.0, None, "http://127.0.0.1:3000", None)
            .await
            .unwrap(),
    )
    .into_router()
    .with_state(store);
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
        r#"{"item":"tea","quantity":2,"delivery_address":""}"#,
        r#"{"item":"tea","quantity":2,"delivery_address":7}"#,
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
    let router = api(
        security(dev.issuer(), 1.0, None, "http://127.0.0.1:3000", None)
            .await
            .unwrap(),
    );
    router.inventory().assert_snapshot(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/orders.inventory.txt"
    ));
}

const ADDRESS: &str = "221B Baker Street, London NW1 6XE";

/// The row the store holds for order `id`, as a database would hold it.
fn stored_row(store: &Store, id: u64) -> String {
    store.rows(|rows| rows.get(&id).cloned()).unwrap()
}

#[tokio::test]
async fn delivery_addresses_are_stored_sealed_and_returned_in_clear() {
    let keys = ring(1);
    let store = Store::new(keys.clone());
    let (dev, app) = app_with(store.clone()).await;
    let writer = dev.token().subject("bob").scopes(["orders:write"]).sign();
    let reader = dev.token().subject("alice").scopes(["orders:read"]).sign();

    let body = format!(r#"{{"item":"tea","quantity":2,"delivery_address":"{ADDRESS}"}}"#);
    let created = send(&app, post_json("/orders", &writer, &body)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json()["delivery_address"], ADDRESS);
    let id = created.json()["id"].as_u64().unwrap();

    // The store holds ciphertext, sealed with the current key for this field.
    let row = stored_row(&store, id);
    assert!(!row.contains("Baker"), "plaintext stored: {row}");
    let stored: serde_json::Value = serde_json::from_str(&row).unwrap();
    assert_eq!(stored["item"], "tea");
    let sealed = stored["delivery_address"].as_str().unwrap();
    assert!(sealed.starts_with("pcs1.1."), "{sealed}");
    assert_eq!(KeyRing::version_of(sealed), Ok(1));
    let opened = Sealed::<String, DeliveryAddress>::open_with(sealed, &keys).unwrap();
    assert_eq!(opened.get(), ADDRESS);
    // What a log of the record shows.
    let record = store.get(id).unwrap().unwrap();
    let logged = format!("{record:?}");
    assert!(
        logged.contains("delivery_address: Some(Sealed(..))"),
        "{logged}"
    );
    assert!(!logged.contains("Baker"), "{logged}");

    // Those who may read orders get the address in clear.
    let fetched = send(&app, get(&format!("/orders/{id}"), &reader)).await;
    assert_eq!(fetched.status, 200, "{}", fetched.text);
    assert_eq!(fetched.json()["delivery_address"], ADDRESS);
    let listed = send(&app, get("/orders", &reader)).await;
    assert_eq!(listed.json()[0]["delivery_address"], ADDRESS);
    assert!(!listed.text.contains("pcs1."), "{}", listed.text);

    // Without an address, none is stored or returned.
    let created = send(
        &app,
        post_json("/orders", &writer, r#"{"item":"cake","quantity":1}"#),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(created.json().get("delivery_address").is_none());
    let id = created.json()["id"].as_u64().unwrap();
    assert!(!stored_row(&store, id).contains("delivery_address"));
}

#[tokio::test]
async fn stored_addresses_survive_a_key_rotation() {
    let old = ring(1);
    let store = Store::new(old.clone());
    let (dev, app) = app_with(store.clone()).await;
    let writer = dev.token().scopes(["orders:read", "orders:write"]).sign();
    let body = format!(r#"{{"item":"tea","quantity":2,"delivery_address":"{ADDRESS}"}}"#);
    assert_eq!(
        send(&app, post_json("/orders", &writer, &body))
            .await
            .status,
        201
    );

    // Restarted with ORDERS_FIELD_KEYS="2:<new>,1:<old>", over the same rows.
    let mut rotated = old;
    rotated.rotate(2, KeyRing::generate_key().unwrap()).unwrap();
    let restarted = Store {
        keys: rotated,
        ..store.clone()
    };
    let (dev, app) = app_with(restarted.clone()).await;
    let writer = dev.token().scopes(["orders:read", "orders:write"]).sign();
    let fetched = send(&app, get("/orders/1", &writer)).await;
    assert_eq!(
        fetched.json()["delivery_address"],
        ADDRESS,
        "{}",
        fetched.text
    );
    assert_eq!(
        send(&app, post_json("/orders", &writer, &body))
            .await
            .status,
        201
    );
    let version = |id| {
        let row: serde_json::Value = serde_json::from_str(&stored_row(&restarted, id)).unwrap();
        KeyRing::version_of(row["delivery_address"].as_str().unwrap()).unwrap()
    };
    assert_eq!((version(1), version(2)), (1, 2));
    let listed = send(&app, get("/orders", &writer)).await;
    assert_eq!(
        listed.json()[1]["delivery_address"],
        ADDRESS,
        "{}",
        listed.text
    );
}

#[tokio::test]
async fn an_address_sealed_with_a_key_not_in_the_ring_fails_closed() {
    let (keys, key) = ring_and_key(1);
    let store = Store::new(keys);
    let (dev, app) = app_with(store.clone()).await;
    let reader = dev.token().scopes(["orders:read"]).sign();

    // Two foreign keys: a version the ring does not have, and its own version 1 but
    // another key (as if the ring had been replaced instead of rotated).
    let (unknown_version, unknown_key) = ring_and_key(7);
    let (same_version, same_version_key) = ring_and_key(1);
    for (id, foreign) in [(1, &unknown_version), (2, &same_version)] {
        let order = StoredOrder {
            id,
            item: "tea".into(),
            quantity: 2,
            created_by: "mallory".into(),
            delivery_address: Some(Sealed::new(ADDRESS.into())),
        };
        let row = with_key_ring(foreign, || serde_json::to_string(&order)).unwrap();
        store.rows(|rows| rows.insert(id, row));
    }

    // No plaintext, no ciphertext, no key (nor its first characters), no reason.
    let hidden = [
        "Baker",
        "pcs1.",
        &key[..12],
        &unknown_key[..12],
        &same_version_key[..12],
        "version",
        "authentication",
    ];
    for path in ["/orders/1", "/orders/2", "/orders"] {
        let reply = send(&app, get(path, &reader)).await;
        assert_eq!(reply.status, 500, "{path}: {}", reply.text);
        assert_eq!(reply.header("content-type"), "application/problem+json");
        assert_eq!(reply.json()["status"], 500);
        for text in hidden {
            assert!(!reply.text.contains(text), "{path}: {}", reply.text);
        }
    }
}
