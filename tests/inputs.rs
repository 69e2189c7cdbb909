//! Validated inputs: strict parsing, garde rules, body limits, media types; every failure
//! a problem document with field paths, never a 500.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use portcullis::prelude::*;

portcullis::scopes! { "orders:write" => "Create orders" }

#[input]
struct NewOrder {
    #[garde(length(min = 1, max = 64))]
    item: String,
    #[garde(range(min = 1, max = 1000))]
    quantity: u32,
    #[garde(dive)]
    lines: Option<Vec<Line>>,
}

#[input]
struct Line {
    #[garde(length(min = 1, max = 8))]
    sku: String,
}

#[input]
struct Search {
    #[garde(length(min = 2, max = 20))]
    q: String,
    #[garde(range(max = 100))]
    limit: Option<u32>,
}

#[input]
struct Login {
    #[garde(ascii, length(min = 3, max = 32))]
    user: String,
}

#[secure(post, path = "/orders", scope = "orders:write", rate = "unlimited")]
async fn create_order(_who: Principal, Json(order): Json<NewOrder>) -> Json<u32> {
    Json(order.quantity)
}

#[secure(
    post,
    path = "/big",
    scope = "orders:write",
    rate = "unlimited",
    body_limit = 200000
)]
async fn big(_who: Principal, Json(order): Json<NewOrder>) -> Json<usize> {
    Json(order.item.len())
}

#[public(get, path = "/search", rate = "unlimited")]
async fn search(Query(search): Query<Search>) -> String {
    format!("{} {:?}", search.q, search.limit)
}

#[public(get, path = "/orders/{id}/lines/{line}", rate = "unlimited")]
async fn line(Path((id, line)): Path<(u64, u8)>) -> String {
    format!("{id}/{line}")
}

#[public(post, path = "/login", rate = "unlimited")]
async fn login(Form(login): Form<Login>) -> String {
    login.user
}

async fn app() -> (String, axum::Router, AuditLog) {
    let dev = dev_issuer();
    let (security, audit) = audited_security(&dev).await;
    let app = SecureRouter::new(security)
        .mount(routes![create_order, big, search, line, login])
        .into_router();
    (dev.token().scopes(["orders:write"]).sign(), app, audit)
}

async fn create(app: &axum::Router, token: &str, body: &str) -> Reply {
    send(app, post_json("/orders", token, body)).await
}

#[tokio::test]
async fn a_valid_body_passes() {
    let (token, app, _) = app().await;
    let reply = create(
        &app,
        &token,
        r#"{"item":"tea","quantity":3,"lines":[{"sku":"T1"}]}"#,
    )
    .await;
    assert_eq!((reply.status, reply.text.as_str()), (StatusCode::OK, "3"));
    let with_charset = Request::post("/orders")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(r#"{"item":"tea","quantity":3}"#))
        .unwrap();
    assert_eq!(send(&app, with_charset).await.status, StatusCode::OK);
}

#[tokio::test]
async fn rule_violations_are_422_with_field_paths() {
    let (token, app, audit) = app().await;
    let reply = create(
        &app,
        &token,
        r#"{"item":"","quantity":5000,"lines":[{"sku":"OK"},{"sku":"TOO-LONG-SKU"}]}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    let body = reply.json();
    assert_eq!(body["type"], "tag:portcullis.rs,2026:problem:invalid-input");
    let mut paths: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(paths, ["item", "lines[1].sku", "quantity"]);
    let event = audit.last();
    assert_eq!(
        (event.reason.as_str(), event.status),
        ("invalid_input", 422)
    );
}

#[tokio::test]
async fn unknown_fields_and_wrong_types_are_422() {
    let (token, app, _) = app().await;
    let reply = create(&app, &token, r#"{"item":"tea","quantity":3,"admin":true}"#).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `admin`")
    );

    let reply = create(&app, &token, r#"{"item":"tea","quantity":"3"}"#).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.json()["errors"][0]["path"], "quantity");

    let reply = create(&app, &token, r#"{"item":"tea"}"#).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("missing field `quantity`")
    );

    // A repeated member is ambiguous JSON: refused before it reaches the type.
    let reply = create(
        &app,
        &token,
        r#"{"item":"tea","item":"coffee","quantity":1}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let message = reply.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("repeats a member name"), "{message}");
    // JSON Schema's integers include `3.0`; so does the parser.
    let whole = create(&app, &token, r#"{"item":"tea","quantity":3.0}"#).await;
    assert_eq!(whole.status, StatusCode::OK);
    let fraction = create(&app, &token, r#"{"item":"tea","quantity":3.5}"#).await;
    assert_eq!(fraction.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn broken_json_is_400() {
    let (token, app, _) = app().await;
    for body in [
        r#"{"item":"tea","#,
        "not json",
        r#"{"item":"tea","quantity":1} trailing"#,
        "",
        // serde_json would read this member as the document inside its string.
        r#"{"$serde_json::private::RawValue":"{\"item\":\"tea\",\"quantity\":1}"}"#,
    ] {
        let reply = create(&app, &token, body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body:?}: {}",
            reply.text
        );
        assert_eq!(reply.json()["status"], 400);
    }
}

#[tokio::test]
async fn wrong_media_type_is_415() {
    let (token, app, _) = app().await;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
    ] {
        let mut request =
            Request::post("/orders").header("authorization", format!("Bearer {token}"));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let reply = send(
            &app,
            request
                .body(Body::from(r#"{"item":"tea","quantity":3}"#))
                .unwrap(),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
    }
    let problem_json = Request::post("/orders")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/merge-patch+json")
        .body(Body::from(r#"{"item":"tea","quantity":3}"#))
        .unwrap();
    assert_eq!(send(&app, problem_json).await.status, StatusCode::OK);
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let (token, app, _) = app().await;
    let padding = " ".repeat(70 * 1024);
    let body = format!(r#"{{"item":"tea",{padding}"quantity":3}}"#);
    let reply = create(&app, &token, &body).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.json()["status"], 413);

    // Without Content-Length (a stream), the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body
        .as_bytes()
        .chunks(1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let stream = Body::from_stream(tokio_stream::iter(chunks));
    let request = Request::post("/orders")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(stream)
        .unwrap();
    assert_eq!(
        send(&app, request).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    // An endpoint with its own, larger limit.
    assert_eq!(
        send(&app, post_json("/big", &token, &body)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn query_strings_are_strict() {
    let (_, app, _) = app().await;
    let ok = send(
        &app,
        Request::get("/search?q=tea&limit=5")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (ok.status, ok.text.as_str()),
        (StatusCode::OK, "tea Some(5)")
    );
    let unknown = send(
        &app,
        Request::get("/search?q=tea&debug=1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `debug`")
    );
    let wrong_type = send(
        &app,
        Request::get("/search?q=tea&limit=many")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    let rule = send(
        &app,
        Request::get("/search?q=t&limit=500")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(rule.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(rule.json()["errors"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn path_parameters_are_parsed() {
    let (_, app, _) = app().await;
    let ok = send(
        &app,
        Request::get("/orders/7/lines/2")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!((ok.status, ok.text.as_str()), (StatusCode::OK, "7/2"));
    for path in [
        "/orders/x/lines/2",
        "/orders/7/lines/300",
        "/orders/-1/lines/1",
    ] {
        let reply = send(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(reply.header("content-type"), "application/problem+json");
    }
}

#[tokio::test]
async fn forms_are_strict() {
    let (_, app, _) = app().await;
    let form = |body: &'static str, content_type: &str| {
        Request::post("/login")
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let ok = send(
        &app,
        form("user=alice", "application/x-www-form-urlencoded"),
    )
    .await;
    assert_eq!((ok.status, ok.text.as_str()), (StatusCode::OK, "alice"));
    assert_eq!(
        send(&app, form("user=al", "application/x-www-form-urlencoded"))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        send(
            &app,
            form("user=alice&role=admin", "application/x-www-form-urlencoded")
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        send(&app, form("user=alice", "application/json"))
            .await
            .status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}
