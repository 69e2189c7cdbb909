//! Opaque access tokens: random strings whose claims the issuer keeps, answered at its
//! introspection endpoint (RFC 7662) and forgotten when they expire or are revoked
//! (RFC 7009).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use serde_json::{Map, Value};

use super::error::DevError;
use super::random::random_id;
use crate::auth::{opaque_token_id, unix_now};

/// How the issuer's opaque tokens start: the resource server recognises them by it
/// ([`Introspection::token_prefix`](crate::auth::Introspection::token_prefix)).
pub const OPAQUE_TOKEN_PREFIX: &str = "pcd_";

/// How many opaque tokens live at once at most; past it, issuing fails until some expire.
pub const MAX_OPAQUE_TOKENS: usize = 100_000;

/// The opaque tokens issued and not yet expired or revoked, by the base64url SHA-256 of
/// the token (the token itself is not kept).
#[derive(Debug, Default)]
pub(crate) struct OpaqueTokens {
    by_digest: Mutex<HashMap<String, Map<String, Value>>>,
}

impl OpaqueTokens {
    /// A new opaque token for `claims` (which carry its `exp`).
    pub(crate) fn issue(&self, claims: Map<String, Value>) -> Result<String, DevError> {
        let token = format!("{OPAQUE_TOKEN_PREFIX}{}", random_id(32)?);
        let mut tokens = self
            .by_digest
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if tokens.len() >= MAX_OPAQUE_TOKENS {
            let now = unix_now();
            tokens.retain(|_, claims| !expired(claims, now));
            if tokens.len() >= MAX_OPAQUE_TOKENS {
                return Err(DevError::TooManyTokens);
            }
        }
        tokens.insert(opaque_token_id(&token), claims);
        Ok(token)
    }

    /// The claims of `token`, if it is one of these and has not expired.
    pub(crate) fn active(&self, token: &str) -> Option<Map<String, Value>> {
        let tokens = self
            .by_digest
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        tokens
            .get(&opaque_token_id(token))
            .filter(|claims| !expired(claims, unix_now()))
            .cloned()
    }

    /// Forgets `token`: from now on it is inactive. Whether it was known.
    pub(crate) fn revoke(&self, token: &str) -> bool {
        self.by_digest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&opaque_token_id(token))
            .is_some()
    }
}

fn expired(claims: &Map<String, Value>, now: u64) -> bool {
    claims
        .get("exp")
        .and_then(Value::as_u64)
        .is_none_or(|exp| exp <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_are_known_until_revoked_or_expired() {
        let tokens = OpaqueTokens::default();
        let claims = |exp: u64| json!({ "exp": exp }).as_object().cloned().unwrap();
        let live = tokens.issue(claims(unix_now() + 60)).unwrap();
        assert!(live.starts_with(OPAQUE_TOKEN_PREFIX));
        assert_eq!(live.len(), OPAQUE_TOKEN_PREFIX.len() + 43);
        let dead = tokens.issue(claims(unix_now() - 1)).unwrap();
        assert!(tokens.active(&live).is_some());
        assert!(tokens.active(&dead).is_none());
        assert!(tokens.active("pcd_unknown").is_none());
        assert!(tokens.revoke(&live));
        assert!(tokens.active(&live).is_none());
        assert!(!tokens.revoke(&live));
    }
}
