//! Revocations shared through Redis, as every instance sees them: pushed to each
//! instance's copy (a revocation through one instance, or written by another service with
//! `redis-cli`, is refused by all), caught up after a disconnect, failing closed while the
//! copy is too old or full, and reported by readiness and alerts.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::redis::RedisServer;
use common::*;
use portcullis::alert::AlertKind;
use portcullis::prelude::*;
use portcullis::redis::{Redis, RevocationFeed};

portcullis::scopes! { "orders:read" => "Read orders" }

#[secure(get, path = "/orders", scope = "orders:read")]
async fn list_orders(_who: Principal) -> &'static str {
    "list"
}

/// One instance: its own connection to Redis, its own copy of the revocations.
struct Instance {
    security: Security,
    app: axum::Router,
    alerts: Arc<Mutex<Vec<AlertKind>>>,
}

async fn instance(
    server: &RedisServer,
    dev: &portcullis::dev::DevIssuer,
    feed: RevocationFeed,
) -> Instance {
    let redis = Redis::connect(&server.url()).await.unwrap();
    let (alerts, sink) = alert_kinds();
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1000/s"))
        .revocations(Arc::new(redis.revocations_with(feed).await))
        .alert_sink(sink)
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security.clone())
        .mount(routes![list_orders])
        .into_router();
    Instance {
        security,
        app,
        alerts,
    }
}

async fn status(instance: &Instance, token: &str) -> StatusCode {
    send(&instance.app, get("/orders", token)).await.status
}

/// Polls every 5 ms until `instance` answers `expected` for `token`; how long it took.
async fn until_status(
    instance: &Instance,
    token: &str,
    expected: StatusCode,
    within: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let got = status(instance, token).await;
        if got == expected {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "still {got} after {within:?}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_revocation_through_one_instance_reaches_every_other() {
    let Some(server) = RedisServer::start("a_revocation_through_one_instance_reaches_every_other")
    else {
        return;
    };
    let dev = dev_issuer();
    let a = instance(&server, &dev, RevocationFeed::default()).await;
    let b = instance(&server, &dev, RevocationFeed::default()).await;
    let c = instance(&server, &dev, RevocationFeed::default()).await;
    assert!(
        b.security.readiness().is_ready(),
        "{}",
        b.security.readiness()
    );
    let token = dev
        .token()
        .client("c1")
        .subject("alice")
        .scopes(["orders:read"])
        .sign();
    for instance in [&a, &b, &c] {
        assert_eq!(status(instance, &token).await, StatusCode::OK);
    }
    let (jti, exp) = (claim(&token, "jti"), claim(&token, "exp").parse().unwrap());
    a.security.revoke_token(ISSUER, &jti, exp).await.unwrap();
    // The revoking instance refuses at once; the others as soon as the feed delivers.
    assert_eq!(status(&a, &token).await, StatusCode::UNAUTHORIZED);
    for instance in [&b, &c] {
        until_status(
            instance,
            &token,
            StatusCode::UNAUTHORIZED,
            Duration::from_secs(1),
        )
        .await;
    }
    // A subject's tokens issued before a moment.
    let other = dev
        .token()
        .client("c1")
        .subject("bob")
        .scopes(["orders:read"])
        .sign();
    assert_eq!(status(&c, &other).await, StatusCode::OK);
    b.security
        .revoke_subject(ISSUER, "bob", now() + 1)
        .await
        .unwrap();
    until_status(&c, &other, StatusCode::UNAUTHORIZED, Duration::from_secs(1)).await;
    until_status(&a, &other, StatusCode::UNAUTHORIZED, Duration::from_secs(1)).await;
    // Checking a token asked nothing of Redis: the copy answered.
    assert!(a.alerts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn revocations_written_by_another_service_with_redis_cli_are_refused() {
    let Some(server) = RedisServer::start("revocations_written_by_another_service") else {
        return;
    };
    let dev = dev_issuer();
    let a = instance(&server, &dev, RevocationFeed::default()).await;
    let token = dev.token().client("c1").scopes(["orders:read"]).sign();
    let subject_token = dev
        .token()
        .client("c1")
        .subject("carol")
        .scopes(["orders:read"])
        .sign();
    assert_eq!(status(&a, &token).await, StatusCode::OK);
    assert_eq!(status(&a, &subject_token).await, StatusCode::OK);
    // The documented contract (docs/redis.md): one MULTI with ZADD GT and XADD.
    let jti = claim(&token, "jti");
    let until = (now() + 3600).to_string();
    let entry = format!("token {ISSUER} {jti}");
    let script = format!(
        "MULTI\nZADD portcullis:{{revocations}}:entries GT {until} \"{entry}\"\n\
         XADD portcullis:{{revocations}}:feed MAXLEN ~ 100000 * entry \"{entry}\" until {until}\nEXEC\n"
    );
    let output = server.cli_with_input(&[], &script);
    assert!(output.contains("OK"), "{output}");
    until_status(&a, &token, StatusCode::UNAUTHORIZED, Duration::from_secs(1)).await;
    let before = (now() + 1).to_string();
    let entry = format!("subject {ISSUER} {before} carol");
    let script = format!(
        "MULTI\nZADD portcullis:{{revocations}}:entries GT {until} \"{entry}\"\n\
         XADD portcullis:{{revocations}}:feed MAXLEN ~ 100000 * entry \"{entry}\" until {until}\nEXEC\n"
    );
    server.cli_with_input(&[], &script);
    until_status(
        &a,
        &subject_token,
        StatusCode::UNAUTHORIZED,
        Duration::from_secs(1),
    )
    .await;
    // An instance started later loads both from the set.
    let late = instance(&server, &dev, RevocationFeed::default()).await;
    assert_eq!(status(&late, &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        status(&late, &subject_token).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn after_a_disconnect_the_copy_catches_up_before_it_is_trusted() {
    let Some(server) = RedisServer::start("after_a_disconnect_the_copy_catches_up") else {
        return;
    };
    let dev = dev_issuer();
    let a = instance(&server, &dev, RevocationFeed::default()).await;
    let token = dev.token().client("c1").scopes(["orders:read"]).sign();
    assert_eq!(status(&a, &token).await, StatusCode::OK);
    // Written to the set only, as if its announcement had been trimmed from the stream
    // while the instance was away: only a reload can find it.
    let jti = claim(&token, "jti");
    server.cli(&[
        "ZADD",
        "portcullis:{revocations}:entries",
        &(now() + 3600).to_string(),
        &format!("token {ISSUER} {jti}"),
    ]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        status(&a, &token).await,
        StatusCode::OK,
        "not announced: not seen yet"
    );
    // Every connection drops; the feed reconnects and reloads the set.
    server.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
    until_status(&a, &token, StatusCode::UNAUTHORIZED, Duration::from_secs(3)).await;
}

#[tokio::test]
async fn a_feed_trimmed_past_what_an_instance_read_is_reloaded() {
    let Some(server) = RedisServer::start("a_feed_trimmed_past_what_an_instance_read") else {
        return;
    };
    let dev = dev_issuer();
    let a = instance(&server, &dev, RevocationFeed::default()).await;
    let warm = dev.token().client("c0").scopes(["orders:read"]).sign();
    a.security
        .revoke_token(ISSUER, &claim(&warm, "jti"), now() + 600)
        .await
        .unwrap();
    let token = dev.token().client("c1").scopes(["orders:read"]).sign();
    assert_eq!(status(&a, &token).await, StatusCode::OK);
    // In one transaction: the token's entry in the set, many announcements, and the
    // stream trimmed to its last five (the token's among the trimmed).
    let until = (now() + 3600).to_string();
    let entry = format!("token {ISSUER} {}", claim(&token, "jti"));
    let mut script = format!(
        "MULTI\nZADD portcullis:{{revocations}}:entries GT {until} \"{entry}\"\n\
         XADD portcullis:{{revocations}}:feed * entry \"{entry}\" until {until}\n"
    );
    for n in 0..20 {
        script.push_str(&format!(
            "XADD portcullis:{{revocations}}:feed * entry \"token {ISSUER} other-{n}\" until {until}\n"
        ));
    }
    script.push_str("XTRIM portcullis:{revocations}:feed MAXLEN 5\nEXEC\n");
    server.cli_with_input(&[], &script);
    until_status(&a, &token, StatusCode::UNAUTHORIZED, Duration::from_secs(3)).await;
}

#[tokio::test]
async fn an_old_copy_fails_closed_and_recovers_with_alerts() {
    let Some(mut server) = RedisServer::start("an_old_copy_fails_closed_and_recovers") else {
        return;
    };
    let dev = dev_issuer();
    let feed = RevocationFeed::default().max_copy_age(Duration::from_secs(2));
    let a = instance(&server, &dev, feed).await;
    let token = dev.token().client("c1").scopes(["orders:read"]).sign();
    assert_eq!(status(&a, &token).await, StatusCode::OK);
    server.stop();
    // Within the bound, the copy still answers: Redis being away costs no request.
    assert_eq!(status(&a, &token).await, StatusCode::OK);
    let waited = until_status(
        &a,
        &token,
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(4),
    )
    .await;
    assert!(
        waited >= Duration::from_millis(900),
        "refused after {waited:?}"
    );
    let refused = send(&a.app, get("/orders", &token)).await;
    assert_eq!(refused.header("retry-after"), "1");
    let readiness = a.security.readiness();
    assert!(!readiness.is_ready());
    assert!(
        readiness
            .to_string()
            .contains("the revocations cannot be checked"),
        "{readiness}"
    );
    // Unauthenticated requests are refused as always (401), not for the copy.
    assert_eq!(
        send(
            &a.app,
            axum::http::Request::get("/orders")
                .body(axum::body::Body::empty())
                .unwrap()
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    server.restart();
    until_status(&a, &token, StatusCode::OK, Duration::from_secs(4)).await;
    assert!(a.security.readiness().is_ready());
    // The alerts are raised by a watch that looks four times a second.
    let deadline = Instant::now() + Duration::from_secs(1);
    while a.alerts.lock().unwrap().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let alerts = a.alerts.lock().unwrap().clone();
    assert!(
        matches!(
            alerts.as_slice(),
            [
                AlertKind::RevocationsBehind { store: "redis", .. },
                AlertKind::RevocationsCurrent { store: "redis" }
            ]
        ),
        "one alert when the copy falls behind, one when it catches up: {alerts:?}"
    );
}

#[tokio::test]
async fn a_full_copy_refuses_rather_than_forgets() {
    let Some(server) = RedisServer::start("a_full_copy_refuses_rather_than_forgets") else {
        return;
    };
    let dev = dev_issuer();
    let a = instance(&server, &dev, RevocationFeed::default().max_entries(3)).await;
    let token = dev.token().client("c1").scopes(["orders:read"]).sign();
    for n in 0..3 {
        a.security
            .revoke_token(ISSUER, &format!("other-{n}"), now() + 600)
            .await
            .unwrap();
    }
    assert_eq!(status(&a, &token).await, StatusCode::OK, "3 entries fit");
    a.security
        .revoke_token(ISSUER, "one-too-many", now() + 600)
        .await
        .unwrap();
    assert_eq!(status(&a, &token).await, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        a.alerts
            .lock()
            .unwrap()
            .contains(&AlertKind::RevocationsFull {
                store: "redis",
                limit: 3
            })
    );
}
