//! Writes the seed corpus of every target under `corpus/<target>/`, and the development
//! issuer's keys with the time its tokens were minted under `fixtures/dev_issuer.json`.
//!
//! Run from `fuzz/` with `cargo run --example make_corpus` (no nightly flags needed), then
//! rebuild the targets: they read the fixture at compile time. Re-running replaces the
//! keys, so the committed tokens and the fixture always go together.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{
    ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaPublicKeyComponents,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis::dev::DevIssuer;
use portcullis_fuzz::{AUDIENCE, HMAC_KID, ISSUER};
use serde_json::{Value, json};

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Writes the seeds of one target, replacing the previous ones.
fn seeds(target: &str, inputs: &[(&str, Vec<u8>)]) {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir).expect("the corpus directory");
    for entry in fs::read_dir(&dir).expect("a directory").flatten() {
        if entry.file_name().to_string_lossy().starts_with("seed-") {
            fs::remove_file(entry.path()).expect("an old seed removed");
        }
    }
    for (name, bytes) in inputs {
        fs::write(dir.join(format!("seed-{name}")), bytes).expect("a seed written");
    }
}

fn with_selector(selector: u8, rest: impl AsRef<[u8]>) -> Vec<u8> {
    let mut bytes = vec![selector];
    bytes.extend_from_slice(rest.as_ref());
    bytes
}

fn main() {
    assert!(
        Path::new("fuzz_targets").is_dir(),
        "run from the fuzz/ directory"
    );
    let minted = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let now = minted + 60;
    let dev = DevIssuer::new(ISSUER, AUDIENCE).expect("a development issuer");
    fs::write(
        "fixtures/dev_issuer.json",
        serde_json::to_string_pretty(&json!({
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "now": now,
            "jwks": dev.jwks(),
        }))
        .expect("JSON")
            + "\n",
    )
    .expect("the fixture written");

    // Tokens of the development issuer, through the bearer guard (even selector).
    let reader = dev
        .token()
        .subject("alice")
        .client("app-1")
        .scopes(["orders:read"])
        .sign();
    let writer = dev
        .token()
        .subject("bob")
        .client("app-2")
        .scopes(["orders:read", "orders:write", "unknown:scope"])
        .roles(["admin"])
        .lifetime(Duration::from_secs(3600))
        .claim("azp", "app-2")
        .sign();
    let expired = dev
        .token()
        .subject("carol")
        .lifetime(Duration::from_secs(30))
        .sign();
    let guard = |value: String| with_selector(0, value);
    let hs = |header: &Value, claims: &Value| {
        let mut bytes = vec![1];
        bytes.extend_from_slice(header.to_string().as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(claims.to_string().as_bytes());
        bytes
    };
    let header = json!({"alg": "HS256", "kid": HMAC_KID, "typ": "at+jwt"});
    let claims = json!({
        "iss": ISSUER, "aud": [AUDIENCE, "other"], "sub": "dave", "client_id": "app-3",
        "scope": "orders:read orders:admin", "scp": ["orders:write"], "roles": ["auditor"],
        "iat": now - 10, "nbf": now - 10, "exp": now + 600, "jti": "j-1",
    });
    seeds(
        "bearer_and_jws",
        &[
            ("dev-reader", guard(format!("Bearer {reader}"))),
            ("dev-writer", guard(format!("bearer   {writer} "))),
            ("dev-expired", guard(format!("Bearer {expired}"))),
            (
                "dev-in-query",
                guard(format!("Bearer {reader}\0access_token={reader}")),
            ),
            ("basic", guard("Basic YWxpY2U6c2VjcmV0".to_owned())),
            ("hs256-valid", hs(&header, &claims)),
            (
                "hs256-float-times",
                hs(
                    &json!({"alg": "HS256"}),
                    &json!({"iss": ISSUER, "aud": AUDIENCE, "exp": (now + 60) as f64 + 0.5, "iat": 1e9}),
                ),
            ),
            (
                "hs256-crit",
                hs(
                    &json!({"alg": "HS256", "crit": ["exp"]}),
                    &json!({"iss": ISSUER, "aud": AUDIENCE, "exp": now + 60}),
                ),
            ),
            (
                "none",
                guard(format!(
                    "Bearer {}.{}.",
                    b64(r#"{"alg":"none"}"#),
                    b64(claims.to_string())
                )),
            ),
        ],
    );

    seeds(
        "strict_json",
        &[
            ("claims", claims.to_string().into_bytes()),
            (
                "numbers",
                b"[348.0, 1e2, -2.0, 1.5, 1e30, -0, 18446744073709551615, -9223372036854775808]"
                    .to_vec(),
            ),
            ("duplicate", br#"{"a":{"b":1,"b":2}}"#.to_vec()),
            (
                "deep",
                format!("{}{}", "[".repeat(40), "]".repeat(40)).into_bytes(),
            ),
            (
                "escapes",
                br#"{"s":"\u00e9\ud83d\ude00\n","t":true,"n":null}"#.to_vec(),
            ),
        ],
    );

    // JWKS: the development issuer's, and one key of every type plus keys to skip.
    let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA");
    let components = RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public_key());
    let p384 = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).expect("P-384");
    let point = p384.public_key().as_ref();
    let ed = Ed25519KeyPair::generate().expect("Ed25519");
    let mixed = json!({"keys": [
        {"kty": "RSA", "kid": "rsa", "use": "sig", "alg": "RS256", "n": b64(&components.n), "e": b64(&components.e)},
        {"kty": "RSA", "kid": "rsa-ps", "key_ops": ["verify"], "n": b64(&components.n), "e": b64(&components.e)},
        {"kty": "EC", "kid": "p384", "crv": "P-384", "x": b64(&point[1..49]), "y": b64(&point[49..])},
        {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "alg": "EdDSA", "x": b64(ed.public_key().as_ref())},
        {"kty": "OKP", "kid": "enc", "crv": "Ed25519", "use": "enc", "x": b64(ed.public_key().as_ref())},
        {"kty": "oct", "kid": "hs", "k": b64([7u8; 32])},
        {"kty": "RSA", "kid": "short", "n": "AQAB", "e": "AQAB"},
        "not a key"
    ]});
    seeds(
        "jwks",
        &[
            ("dev", dev.jwks_json().into_bytes()),
            ("mixed", mixed.to_string().into_bytes()),
            ("empty", br#"{"keys":[]}"#.to_vec()),
        ],
    );

    seeds(
        "cache_control",
        &[
            ("max-age", b"max-age=600".to_vec()),
            ("public", b"public, max-age=3600, must-revalidate".to_vec()),
            ("quoted", b"max-age=\"60\", s-maxage=10".to_vec()),
            ("no-store", b"no-store, max-age=60".to_vec()),
            (
                "extension",
                b"private, community=\"UCI, x\", max-age=5".to_vec(),
            ),
        ],
    );

    let fuzz_issuer = "https://issuer.fuzz.test/realms/main";
    let mut discovery = dev.discovery();
    let rebase = |value: &Value| {
        Value::String(value.as_str().unwrap_or_default().replacen(
            ISSUER.trim_end_matches('/'),
            fuzz_issuer,
            1,
        ))
    };
    if let Value::Object(document) = &mut discovery {
        for (name, value) in document.iter_mut() {
            if value.is_string() && name != "issuer" {
                *value = rebase(value);
            }
        }
        document.insert("issuer".into(), fuzz_issuer.into());
    }
    seeds(
        "discovery_document",
        &[
            ("dev", discovery.to_string().into_bytes()),
            (
                "keycloak",
                json!({
                    "issuer": fuzz_issuer,
                    "authorization_endpoint": format!("{fuzz_issuer}/protocol/openid-connect/auth"),
                    "token_endpoint": format!("{fuzz_issuer}/protocol/openid-connect/token"),
                    "jwks_uri": format!("{fuzz_issuer}/protocol/openid-connect/certs"),
                    "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                    "grant_types_supported": ["client_credentials"]
                })
                .to_string()
                .into_bytes(),
            ),
            (
                "loopback",
                json!({"issuer": fuzz_issuer, "jwks_uri": "http://127.0.0.1:8080/jwks"})
                    .to_string()
                    .into_bytes(),
            ),
            (
                "insecure",
                json!({"issuer": fuzz_issuer, "jwks_uri": "http://idp.example.com/jwks"})
                    .to_string()
                    .into_bytes(),
            ),
        ],
    );

    seeds(
        "json_body",
        &[
            (
                "order",
                with_selector(
                    0,
                    r#"{"item":"tea","quantity":3,"lines":[{"sku":"T1","adjust":-2,"gift":true}],"delivery":{"email":"a@b.example","tags":["x"],"weight":1.5}}"#,
                ),
            ),
            (
                "minimal",
                with_selector(1, r#"{"item":"é","quantity":1.0}"#),
            ),
            (
                "invalid",
                with_selector(
                    0,
                    r#"{"item":"","quantity":5000,"lines":[{"sku":"TOO-LONG-SKU"}]}"#,
                ),
            ),
            (
                "unknown-field",
                with_selector(3, r#"{"item":"a","quantity":1,"admin":true}"#),
            ),
            ("small", with_selector(0x10, "[1,2,3]")),
            (
                "small-too-large",
                with_selector(0x10, format!("[{}1]", "1,".repeat(40))),
            ),
            ("text", with_selector(2, "item=tea")),
        ],
    );

    seeds(
        "query",
        &[
            ("search", b"q=tea&limit=5&sort=asc&exact=true".to_vec()),
            ("short", b"q=a".to_vec()),
            ("encoded", b"q=%F0%9F%8D%B5+green&limit=x".to_vec()),
            ("repeated", b"q=ab&q=cd&unknown=1".to_vec()),
        ],
    );

    seeds(
        "form",
        &[
            (
                "login",
                b"user=alice&password=correct-horse&days=30".to_vec(),
            ),
            ("encoded", b"user=a%20b&password=%00%FF%FE&days=0".to_vec()),
            ("missing", b"user=alice".to_vec()),
        ],
    );

    seeds(
        "path",
        &[
            ("order-line", with_selector(0, "7/lines/3")),
            (
                "order-overflow",
                with_selector(0, "18446744073709551616/lines/256"),
            ),
            ("item", with_selector(1, "widget/12")),
            ("item-encoded", with_selector(1, "wid%2Fget/0012")),
            ("file", with_selector(2, "a/b/c.txt")),
            ("flag", with_selector(3, "true")),
            ("root", with_selector(4, "nowhere")),
        ],
    );

    seeds(
        "client_ip",
        &[
            ("x-forwarded-for", b"203.0.113.5, 10.0.0.2".to_vec()),
            (
                "forwarded",
                b"198.51.100.1\nfor=198.51.100.17;proto=https, for=\"[2001:db8::17]:4711\""
                    .to_vec(),
            ),
            (
                "unknown",
                b"\nfor=unknown, for=_hidden, for=10.0.0.9".to_vec(),
            ),
            (
                "mapped",
                b"::ffff:192.0.2.7, 192.0.2.60:8080, [::1]".to_vec(),
            ),
        ],
    );

    seeds(
        "rate_grammar",
        &[
            ("per-minute", b"100/min".to_vec()),
            ("unlimited", b"unlimited".to_vec()),
            ("max", b"4294967295/day".to_vec()),
            ("leading-zeros", b"007/s".to_vec()),
            ("typo", b"100/minutes".to_vec()),
            ("macro-burst", b"\"10/s\", burst = 5,".to_vec()),
        ],
    );

    seeds(
        "route_path",
        &[
            ("root", b"/".to_vec()),
            ("param", b"/orders/{id}".to_vec()),
            ("many", b"/a/{x}/b/{y_2}/{*rest}".to_vec()),
            ("literal", b"/v1.0/caf%C3%A9-ok~".to_vec()),
            ("trailing", b"/orders/{id}/".to_vec()),
            ("old-syntax", b"/orders/:id".to_vec()),
        ],
    );

    seeds(
        "endpoint_attribute",
        &[
            (
                "secure",
                br#"get, path = "/orders/{id}", scope = "orders:read", rate = "100/min", burst = 10, rate_key = client"#.to_vec(),
            ),
            (
                "full",
                br#"post, path = "/o", scopes = ["a", "b"], any_scope = ["c"], roles = ["admin"], policy = crate::p::owner, body_limit = 1024, tag = ["x", "y"], operation_id = "op", status = 201, errors(404 = "no such order", 409 = "conflict")"#.to_vec(),
            ),
            ("public", br#"get, path = "/health", rate = "unlimited""#.to_vec()),
            ("mistakes", br#"gett, scop = "a", path, path = 5, rate_key = "ip", errors = 1"#.to_vec()),
        ],
    );
    println!("corpus and fixture written; now = {now}");
}
