//! `examples/existing_app.rs`, tested: its app in process (every path, the document's paths,
//! the inventory), and the example itself started as a user starts it.

mod common;
#[allow(dead_code)]
#[path = "../examples/existing_app.rs"]
mod existing_app;

use axum::http::StatusCode;
use common::example::{Example, lines_until};
use portcullis::Security;
use portcullis::dev::DevIssuer;
use portcullis::testing::TestClient;

const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/snapshots/existing_app.inventory.txt"
);

async fn security(dev: &DevIssuer) -> Security {
    Security::builder()
        .issuer(dev.issuer())
        .default_rate(portcullis::rate!("600/min"))
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_path_answers_as_the_example_says() {
    let dev = DevIssuer::new("http://127.0.0.1:3001/dev", "existing-app").unwrap();
    let api = existing_app::api(security(&dev).await, Some(&dev));
    api.inventory().assert_snapshot(SNAPSHOT);
    let document = serde_json::to_value(api.openapi().unwrap()).unwrap();
    let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
    assert_eq!(paths, ["/api/v1/billing/invoices", "/api/v1/orders"]);

    let client = TestClient::new(existing_app::app(api));
    let token = |scopes: &[&str]| {
        dev.token()
            .client("cli")
            .scopes(scopes.iter().copied())
            .claim("tenant", "acme")
            .sign()
    };
    let (reader, payer) = (token(&["orders:read"]), token(&["billing:read"]));

    // The app's own routes: the declared one served, the one added by hand refused.
    let home = client.get("/").send().await;
    assert_eq!(
        (home.status(), home.text().as_ref()),
        (StatusCode::OK, "existing-app is running")
    );
    assert_eq!(
        client.get("/admin/export").send().await.status(),
        StatusCode::NOT_FOUND
    );
    // The app's fallback stands behind the guard: an unknown path gets the guard's 404.
    let unknown = client.get("/nowhere").send().await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        unknown.header("content-type"),
        Some("application/problem+json")
    );

    // The modules, under /api/v1, each with its scopes.
    let orders = client.get("/api/v1/orders").bearer(&reader).send().await;
    assert_eq!(orders.status(), StatusCode::OK);
    assert_eq!(orders.json()[0]["item"], "tea");
    assert_eq!(
        client.get("/api/v1/orders").send().await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        client
            .get("/api/v1/orders")
            .bearer(&payer)
            .send()
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let invoices = client
        .get("/api/v1/billing/invoices")
        .bearer(&payer)
        .send()
        .await;
    assert_eq!(invoices.status(), StatusCode::OK);
    assert_eq!(invoices.json()["currency"], "EUR");
    assert_eq!(
        invoices.header("ratelimit-policy"),
        Some("\"api/v1/billing/list_invoices\";q=30;w=60")
    );
    // The document and the development issuer, through Portcullis.
    let served = client.get("/api/v1/openapi.json").send().await;
    assert_eq!(served.json()["paths"], document["paths"]);
    assert_eq!(
        client
            .get("/dev/.well-known/openid-configuration")
            .send()
            .await
            .status(),
        StatusCode::OK
    );
}

#[test]
fn the_example_starts_and_serves_behind_its_guard() {
    let (example, stdout) = Example::start("existing_app", "EXISTING_APP_ADDR", &[]);
    // The printed curl lines carry ready tokens.
    let lines = lines_until(stdout, |line| line.starts_with("curl -s"));
    let token = lines
        .iter()
        .filter(|line| line.contains("/api/v1/orders"))
        .find_map(|line| line.split("Bearer ").nth(1)?.split('\'').next())
        .expect("the example prints a token for /api/v1/orders");
    assert_eq!(example.get("/", None).status, 200);
    assert_eq!(example.get("/admin/export", None).status, 404);
    assert_eq!(example.get("/api/v1/orders", None).status, 401);
    let orders = example.get("/api/v1/orders", Some(token));
    assert_eq!(
        (orders.status, orders.body.as_str()),
        (200, r#"[{"id":1,"item":"tea"}]"#)
    );
    assert_eq!(example.get("/api/v1/openapi.json", None).status, 200);
}
