//! The runtime of [Portcullis](https://docs.rs/portcullis): everything that runs per
//! request. Depend on the `portcullis` crate, which re-exports this one with its macros.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alert;
pub mod audit;
pub mod auth;
pub mod authz;
mod checks;
mod config;
mod context;
#[cfg(feature = "dev")]
pub mod dev;
pub mod endpoint;
mod guard;
pub mod input;
mod inventory;
mod json;
pub mod metrics;
pub mod openapi;
mod pipeline;
mod problem;
pub mod rate;
mod readiness;
#[cfg(feature = "redis")]
pub mod redis;
mod rejection;
mod render;
mod router;
pub mod secrets;
mod security;
mod static_value;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transport;

pub use auth::{
    AuthFailure, Claims, Issuer, KeySet, Principal, RolesClaim, TokenCacheStats, VerifiedCaller,
};
pub use authz::{PolicyDecision, PolicyRequest, ScopeDecl, ScopeRegistry, ScopeSet};
pub use config::{
    ConfigError, DEFAULT_AUTH_FAILURE_LIMIT, DEFAULT_BODY_LIMIT, DEFAULT_MAX_TOKEN_BYTES,
    DEFAULT_TOKEN_CACHE_CAPACITY, DEFAULT_TOKEN_CACHE_MAX_AGE, SecurityBuilder,
};
pub use context::RequestContext;
pub use endpoint::{Endpoint, EndpointSpec, MountedEndpoint};
pub use guard::{Guard, Guarded, UNLISTED_ROUTE, UnsecuredRoute};
pub use input::{BodyExtractor, Form, Input, Json, Path, Query, SafeExtractor, Unchecked};
pub use inventory::{Inventory, InventoryAccess, InventoryEntry};
pub use openapi::OpenApiInfo;
pub use problem::{ApiError, FieldViolation, PROBLEM_JSON, Problem};
pub use rate::{Rate, RateKeyKind};
pub use readiness::{IssuerReadiness, Readiness};
pub use rejection::{
    AuthRejection, ForbiddenReason, ForbiddenRejection, InputRejection, MisconfiguredRejection,
    RateLimitedRejection, UnavailableRejection,
};
pub use render::{ErrorRenderer, ErrorSchema};
pub use router::{RouterError, Routes, SecureRouter};
pub use secrets::{
    KeyRing, KeyRingError, NoContext, SealContext, SealError, Sealed, SecretEncoding, SecretError,
};
pub use security::Security;

/// Entry points for the fuzz targets (`fuzz/`) and the property tests of the workspace:
/// thin wrappers that reach crate-private parsers, or take the clock as an argument. Not a
/// public API: only with the feature `fuzzing`.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    use serde_json::{Map, Value};

    use crate::auth::{AuthFailure, DiscoveryError, Principal, ProviderMetadata};

    /// The `max-age` of a `Cache-Control` value, as the JWKS refresh reads it.
    pub fn cache_max_age(cache_control: &str) -> Option<std::time::Duration> {
        crate::auth::cache_max_age(cache_control)
    }
    use crate::json::JsonError;
    use crate::{ScopeRegistry, Security};

    /// A compact JWS as parsed before its signature is checked.
    #[derive(Debug)]
    pub struct ParsedJws {
        /// The header's algorithm, or why it is refused.
        pub algorithm: Result<crate::auth::Algorithm, AuthFailure>,
        /// The header's `kid`.
        pub kid: Option<String>,
        /// The header's `typ`.
        pub typ: Option<String>,
        /// The claims.
        pub claims: Map<String, Value>,
        /// The bytes the signature covers: `header "." payload`.
        pub signing_input: String,
        /// The base64url signature.
        pub signature: String,
    }

    /// Splits and decodes a compact JWS, as verification does before the signature check.
    pub fn parse_compact_jws(token: &str) -> Result<ParsedJws, AuthFailure> {
        let jws = crate::auth::CompactJws::parse(token)?;
        Ok(ParsedJws {
            algorithm: jws.algorithm(),
            kid: jws.header.kid.clone(),
            typ: jws.header.typ.clone(),
            signing_input: jws.signing_input.to_owned(),
            signature: jws.signature.to_owned(),
            claims: jws.claims,
        })
    }

    /// Why the strict JSON parser refused a document.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum StrictJsonError {
        /// A member name appears twice in one object.
        Duplicate,
        /// Nested deeper than allowed.
        TooDeep,
        /// A member name serde_json reserves for itself (`$serde_json::private::…`).
        Reserved,
        /// Not JSON.
        Syntax,
    }

    /// The JSON parser of tokens and bodies: duplicate names and the names serde_json
    /// reserves refused at any depth, nesting capped at `max_depth`, integral numbers read
    /// as integers.
    pub fn parse_strict_json(bytes: &[u8], max_depth: usize) -> Result<Value, StrictJsonError> {
        crate::json::from_slice(bytes, max_depth).map_err(|error| match error {
            JsonError::Duplicate => StrictJsonError::Duplicate,
            JsonError::TooDeep => StrictJsonError::TooDeep,
            JsonError::Reserved => StrictJsonError::Reserved,
            JsonError::Syntax(_) => StrictJsonError::Syntax,
        })
    }

    /// Reads a discovery document `body`, fetched from `url`, for `issuer`, as discovery
    /// does once the document is fetched.
    pub fn discovery_document(
        url: &str,
        body: &[u8],
        issuer: &str,
    ) -> Result<ProviderMetadata, DiscoveryError> {
        crate::auth::metadata_from_document(url, body, issuer)
    }

    /// How an introspection answer was taken.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum IntrospectionOutcome {
        /// The answer could not be read (the request would be refused with 503).
        Unreadable,
        /// `active: false`.
        Inactive,
        /// Active, but refused by the issuer's rules.
        Refused(AuthFailure),
    }

    /// Reads the introspection answer `body` as the issuer `https://issuer.fuzz.test/`
    /// (audience `orders-api`, default rules) takes it at time `now`, for a token whose
    /// SHA-256 digest is `[7; 32]`: the principal of an active answer that passes.
    pub fn introspection_answer(body: &[u8], now: u64) -> Result<Principal, IntrospectionOutcome> {
        use std::sync::Arc;
        let claims = match crate::auth::parse_answer(body) {
            Ok(crate::auth::Answer::Active(claims)) => claims,
            Ok(crate::auth::Answer::Inactive) => return Err(IntrospectionOutcome::Inactive),
            Err(_) => return Err(IntrospectionOutcome::Unreadable),
        };
        let rules = crate::auth::IssuerRules::new(
            crate::Issuer::new("https://issuer.fuzz.test/").audience("orders-api"),
            Arc::new(crate::auth::StaticKeys::new(crate::auth::KeySet::new())),
        );
        crate::auth::introspected(claims, &rules, None, now, false, &[7; 32])
            .map_err(IntrospectionOutcome::Refused)
    }

    /// Checks a DPoP proof as a request `GET https://api.test/orders` with access token
    /// `token` bound to `jkt` would have it checked at time `now`, all but the replay check
    /// (default algorithms and window).
    pub fn verify_dpop_proof(
        proof: &str,
        token: &str,
        jkt: &str,
        now: u64,
    ) -> Result<(), crate::auth::DpopFailure> {
        let rules = crate::auth::DpopRules::new(crate::auth::Dpop::new("https://api.test"))
            .map_err(|_| crate::auth::DpopFailure::NotConfigured)?;
        let request = crate::auth::ProofRequest {
            method: &http::Method::GET,
            path: "/orders",
            origin: None,
            token: Some(token),
            jkt: Some(jkt),
            now,
        };
        crate::auth::verify_proof(proof, &rules, &request).map(|_| ())
    }

    /// Whether `key` verifies `signature` (base64url) over `message` with `alg`, as
    /// verification does once it has picked the key.
    pub fn verify_signature(
        key: &crate::auth::VerificationKey,
        message: &[u8],
        signature: &str,
        alg: crate::auth::Algorithm,
    ) -> bool {
        key.verify(message, signature, alg)
    }

    /// [`Security::verify`] at time `now` (Unix seconds) instead of the system clock.
    pub async fn verify_at(
        security: &Security,
        token: &str,
        registry: Option<&'static ScopeRegistry>,
        now: u64,
    ) -> Result<Principal, AuthFailure> {
        security.verify_at(token, registry, now).await
    }
}

/// Re-exports for the code `portcullis-macros` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::authz::{Policy, PolicyFn, Requirements, ScopeDecl, ScopeRegistry, ScopeSet};
    pub use crate::checks::*;
    pub use crate::endpoint::{Access, EndpointFuture, EndpointMeta, EndpointSpec, HttpMethod};
    pub use crate::input::{Input, InputParameter, SafeExtractor, object_parameters, violations};
    pub use crate::openapi::{OperationDoc, SchemaRegistry, probe, rules};
    pub use utoipa;

    /// Brings `utoipa` into scope where `#[output]` expands, for utoipa's derive.
    pub mod utoipa_in_scope {
        pub use utoipa;
    }
    pub use crate::problem::FieldViolation;
    pub use crate::rate::{EndpointRate, Rate, RateKeyFn, RateKeyKind};
    pub use crate::router::{Mountable, Routes};
    pub use serde;

    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaType, Type};

    /// A `string` schema.
    pub fn string_schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .into()
    }

    /// An array of `items`.
    pub fn array_of(items: RefOr<Schema>) -> RefOr<Schema> {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(items)
            .into()
    }

    /// The object schema of an `#[input]` type: unknown properties refused.
    pub fn input_object(description: Option<&str>) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Object))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .description(description)
    }

    /// Adds one property.
    pub fn add_property(
        object: ObjectBuilder,
        name: &str,
        schema: RefOr<Schema>,
        required: bool,
        description: Option<&str>,
    ) -> ObjectBuilder {
        let schema = match description {
            Some(text) => crate::openapi::with_description(schema, text),
            None => schema,
        };
        let object = object.property(name, schema);
        if required {
            object.required(name)
        } else {
            object
        }
    }

    /// The finished object.
    pub fn finish_object(object: ObjectBuilder) -> RefOr<Schema> {
        object.into()
    }

    /// Builds a rate the macros have already checked.
    pub const fn checked_rate(count: u32, period_secs: u64, burst: u32) -> Rate {
        match Rate::new(count, std::time::Duration::from_secs(period_secs)) {
            Ok(rate) => rate.with_burst(burst),
            Err(_) => panic!("invalid rate"),
        }
    }
}
