//! Rate limits and revocations in Redis, for many instances: the same GCRA as in memory,
//! one combined quota across instances, the configured behaviour when Redis goes away,
//! revocations seen by every instance, and DPoP proofs used once across instances.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::redis::RedisServer;
use common::*;
use portcullis::prelude::*;
use portcullis::rate::{MemoryRateStore, RateDecision, RateIdentity, RateRequest, RateStore};
use portcullis::redis::{Redis, RevocationFeed, WhenUnreachable};

portcullis::scopes! { "orders:read" => "Read orders" }

#[secure(get, path = "/orders", scope = "orders:read", rate = "5/min")]
async fn list_orders(_who: Principal) -> &'static str {
    "list"
}

/// The GCRA behaviour both stores must share: N allowed, N+1 refused with the right wait,
/// another key unaffected, one more allowed after one emission interval.
async fn gcra_boundary(store: &dyn RateStore, quota: &str) {
    let rate = Rate::per_second(5);
    let request = |identity| RateRequest {
        quota,
        identity,
        rate,
    };
    for expected in (0..5).rev() {
        match store
            .check(request(RateIdentity::Id("client")))
            .await
            .unwrap()
        {
            RateDecision::Allowed { remaining, reset } => {
                assert_eq!(remaining, expected);
                assert!(reset <= Duration::from_millis(200), "{reset:?}");
            }
            other => panic!("expected allowed, got {other:?}"),
        }
    }
    match store
        .check(request(RateIdentity::Id("client")))
        .await
        .unwrap()
    {
        RateDecision::Limited { retry_after } => {
            assert!(
                retry_after > Duration::from_millis(100)
                    && retry_after <= Duration::from_millis(200),
                "{retry_after:?}"
            );
        }
        other => panic!("the 6th request must be refused, got {other:?}"),
    }
    assert!(matches!(
        store
            .check(request(RateIdentity::Id("other")))
            .await
            .unwrap(),
        RateDecision::Allowed { remaining: 4, .. }
    ));
    tokio::time::sleep(Duration::from_millis(210)).await;
    assert!(matches!(
        store
            .check(request(RateIdentity::Id("client")))
            .await
            .unwrap(),
        RateDecision::Allowed { remaining: 0, .. }
    ));
    assert!(matches!(
        store
            .check(request(RateIdentity::Id("client")))
            .await
            .unwrap(),
        RateDecision::Limited { .. }
    ));
}

#[tokio::test]
async fn gcra_at_the_boundary_in_memory_and_in_redis() {
    gcra_boundary(&MemoryRateStore::new(), "boundary").await;
    let Some(server) = RedisServer::start("gcra_at_the_boundary_in_memory_and_in_redis") else {
        return;
    };
    let redis = Redis::connect(&server.url()).await.unwrap();
    gcra_boundary(&redis.rate_store(WhenUnreachable::Refuse), "boundary").await;
    // Leased, one instance decides as the exact store does (a burst of 5 leases one
    // permit at a time).
    gcra_boundary(
        &redis.leased_rate_store(WhenUnreachable::Refuse),
        "leased boundary",
    )
    .await;
}

#[tokio::test]
async fn hundreds_of_concurrent_requests_never_exceed_the_quota() {
    async fn hammer(store: Arc<dyn RateStore>) -> usize {
        let rate = Rate::per_minute(50);
        let tasks: Vec<_> = (0..400)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let request = RateRequest {
                        quota: "concurrent",
                        identity: RateIdentity::Id("c"),
                        rate,
                    };
                    matches!(store.check(request).await, Ok(RateDecision::Allowed { .. }))
                })
            })
            .collect();
        let mut allowed = 0;
        for task in tasks {
            allowed += usize::from(task.await.unwrap());
        }
        allowed
    }
    assert_eq!(hammer(Arc::new(MemoryRateStore::new())).await, 50);
    let Some(server) = RedisServer::start("hundreds_of_concurrent_requests_never_exceed_the_quota")
    else {
        return;
    };
    let redis = Redis::connect(&server.url()).await.unwrap();
    assert_eq!(
        hammer(Arc::new(redis.rate_store(WhenUnreachable::Refuse))).await,
        50
    );
    let other = Redis::connect_with(&server.url(), "leased:", Duration::from_millis(250))
        .await
        .unwrap();
    assert_eq!(
        hammer(Arc::new(other.leased_rate_store(WhenUnreachable::Refuse))).await,
        50,
        "every permit leased is granted to a waiting request"
    );
}

async fn instance(
    redis: &Redis,
    dev: &portcullis::dev::DevIssuer,
    when: WhenUnreachable,
) -> (Security, axum::Router) {
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1000/s"))
        .rate_store(Arc::new(redis.rate_store(when)))
        .revocations(Arc::new(
            redis
                .revocations_with(RevocationFeed::default().max_copy_age(Duration::from_secs(2)))
                .await,
        ))
        .build()
        .await
        .unwrap();
    let router = SecureRouter::new(security.clone())
        .mount(routes![list_orders])
        .into_router();
    (security, router)
}

#[tokio::test]
async fn instances_sharing_redis_enforce_one_quota_and_one_revocation_list() {
    let Some(server) = RedisServer::start("instances_sharing_redis_enforce_one_quota") else {
        return;
    };
    let dev = dev_issuer();
    let (a_security, a) = instance(
        &Redis::connect(&server.url()).await.unwrap(),
        &dev,
        WhenUnreachable::Refuse,
    )
    .await;
    let (_, b) = instance(
        &Redis::connect(&server.url()).await.unwrap(),
        &dev,
        WhenUnreachable::Refuse,
    )
    .await;
    let token = dev.token().client("shared").scopes(["orders:read"]).sign();
    let mut statuses = Vec::new();
    for n in 0..8 {
        let app = if n % 2 == 0 { &a } else { &b };
        statuses.push(send(app, get("/orders", &token)).await.status.as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 429, 429, 429],
        "5 a minute across both instances"
    );

    // A revocation through A is refused by B.
    let other = dev.token().client("other").scopes(["orders:read"]).sign();
    assert_eq!(
        send(&b, get("/orders", &other)).await.status,
        StatusCode::OK
    );
    let (jti, exp) = (claim(&other, "jti"), claim(&other, "exp").parse().unwrap());
    a_security.revoke_token(ISSUER, &jti, exp).await.unwrap();
    refused_soon(&b, &other).await;
    a_security
        .revoke_subject(ISSUER, "shared", now() + 1)
        .await
        .unwrap();
    refused_soon(&b, &token).await;
}

#[tokio::test]
async fn a_restart_between_requests_costs_no_refusal_and_no_alert() {
    let Some(mut server) = RedisServer::start("a_restart_between_requests") else {
        return;
    };
    let dev = dev_issuer();
    let (alerts, sink) = alert_kinds();
    let redis = Redis::connect(&server.url()).await.unwrap();
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1000/s"))
        .rate_store(Arc::new(redis.rate_store(WhenUnreachable::Refuse)))
        .revocations(Arc::new(redis.revocations().await))
        .alert_sink(sink)
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security.clone())
        .mount(routes![list_orders])
        .into_router();
    let token = dev.token().client("c1").scopes(["orders:read"]).sign();
    assert_eq!(
        send(&app, get("/orders", &token)).await.status,
        StatusCode::OK
    );

    // Redis restarts while no request is under way: the connection the instance holds is
    // dead, and the next call finds out. It is made again on a new connection.
    server.restart();
    let answer = send(&app, get("/orders", &token)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    // A 5-a-minute quota counts again from zero on the fresh Redis: all five, then 429.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(send(&app, get("/orders", &token)).await.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429]);

    // A revocation written right after another restart is written, not refused.
    server.restart();
    let other = dev.token().client("c2").scopes(["orders:read"]).sign();
    let (jti, exp) = (claim(&other, "jti"), claim(&other, "exp").parse().unwrap());
    security.revoke_token(ISSUER, &jti, exp).await.unwrap();
    refused_soon(&app, &other).await;
    assert!(
        alerts.lock().unwrap().is_empty(),
        "no outage was seen: {:?}",
        alerts.lock().unwrap()
    );
}

/// Polls until `app` refuses `token` with 401 (the feed delivers revocations within
/// milliseconds; one second is the bound here).
async fn refused_soon(app: &axum::Router, token: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while send(app, get("/orders", token)).await.status != StatusCode::UNAUTHORIZED {
        assert!(
            std::time::Instant::now() < deadline,
            "the revocation did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn when_redis_goes_away_the_configured_behaviour_holds_and_recovers() {
    let Some(mut server) = RedisServer::start("when_redis_goes_away") else {
        return;
    };
    let dev = dev_issuer();
    let (alerts, sink) = alert_kinds();
    let watched = Redis::connect(&server.url()).await.unwrap();
    let watched_security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1000/s"))
        .rate_store(Arc::new(watched.rate_store(WhenUnreachable::Refuse)))
        .alert_sink(sink)
        .build()
        .await
        .unwrap();
    let watched_app = SecureRouter::new(watched_security)
        .mount(routes![list_orders])
        .into_router();
    let (_, closed) = instance(
        &Redis::connect(&server.url()).await.unwrap(),
        &dev,
        WhenUnreachable::Refuse,
    )
    .await;
    let (_, open) = instance(
        &Redis::connect(&server.url()).await.unwrap(),
        &dev,
        WhenUnreachable::UseLocalLimits,
    )
    .await;
    let token = dev.token().client("c1").scopes(["orders:read"]).sign();
    // Shared revocations fail closed too; this instance keeps them in memory to show the
    // rate-limit policy alone.
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1000/s"))
        .rate_store(Arc::new(
            Redis::connect(&server.url())
                .await
                .unwrap()
                .rate_store(WhenUnreachable::UseLocalLimits),
        ))
        .build()
        .await
        .unwrap();
    let local = SecureRouter::new(security)
        .mount(routes![list_orders])
        .into_router();
    assert_eq!(
        send(&closed, get("/orders", &token)).await.status,
        StatusCode::OK
    );

    server.stop();
    for _ in 0..3 {
        assert_eq!(
            send(&watched_app, get("/orders", &token)).await.status,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    let refused = send(&closed, get("/orders", &token)).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.header("content-type"), "application/problem+json");
    // Redis also holds the revocations: the instance's copy answers while it is younger
    // than its bound, the rate limits are counted locally meanwhile.
    assert_eq!(
        send(&open, get("/orders", &token)).await.status,
        StatusCode::OK
    );
    // With revocations in memory, the local limits take over: 5 a minute, then 429.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(send(&local, get("/orders", &token)).await.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);

    // Past the bound (2 s here), an instance that cannot check revocations refuses.
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    while send(&open, get("/orders", &token)).await.status != StatusCode::SERVICE_UNAVAILABLE {
        assert!(
            std::time::Instant::now() < deadline,
            "the copy is trusted too long"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    server.restart();
    // The failed store rests for a second, then Redis is used again; the copy of the
    // revocations catches up.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while send(&closed, get("/orders", &token)).await.status != StatusCode::OK {
        assert!(std::time::Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A fresh Redis has a fresh quota (this instance counted locally while Redis was away,
    // so its own limit may refuse for a moment).
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let reply = send(&local, get("/orders", &token)).await;
        if reply.status == StatusCode::OK {
            break;
        }
        assert_eq!(
            reply.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            reply.text
        );
        assert!(std::time::Instant::now() < deadline, "{}", reply.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while send(&watched_app, get("/orders", &token)).await.status != StatusCode::OK {
        assert!(std::time::Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    use portcullis::alert::AlertKind;
    let seen = alerts.lock().unwrap().clone();
    assert!(
        matches!(
            seen.as_slice(),
            [
                AlertKind::StoreUnreachable { store: "redis", .. },
                AlertKind::StoreRecovered { store: "redis" }
            ]
        ),
        "one alert for the outage, one for the recovery: {seen:?}"
    );
}

/// A DPoP proof accepted by one instance is a replay on another that shares the Redis
/// replay store; the id expires with the proof's window; with Redis gone, DPoP requests
/// are refused (503) rather than accepted unchecked.
#[tokio::test]
async fn dpop_proofs_are_used_once_across_instances() {
    let Some(mut server) = RedisServer::start("dpop_proofs_are_used_once_across_instances") else {
        return;
    };
    let dev = dev_issuer();
    let mut apps = Vec::new();
    let mut audits = Vec::new();
    for _ in 0..2 {
        let redis = Redis::connect(&server.url()).await.unwrap();
        let audit = AuditLog::default();
        // Leased quotas: a caller's first request waits for a lease, after its proof was
        // checked on the path that does not wait; the proof must count as used once.
        let security = Security::builder()
            .issuer(dev.issuer())
            .rate_store(Arc::new(
                redis.leased_rate_store(WhenUnreachable::UseLocalLimits),
            ))
            .dpop(
                portcullis::auth::Dpop::new("https://api.test")
                    .replay_store(Arc::new(redis.dpop_replay_store())),
            )
            .default_rate(rate!("1000/s"))
            .audit_sink(audit.sink())
            .build()
            .await
            .unwrap();
        apps.push(
            SecureRouter::new(security)
                .mount(routes![list_orders])
                .into_router(),
        );
        audits.push(audit);
    }
    let client = common::keys::TestKey::ec("client", false);
    let mut claims = claims("orders:read");
    claims["cnf"] = serde_json::json!({ "jkt": common::dpop::thumbprint(&client) });
    let token = dev.sign_claims(Some("at+jwt"), &claims);
    let proof = common::dpop::proof(&client, "GET", "https://api.test/orders", &token);
    let request = || {
        axum::http::Request::get("/orders")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", &proof)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    // Proofs seen in memory, quotas leased from Redis: the first request of a caller
    // waits for a lease, and its proof still counts as used once.
    let memory_replay = Security::builder()
        .issuer(dev.issuer())
        .rate_store(Arc::new(
            Redis::connect(&server.url())
                .await
                .unwrap()
                .leased_rate_store(WhenUnreachable::UseLocalLimits),
        ))
        .dpop(portcullis::auth::Dpop::new("https://api.test"))
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap();
    let memory_replay = SecureRouter::new(memory_replay)
        .mount(routes![list_orders])
        .into_router();
    assert_eq!(send(&memory_replay, request()).await.status, StatusCode::OK);
    assert_eq!(
        send(&memory_replay, request()).await.status,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(send(&apps[0], request()).await.status, StatusCode::OK);
    let replayed = send(&apps[1], request()).await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(audits[1].last().reason, "dpop_replay");
    assert_eq!(
        send(&apps[0], request()).await.status,
        StatusCode::UNAUTHORIZED
    );
    // One key, expiring with the proof's window (60 s after its iat).
    let keys = server.cli(&["--scan", "--pattern", "portcullis:dpop:*"]);
    let key = keys.lines().next().expect("the proof's id is in Redis");
    let ttl: i64 = server.cli(&["TTL", key]).trim().parse().unwrap();
    assert!((55..=62).contains(&ttl), "TTL {ttl}");
    server.stop();
    let fresh = common::dpop::proof(&client, "GET", "https://api.test/orders", &token);
    let reply = send(
        &apps[1],
        axum::http::Request::get("/orders")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", &fresh)
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(audits[1].last().reason, "dpop_replay_unavailable");
}
