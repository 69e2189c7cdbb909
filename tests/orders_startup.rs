//! The orders example started while its identity provider is down: it serves what needs
//! no keys, says it is not ready, refuses tokens with 503 until the provider answers, then
//! accepts the same token without a restart.

mod common;

use std::time::{Duration, Instant};

use common::example::{Example, free_port};
use portcullis::dev::DevIssuer;

#[test]
fn starts_while_its_provider_is_down_and_trusts_it_once_it_is_up() {
    let provider_port = free_port();
    let issuer = format!("http://127.0.0.1:{provider_port}");
    let dev = DevIssuer::new(issuer.as_str(), "orders-api").unwrap();
    let token = dev.token().subject("alice").scopes(["orders:read"]).sign();
    let (example, _stdout) = Example::start("orders", "ORDERS_ADDR", &[("OIDC_ISSUER", &issuer)]);

    assert_eq!(example.get("/health", None).status, 200);
    let ready = example.get("/ready", None);
    assert_eq!(ready.status, 503, "{ready:?}");
    assert!(ready.body.contains(&issuer), "{}", ready.body);
    let refused = example.get("/orders", Some(&token));
    assert_eq!(refused.status, 503, "{refused:?}");
    let retry_after: u64 = refused
        .header("retry-after")
        .and_then(|seconds| seconds.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(example.get("/orders", None).status, 401);

    // The provider comes up, on the port the example was told.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", provider_port)))
        .unwrap();
    runtime.spawn(dev.clone().serve(listener));

    let deadline = Instant::now() + Duration::from_secs(30);
    while example.get("/ready", None).status != 200 {
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    let accepted = example.get("/orders", Some(&token));
    assert_eq!((accepted.status, accepted.body.as_str()), (200, "[]"));
}
