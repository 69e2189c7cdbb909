//! Opaque access tokens, checked by their issuer's introspection endpoint (RFC 7662).
//!
//! A token that is not a JWT goes to the one issuer configured to introspect it (by its
//! token prefix, or the only one); the answer must say `active: true`, and its members are
//! held to the rules of a JWT's claims (`exp`, `aud`, `iss`, scopes, `cnf`). Active answers
//! live in the verified-token cache until `exp` or the configured maximum age; inactive
//! ones are remembered (by the token's digest) for a short time.

mod answer;
mod endpoint;
mod introspector;
mod routing;
mod settings;

#[cfg(feature = "fuzzing")]
pub(crate) use answer::{Answer, parse_answer};
pub(crate) use introspector::{Introspector, TokenDigest, token_digest};
pub(crate) use routing::{check_routes, route};
pub use settings::{
    ClientAuthentication, DEFAULT_INACTIVE_CACHE, DEFAULT_INTROSPECTION_MAX_AGE,
    DEFAULT_INTROSPECTION_TIMEOUT, Introspection, IntrospectionConfigError, MAX_ANSWER_BYTES,
};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The id under which an opaque token without `jti` is revoked: the base64url SHA-256
/// digest of the token. [`Principal::token_id`](crate::Principal::token_id) returns it for
/// such a token, and [`Security::revoke_token`](crate::Security::revoke_token) takes it.
///
/// ```
/// use portcullis_runtime::auth::opaque_token_id;
///
/// let id = opaque_token_id("2YotnFZFEjr1zCsicMWpAA");
/// assert_eq!(id.len(), 43);
/// assert_eq!(id, opaque_token_id("2YotnFZFEjr1zCsicMWpAA"));
/// ```
pub fn opaque_token_id(token: &str) -> String {
    digest_id(&token_digest(token))
}

/// The revocation id of a token of digest `digest`.
pub(crate) fn digest_id(digest: &TokenDigest) -> String {
    URL_SAFE_NO_PAD.encode(digest)
}
