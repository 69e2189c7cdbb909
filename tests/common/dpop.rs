//! DPoP proofs (RFC 9449) built by hand: any header, any claims, signed by any test key.

use serde_json::{Value, json};

use super::keys::TestKey;
use super::{b64, now, signing_input};

/// The public JWK of `key`, as a proof's header carries it (no `kid`).
pub fn public_jwk(key: &TestKey) -> Value {
    let mut jwk = key.jwk();
    jwk.as_object_mut().unwrap().remove("kid");
    jwk
}

/// The RFC 7638 thumbprint of `key`: what a token bound to it has as `cnf.jkt`.
pub fn thumbprint(key: &TestKey) -> String {
    portcullis::auth::jwk_thumbprint(public_jwk(key).as_object().unwrap()).unwrap()
}

/// The `ath` of `token`.
pub fn ath(token: &str) -> String {
    use aws_lc_rs::digest;
    b64(digest::digest(&digest::SHA256, token.as_bytes()))
}

/// The JWA name of what `key` signs with (`TestKey::raw_signature`).
pub fn alg_of(key: &TestKey) -> &'static str {
    match (key.jwk()["kty"].as_str(), key.jwk()["crv"].as_str()) {
        (Some("RSA"), _) => "RS256",
        (Some("OKP"), _) => "EdDSA",
        (_, Some("P-384")) => "ES384",
        _ => "ES256",
    }
}

/// The header of a valid proof signed by `key`.
pub fn proof_header(key: &TestKey) -> Value {
    json!({ "typ": "dpop+jwt", "alg": alg_of(key), "jwk": public_jwk(key) })
}

/// The claims of a valid proof for `method` `htu` with `token`, issued now, with a fresh
/// `jti`.
pub fn proof_claims(method: &str, htu: &str, token: &str) -> Value {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    json!({
        "jti": format!("proof-{n}-{}", now()),
        "htm": method,
        "htu": htu,
        "iat": now(),
        "ath": ath(token),
    })
}

/// `header` and `claims` signed by `key` over the exact signing input.
pub fn sign_proof(key: &TestKey, header: &Value, claims: &Value) -> String {
    let input = signing_input(header, &claims.to_string());
    format!("{input}.{}", b64(key.raw_signature(input.as_bytes())))
}

/// A valid proof signed by `key` for `method` `htu` with `token`.
pub fn proof(key: &TestKey, method: &str, htu: &str, token: &str) -> String {
    sign_proof(key, &proof_header(key), &proof_claims(method, htu, token))
}
