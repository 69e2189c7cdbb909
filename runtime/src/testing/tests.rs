use std::time::Duration;

use serde_json::{Map, Value, json};

use super::*;
use crate::Principal;
use crate::auth::{AuthFailure, CompactJws, unix_now};

const ISSUER: &str = "https://idp.test/";
const AUDIENCE: &str = "orders-api";

fn kit() -> TestKit {
    TestKit::new(ISSUER, AUDIENCE)
}

/// A token, decoded.
struct Decoded {
    claims: Map<String, Value>,
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
}

fn decode(token: &str) -> Decoded {
    let jws = CompactJws::parse(token).expect("a compact JWS");
    Decoded {
        claims: jws.claims,
        alg: jws.header.alg,
        kid: jws.header.kid,
        typ: jws.header.typ,
    }
}

#[test]
fn a_token_is_an_rfc9068_access_token_with_defaults() {
    let kit = kit();
    let before = unix_now();
    let Decoded {
        claims,
        alg,
        kid,
        typ,
    } = decode(&kit.token().sign());
    assert_eq!(
        (alg.as_str(), kid, typ.as_deref()),
        ("ES256", Some(kit.dev.kid()), Some("at+jwt"))
    );
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["sub"], DEFAULT_SUBJECT);
    assert_eq!(claims["client_id"], DEFAULT_CLIENT_ID);
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert!(iat >= before && iat <= unix_now());
    assert_eq!(exp - iat, DEFAULT_LIFETIME.as_secs());
    assert!(claims["jti"].as_str().is_some_and(|jti| jti.len() == 32));
    // No scope and no role were asked for: no empty claims for them.
    assert!(!claims.contains_key("scope") && !claims.contains_key("roles"));
}

#[test]
fn a_token_carries_what_was_set() {
    let kit = kit();
    let token = kit
        .token()
        .subject("alice")
        .client_id("web")
        .scopes(["orders:read", "orders:write"])
        .roles(["admin", "auditor"])
        .lifetime(Duration::from_secs(60))
        .claim("tenant", "acme")
        .claim("aud", json!(["orders-api", "billing"]))
        .sign();
    let claims = decode(&token).claims;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], "web");
    assert_eq!(claims["scope"], "orders:read orders:write");
    assert_eq!(claims["roles"], json!(["admin", "auditor"]));
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["aud"], json!(["orders-api", "billing"]), "replaced");
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 60);
}

#[test]
fn every_token_has_its_own_id() {
    let kit = kit();
    let ids: std::collections::HashSet<Value> = (0..50)
        .map(|_| decode(&kit.token().sign()).claims["jti"].clone())
        .collect();
    assert_eq!(ids.len(), 50);
}

#[tokio::test]
async fn the_kits_configuration_accepts_its_tokens_even_as_rfc9068_requires() {
    let kit = kit();
    for issuer in [kit.issuer(), kit.issuer().rfc9068()] {
        let security = Security::builder()
            .issuer(issuer)
            .default_rate(TEST_DEFAULT_RATE)
            .build()
            .await
            .unwrap();
        let token = kit.token().subject("alice").scopes(["orders:read"]).sign();
        let alice = security.verify(&token, None).await.unwrap();
        assert_eq!(alice.subject(), Some("alice"));
        assert!(alice.has_scope("orders:read"));
    }
}

#[tokio::test]
async fn another_kit_with_the_same_issuer_and_audience_is_not_trusted() {
    let (kit, impostor) = (kit(), kit());
    let security = kit.security().await.unwrap();
    let forged = impostor.token().scopes(["orders:read"]).sign();
    assert_eq!(
        security.verify(&forged, None).await.unwrap_err(),
        AuthFailure::UnknownKey
    );
    assert!(security.verify(&kit.token().sign(), None).await.is_ok());
}

#[tokio::test]
async fn the_default_rate_is_generous_or_settable() {
    let kit = kit();
    assert_eq!(
        kit.security().await.unwrap().default_rate(),
        TEST_DEFAULT_RATE
    );
    let security = kit
        .security_builder()
        .default_rate(Rate::per_minute(600))
        .build()
        .await
        .unwrap();
    assert_eq!(security.default_rate(), Rate::per_minute(600));
    assert_eq!(security.issuers().collect::<Vec<_>>(), [ISSUER]);
    // Without a default rate, the builder says so, as for any configuration.
    assert_eq!(
        kit.security_builder().build().await.unwrap_err(),
        ConfigError::MissingDefaultRate
    );
}

/// What a principal says about its caller, times left out.
fn fields(principal: &Principal) -> Value {
    let mut claims = principal.claims().clone();
    for varying in ["iat", "exp", "jti"] {
        assert!(claims.remove(varying).is_some(), "{varying} present");
    }
    json!({
        "issuer": principal.issuer(),
        "subject": principal.subject(),
        "client_id": principal.client_id(),
        "has_token_id": principal.token_id().is_some(),
        "scopes": principal.scope_list(),
        "roles": principal.roles().collect::<Vec<_>>(),
        "lifetime": principal.expires_at_unix() - principal.issued_at_unix().unwrap(),
        "claims": claims,
        "scope_set": format!("{:?}", principal.scope_set()),
    })
}

#[tokio::test]
async fn a_principal_is_the_one_its_token_verifies_to() {
    let kit = kit();
    let security = kit.security().await.unwrap();
    // The same settings, given to a token and to a principal.
    macro_rules! both {
        ($($setting:tt)*) => {
            (kit.token()$($setting)*, kit.principal()$($setting)*)
        };
    }
    let pairs = [
        both!(),
        both!(.subject("alice").client_id("web")),
        both!(.scopes(["orders:write", "orders:read", "orders:write"]).roles(["b", "a"])),
        both!(
            .claim("tenant", "acme")
            .claim("scp", json!(["extra:read"]))
            .lifetime(Duration::from_secs(90))
        ),
        // A claim that replaces a standard one is read as the verifier reads it.
        both!(.claim("sub", "bob").claim("client_id", "cli")),
    ];
    for (token, principal) in pairs {
        let verified = security.verify(&token.sign(), None).await.unwrap();
        assert_eq!(fields(&principal.build()), fields(&verified));
    }
}

#[test]
fn a_principal_answers_a_handler_as_a_verified_one_would() {
    let alice = kit()
        .principal()
        .subject("alice")
        .scopes(["orders:read"])
        .roles(["admin"])
        .claim("tenant", "acme")
        .build();
    assert_eq!(alice.issuer(), ISSUER);
    assert_eq!(alice.client_id(), Some(DEFAULT_CLIENT_ID));
    assert!(alice.has_scope("orders:read") && !alice.has_scope("orders:write"));
    assert!(alice.has_role("admin"));
    assert_eq!(alice.claim("tenant"), Some(&json!("acme")));
    assert_eq!(alice.claim("aud"), Some(&json!(AUDIENCE)));
    let now = unix_now();
    assert!(alice.expires_at_unix() > now && alice.expires_at_unix() <= now + 600);
}
