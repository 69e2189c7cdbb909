//! A development token issuer (feature `dev`): generates a signing key, publishes its
//! JWKS and discovery documents, and mints RFC 9068 access tokens.
//!
//! It lets an example run and a test suite mint tokens with no identity provider. It is
//! not an authorization server for production: its key lives in memory and it trusts
//! whoever calls it.
//!
//! ```
//! use portcullis_runtime::dev::DevIssuer;
//! use std::time::Duration;
//!
//! let dev = DevIssuer::new("http://127.0.0.1:3000/dev", "orders-api").unwrap();
//! let token = dev.token().subject("alice").client("cli").scopes(["orders:read"])
//!     .lifetime(Duration::from_secs(300)).sign();
//! assert_eq!(token.split('.').count(), 3);
//! ```

use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Router;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};

use crate::auth::{Issuer, unix_now};

/// Why the development issuer could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DevError {
    /// The system's random generator or key generation failed.
    #[error("could not generate a signing key")]
    KeyGeneration,
}

/// A development issuer with one ES256 signing key.
pub struct DevIssuer {
    issuer: String,
    audience: String,
    kid: String,
    key: EncodingKey,
    jwk: Value,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn random_id(bytes: usize) -> Result<String, DevError> {
    let mut buffer = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buffer)
        .map_err(|_| DevError::KeyGeneration)?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

impl DevIssuer {
    /// An issuer called `issuer` (the `iss` of its tokens) minting tokens for `audience`,
    /// with a freshly generated P-256 key.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<DevIssuer, DevError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| DevError::KeyGeneration)?;
        let pkcs8 = pair.to_pkcs8v1().map_err(|_| DevError::KeyGeneration)?;
        let point = pair.public_key().as_ref();
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(&point[1..33]),
            URL_SAFE_NO_PAD.encode(&point[33..65]),
        );
        // RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
        let kid = URL_SAFE_NO_PAD.encode(digest.as_ref());
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "use": "sig", "alg": "ES256"});
        Ok(DevIssuer {
            issuer: issuer.into(),
            audience: audience.into(),
            kid,
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk,
        })
    }

    /// The issuer identifier.
    pub fn issuer_id(&self) -> &str {
        &self.issuer
    }

    /// The audience its tokens are for.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The id of its signing key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The configuration that trusts this issuer: its key, its audience, RFC 9068 rules.
    pub fn issuer(&self) -> Issuer {
        Issuer::new(&self.issuer)
            .audience(&self.audience)
            .jwks_json(&self.jwks_json())
            .rfc9068()
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// The JWKS document as text.
    pub fn jwks_json(&self) -> String {
        self.jwks().to_string()
    }

    /// The OpenID Connect discovery document, for an issuer served at its own identifier.
    pub fn discovery(&self) -> Value {
        let base = self.issuer.trim_end_matches('/');
        json!({
            "issuer": self.issuer,
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "token_endpoint": format!("{base}/oauth/token"),
            "grant_types_supported": ["client_credentials"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        })
    }

    /// Serves `/.well-known/jwks.json` and `/.well-known/openid-configuration`; nest it
    /// under the issuer's path.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let jwks = self.jwks();
        let discovery = self.discovery();
        Router::new()
            .route(
                "/.well-known/jwks.json",
                get(move || async move { axum::Json(jwks) }),
            )
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { axum::Json(discovery) }),
            )
    }

    /// Starts a token.
    pub fn token(&self) -> TokenRequest<'_> {
        TokenRequest {
            issuer: self,
            subject: None,
            client: "dev-client".to_owned(),
            scopes: Vec::new(),
            roles: Vec::new(),
            lifetime: Duration::from_secs(600),
            extra: Map::new(),
        }
    }

    /// Signs arbitrary claims with this issuer's key and the given header `typ`: for tests
    /// of what a resource server must refuse.
    pub fn sign_claims(&self, typ: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        header.typ = typ.map(str::to_owned);
        // Signing a JSON value with a valid EC key does not fail.
        jsonwebtoken::encode(&header, claims, &self.key).unwrap_or_default()
    }
}

/// A token being minted; see [`DevIssuer::token`].
#[must_use]
pub struct TokenRequest<'a> {
    issuer: &'a DevIssuer,
    subject: Option<String>,
    client: String,
    scopes: Vec<String>,
    roles: Vec<String>,
    lifetime: Duration,
    extra: Map<String, Value>,
}

impl TokenRequest<'_> {
    /// The subject (default: the client id).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// The client id (default `dev-client`).
    pub fn client(mut self, client: impl Into<String>) -> Self {
        self.client = client.into();
        self
    }

    /// The scopes granted.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The roles, in a `roles` claim.
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// How long the token is valid (default 10 minutes).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Any other claim; it replaces a standard one of the same name.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// The signed token.
    pub fn sign(self) -> String {
        let now = unix_now();
        let mut claims = Map::new();
        claims.insert("iss".into(), self.issuer.issuer.clone().into());
        claims.insert(
            "sub".into(),
            self.subject.unwrap_or_else(|| self.client.clone()).into(),
        );
        claims.insert("aud".into(), self.issuer.audience.clone().into());
        claims.insert("client_id".into(), self.client.into());
        claims.insert("scope".into(), self.scopes.join(" ").into());
        if !self.roles.is_empty() {
            claims.insert("roles".into(), self.roles.into());
        }
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + self.lifetime.as_secs()).into());
        claims.insert("jti".into(), random_id(16).unwrap_or_default().into());
        claims.extend(self.extra);
        self.issuer
            .sign_claims(Some("at+jwt"), &Value::Object(claims))
    }
}
