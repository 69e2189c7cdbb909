//! RFC 7638 JWK thumbprints: the SHA-256 of a public key's required members, in
//! lexicographic order, as compact JSON; base64url without padding.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// The RFC 7638 SHA-256 thumbprint of the public JWK `jwk` (EC, RSA or OKP); `None` when
/// a required member is missing or is not a string.
pub fn jwk_thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let kty = jwk.get("kty")?.as_str()?;
    // The required members of each key type, already in lexicographic order.
    let members: &[&str] = match kty {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut json = String::from("{");
    for (i, member) in members.iter().enumerate() {
        let value = jwk.get(*member)?.as_str()?;
        if i > 0 {
            json.push(',');
        }
        // Member names and values as JSON strings: serde_json escapes what must be.
        json.push_str(&Value::from(*member).to_string());
        json.push(':');
        json.push_str(&Value::from(value).to_string());
    }
    json.push('}');
    Some(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, json.as_bytes())))
}

/// The base64url SHA-256 of an access token: a proof's `ath`.
pub(crate) fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    /// RFC 7638 §3.1's example.
    #[test]
    fn rfc_7638_example() {
        let jwk = object(serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }));
        assert_eq!(
            jwk_thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn only_the_required_members_count() {
        let bare = object(serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "abc"}));
        let decorated = object(serde_json::json!({
            "x": "abc", "kid": "k", "use": "sig", "crv": "Ed25519", "kty": "OKP"
        }));
        assert_eq!(jwk_thumbprint(&bare), jwk_thumbprint(&decorated));
        let missing = object(serde_json::json!({"kty": "EC", "crv": "P-256", "x": "a"}));
        assert_eq!(jwk_thumbprint(&missing), None);
        let oct = object(serde_json::json!({"kty": "oct", "k": "c2VjcmV0"}));
        assert_eq!(jwk_thumbprint(&oct), None);
    }

    /// RFC 9449 §7.1's example: the hash of its access token.
    #[test]
    fn token_hash_of_rfc_9449_example() {
        assert_eq!(
            token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }
}
