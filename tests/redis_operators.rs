//! Redis as operators run it: a Redis Cluster (three masters on loopback) and a TLS Redis
//! with an ACL user. These servers are started by `.ci/redis-cluster` and `.ci/redis-tls`
//! (which `.ci/run` calls), not by the tests:
//!
//! ```text
//! .ci/redis-cluster cargo test --test redis_operators -- --ignored cluster
//! .ci/redis-tls cargo test --test redis_operators -- --ignored tls
//! ```
//!
//! Run so, a test whose server is missing fails.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use portcullis::prelude::*;
use portcullis::rate::{RateDecision, RateIdentity, RateRequest, RateStore};
use portcullis::redis::{Redis, RedisBuilder, WhenUnreachable};

portcullis::scopes! { "orders:read" => "Read orders" }

#[secure(get, path = "/orders", scope = "orders:read")]
async fn list_orders(_who: Principal) -> &'static str {
    "list"
}

fn required(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!(
            "{variable} is not set: run this test through its .ci/ script (see the file's header)"
        )
    })
}

fn cluster_nodes() -> Vec<String> {
    required("PORTCULLIS_TEST_REDIS_CLUSTER")
        .split(',')
        .map(str::to_owned)
        .collect()
}

fn tls_builder() -> RedisBuilder {
    let ca = std::fs::read(required("PORTCULLIS_TEST_REDIS_CA")).expect("the test CA");
    Redis::builder()
        .url(required("PORTCULLIS_TEST_REDIS_TLS"))
        .root_certificate_pem(ca)
}

async fn app(redis: &Redis, dev: &portcullis::dev::DevIssuer) -> (Security, axum::Router) {
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1000/s"))
        .rate_store(Arc::new(redis.leased_rate_store(WhenUnreachable::Refuse)))
        .revocations(Arc::new(redis.revocations().await))
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security.clone())
        .mount(routes![list_orders])
        .into_router();
    (security, app)
}

/// Two instances on `connect()`: a revocation through one is refused by the other; a
/// quota is shared.
async fn two_instances_share_revocations_and_quotas(first: Redis, second: Redis) {
    let dev = dev_issuer();
    let (a_security, _) = app(&first, &dev).await;
    let (_, b) = app(&second, &dev).await;
    let token = dev.token().client("c1").scopes(["orders:read"]).sign();
    assert_eq!(
        send(&b, get("/orders", &token)).await.status,
        StatusCode::OK
    );
    let (jti, exp) = (claim(&token, "jti"), claim(&token, "exp").parse().unwrap());
    a_security.revoke_token(ISSUER, &jti, exp).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    while send(&b, get("/orders", &token)).await.status != StatusCode::UNAUTHORIZED {
        assert!(
            Instant::now() < deadline,
            "the revocation did not reach the other instance"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Exact and leased decisions over many callers (many hash slots on a Cluster).
    for store in [
        first.rate_store(WhenUnreachable::Refuse),
        second.leased_rate_store(WhenUnreachable::Refuse),
    ] {
        let quota = if store.is_leased() { "leased" } else { "exact" };
        for caller in 0..40 {
            let name = format!("caller-{caller}");
            let request = RateRequest {
                quota,
                identity: RateIdentity::Id(&name),
                rate: Rate::per_minute(3),
            };
            for _ in 0..3 {
                assert!(matches!(
                    store.check(request).await,
                    Ok(RateDecision::Allowed { .. })
                ));
            }
            assert!(matches!(
                store.check(request).await,
                Ok(RateDecision::Limited { .. })
            ));
        }
    }
}

#[tokio::test]
#[ignore = "needs a Redis Cluster: .ci/redis-cluster cargo test --test redis_operators -- --ignored cluster"]
async fn cluster_shares_revocations_and_quotas() {
    let nodes = cluster_nodes();
    let first = Redis::builder()
        .cluster(nodes.clone())
        .connect()
        .await
        .unwrap();
    // Any one node is enough: the client learns the others and follows redirections.
    let second = Redis::builder()
        .cluster([nodes[nodes.len() - 1].clone()])
        .connect()
        .await
        .unwrap();
    assert!(first.is_cluster() && second.is_cluster());
    two_instances_share_revocations_and_quotas(first, second).await;
}

#[tokio::test]
#[ignore = "needs a Redis Cluster: .ci/redis-cluster cargo test --test redis_operators -- --ignored cluster"]
async fn cluster_keys_of_one_decision_share_a_slot() {
    let nodes = cluster_nodes();
    let port = nodes[0]
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let slot = |key: &str| {
        let output = std::process::Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port, "CLUSTER", "KEYSLOT", key])
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    assert_eq!(
        slot("portcullis:{revocations}:entries"),
        slot("portcullis:{revocations}:feed")
    );
    // A decision's key: its whole quota and caller are the tag, whatever braces they hold.
    assert_eq!(
        slot("portcullis:rl:{GET /orders/(id)|id:c1}"),
        slot("GET /orders/(id)|id:c1")
    );
}

#[tokio::test]
#[ignore = "needs a TLS Redis: .ci/redis-tls cargo test --test redis_operators -- --ignored tls"]
async fn tls_with_an_acl_user_shares_revocations_and_quotas() {
    let first = tls_builder().connect().await.unwrap();
    let second = tls_builder().connect().await.unwrap();
    two_instances_share_revocations_and_quotas(first, second).await;
}

#[tokio::test]
#[ignore = "needs a TLS Redis: .ci/redis-tls cargo test --test redis_operators -- --ignored tls"]
async fn tls_certificates_are_verified_and_passwords_never_shown() {
    let password = required("PORTCULLIS_TEST_REDIS_PASSWORD");
    let url = required("PORTCULLIS_TEST_REDIS_TLS");
    // The server's certificate is signed by the test CA, which the system does not trust.
    let error = Redis::connect(&url).await.unwrap_err().to_string();
    assert!(!error.contains(&password), "{error}");
    assert!(
        error.to_lowercase().contains("certificate") || error.contains("UnknownIssuer"),
        "an untrusted certificate is refused: {error}"
    );
    // A wrong password: refused, and neither password is told.
    let wrong = url.replace(&password, "not-the-password-4c1e");
    let error = tls_builder().url(&wrong).connect().await.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(
        !text.contains(&password) && !text.contains("not-the-password-4c1e"),
        "{text}"
    );
    // Debug output holds no URL.
    let redis = tls_builder().connect().await.unwrap();
    assert!(!format!("{redis:?} {:?}", tls_builder()).contains(&password));

    // A connection whose user is removed fails: what it logs holds no password either.
    let temporary = "portcullis-temporary";
    let temporary_password = "temporary-password-9b2f";
    let cli = |args: &[&str]| {
        let port = url
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .unwrap()
            .to_owned();
        let output = std::process::Command::new("redis-cli")
            .args(["--tls", "--cacert", &required("PORTCULLIS_TEST_REDIS_CA")])
            .args([
                "-h",
                "localhost",
                "-p",
                &port,
                "--user",
                "portcullis-test",
                "--pass",
                &password,
                "--no-auth-warning",
            ])
            .args(args)
            .output()
            .expect("redis-cli");
        assert!(output.status.success(), "{output:?}");
    };
    cli(&[
        "ACL",
        "SETUSER",
        temporary,
        "on",
        &format!(">{temporary_password}"),
        "~*",
        "&*",
        "+@all",
    ]);
    let temporary_url = url.replace(
        &format!("portcullis-test:{password}"),
        &format!("{temporary}:{temporary_password}"),
    );
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_max_level(tracing::Level::TRACE)
            .finish(),
    );
    let redis = tls_builder().url(&temporary_url).connect().await.unwrap();
    let store = redis.rate_store(WhenUnreachable::Refuse);
    let request = RateRequest {
        quota: "acl",
        identity: RateIdentity::Global,
        rate: Rate::per_second(100),
    };
    assert!(store.check(request).await.is_ok());
    cli(&["ACL", "DELUSER", temporary]);
    let deadline = Instant::now() + Duration::from_secs(3);
    while store.check(request).await.is_ok() {
        assert!(Instant::now() < deadline, "the removed user still answers");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let logged = logs.text();
    assert!(logged.contains("Redis is unreachable"), "{logged}");
    assert!(
        !logged.contains(temporary_password) && !logged.contains(&password),
        "{logged}"
    );
}

/// Log lines, kept in memory.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
