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

#[tokio::test]
async fn ratelimit_fields_on_allowed_and_refused_responses() {
    let (dev, app, _) = app(rate!("600/min")).await;
    let token = dev.token().client("headers").scopes(["orders:read"]).sign();
    let first = send(&app, get("/orders", &token)).await;
    assert_eq!(
        first.header("ratelimit-policy"),
        "\"list_orders\";q=100;w=60"
    );
    assert_eq!(first.header("ratelimit"), "\"list_orders\";r=99;t=1");
    for _ in 0..99 {
        send(&app, get("/orders", &token)).await;
    }
    let refused = send(&app, get("/orders", &token)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused.header("ratelimit-policy"),
        "\"list_orders\";q=100;w=60"
    );
    let retry_after = refused.header("retry-after").to_owned();
    assert_eq!(
        refused.header("ratelimit"),
        format!("\"list_orders\";r=0;t={retry_after}")
    );
    let body = refused.json();
    assert_eq!(
        body["type"],
        "https://iana.org/assignments/http-problem-types#quota-exceeded"
    );
    assert_eq!(
        body["violated-policies"],
        serde_json::json!(["list_orders"])
    );
    // Endpoints on the default rate name the default policy.
    let other = send(&app, get("/orders/1", &token)).await;
    assert_eq!(other.header("ratelimit-policy"), "\"default\";q=600;w=60");
    // Unlimited endpoints carry no fields.
    let free = send(&app, anonymous("/free")).await;
    assert!(
        free.headers.get("ratelimit").is_none() && free.headers.get("ratelimit-policy").is_none()
    );
}

fn with_forwarded_for(path: &str, forwarded: &str) -> Request<Body> {
    Request::get(path)
        .header("x-forwarded-for", forwarded)
        .header("forwarded", format!("for={forwarded}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn spoofed_forwarding_headers_buy_no_fresh_quota() {
    let (_, app, _) = app(rate!("600/min")).await;
    for n in 0..3 {
        let request = with_forwarded_for("/health", &format!("198.51.100.{n}"));
        assert_eq!(
            send_from(&app, request, [203, 0, 113, 5]).await.status,
            StatusCode::OK
        );
    }
    let request = with_forwarded_for("/health", "198.51.100.99");
    assert_eq!(
        send_from(&app, request, [203, 0, 113, 5]).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Behind a trusted proxy, the forwarded client is the key.
    let dev = dev_issuer();
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("600/min"))
        .trusted_proxies(portcullis::rate::TrustedProxies::networks(["10.0.0.0/8"]).unwrap())
        .build()
        .await
        .unwrap();
    let behind_proxy = SecureRouter::new(security)
        .mount(routes![health])
        .into_router();
    for client in ["198.51.100.1", "198.51.100.2"] {
        for _ in 0..3 {
            let request = with_forwarded_for("/health", client);
            assert_eq!(
                send_from(&behind_proxy, request, [10, 0, 0, 9])
                    .await
                    .status,
                StatusCode::OK
            );
        }
    }
    let request = with_forwarded_for("/health", "198.51.100.1");
    assert_eq!(
        send_from(&behind_proxy, request, [10, 0, 0, 9])
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn an_ip_that_keeps_failing_is_refused_before_any_signature_check() {
    let dev = dev_issuer();
    let audit = AuditLog::default();
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("600/min"))
        .auth_failure_limit(Some(Rate::per_minute(5)))
        .audit_sink(audit.sink())
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security.clone())
        .mount(routes![get_order])
        .into_router();
    let forged = {
        let mut parts: Vec<String> = dev
            .token()
            .scopes(["orders:read"])
            .sign()
            .split('.')
            .map(str::to_owned)
            .collect();
        parts[2] = parts[2].chars().rev().collect();
        parts.join(".")
    };
    let attacker = [198, 51, 100, 66];
    for _ in 0..5 {
        assert_eq!(
            send_from(&app, get("/orders/1", &forged), attacker)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    let checks = security.signature_checks();
    assert_eq!(
        send_from(&app, get("/orders/1", &forged), attacker)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    for _ in 0..20 {
        let reply = send_from(&app, get("/orders/1", &forged), attacker).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(reply.headers.contains_key("retry-after"));
    }
    assert_eq!(
        security.signature_checks(),
        checks + 1,
        "the throttled requests were not verified"
    );
    assert_eq!(audit.last().reason, "authentication_throttled");
    assert_eq!(audit.last().status, 429);
    // Another address, and the attacker's valid token from elsewhere, are unaffected.
    let valid = dev.token().scopes(["orders:read"]).sign();
    assert_eq!(
        send_from(&app, get("/orders/1", &valid), [198, 51, 100, 67])
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn tiers_give_paying_clients_more() {
    use portcullis::rate::{TierQuota, Tiers};
    let dev = dev_issuer();
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("600/min"))
        .tiers(
            Tiers::claim("tier")
                .tier("gold", TierQuota::Multiply(3.0))
                .tier("trial", TierQuota::Rate(Rate::per_minute(1))),
        )
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security)
        .mount(routes![by_subject])
        .into_router();
    let count = |token: String| {
        let app = app.clone();
        async move {
            let mut allowed = 0;
            for _ in 0..10 {
                if send(&app, get("/by-subject", &token)).await.status == StatusCode::OK {
                    allowed += 1;
                }
            }
            allowed
        }
    };
    assert_eq!(
        count(dev.token().subject("free").scopes(["orders:read"]).sign()).await,
        2
    );
    assert_eq!(
        count(
            dev.token()
                .subject("gold")
                .scopes(["orders:read"])
                .claim("tier", "gold")
                .sign()
        )
        .await,
        6
    );
    assert_eq!(
        count(
            dev.token()
                .subject("trial")
                .scopes(["orders:read"])
                .claim("tier", "trial")
                .sign()
        )
        .await,
        1
    );
    assert_eq!(
        count(
            dev.token()
                .subject("unknown")
                .scopes(["orders:read"])
                .claim("tier", "platinum")
                .sign()
        )
        .await,
        2
    );
    let gold = send(
        &app,
        get(
            "/by-subject",
            &dev.token()
                .subject("g2")
                .scopes(["orders:read"])
                .claim("tier", "gold")
                .sign(),
        ),
    )
    .await;
    assert_eq!(gold.header("ratelimit-policy"), "\"by_subject\";q=6;w=60");
}
