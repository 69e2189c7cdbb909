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

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::dpop;
use common::example::Example;
use common::keys::TestKey;
use serde_json::Value;

/// One HTTP/1.1 exchange on `127.0.0.1:port`: the status, the headers (names lower-cased)
/// and the body.
fn exchange(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.get(9..12))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

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
    let (status, _, body) = exchange(
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
    assert_eq!(status, 200, "{body}");
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

    let (status, _, body) = call("DPoP", Some(&proof));
    assert_eq!(status, 200, "accepted with a valid proof: {body}");
    let (status, headers, _) = call("DPoP", Some(&proof));
    assert_eq!(status, 401, "refused on replay");
    let challenge = headers
        .iter()
        .find(|(name, _)| name == "www-authenticate")
        .map(|(_, value)| value.as_str())
        .unwrap_or_default();
    assert!(challenge.contains("invalid_dpop_proof"), "{challenge}");
    let (status, _, _) = call("DPoP", None);
    assert_eq!(status, 401, "refused without a proof");
    let fresh = dpop::proof(&client, "GET", &format!("{origin}/orders"), &token);
    let (status, _, _) = call("Bearer", Some(&fresh));
    assert_eq!(status, 401, "refused as Bearer");
    let (status, _, _) = call("Bearer", None);
    assert_eq!(status, 401, "refused as Bearer, without a proof");
    // A fresh proof is accepted again.
    let (status, _, _) = call("DPoP", Some(&fresh));
    assert_eq!(status, 200, "accepted with another valid proof");
}
