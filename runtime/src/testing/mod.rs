//! A test kit (feature `testing`, for dev-dependencies): tokens, principals and a
//! [`Security`] for an app that trusts an identity provider, with no network, and a
//! client that sends requests through the app in process.
//!
//! An app takes its [`Security`] (or its [`Issuer`]s) from whoever builds it, as it
//! takes its database pool. Production builds one that trusts the real provider; a test
//! builds one from a [`TestKit`] with the same issuer URL and audience, whose signing keys
//! the kit holds. Nothing else changes: no environment variable, no global switch.
//!
//! ```
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use portcullis_runtime::testing::TestKit;
//!
//! let kit = TestKit::new("https://idp.example.com/", "orders-api");
//! let security = kit.security().await?; // the app gets this instead of the real one
//! let token = kit.token().subject("alice").scopes(["orders:read"]).sign();
//! let alice = security.verify(&token, None).await?; // as an endpoint would
//! assert!(alice.has_scope("orders:read"));
//! # Ok(())
//! # }
//! # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
//! ```
//!
//! - [`TestKit::token`]: a signed access token with chosen scopes, roles and claims;
//! - [`TestKit::principal`]: the [`Principal`](crate::Principal) such a token verifies to, for calling a
//!   handler directly;
//! - [`TestKit::security`], [`TestKit::security_builder`] and [`TestKit::issuer`]: the
//!   configuration that trusts the kit's tokens;
//! - [`TestClient`]: requests through any `tower::Service` (an `axum::Router`, with
//!   layers or not) from a client address, answers read whole.
//!
//! The guide, with endpoints declared by `#[secure]` and `#[public]`, is
//! [`docs/testing.md`](https://github.com/portcullis-rs/portcullis/blob/main/docs/testing.md).

mod client;
mod token;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::dev::DevIssuer;
use crate::{ConfigError, Issuer, Rate, Security, SecurityBuilder};

pub use client::{DEFAULT_CLIENT_ADDR, TestClient, TestRequest, TestResponse};
pub use token::{DEFAULT_CLIENT_ID, DEFAULT_LIFETIME, DEFAULT_SUBJECT, TestPrincipal, TestToken};

/// The default rate of [`TestKit::security`], for endpoints that declare none: 1000 a
/// second, more than a test sends. Endpoints that declare a rate keep theirs.
pub const TEST_DEFAULT_RATE: Rate = Rate::per_second(1000);

/// Why the kit could not do what it was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// The system's random generator or key generation failed.
    #[error("could not generate a signing key")]
    KeyGeneration,
    /// A token could not be signed.
    #[error("could not sign a token")]
    Signing,
    /// A request could not be built: a malformed path or header, a body that does not
    /// serialize.
    #[error("the request could not be built: {0}")]
    Request(String),
    /// The app's service returned an error instead of a response.
    #[error("the app returned an error: {0}")]
    App(#[source] axum::BoxError),
    /// The response body could not be read.
    #[error("the response body could not be read: {0}")]
    Body(#[source] axum::BoxError),
}

/// A stand-in for an identity provider: its issuer URL and audience, with signing keys
/// of its own, held in memory.
///
/// Tokens it signs are accepted by the configuration it gives ([`security`](TestKit::security),
/// [`security_builder`](TestKit::security_builder), [`issuer`](TestKit::issuer)) and by
/// nothing else: another kit with the same URL has other keys. Cloning is cheap and a
/// clone has the same keys.
///
/// ```
/// use portcullis_runtime::testing::TestKit;
///
/// let kit = TestKit::new("https://idp.example.com/", "orders-api");
/// let token = kit.token().scopes(["orders:read"]).sign();
/// let alice = kit.principal().subject("alice").build();
/// assert_eq!(alice.issuer(), "https://idp.example.com/");
/// # let _ = token;
/// ```
#[derive(Clone)]
pub struct TestKit {
    dev: DevIssuer,
}

impl std::fmt::Debug for TestKit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKit")
            .field("issuer", &self.issuer_id())
            .field("audience", &self.audience())
            .field("kid", &self.dev.kid())
            .finish()
    }
}

impl TestKit {
    /// A kit for the provider `issuer` (exactly as in the `iss` of its tokens, and as the
    /// app configures it in production) and the app's `audience`, with fresh keys.
    ///
    /// # Panics
    ///
    /// If the system's random generator fails, so that no key can be made;
    /// [`try_new`](TestKit::try_new) returns the error instead.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> TestKit {
        match TestKit::try_new(issuer, audience) {
            Ok(kit) => kit,
            Err(error) => panic!("the test kit could not start: {error}"),
        }
    }

    /// A kit for `issuer` and `audience`, or why its keys could not be made.
    pub fn try_new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<TestKit, TestError> {
        let dev = DevIssuer::new(issuer, audience).map_err(|_| TestError::KeyGeneration)?;
        Ok(TestKit { dev })
    }

    /// The issuer identifier.
    pub fn issuer_id(&self) -> &str {
        self.dev.issuer_id()
    }

    /// The audience of its tokens.
    pub fn audience(&self) -> &str {
        self.dev.audience()
    }

    /// Starts an access token, by default for subject [`DEFAULT_SUBJECT`] and client
    /// [`DEFAULT_CLIENT_ID`], valid for [`DEFAULT_LIFETIME`], with no scope and no role.
    ///
    /// ```
    /// # let kit = portcullis_runtime::testing::TestKit::new("https://idp.example.com/", "orders-api");
    /// let token = kit.token().scopes(["orders:read"]).roles(["admin"]).claim("tenant", "acme").sign();
    /// # let _ = token;
    /// ```
    pub fn token(&self) -> TestToken {
        TestToken::new(self)
    }

    /// Starts a [`Principal`](crate::Principal) for calling a handler directly: the one
    /// the token with the same settings verifies to.
    ///
    /// ```
    /// # let kit = portcullis_runtime::testing::TestKit::new("https://idp.example.com/", "orders-api");
    /// let alice = kit.principal().subject("alice").scopes(["orders:read"]).build();
    /// assert!(alice.has_scope("orders:read"));
    /// ```
    pub fn principal(&self) -> TestPrincipal {
        TestPrincipal::new(self)
    }

    /// The issuer that trusts the kit's tokens, for an app that takes its issuers: the
    /// kit's URL, audience and keys, with the rules of `Issuer::new(url).audience(aud)`.
    /// Add the rules the production issuer has, such as
    /// [`rfc9068`](Issuer::rfc9068) or [`roles`](Issuer::roles); the kit's tokens follow
    /// RFC 9068.
    ///
    /// ```
    /// # let kit = portcullis_runtime::testing::TestKit::new("https://idp.example.com/", "orders-api");
    /// let issuer = kit.issuer().rfc9068();
    /// assert_eq!(issuer.name(), "https://idp.example.com/");
    /// ```
    pub fn issuer(&self) -> Issuer {
        Issuer::new(self.issuer_id())
            .audience(self.audience())
            .key_provider(Arc::new(self.dev.clone()))
    }

    /// A configuration builder that trusts the kit's tokens and nothing else, for setting
    /// the default rate and whatever else the production configuration sets.
    ///
    /// ```
    /// # async fn run() -> Result<(), portcullis_runtime::ConfigError> {
    /// # let kit = portcullis_runtime::testing::TestKit::new("https://idp.example.com/", "orders-api");
    /// let security = kit.security_builder().default_rate(portcullis_runtime::Rate::per_minute(600)).build().await?;
    /// # let _ = security;
    /// # Ok(())
    /// # }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
    /// ```
    pub fn security_builder(&self) -> SecurityBuilder {
        Security::builder().issuer(self.issuer())
    }

    /// A configuration that trusts the kit's tokens, with the default rate
    /// [`TEST_DEFAULT_RATE`] and every other setting at its default.
    ///
    /// ```
    /// # async fn run() -> Result<(), portcullis_runtime::ConfigError> {
    /// # let kit = portcullis_runtime::testing::TestKit::new("https://idp.example.com/", "orders-api");
    /// let security = kit.security().await?;
    /// assert_eq!(security.issuers().collect::<Vec<_>>(), ["https://idp.example.com/"]);
    /// # Ok(())
    /// # }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
    /// ```
    pub async fn security(&self) -> Result<Security, ConfigError> {
        self.security_builder()
            .default_rate(TEST_DEFAULT_RATE)
            .build()
            .await
    }
}
