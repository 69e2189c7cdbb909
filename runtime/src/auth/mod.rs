//! Authentication: bearer extraction, JWT verification, keys, issuers and the principal.

mod algorithm;
mod authenticator;
mod bearer;
mod cache;
mod certificate;
mod claims;
mod discovery;
mod dpop;
mod extract;
mod failure;
mod fetch;
mod http_settings;
mod introspection;
mod issuer;
mod issuer_failure;
mod jws;
mod keys;
mod loading;
mod parsed_key;
mod principal;
mod provider;
mod remote;
mod revocation;
mod roles;
mod tenants;
mod verifier;

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use authenticator::TokenCacheStats;
pub use bearer::bearer_token;
pub(crate) use bearer::token_text;
pub use certificate::ClientCertificate;
pub use claims::Claims;
pub use discovery::{
    DiscoveryError, OAUTH_AUTHORIZATION_SERVER, OPENID_CONFIGURATION, ProviderMetadata, discover,
    discover_with,
};
pub use dpop::{
    DEFAULT_NONCE_STEP, DEFAULT_PROOF_ALGORITHMS, DEFAULT_PROOF_WINDOW, DEFAULT_REPLAY_CAPACITY,
    Dpop, DpopConfigError, DpopFailure, DpopMode, DpopNonces, DpopReplayError, DpopReplayStore,
    MAX_PROOF_BYTES, MIN_NONCE_KEY_BYTES, MemoryDpopReplay, PROOF_CLOCK_SKEW, ProofId,
    ReplayFuture, jwk_thumbprint,
};
pub use extract::VerifiedCaller;
pub use failure::{AuthFailure, BearerErrorCode};
pub use http_settings::{HttpSettings, HttpSettingsError};
pub use introspection::{
    ClientAuthentication, DEFAULT_INACTIVE_CACHE, DEFAULT_INTROSPECTION_MAX_AGE,
    DEFAULT_INTROSPECTION_TIMEOUT, Introspection, IntrospectionConfigError, MAX_ANSWER_BYTES,
    opaque_token_id,
};
pub use issuer::{DEFAULT_ALGORITHMS, DEFAULT_LEEWAY, DEFAULT_MAX_LIFETIME, Issuer, MAX_LEEWAY};
pub use issuer_failure::IssuerFailure;
pub use keys::{KeyError, KeyKind, KeySet, MIN_HMAC_BYTES, MIN_RSA_BITS, VerificationKey};
pub use loading::{FIRST_KEY_RETRY, LONGEST_KEY_RETRY, key_retry_delay};
pub(crate) use principal::EncodedFields;
pub use principal::{Principal, PrincipalBuilder};
pub use provider::{KeyProvider, KeyReadiness, KeysFuture, StaticKeys};
pub use remote::{
    DEFAULT_MAX_DOCUMENT_BYTES, JwksOptions, JwksStats, LONGEST_REFRESH_DELAY, RemoteJwks,
    RemoteKeyError, SHORTEST_REFRESH_DELAY,
};
pub use revocation::{
    MemoryRevocations, RevocationError, RevocationFreshness, RevocationFuture, RevocationStore,
    TokenIdentity,
};
pub use roles::RolesClaim;

pub(crate) use authenticator::{Authenticated, Authenticator, RequestHead};
pub(crate) use cache::{CachedToken, TokenCache};
pub(crate) use discovery::checked_issuer;
#[cfg(feature = "fuzzing")]
pub(crate) use discovery::metadata_from_document;
pub(crate) use dpop::DpopRules;
#[cfg(any(feature = "dev", feature = "fuzzing"))]
pub(crate) use dpop::{ProofRequest, verify_proof};
#[cfg(feature = "fuzzing")]
pub(crate) use introspection::{Answer, parse_answer};
pub(crate) use introspection::{Introspector, check_routes};
pub(crate) use issuer::KeysFrom;
#[cfg(feature = "fuzzing")]
pub(crate) use jws::CompactJws;
pub(crate) use loading::{KeySource, LoadingKeys};
#[cfg(feature = "fuzzing")]
pub(crate) use remote::cache_max_age;
pub(crate) use remote::checked_url as checked_jwks_url;
pub(crate) use revocation::Revocations;
pub(crate) use tenants::{
    TENANT_PLACEHOLDER, TemplateRefusal, TenantTemplate, expand as expand_tenants,
};
#[cfg(feature = "fuzzing")]
pub(crate) use verifier::introspected;
pub(crate) use verifier::{IssuerDocumentation, IssuerRules, Verifier, unix_now, unix_seconds};
