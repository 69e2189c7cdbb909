//! The configuration of one token issuer: who it is, which keys it signs with, and the
//! rules its tokens must follow.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretSlice;

use super::Algorithm;
use super::dpop::DpopMode;
use super::http_settings::HttpSettings;
use super::introspection::Introspection;
use super::keys::{KeyError, KeySet};
use super::provider::KeyProvider;
use super::remote::JwksOptions;
use super::roles::RolesClaim;

/// Where an issuer's keys come from.
#[derive(Debug, Clone)]
pub(crate) enum KeysFrom {
    /// The keys given to the builder (JWKS text, PEM, HMAC).
    Configured,
    /// A JWKS URL, fetched from start-up on and refreshed.
    Url(String),
    /// The `jwks_uri` found by discovery.
    Discovery,
    /// A provider of the caller's.
    Provider(Arc<dyn KeyProvider>),
}

/// The longest leeway accepted for clock skew.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// The default leeway for clock skew.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The default maximum token lifetime (`exp - iat`).
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The asymmetric algorithms allowed unless configured otherwise. Each key still verifies
/// only the algorithms of its own type.
pub const DEFAULT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// A trusted token issuer and the rules for its tokens.
///
/// The builder methods never fail; mistakes (a bad JWKS document, a weak secret) are
/// collected and reported by [`SecurityBuilder::build`](crate::SecurityBuilder::build).
///
/// ```
/// use portcullis_runtime::Issuer;
/// use std::time::Duration;
///
/// let jwks = r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
///     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
/// let issuer = Issuer::new("https://idp.example.com/")
///     .audience("orders-api")
///     .jwks_json(jwks)
///     .max_lifetime(Duration::from_secs(3600))
///     .rfc9068();
/// assert_eq!(issuer.name(), "https://idp.example.com/");
/// ```
#[derive(Clone, Debug)]
pub struct Issuer {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) keys: KeySet,
    pub(crate) algorithms: Option<Vec<Algorithm>>,
    pub(crate) leeway: Duration,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) required_type: Option<String>,
    pub(crate) required_claims: Vec<String>,
    pub(crate) errors: Vec<KeyError>,
    pub(crate) token_url: Option<String>,
    pub(crate) discovery_url: Option<String>,
    pub(crate) keys_from: KeysFrom,
    /// The allowed tenants, when `issuer` is a template (see [`Issuer::discover_tenants`]).
    pub(crate) tenants: Option<Vec<String>>,
    pub(crate) jwks_options: JwksOptions,
    pub(crate) http_settings: Option<HttpSettings>,
    pub(crate) roles: RolesClaim,
    pub(crate) dpop: DpopMode,
    pub(crate) introspection: Option<Introspection>,
}

impl Issuer {
    /// An issuer whose tokens carry exactly `issuer` in their `iss` claim.
    pub fn new(issuer: impl Into<String>) -> Issuer {
        Issuer {
            issuer: issuer.into(),
            audiences: Vec::new(),
            keys: KeySet::new(),
            algorithms: None,
            leeway: DEFAULT_LEEWAY,
            max_lifetime: Some(DEFAULT_MAX_LIFETIME),
            required_type: None,
            required_claims: Vec::new(),
            errors: Vec::new(),
            token_url: None,
            discovery_url: None,
            keys_from: KeysFrom::Configured,
            tenants: None,
            jwks_options: JwksOptions::default(),
            http_settings: None,
            roles: RolesClaim::default(),
            dpop: DpopMode::default(),
            introspection: None,
        }
    }

    /// An issuer found by OpenID Connect discovery (or RFC 8414): its
    /// `/.well-known/openid-configuration` is read, its `issuer` must equal `issuer`
    /// exactly, and its `jwks_uri` becomes the source of keys (fetched and kept fresh); its
    /// token endpoint goes into the OpenAPI document.
    ///
    /// # At start-up
    ///
    /// [`SecurityBuilder::build`](crate::SecurityBuilder::build) refuses an identifier that
    /// is not a URL, has a query or a fragment, carries credentials, or is plain `http://`
    /// off loopback. It then makes one attempt at discovery and the first key fetch, and
    /// returns whatever its outcome: when the provider is unreachable, answers an error, a
    /// document that does not parse, names another issuer or has no usable key, the
    /// attempt is retried in the background (after 1 s, then backing off up to 60 s: see
    /// [`key_retry_delay`](super::key_retry_delay)), an
    /// [`IssuerUnavailable`](crate::alert::AlertKind::IssuerUnavailable) alert is raised
    /// once for each kind of failure, and until the keys arrive the tokens of this issuer
    /// are refused with `503 Service Unavailable` and `Retry-After`, and
    /// [`Security::readiness`](crate::Security::readiness) reports it waiting. The token
    /// endpoint appears in the OpenAPI document once discovery succeeded.
    ///
    /// ```
    /// use portcullis_runtime::Issuer;
    ///
    /// let keycloak = Issuer::discover("https://sso.example.com/realms/shop").audience("orders-api");
    /// ```
    pub fn discover(issuer: impl Into<String>) -> Issuer {
        Issuer {
            keys_from: KeysFrom::Discovery,
            ..Issuer::new(issuer)
        }
    }

    /// The tenants of a multi-tenant provider, each an issuer of its own: `template` is the
    /// issuer identifier with `{tenantid}` where the tenant goes (Entra ID's
    /// `https://login.microsoftonline.com/{tenantid}/v2.0`), and `tenants` the tenants whose
    /// tokens are accepted. The list is mandatory: a provider anyone can open a tenant at
    /// must not be trusted for every tenant.
    ///
    /// Each tenant is the issuer `template` names with its id in place of `{tenantid}`,
    /// found by [discovery](Issuer::discover) at that identifier, and every other setting of
    /// this issuer (audience, algorithms, leeway, roles, DPoP, JWKS options, HTTP settings,
    /// a [JWKS URL](Issuer::jwks_url) or [token URL](Issuer::token_url) holding `{tenantid}`
    /// too) applies to each. A token is taken by a tenant when its `iss` is that tenant's
    /// identifier exactly, and it must carry a `tid` claim equal to that tenant's id;
    /// a token whose `iss` fits the template for a tenant not on the list is refused
    /// (`tenant_not_allowed`) without any request to the provider.
    ///
    /// # Keys on the first token
    ///
    /// [`SecurityBuilder::build`](crate::SecurityBuilder::build) fetches nothing for the
    /// tenants. The first token of a tenant starts its discovery and first key fetch and
    /// waits for that attempt (bounded by the discovery and JWKS timeouts; tokens arriving
    /// meanwhile wait for the same attempt); from then on its keys are kept and refreshed
    /// as for any issuer found by discovery, and while its provider fails its tokens are
    /// refused with `503 Service Unavailable` and `Retry-After`, retried in the background
    /// and alerted. A tenant no token has named is
    /// [`NotRequested`](crate::auth::KeyReadiness::NotRequested) in
    /// [`Security::readiness`](crate::Security::readiness), which counts it as ready.
    ///
    /// # At start-up
    ///
    /// `build` refuses a template without exactly one `{tenantid}`, an empty list, a tenant
    /// id that is not ASCII letters, digits, `.`, `_` and `-`, and a tenant's identifier
    /// that another issuer has too; and then each tenant's identifier as
    /// [`discover`](Issuer::discover) does.
    ///
    /// ```
    /// use portcullis_runtime::Issuer;
    ///
    /// let customers = Issuer::discover_tenants(
    ///     "https://login.microsoftonline.com/{tenantid}/v2.0",
    ///     [
    ///         "6e2f1a9c-4b7d-4c1e-9a35-0d8b2c7e5f41",
    ///         "b3d05e72-91c4-4f8a-8e6b-27a1c9f0d3e8",
    ///     ],
    /// )
    /// .audience("api://orders-api");
    /// assert_eq!(customers.name(), "https://login.microsoftonline.com/{tenantid}/v2.0");
    /// ```
    pub fn discover_tenants(
        template: impl Into<String>,
        tenants: impl IntoIterator<Item = impl Into<String>>,
    ) -> Issuer {
        Issuer {
            tenants: Some(tenants.into_iter().map(Into::into).collect()),
            ..Issuer::discover(template)
        }
    }

    /// Takes the keys from a JWKS URL (`https://`, or `http://` on loopback), refreshed in
    /// the background (see [`JwksOptions`]).
    ///
    /// [`SecurityBuilder::build`](crate::SecurityBuilder::build) refuses a URL that does not
    /// parse, carries credentials, or is plain `http://` off loopback. It then fetches the
    /// keys once and returns whatever the outcome: a fetch that fails (no connection, a
    /// timeout, an error status, a document that is not a JWKS or has no usable key) is
    /// retried in the background as for [`discover`](Issuer::discover), and meanwhile the
    /// tokens of this issuer are refused with `503 Service Unavailable`. Once the keys have
    /// arrived they are kept while later refreshes fail.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Issuer {
        self.keys_from = KeysFrom::Url(url.into());
        self
    }

    /// How the JWKS is fetched and refreshed, for [`jwks_url`](Issuer::jwks_url) and
    /// [`discover`](Issuer::discover). These options govern refreshes once the keys have
    /// arrived; until then, attempts follow [`key_retry_delay`](super::key_retry_delay).
    pub fn jwks_options(mut self, options: JwksOptions) -> Issuer {
        self.jwks_options = options;
        self
    }

    /// How discovery and key fetches of this issuer reach the provider (proxy, extra root
    /// certificates, timeouts). It replaces, as a whole, the settings given to
    /// [`SecurityBuilder::http_settings`](crate::SecurityBuilder::http_settings); issuers
    /// whose keys are configured or come from a [`KeyProvider`] make no request and ignore
    /// it.
    pub fn http_settings(mut self, settings: HttpSettings) -> Issuer {
        self.http_settings = Some(settings);
        self
    }

    /// Takes the keys from `provider` (for example an in-process development issuer).
    pub fn key_provider(mut self, provider: Arc<dyn KeyProvider>) -> Issuer {
        self.keys_from = KeysFrom::Provider(provider);
        self
    }

    /// Where this issuer's tokens carry roles (default: the `roles` claim).
    pub fn roles(mut self, roles: RolesClaim) -> Issuer {
        self.roles = roles;
        self
    }

    /// What this issuer's tokens may be as to DPoP (RFC 9449): bound tokens need a proof
    /// and bearer tokens pass ([`DpopMode::Allowed`], the default), every token must be
    /// bound ([`DpopMode::Required`]), or bound tokens are refused ([`DpopMode::Refused`]).
    /// Proofs are checked as [`SecurityBuilder::dpop`](crate::SecurityBuilder::dpop)
    /// configures; without it, bound tokens are refused.
    ///
    /// ```
    /// use portcullis_runtime::Issuer;
    /// use portcullis_runtime::auth::DpopMode;
    ///
    /// let partners = Issuer::discover("https://partners.example.com/")
    ///     .audience("orders-api")
    ///     .dpop(DpopMode::Required);
    /// ```
    pub fn dpop(mut self, mode: DpopMode) -> Issuer {
        self.dpop = mode;
        self
    }

    /// Introspects this issuer's opaque access tokens (RFC 7662): a token that is not a JWT
    /// is sent to the issuer's introspection endpoint, with the resource server's
    /// credentials, and accepted only when the answer says `active: true` and passes the
    /// rules a JWT's claims would (`exp` required, `aud` naming an
    /// [audience](Issuer::audience) of this issuer, `iss` when present equal to this
    /// issuer, the lifetime and leeway). `scope`, `client_id`, `sub`, `jti` and `cnf` are
    /// read as from a JWT; `require_type`, `require_claims` and `rfc9068` apply to JWTs
    /// only.
    ///
    /// An issuer that introspects needs no signing key: without one, its tokens are
    /// introspected and JWTs naming it are refused. When several issuers introspect, each
    /// must say how its tokens are recognised
    /// ([`Introspection::token_prefix`](super::Introspection::token_prefix)), so that a
    /// token is never sent to an endpoint that did not issue it.
    ///
    /// ```
    /// use portcullis_runtime::Issuer;
    /// use portcullis_runtime::auth::Introspection;
    /// use secrecy::SecretString;
    ///
    /// let secret = SecretString::from(std::env::var("INTROSPECTION_SECRET").unwrap_or_default());
    /// let issuer = Issuer::new("https://idp.example.com/")
    ///     .audience("orders-api")
    ///     .introspection(
    ///         Introspection::new("orders-api", secret)
    ///             .endpoint("https://idp.example.com/oauth2/introspect"),
    ///     );
    /// ```
    pub fn introspection(mut self, introspection: Introspection) -> Issuer {
        self.introspection = Some(introspection);
        self
    }

    /// The issuer identifier (the template, for [`discover_tenants`](Issuer::discover_tenants)).
    pub fn name(&self) -> &str {
        &self.issuer
    }

    /// Accepts tokens whose `aud` names `audience` (exactly). Call again to accept several.
    pub fn audience(mut self, audience: impl Into<String>) -> Issuer {
        self.audiences.push(audience.into());
        self
    }

    /// Adds the keys of a JWKS document (RFC 7517).
    pub fn jwks_json(mut self, jwks: &str) -> Issuer {
        match KeySet::from_jwks_json(jwks) {
            Ok(keys) => self.keys.extend(keys),
            Err(error) => self.errors.push(error),
        }
        self
    }

    /// Adds the keys of a [`KeySet`].
    pub fn keys(mut self, keys: KeySet) -> Issuer {
        self.keys.extend(keys);
        self
    }

    /// Adds a public key in PEM, with the `kid` tokens name it by (if they do).
    pub fn pem_key(mut self, kid: Option<&str>, pem: &[u8]) -> Issuer {
        if let Err(error) = self.keys.add_pem(kid, pem) {
            self.errors.push(error);
        }
        self
    }

    /// Adds an HMAC secret (HS256/384/512). A shared secret lets anyone who holds it mint
    /// tokens; prefer asymmetric keys. Secrets shorter than 32 bytes are refused.
    pub fn hmac_secret(mut self, kid: Option<&str>, secret: &SecretSlice<u8>) -> Issuer {
        if let Err(error) = self.keys.add_hmac(kid, secret) {
            self.errors.push(error);
        }
        self
    }

    /// Restricts the algorithms accepted. By default: [`DEFAULT_ALGORITHMS`], plus the HMAC
    /// algorithms when an HMAC secret is configured.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Issuer {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// The clock skew tolerated on `exp`, `nbf` and `iat` (default 30 s, at most 300 s).
    pub fn leeway(mut self, leeway: Duration) -> Issuer {
        self.leeway = leeway;
        self
    }

    /// The longest token lifetime accepted (`exp - iat`, or `exp - now` without `iat`);
    /// default 24 hours.
    pub fn max_lifetime(mut self, lifetime: Duration) -> Issuer {
        self.max_lifetime = Some(lifetime);
        self
    }

    /// Accepts tokens of any lifetime. Long-lived bearer tokens are a liability: only for
    /// issuers you cannot configure otherwise.
    pub fn unbounded_lifetime(mut self) -> Issuer {
        self.max_lifetime = None;
        self
    }

    /// Requires the JOSE header `typ` to be `typ` (compared case-insensitively, with or
    /// without `application/`). Without it, `typ` may be absent, `JWT` or `at+jwt`.
    pub fn require_type(mut self, typ: impl Into<String>) -> Issuer {
        self.required_type = Some(typ.into());
        self
    }

    /// Requires these claims to be present.
    pub fn require_claims<I, S>(mut self, claims: I) -> Issuer
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required_claims
            .extend(claims.into_iter().map(Into::into));
        self
    }

    /// RFC 9068 JWT access tokens: `typ` must be `at+jwt`, and `iss`, `exp`, `aud`, `sub`,
    /// `client_id`, `iat` and `jti` must be present.
    pub fn rfc9068(self) -> Issuer {
        self.require_type("at+jwt").require_claims([
            "iss",
            "exp",
            "aud",
            "sub",
            "client_id",
            "iat",
            "jti",
        ])
    }

    /// The issuer's OAuth 2.0 token endpoint, for the OpenAPI document's client-credentials
    /// flow. Discovery sets it.
    pub fn token_url(mut self, url: impl Into<String>) -> Issuer {
        self.token_url = Some(url.into());
        self
    }

    /// The algorithms this issuer accepts.
    pub(crate) fn allowed_algorithms(&self) -> Vec<Algorithm> {
        match &self.algorithms {
            Some(algorithms) => algorithms.clone(),
            None => {
                let mut algorithms = DEFAULT_ALGORITHMS.to_vec();
                if self.keys.keys().iter().any(|key| key.kind().is_symmetric()) {
                    algorithms.extend([Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]);
                }
                algorithms
            }
        }
    }
}
