//! Authentication: bearer extraction, JWT verification, keys, issuers and the principal.

mod bearer;
mod cache;
mod claims;
mod discovery;
mod extract;
mod failure;
mod fetch;
mod http_settings;
mod issuer;
mod jws;
mod keys;
mod loading;
mod parsed_key;
mod principal;
mod provider;
mod remote;
mod revocation;
mod roles;
mod verifier;

pub use bearer::bearer_token;
pub(crate) use bearer::{bearer_bytes, token_text};
pub use claims::Claims;
pub use discovery::{
    DiscoveryError, OAUTH_AUTHORIZATION_SERVER, OPENID_CONFIGURATION, ProviderMetadata, discover,
    discover_with,
};
pub use extract::VerifiedCaller;
pub use failure::{AuthFailure, BearerErrorCode};
pub use http_settings::{HttpSettings, HttpSettingsError};
pub use issuer::{DEFAULT_ALGORITHMS, DEFAULT_LEEWAY, DEFAULT_MAX_LIFETIME, Issuer, MAX_LEEWAY};
pub use keys::{KeyError, KeyKind, KeySet, MIN_HMAC_BYTES, MIN_RSA_BITS, VerificationKey};
pub use loading::{FIRST_KEY_RETRY, IssuerFailure, LONGEST_KEY_RETRY, key_retry_delay};
pub use principal::{Principal, PrincipalBuilder};
pub use provider::{KeyProvider, KeyReadiness, KeysFuture, StaticKeys};
pub use remote::{
    DEFAULT_MAX_DOCUMENT_BYTES, JwksOptions, JwksStats, LONGEST_REFRESH_DELAY, RemoteJwks,
    RemoteKeyError, SHORTEST_REFRESH_DELAY, cache_max_age,
};
pub use revocation::{
    MemoryRevocations, RevocationError, RevocationFuture, RevocationStore, TokenIdentity,
};
pub use roles::RolesClaim;

pub(crate) use cache::{CachedToken, TokenCache};
pub(crate) use discovery::{checked_issuer, metadata_from_document};
pub(crate) use issuer::KeysFrom;
pub(crate) use jws::CompactJws;
pub(crate) use loading::{KeySource, LoadingKeys};
pub(crate) use remote::checked_url as checked_jwks_url;
pub(crate) use revocation::Revocations;
pub(crate) use verifier::{IssuerDocumentation, IssuerRules, Verifier, unix_now};

/// The JWS algorithms, re-exported from `jsonwebtoken`.
pub use jsonwebtoken::Algorithm;
