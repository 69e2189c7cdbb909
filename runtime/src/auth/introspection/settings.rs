//! How an issuer's opaque tokens are introspected: the endpoint, the resource server's
//! credentials, how its tokens are recognised and how long answers are kept.

use std::time::Duration;

use reqwest::Url;
use secrecy::SecretString;

use crate::auth::fetch::{self, UrlRefusal};

/// The longest an active answer is kept unless configured otherwise (it is never kept past
/// the token's `exp`).
pub const DEFAULT_INTROSPECTION_MAX_AGE: Duration = Duration::from_secs(300);

/// How long an inactive answer is kept unless configured otherwise: the token is refused
/// without asking the endpoint again for that long.
pub const DEFAULT_INACTIVE_CACHE: Duration = Duration::from_secs(10);

/// How long one introspection request may take unless configured otherwise.
pub const DEFAULT_INTROSPECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest introspection answer read, in bytes.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// How the resource server authenticates to the introspection endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuthentication {
    /// HTTP Basic with the form-urlencoded client id and secret (`client_secret_basic`),
    /// the default.
    #[default]
    SecretBasic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    SecretPost,
}

/// The introspection (RFC 7662) of an issuer's opaque access tokens: tokens that are not
/// JWTs are sent to the issuer's introspection endpoint, with the credentials of this
/// resource server, and the answer is held to the same rules as a JWT's claims.
///
/// Give it to [`Issuer::introspection`](crate::Issuer::introspection). The endpoint is the
/// one given to [`endpoint`](Introspection::endpoint), or else the
/// `introspection_endpoint` of the issuer's discovery document
/// ([`Issuer::discover`](crate::Issuer::discover)).
///
/// ```
/// use portcullis_runtime::Issuer;
/// use portcullis_runtime::auth::Introspection;
/// use secrecy::SecretString;
/// use std::time::Duration;
///
/// let secret = SecretString::from(std::env::var("INTROSPECTION_SECRET").unwrap_or_default());
/// let issuer = Issuer::discover("https://sso.example.com/realms/shop")
///     .audience("orders-api")
///     .introspection(
///         Introspection::new("orders-api", secret)
///             .max_age(Duration::from_secs(60)),
///     );
/// ```
#[derive(Clone)]
pub struct Introspection {
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) endpoint: Option<String>,
    pub(crate) authentication: ClientAuthentication,
    pub(crate) token_prefix: Option<String>,
    pub(crate) max_age: Duration,
    pub(crate) inactive_cache: Duration,
    pub(crate) timeout: Duration,
    pub(crate) audience_optional: bool,
}

impl std::fmt::Debug for Introspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspection")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("endpoint", &self.endpoint)
            .field("authentication", &self.authentication)
            .field("token_prefix", &self.token_prefix)
            .field("max_age", &self.max_age)
            .field("inactive_cache", &self.inactive_cache)
            .field("timeout", &self.timeout)
            .field("audience_optional", &self.audience_optional)
            .finish()
    }
}

impl Introspection {
    /// Introspection as the resource server `client_id`, authenticated with
    /// `client_secret` (`client_secret_basic`), at the endpoint discovery finds.
    pub fn new(client_id: impl Into<String>, client_secret: SecretString) -> Introspection {
        Introspection {
            client_id: client_id.into(),
            client_secret,
            endpoint: None,
            authentication: ClientAuthentication::default(),
            token_prefix: None,
            max_age: DEFAULT_INTROSPECTION_MAX_AGE,
            inactive_cache: DEFAULT_INACTIVE_CACHE,
            timeout: DEFAULT_INTROSPECTION_TIMEOUT,
            audience_optional: false,
        }
    }

    /// The introspection endpoint (`https://`, or `http://` on loopback), instead of the
    /// one discovery finds.
    pub fn endpoint(mut self, url: impl Into<String>) -> Introspection {
        self.endpoint = Some(url.into());
        self
    }

    /// Sends the credentials in the form body (`client_secret_post`) instead of HTTP
    /// Basic.
    pub fn client_secret_post(mut self) -> Introspection {
        self.authentication = ClientAuthentication::SecretPost;
        self
    }

    /// How this issuer's opaque tokens are recognised: they start with `prefix` (GitHub's
    /// `ghp_`, for example). Required when several issuers introspect, so that a token is
    /// only ever sent to the one that issued it.
    pub fn token_prefix(mut self, prefix: impl Into<String>) -> Introspection {
        self.token_prefix = Some(prefix.into());
        self
    }

    /// The longest an active answer is kept (default 5 minutes): a token revoked at the
    /// provider is refused at most this long after. Never longer than the token's `exp`.
    pub fn max_age(mut self, max_age: Duration) -> Introspection {
        self.max_age = max_age;
        self
    }

    /// How long an inactive answer is kept (default 10 s): the token is refused without
    /// asking again for that long, so a client retrying a dead token costs the provider
    /// one request. A token that becomes active is accepted once this has passed.
    pub fn inactive_cache(mut self, duration: Duration) -> Introspection {
        self.inactive_cache = duration;
        self
    }

    /// How long one introspection request may take (default 5 s); past it, the request
    /// is refused with 503.
    pub fn timeout(mut self, timeout: Duration) -> Introspection {
        self.timeout = timeout;
        self
    }

    /// Accepts answers without `aud` (some providers leave it out). Without this, such an
    /// answer is refused: a token meant for another API must not pass here.
    pub fn accept_missing_audience(mut self) -> Introspection {
        self.audience_optional = true;
        self
    }
}

impl Introspection {
    /// Checks the configuration when it is built; the endpoint it gives, if any, parsed.
    pub(crate) fn checked(&self) -> Result<Option<Url>, IntrospectionConfigError> {
        if self.client_id.is_empty() {
            return Err(IntrospectionConfigError::EmptyClientId);
        }
        if self.timeout.is_zero() {
            return Err(IntrospectionConfigError::ZeroDuration("timeout"));
        }
        if self.max_age.is_zero() {
            return Err(IntrospectionConfigError::ZeroDuration("maximum age"));
        }
        let Some(endpoint) = &self.endpoint else {
            return Ok(None);
        };
        match fetch::checked_url(endpoint) {
            Ok(url) => Ok(Some(url)),
            Err(UrlRefusal::Invalid(reason)) => Err(IntrospectionConfigError::InvalidEndpoint {
                url: fetch::without_credentials(endpoint),
                reason,
            }),
            Err(UrlRefusal::Insecure) => Err(IntrospectionConfigError::InvalidEndpoint {
                url: endpoint.clone(),
                reason: "it must be https:// (plain http:// only on localhost, 127.0.0.0/8 \
                         or [::1], for development)"
                    .to_owned(),
            }),
        }
    }
}

/// Why an introspection configuration is refused, by
/// [`SecurityBuilder::build`](crate::SecurityBuilder::build).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntrospectionConfigError {
    /// The client id is empty.
    #[error("the introspection client id is empty")]
    EmptyClientId,
    /// Neither an endpoint nor discovery.
    #[error(
        "no introspection endpoint: give one with `Introspection::endpoint(..)`, or find the \
         issuer by discovery (`Issuer::discover`)"
    )]
    NoEndpoint,
    /// The endpoint is not a URL, carries credentials, or is plain `http://` off loopback.
    #[error("the introspection endpoint {url:?} is refused: {reason}")]
    InvalidEndpoint {
        /// The URL, without credentials.
        url: String,
        /// Why.
        reason: String,
    },
    /// The token prefix is empty or holds a character no token has.
    #[error(
        "the token prefix {0:?} is refused: give a non-empty prefix of visible ASCII characters"
    )]
    Prefix(String),
    /// Several issuers introspect, and one of them does not say how its tokens are
    /// recognised.
    #[error(
        "the issuers {0:?} introspect opaque tokens: give each a `token_prefix(..)`, so \
         that a token is only ever sent to the issuer that made it"
    )]
    Ambiguous(Vec<String>),
    /// One issuer's token prefix starts with another's: a token could be either's.
    #[error("the token prefixes {0:?} and {1:?} overlap: a token could belong to either")]
    OverlappingPrefixes(String, String),
    /// A duration is zero.
    #[error("the introspection {0} must be longer than zero")]
    ZeroDuration(&'static str),
}
