//! Rate limiting: per endpoint and client, GCRA, 429 with `Retry-After`.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use portcullis::prelude::*;

portcullis::scopes! { "orders:read" => "Read orders" }

#[secure(get, path = "/orders", scope = "orders:read", rate = "100/min")]
async fn list_orders(_who: Principal) -> &'static str {
    "list"
}

#[secure(get, path = "/orders/{id}", scope = "orders:read")]
async fn get_order(_who: Principal, Path(id): Path<u64>) -> String {
    id.to_string()
}

#[secure(get, path = "/by-subject", scope = "orders:read", rate = "2/min", rate_key = subject)]
async fn by_subject(_who: Principal) -> &'static str {
    "ok"
}

#[public(get, path = "/health", rate = "3/min")]
async fn health() -> &'static str {
    "ok"
}

#[public(get, path = "/global", rate = "2/min", rate_key = global)]
async fn global() -> &'static str {
    "ok"
}

#[public(get, path = "/free", rate = "unlimited")]
async fn free() -> &'static str {
    "ok"
}

async fn app(default_rate: Rate) -> (portcullis::dev::DevIssuer, axum::Router, AuditLog) {
    let dev = dev_issuer();
    let audit = AuditLog::default();
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(default_rate)
        .audit_sink(audit.sink())
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security)
        .mount(routes![
            list_orders,
            get_order,
            by_subject,
            health,
            global,
            free
        ])
        .into_router();
    (dev, app, audit)
}

fn anonymous(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn the_101st_request_in_a_minute_is_refused_while_others_pass() {
    let (dev, app, audit) = app(rate!("600/min")).await;
    let first = dev
        .token()
        .client("client-a")
        .scopes(["orders:read"])
        .sign();
    let second = dev
        .token()
        .client("client-b")
        .scopes(["orders:read"])
        .sign();
    for n in 1..=100 {
        let reply = send(&app, get("/orders", &first)).await;
        assert_eq!(reply.status, StatusCode::OK, "request {n}");
    }
    let reply = send(&app, get("/orders", &first)).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = reply.header("retry-after").parse().unwrap();
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert_eq!(reply.json()["status"], 429);
    assert_eq!(audit.last().reason, "rate_limited");

    // Another client has its own quota; and each endpoint its own.
    assert_eq!(
        send(&app, get("/orders", &second)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, get("/orders/1", &first)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn endpoints_without_a_rate_use_the_default() {
    let (dev, app, _) = app(rate!("5/min")).await;
    let token = dev.token().scopes(["orders:read"]).sign();
    for _ in 0..5 {
        assert_eq!(
            send(&app, get("/orders/1", &token)).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        send(&app, get("/orders/1", &token)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn subject_keys_span_clients() {
    let (dev, app, _) = app(rate!("600/min")).await;
    let web = dev
        .token()
        .subject("alice")
        .client("web")
        .scopes(["orders:read"])
        .sign();
    let mobile = dev
        .token()
        .subject("alice")
        .client("mobile")
        .scopes(["orders:read"])
        .sign();
    let bob = dev
        .token()
        .subject("bob")
        .client("web")
        .scopes(["orders:read"])
        .sign();
    assert_eq!(
        send(&app, get("/by-subject", &web)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, get("/by-subject", &mobile)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, get("/by-subject", &web)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        send(&app, get("/by-subject", &bob)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn public_endpoints_are_limited_per_ip() {
    let (_, app, audit) = app(rate!("600/min")).await;
    for _ in 0..3 {
        assert_eq!(
            send_from(&app, anonymous("/health"), [10, 0, 0, 1])
                .await
                .status,
            StatusCode::OK
        );
    }
    assert_eq!(audit.last().reason, "public");
    assert_eq!(
        send_from(&app, anonymous("/health"), [10, 0, 0, 1])
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        send_from(&app, anonymous("/health"), [10, 0, 0, 2])
            .await
            .status,
        StatusCode::OK
    );

    assert_eq!(
        send_from(&app, anonymous("/global"), [10, 0, 0, 1])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send_from(&app, anonymous("/global"), [10, 0, 0, 2])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send_from(&app, anonymous("/global"), [10, 0, 0, 3])
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );

    for _ in 0..50 {
        assert_eq!(send(&app, anonymous("/free")).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn refused_requests_do_not_use_the_quota() {
    let (dev, app, _) = app(rate!("600/min")).await;
    let token = dev.token().client("c").scopes(["orders:read"]).sign();
    let unauthorized = dev.token().client("c").scopes(["other"]).sign();
    for _ in 0..20 {
        assert_eq!(
            send(&app, get("/orders", &unauthorized)).await.status,
            StatusCode::FORBIDDEN
        );
    }
    for _ in 0..100 {
        assert_eq!(
            send(&app, get("/orders", &token)).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn the_rate_scale_multiplies_every_quota() {
    let dev = dev_issuer();
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1/min"))
        .rate_scale(3.0)
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security)
        .mount(routes![health, get_order])
        .into_router();
    for _ in 0..9 {
        assert_eq!(
            send(&app, anonymous("/health")).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        send(&app, anonymous("/health")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let token = dev.token().scopes(["orders:read"]).sign();
    for _ in 0..3 {
        assert_eq!(
            send(&app, get("/orders/1", &token)).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        send(&app, get("/orders/1", &token)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}
