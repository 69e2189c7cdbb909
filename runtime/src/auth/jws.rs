//! Compact JWS parsing, up to (not including) the signature check.
//!
//! Nothing here trusts the token: sizes are capped before anything is decoded, and every
//! JSON object is parsed with duplicate names refused, so that no other parser can read
//! a different token out of the same bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Algorithm;
use super::AuthFailure;
use crate::json::{self, JsonError};

/// The JOSE header fields Portcullis looks at. Others are ignored; in particular `jku`,
/// `x5u`, `jwk` and `x5c` are never used to find a key of an access token (a DPoP proof's
/// `jwk` is the key the proof is checked with, then held to the token's `cnf.jkt`).
#[derive(Debug, Deserialize)]
pub(crate) struct JoseHeader {
    pub(crate) alg: String,
    #[serde(default)]
    pub(crate) kid: Option<String>,
    #[serde(default)]
    pub(crate) typ: Option<String>,
    /// A DPoP proof's public key.
    #[serde(default)]
    pub(crate) jwk: Option<Map<String, Value>>,
}

/// A compact JWS split into its parts, header and payload decoded.
#[derive(Debug)]
pub(crate) struct CompactJws<'a> {
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub(crate) signing_input: &'a str,
    /// The base64url signature.
    pub(crate) signature: &'a str,
    pub(crate) header: JoseHeader,
    pub(crate) claims: Map<String, Value>,
}

/// The longest `kid` looked up; longer ones are refused without a lookup.
pub(crate) const MAX_KID_LEN: usize = 256;

impl<'a> CompactJws<'a> {
    /// Splits and decodes `token`. JWE (five parts) and JSON-serialised JWS are refused.
    pub(crate) fn parse(token: &'a str) -> Result<Self, AuthFailure> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthFailure::Malformed);
        };
        if header.is_empty() || payload.is_empty() || signature.is_empty() {
            return Err(AuthFailure::Malformed);
        }
        let signing_input = &token[..header.len() + 1 + payload.len()];
        let header_value = parse(&decode_part(header)?)?;
        // Whether `crit` is present at all, whatever its value: serde reads `"crit": null`
        // into `None`, as if it were absent.
        let critical = header_value.get("crit").is_some();
        let header: JoseHeader =
            serde_json::from_value(header_value).map_err(|_| AuthFailure::Malformed)?;
        if header
            .kid
            .as_ref()
            .is_some_and(|kid| kid.len() > MAX_KID_LEN)
        {
            return Err(AuthFailure::UnknownKey);
        }
        let claims = match parse(&decode_part(payload)?)? {
            Value::Object(claims) => claims,
            _ => return Err(AuthFailure::Malformed),
        };
        // RFC 7515 §4.1.11: `crit` lists extensions that must be understood. Portcullis
        // understands none, so any `crit` (even an empty, null or malformed one) is refused.
        if critical {
            return Err(AuthFailure::CriticalHeader);
        }
        Ok(CompactJws {
            signing_input,
            signature,
            header,
            claims,
        })
    }

    /// The header's algorithm, if it is one Portcullis knows. `none`, in any casing, is
    /// not one.
    pub(crate) fn algorithm(&self) -> Result<Algorithm, AuthFailure> {
        parse_algorithm(&self.header.alg).ok_or(AuthFailure::AlgorithmNotAllowed)
    }
}

/// The deepest nesting accepted inside a token.
const MAX_DEPTH: usize = 32;

fn parse(bytes: &[u8]) -> Result<serde_json::Value, AuthFailure> {
    json::from_slice(bytes, MAX_DEPTH).map_err(|error| match error {
        JsonError::Duplicate => AuthFailure::DuplicateClaim,
        JsonError::TooDeep | JsonError::Reserved | JsonError::Syntax(_) => AuthFailure::Malformed,
    })
}

fn decode_part(part: &str) -> Result<Vec<u8>, AuthFailure> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthFailure::Malformed)
}

/// The algorithm named exactly `name` (JWA names are case-sensitive).
pub(crate) fn parse_algorithm(name: &str) -> Option<Algorithm> {
    Algorithm::from_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64(payload))
    }

    #[test]
    fn parses_a_compact_jws() {
        let t = token(
            r#"{"alg":"ES256","kid":"k1","typ":"at+jwt"}"#,
            r#"{"sub":"a"}"#,
        );
        let jws = CompactJws::parse(&t).unwrap();
        assert_eq!(jws.algorithm().unwrap(), Algorithm::ES256);
        assert_eq!(jws.header.kid.as_deref(), Some("k1"));
        assert_eq!(jws.claims["sub"], "a");
        assert_eq!(jws.signature, "c2ln");
        assert!(t.starts_with(jws.signing_input));
    }

    #[test]
    fn refuses_wrong_shapes() {
        let good_header = b64(r#"{"alg":"ES256"}"#);
        let good_payload = b64(r#"{"sub":"a"}"#);
        for bad in [
            String::new(),
            "a.b".to_string(),
            format!("{good_header}.{good_payload}."),
            format!("{good_header}.{good_payload}.s.x.y"),
            format!("{good_header}=.{good_payload}.s"),
            format!("{good_header}.{}.s", b64("[1]")),
            format!("{}.{good_payload}.s", b64("not json")),
        ] {
            assert_eq!(
                CompactJws::parse(&bad).unwrap_err(),
                AuthFailure::Malformed,
                "{bad}"
            );
        }
    }

    #[test]
    fn refuses_none_and_unknown_algorithms() {
        for alg in [
            "none", "None", "NONE", "nOnE", "es256", "HS256 ", "RSA-OAEP",
        ] {
            let t = token(&format!(r#"{{"alg":"{alg}"}}"#), "{}");
            let jws = CompactJws::parse(&t).unwrap();
            assert_eq!(
                jws.algorithm().unwrap_err(),
                AuthFailure::AlgorithmNotAllowed
            );
        }
    }

    #[test]
    fn refuses_crit_duplicates_and_huge_kids() {
        let crit = token(r#"{"alg":"ES256","crit":["exp"],"exp":1}"#, "{}");
        assert_eq!(
            CompactJws::parse(&crit).unwrap_err(),
            AuthFailure::CriticalHeader
        );
        for crit in ["[]", "null", "\"exp\"", "{}"] {
            let odd_crit = token(&format!(r#"{{"alg":"ES256","crit":{crit}}}"#), "{}");
            assert_eq!(
                CompactJws::parse(&odd_crit).unwrap_err(),
                AuthFailure::CriticalHeader,
                "crit {crit}"
            );
        }
        let dup = token(r#"{"alg":"ES256"}"#, r#"{"sub":"a","sub":"b"}"#);
        assert_eq!(
            CompactJws::parse(&dup).unwrap_err(),
            AuthFailure::DuplicateClaim
        );
        let dup_header = token(r#"{"alg":"ES256","alg":"none"}"#, "{}");
        assert_eq!(
            CompactJws::parse(&dup_header).unwrap_err(),
            AuthFailure::DuplicateClaim
        );
        let kid = "k".repeat(MAX_KID_LEN + 1);
        let long = token(&format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#), "{}");
        assert_eq!(
            CompactJws::parse(&long).unwrap_err(),
            AuthFailure::UnknownKey
        );
    }
}
