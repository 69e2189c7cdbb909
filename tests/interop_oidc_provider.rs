//! DPoP against a real provider: the npm `oidc-provider` (DPoP on, resource indicators
//! issuing JWT access tokens for `orders-api`) gives a DPoP-bound token to a client that
//! proves its key at the token endpoint; the orders example, trusting that provider
//! (`OIDC_ISSUER`), accepts the token with valid proofs only.
//!
//! Needs the provider: run through `.ci/oidc-provider`, which installs and starts it and
//! sets `OIDC_PROVIDER_URL`:
//!
//! ```text
//! .ci/oidc-provider cargo test --test interop_oidc_provider -- --ignored
//! ```

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::dpop;
use common::example::{Example, exchange};
use common::keys::TestKey;
use serde_json::Value;

/// The port of an `http://127.0.0.1:<port>` URL.
fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|port| port.trim_end_matches('/').parse().ok())
        .expect("http://127.0.0.1:<port>")
}

#[test]
#[ignore = "needs the npm oidc-provider: run through .ci/oidc-provider"]
fn dpop_bound_tokens_of_oidc_provider_need_valid_proofs_at_the_example() {
    let provider =
        std::env::var("OIDC_PROVIDER_URL").expect("OIDC_PROVIDER_URL (set by .ci/oidc-provider)");
    let provider_port = port_of(&provider);

    // The client: a key pair, and a token bound to it (a proof at the token endpoint).
    let client = TestKey::ec("client", false);
    let token_url = format!("{provider}/token");
    let token_proof = {
        let mut claims = dpop::proof_claims("POST", &token_url, "");
        claims.as_object_mut().unwrap().remove("ath");
        dpop::sign_proof(&client, &dpop::proof_header(&client), &claims)
    };
    let basic = format!(
        "Basic {}",
        STANDARD.encode("orders-client:orders-client-secret")
    );
    let answer = exchange(
        provider_port,
        "POST",
        "/token",
        &[
            ("authorization", &basic),
            ("content-type", "application/x-www-form-urlencoded"),
            ("dpop", &token_proof),
        ],
        "grant_type=client_credentials&scope=orders%3Aread",
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = answer.body;
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["token_type"], "DPoP", "{body}");
    let token = answer["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        common::claim(&token, "cnf"),
        serde_json::json!({ "jkt": dpop::thumbprint(&client) }).to_string()
    );

    // The orders example, trusting the provider.
    let (example, _stdout) = Example::start("orders", "ORDERS_ADDR", &[("OIDC_ISSUER", &provider)]);
    let origin = format!("http://127.0.0.1:{}", example.port);
    // Its keys are loaded at start-up, or soon after.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while example.get("/ready", None).status != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the example never got ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let call = |scheme: &str, proof: Option<&str>| {
        let authorization = format!("{scheme} {token}");
        let mut headers = vec![("authorization", authorization.as_str())];
        if let Some(proof) = proof {
            headers.push(("dpop", proof));
        }
        exchange(example.port, "GET", "/orders", &headers, "")
    };
    let proof = dpop::proof(&client, "GET", &format!("{origin}/orders"), &token);

    let accepted = call("DPoP", Some(&proof));
    assert_eq!(
        accepted.status, 200,
        "accepted with a valid proof: {}",
        accepted.body
    );
    let replayed = call("DPoP", Some(&proof));
    assert_eq!(replayed.status, 401, "refused on replay");
    let challenge = replayed.header("www-authenticate").unwrap_or_default();
    assert!(challenge.contains("invalid_dpop_proof"), "{challenge}");
    assert_eq!(call("DPoP", None).status, 401, "refused without a proof");
    let fresh = dpop::proof(&client, "GET", &format!("{origin}/orders"), &token);
    assert_eq!(
        call("Bearer", Some(&fresh)).status,
        401,
        "refused as Bearer"
    );
    assert_eq!(
        call("Bearer", None).status,
        401,
        "refused as Bearer, without a proof"
    );
    // A fresh proof is accepted again.
    assert_eq!(
        call("DPoP", Some(&fresh)).status,
        200,
        "accepted with another valid proof"
    );
}
