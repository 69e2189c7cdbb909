//! The bearer guard, then compact-JWS parsing and verification with a fixed key set.
//!
//! The first byte picks the mode:
//! - even: the rest is an `Authorization` header value (and, after a NUL byte, a query
//!   string), read by the bearer guard; the token it yields is parsed and verified;
//! - odd: the rest is a JOSE header and a payload separated by a NUL byte, signed with
//!   the fixed HMAC secret, so that everything after the signature check is reached too.
//!
//! Invariants: nothing panics; a parsed JWS gives back the token it came from; a token
//! accepted satisfies the issuer, audience and time rules at the fixed clock.

#![no_main]

use axum::http::{HeaderMap, HeaderValue, Uri, header};
use libfuzzer_sys::fuzz_target;
use portcullis_runtime::__fuzz::{parse_compact_jws, verify_at};
use portcullis::auth::bearer_token;
use portcullis_fuzz::{AUDIENCE, ISSUER, MAX_TOKEN_BYTES, block_on, now, registry, security};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        guarded(rest);
    } else {
        let (header, payload) = portcullis_fuzz::split_at_byte(rest, 0);
        check(&portcullis_fuzz::sign_hs256(header, payload));
    }
});

/// Through the bearer guard.
fn guarded(data: &[u8]) {
    let (value, query) = portcullis_fuzz::split_at_byte(data, 0);
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(value) {
        headers.insert(header::AUTHORIZATION, value);
    }
    let uri = match std::str::from_utf8(query) {
        Ok(query) if !query.is_empty() => format!("/orders?{query}").parse::<Uri>(),
        _ => Ok(Uri::from_static("/orders")),
    };
    let Ok(uri) = uri else { return };
    if let Ok(Some(token)) = bearer_token(&headers, &uri, MAX_TOKEN_BYTES) {
        assert!(token.len() <= MAX_TOKEN_BYTES);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        );
        check(token);
    }
}

/// Parses and verifies `token`.
fn check(token: &str) {
    if let Ok(jws) = parse_compact_jws(token) {
        assert_eq!(format!("{}.{}", jws.signing_input, jws.signature), token);
    }
    let now = now();
    let Ok(principal) = block_on(verify_at(security(), token, Some(registry()), now)) else {
        return;
    };
    // Accepted: the rules held.
    let claims = principal.claims();
    assert_eq!(claims.get("iss").and_then(Value::as_str), Some(ISSUER));
    assert_eq!(principal.issuer(), ISSUER);
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == AUDIENCE,
        Some(Value::Array(list)) => list.iter().any(|aud| aud == AUDIENCE),
        _ => false,
    };
    assert!(audience_ok, "accepted a token for another audience");
    let leeway = portcullis::auth::DEFAULT_LEEWAY.as_secs();
    let exp = principal.expires_at_unix();
    assert!(
        now < exp.saturating_add(leeway),
        "accepted an expired token"
    );
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64) {
        assert!(
            nbf < (now + leeway + 1) as f64,
            "accepted a token before nbf"
        );
    }
    if let Some(iat) = principal.issued_at_unix() {
        assert!(iat <= now + leeway && iat <= exp);
    }
    for scope in principal.scopes() {
        assert!(!scope.is_empty() && !scope.contains(' '));
    }
}
