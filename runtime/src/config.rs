//! The security configuration's builder: issuers and their keys, default rate, realm, the
//! verified-token cache, revocations, audit sinks; checked, then built into a
//! [`Security`].

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::alert::{AlertHandle, AlertPolicy, AlertSink, Alerter};
use crate::audit::{AuditSink, Auditor};
use crate::auth::{
    Authenticator, DiscoveryError, Dpop, DpopConfigError, DpopRules, HttpSettings,
    HttpSettingsError, IntrospectionConfigError, Introspector, Issuer, IssuerRules, KeyError,
    KeySet, KeySource, KeysFrom, LoadingKeys, MAX_LEEWAY, MemoryRevocations, OPENID_CONFIGURATION,
    RemoteKeyError, RevocationStore, Revocations, StaticKeys, TemplateRefusal, TenantTemplate,
    TokenCache, Verifier, check_routes, checked_issuer, checked_jwks_url, expand_tenants, unix_now,
};
use crate::metrics::SecurityMetrics;
use crate::rate::{FailureThrottle, Rate, RateStore, Tiers, TrustedProxies};
use crate::render::{ErrorRenderer, Renderer};
use crate::security::{Security, SecurityInner};

/// The default cap on the size of a bearer token, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The default cap on a request body, in bytes.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// The default number of verified tokens remembered.
pub const DEFAULT_TOKEN_CACHE_CAPACITY: usize = 10_000;

/// The default longest time a verified token is remembered (its expiry comes first if
/// sooner).
pub const DEFAULT_TOKEN_CACHE_MAX_AGE: Duration = Duration::from_secs(300);

/// How long a discovery request may take, unless [`HttpSettings::timeout`] says otherwise.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often expired revocations and idle throttle entries are forgotten.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// The default budget of failed authentications per client IP.
pub const DEFAULT_AUTH_FAILURE_LIMIT: Rate = Rate::per_minute(60);

/// Why a [`Security`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No default rate was given.
    #[error(
        "no default rate: every endpoint is rate limited, so give the builder one, \
         for example `.default_rate(portcullis::rate!(\"600/min\"))`"
    )]
    MissingDefaultRate,
    /// An issuer identifier is empty.
    #[error("an issuer identifier is empty")]
    EmptyIssuer,
    /// Two issuers have the same identifier.
    #[error("the issuer {0:?} is configured twice")]
    DuplicateIssuer(String),
    /// An issuer template ([`Issuer::discover_tenants`]) does not hold `{tenantid}` exactly
    /// once.
    #[error(
        "the issuer template {0:?} must hold `{{tenantid}}` exactly once, where the tenant's \
         id goes: for example \"https://login.microsoftonline.com/{{tenantid}}/v2.0\""
    )]
    InvalidTenantTemplate(String),
    /// An issuer template ([`Issuer::discover_tenants`]) allows no tenant.
    #[error(
        "the issuer template {0:?} allows no tenant: list the ids of the tenants whose tokens \
         are accepted, as in `Issuer::discover_tenants(template, [\"<tenant id>\"])`"
    )]
    NoTenants(String),
    /// A tenant id of an issuer template ([`Issuer::discover_tenants`]) is empty or holds
    /// something else than ASCII letters, digits, `.`, `_` and `-`.
    #[error(
        "the tenant {tenant:?} of the issuer template {template:?} is refused: a tenant id is \
         ASCII letters, digits, '.', '_' and '-' (an Entra ID tenant id is a GUID such as \
         \"6e2f1a9c-4b7d-4c1e-9a35-0d8b2c7e5f41\")"
    )]
    InvalidTenant {
        /// The template.
        template: String,
        /// The tenant id refused.
        tenant: String,
    },
    /// An issuer accepts no audience.
    #[error("the issuer {0:?} has no audience: call `.audience(\"your-api\")` on it")]
    MissingAudience(String),
    /// An issuer has no signing key.
    #[error("the issuer {0:?} has no usable signing key")]
    NoKeys(String),
    /// An issuer has keys from two places.
    #[error(
        "the issuer {0:?} has configured keys and a JWKS URL, discovery or a key provider; \
         give it one source of keys"
    )]
    ConflictingKeySources(String),
    /// A key of an issuer could not be loaded.
    #[error("a key of the issuer {issuer:?} was refused: {source}")]
    Key {
        /// The issuer.
        issuer: String,
        /// What was wrong.
        #[source]
        source: KeyError,
    },
    /// Discovery is refused before any request: the issuer identifier is not a URL, has a
    /// query or a fragment, carries credentials, or is plain `http://` off loopback.
    /// (Discovery that fails on the network or on the document is retried in the
    /// background: see [`Security::readiness`].)
    #[error("discovery for the issuer {issuer:?} failed: {source}")]
    Discovery {
        /// The issuer.
        issuer: String,
        /// What was wrong.
        #[source]
        source: DiscoveryError,
    },
    /// The JWKS URL is refused before any request: it is not a URL, carries credentials,
    /// or is plain `http://` off loopback. (A fetch that fails is retried in the
    /// background: see [`Security::readiness`].)
    #[error("the keys of the issuer {issuer:?} could not be fetched: {source}")]
    Jwks {
        /// The issuer.
        issuer: String,
        /// What was wrong.
        #[source]
        source: RemoteKeyError,
    },
    /// The HTTP settings of an issuer (its own, or the builder's) cannot be used.
    #[error("the HTTP settings of the issuer {issuer:?} are refused: {source}")]
    HttpSettings {
        /// The issuer.
        issuer: String,
        /// What was wrong.
        #[source]
        source: HttpSettingsError,
    },
    /// An issuer's leeway is too long.
    #[error(
        "the issuer {issuer:?} allows {leeway:?} of clock skew; at most {MAX_LEEWAY:?} is allowed"
    )]
    LeewayTooLong {
        /// The issuer.
        issuer: String,
        /// The leeway configured.
        leeway: Duration,
    },
    /// The realm cannot be put in a header.
    #[error("the realm must be visible ASCII without quotes or backslashes")]
    InvalidRealm,
    /// The rate scale is not a positive number.
    #[error("the rate scale must be a positive, finite number")]
    InvalidRateScale,
    /// The DPoP configuration is refused.
    #[error(transparent)]
    Dpop(#[from] DpopConfigError),
    /// An issuer's introspection is refused.
    #[error("the introspection of the issuer {issuer:?} is refused: {source}")]
    Introspection {
        /// The issuer.
        issuer: String,
        /// What was wrong.
        #[source]
        source: IntrospectionConfigError,
    },
    /// The issuers that introspect cannot tell their tokens apart.
    #[error(transparent)]
    IntrospectionRoutes(IntrospectionConfigError),
}

/// Builds a [`Security`]; see [`Security::builder`].
#[must_use]
pub struct SecurityBuilder {
    issuers: Vec<Issuer>,
    default_rate: Option<Rate>,
    rate_scale: f64,
    realm: String,
    max_token_bytes: usize,
    body_limit: usize,
    token_cache_capacity: usize,
    token_cache_max_age: Duration,
    revocations: Option<Arc<dyn RevocationStore>>,
    rate_store: Option<Arc<dyn RateStore>>,
    tiers: Option<Tiers>,
    trusted_proxies: TrustedProxies,
    auth_failure_limit: Option<Rate>,
    alert_policy: AlertPolicy,
    alert_sinks: Vec<Arc<dyn AlertSink>>,
    auditor: Auditor,
    renderer: Renderer,
    error_details: bool,
    http_settings: Option<HttpSettings>,
    dpop: Option<Dpop>,
}

impl SecurityBuilder {
    /// Accepts DPoP-bound access tokens (RFC 9449), each request with a proof checked as
    /// `dpop` says: the public origin its `htu` must name, its algorithms, its window and
    /// where the proofs seen are kept. Without it, DPoP-bound tokens are refused (a bound
    /// token is never accepted without its proof). Bearer tokens are unaffected unless an
    /// issuer requires DPoP ([`Issuer::dpop`]).
    ///
    /// ```
    /// use portcullis_runtime::auth::Dpop;
    /// use portcullis_runtime::Security;
    ///
    /// let builder = Security::builder().dpop(Dpop::new("https://api.example.com"));
    /// ```
    pub fn dpop(mut self, dpop: Dpop) -> Self {
        self.dpop = Some(dpop);
        self
    }

    /// Trusts tokens from `issuer`. Call again for several issuers: each token is checked
    /// against the one its `iss` names, with that issuer's keys and rules only.
    pub fn issuer(mut self, issuer: Issuer) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// The rate of endpoints that declare none. Required.
    pub fn default_rate(mut self, rate: Rate) -> Self {
        self.default_rate = Some(rate);
        self
    }

    /// Multiplies every quota (default and declared) by `factor`: for load tests, or for
    /// an operator to loosen or tighten all limits at once.
    pub fn rate_scale(mut self, factor: f64) -> Self {
        self.rate_scale = factor;
        self
    }

    /// The realm of `WWW-Authenticate` challenges (default `api`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// The largest bearer token accepted, in bytes (default 8 KiB).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// The largest request body accepted by default, in bytes (default 64 KiB).
    /// Endpoints can say otherwise with `body_limit = N`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How many verified tokens are remembered (default 10,000), and for how long at most
    /// (default 5 minutes; a token's expiry comes first if sooner). A capacity of 0
    /// verifies every request's token.
    pub fn token_cache(mut self, capacity: usize, max_age: Duration) -> Self {
        self.token_cache_capacity = capacity;
        self.token_cache_max_age = max_age;
        self
    }

    /// Where revocations are kept (default: in memory, on this instance only).
    pub fn revocations(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.revocations = Some(store);
        self
    }

    /// Where rate limits are counted (default: in this process). A shared store, such as
    /// `portcullis::redis`, makes several instances enforce one combined quota.
    pub fn rate_store(mut self, store: Arc<dyn RateStore>) -> Self {
        self.rate_store = Some(store);
        self
    }

    /// Quota tiers: a claim or scope of the token selects a bigger or smaller quota.
    pub fn tiers(mut self, tiers: Tiers) -> Self {
        self.tiers = Some(tiers);
        self
    }

    /// The proxies whose `Forwarded` / `X-Forwarded-For` headers name the client. Without
    /// them (the default) the socket's peer is the client and those headers are ignored.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// How many failed authentications a client IP may have before it is refused (429)
    /// without its token being verified (default 60 a minute); `None` turns it off.
    pub fn auth_failure_limit(mut self, rate: Option<Rate>) -> Self {
        self.auth_failure_limit = rate;
        self
    }

    /// When alerts are raised (default [`AlertPolicy::default`]).
    pub fn alert_policy(mut self, policy: AlertPolicy) -> Self {
        self.alert_policy = policy;
        self
    }

    /// Sends every alert to `sink` as well as to `tracing` (target `portcullis::alert`).
    pub fn alert_sink(mut self, sink: impl AlertSink) -> Self {
        self.alert_sinks.push(Arc::new(sink));
        self
    }

    /// Sends every audit event to `sink` as well as to `tracing`.
    pub fn audit_sink(mut self, sink: impl AuditSink) -> Self {
        self.auditor.add(Arc::new(sink));
        self
    }

    /// Renders the body of every rejection with `renderer`, in the API's own error format,
    /// instead of RFC 9457 problem details; statuses and Portcullis' header fields stay.
    pub fn error_renderer(mut self, renderer: impl ErrorRenderer) -> Self {
        self.renderer = Renderer::custom(Arc::new(renderer));
        self
    }

    /// For development only: the `error_description` of a 401 names the precise reason
    /// (`expired`, `bad_signature`, `unknown_kid`, ...) instead of a description that is
    /// the same for every forged token. That tells an attacker which check failed, so
    /// building with it warns, and the inventory says it is on.
    pub fn development_error_details(mut self) -> Self {
        self.error_details = true;
        self
    }

    /// How discovery and key fetches reach the identity providers (proxy, extra root
    /// certificates, timeouts), for every issuer that does not have
    /// [its own](Issuer::http_settings). Without it, the defaults of [`HttpSettings`].
    pub fn http_settings(mut self, settings: HttpSettings) -> Self {
        self.http_settings = Some(settings);
        self
    }

    /// Checks the configuration and builds it; then makes a first attempt at discovering
    /// the issuers and fetching their keys.
    ///
    /// It fails only on what no retry can mend: a missing default rate, an invalid realm
    /// or rate scale, an issuer configured twice, without audience, with a leeway over
    /// [`MAX_LEEWAY`], with keys from two sources or none, with a key refused, with an
    /// identifier or a JWKS URL the URL policy refuses (not a URL, credentials in it, plain
    /// `http://` off loopback), or with [`HttpSettings`] that cannot be used; an issuer
    /// template ([`Issuer::discover_tenants`]) without exactly one `{tenantid}`, without
    /// tenants or with a tenant id refused. These are all checked before any request.
    ///
    /// Then the issuers found by [discovery](Issuer::discover) or with a
    /// [JWKS URL](Issuer::jwks_url) are fetched, all at once, and `build` waits for that
    /// first attempt (each request is bounded by its timeout: 10 s for discovery,
    /// [`JwksOptions::fetch_timeout`](crate::auth::JwksOptions::fetch_timeout) for the
    /// JWKS, or [`HttpSettings::timeout`]). Whatever its outcome, the configuration is
    /// built: an issuer whose attempt failed is retried in the background (after 1 s, then
    /// backing off up to 60 s), alerts say why (once for each kind of failure), its tokens
    /// are refused with `503 Service Unavailable` and `Retry-After` until its keys arrive,
    /// and [`Security::readiness`] reports it waiting. Tokens of the other issuers, public
    /// endpoints and requests without a token are served meanwhile. Nothing is fetched for
    /// the tenants of an issuer template: each tenant's keys are fetched on its first token.
    ///
    /// Background tasks (retries, key refreshes, housekeeping) need a tokio runtime and
    /// stop once the last clone of the [`Security`] is dropped.
    pub async fn build(self) -> Result<Security, ConfigError> {
        crate::audit::latency::calibrate();
        let default_rate = self.default_rate.ok_or(ConfigError::MissingDefaultRate)?;
        if !(self.rate_scale.is_finite() && self.rate_scale > 0.0) {
            return Err(ConfigError::InvalidRateScale);
        }
        let realm_ok = !self.realm.is_empty()
            && self
                .realm
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ');
        if !realm_ok {
            return Err(ConfigError::InvalidRealm);
        }
        let dpop = self.dpop.map(DpopRules::new).transpose()?;
        let mut rules: Vec<IssuerRules> = Vec::with_capacity(self.issuers.len());
        let mut loaders: Vec<Arc<LoadingKeys>> = Vec::new();
        // Whether some tenant's keys are fetched: on its first token, not here.
        let mut fetched_on_demand = false;
        let mut expanded = Vec::with_capacity(self.issuers.len());
        for issuer in self.issuers {
            let template = issuer.name().to_owned();
            expanded.extend(expand_tenants(issuer).map_err(|refusal| match refusal {
                TemplateRefusal::Placeholder => ConfigError::InvalidTenantTemplate(template),
                TemplateRefusal::NoTenants => ConfigError::NoTenants(template),
                TemplateRefusal::Tenant(tenant) => ConfigError::InvalidTenant { template, tenant },
            })?);
        }
        // The tenants of one template share one HTTP client (its settings are theirs).
        let mut template_client: Option<(Arc<TenantTemplate>, reqwest::Client)> = None;
        for (issuer, tenant) in expanded {
            if rules.iter().any(|known| known.issuer() == issuer.name()) {
                return Err(ConfigError::DuplicateIssuer(issuer.name().to_owned()));
            }
            let mut client = template_client
                .take()
                .filter(|(template, _)| {
                    tenant
                        .as_ref()
                        .is_some_and(|tenant| Arc::ptr_eq(template, &tenant.template))
                })
                .map(|(_, client)| client);
            let (issuer_rules, loader) =
                resolve_issuer(issuer, self.http_settings.as_ref(), &mut client)?;
            if let Some(tenant) = &tenant {
                template_client = client.map(|client| (tenant.template.clone(), client));
                fetched_on_demand |= loader.is_some();
            } else {
                loaders.extend(loader);
            }
            rules.push(issuer_rules.of_tenant(tenant));
        }
        let routes: Vec<(&str, Option<&str>)> = rules
            .iter()
            .filter_map(|rules| {
                let introspector = rules.introspector()?;
                Some((rules.issuer(), introspector.token_prefix()))
            })
            .collect();
        check_routes(&routes).map_err(ConfigError::IntrospectionRoutes)?;
        let fetched_keys = !loaders.is_empty() || fetched_on_demand;
        let revocations = match self.revocations {
            Some(store) => Revocations::Shared(store),
            None => Revocations::Memory(Arc::new(MemoryRevocations::new())),
        };
        let alerter = Arc::new(Alerter::new(self.alert_policy, self.alert_sinks));
        let alerts = AlertHandle::new(alerter.clone());
        for issuer in &rules {
            issuer.attach_alerts(alerts.clone());
        }
        if let Some(store) = &self.rate_store {
            store.attach_alerts(alerts.clone());
        }
        self.auditor.attach_alerts(&alerts);
        revocations.store().attach_alerts(alerts);
        // No revoked token outlives the longest lifetime an issuer allows (and the leeway).
        let longest_lifetime = rules
            .iter()
            .map(IssuerRules::max_lifetime)
            .try_fold(0u64, |longest, lifetime| lifetime.map(|l| longest.max(l)))
            .filter(|_| !rules.is_empty())
            .map(|longest| Duration::from_secs(longest.saturating_add(MAX_LEEWAY.as_secs())));
        revocations
            .store()
            .attach_longest_lifetime(longest_lifetime);
        let metrics = SecurityMetrics::new();
        let cache = (self.token_cache_capacity > 0).then(|| {
            TokenCache::new(
                self.token_cache_capacity,
                self.token_cache_max_age.as_secs(),
            )
        });
        let authenticator = Authenticator::new(
            Verifier::new(rules, metrics.signature_checks.clone()),
            cache,
            revocations,
            dpop,
            self.max_token_bytes,
            metrics.cache_hits.clone(),
            metrics.cache_misses.clone(),
        );
        let inner = Arc::new(SecurityInner {
            authenticator,
            alerter,
            metrics,
            default_rate: default_rate.scaled(self.rate_scale),
            rate_scale: self.rate_scale,
            realm: Arc::from(self.realm),
            body_limit: self.body_limit,
            rate_store: self.rate_store,
            tiers: self.tiers,
            trusted_proxies: self.trusted_proxies,
            failure_throttle: self.auth_failure_limit.map(FailureThrottle::new),
            auditor: self.auditor,
            renderer: self.renderer,
            error_details: self.error_details,
            fetched_keys,
        });
        if inner.error_details {
            tracing::warn!(
                target: "portcullis",
                "development_error_details is on: 401 responses name the precise reason a \
                 token was refused; never use it in production"
            );
        }
        spawn_housekeeping(Arc::downgrade(&inner));
        // With the alerts attached: one attempt per issuer, all at once. `build` waits for
        // them; retries go on in the background.
        let first_attempts: Vec<_> = loaders.iter().filter_map(LoadingKeys::start).collect();
        drop(loaders);
        for first_attempt in first_attempts {
            let _ = first_attempt.await;
        }
        Ok(Security(inner))
    }
}

/// Checks one issuer, before any request, and sets up where its keys come from and how its
/// opaque tokens are introspected: the rules, and the loader of its keys when they are
/// fetched, with `client` when given (else with a client made here, and left in `client`).
fn resolve_issuer(
    mut issuer: Issuer,
    default_http: Option<&HttpSettings>,
    client: &mut Option<reqwest::Client>,
) -> Result<(IssuerRules, Option<Arc<LoadingKeys>>), ConfigError> {
    let Some(introspection) = issuer.introspection.take() else {
        return resolve_keys(issuer, default_http, client);
    };
    let name = issuer.name().to_owned();
    let refused = |source| ConfigError::Introspection {
        issuer: name.clone(),
        source,
    };
    // An issuer that only introspects has no keys: its JWTs are refused.
    let verifies_jwts =
        !(matches!(issuer.keys_from, KeysFrom::Configured) && issuer.keys.is_empty());
    let discovered = matches!(issuer.keys_from, KeysFrom::Discovery);
    let http = issuer
        .http_settings
        .clone()
        .or_else(|| default_http.cloned())
        .unwrap_or_default();
    let issuer = if verifies_jwts {
        issuer
    } else {
        issuer.key_provider(Arc::new(StaticKeys::new(KeySet::new())))
    };
    let (rules, loader) = resolve_keys(issuer, default_http, client)?;
    let configured = introspection.checked().map_err(refused)?;
    if configured.is_none() && !discovered {
        return Err(refused(IntrospectionConfigError::NoEndpoint));
    }
    let client =
        http.client(introspection.timeout)
            .map_err(|source| ConfigError::HttpSettings {
                issuer: name.clone(),
                source,
            })?;
    let introspector = Introspector::new(
        name.clone(),
        introspection,
        client,
        configured,
        loader.clone().filter(|_| discovered),
    );
    Ok((
        rules.introspected_by(Arc::new(introspector), verifies_jwts),
        loader,
    ))
}

/// Checks one issuer's keys, and sets up where they come from.
fn resolve_keys(
    mut issuer: Issuer,
    default_http: Option<&HttpSettings>,
    client: &mut Option<reqwest::Client>,
) -> Result<(IssuerRules, Option<Arc<LoadingKeys>>), ConfigError> {
    let name = issuer.name().to_owned();
    if name.is_empty() {
        return Err(ConfigError::EmptyIssuer);
    }
    if let Some(error) = issuer.errors.first() {
        return Err(ConfigError::Key {
            issuer: name,
            source: error.clone(),
        });
    }
    if issuer.audiences.is_empty() {
        return Err(ConfigError::MissingAudience(name));
    }
    if issuer.leeway > MAX_LEEWAY {
        return Err(ConfigError::LeewayTooLong {
            issuer: name,
            leeway: issuer.leeway,
        });
    }
    let has_configured_keys = !issuer.keys.is_empty();
    let source = match issuer.keys_from.clone() {
        KeysFrom::Configured if has_configured_keys => {
            let keys = Arc::new(StaticKeys::new(issuer.keys.clone()));
            return Ok((IssuerRules::new(issuer, keys), None));
        }
        KeysFrom::Configured => return Err(ConfigError::NoKeys(name)),
        _ if has_configured_keys => return Err(ConfigError::ConflictingKeySources(name)),
        KeysFrom::Provider(provider) => return Ok((IssuerRules::new(issuer, provider), None)),
        KeysFrom::Url(url) => {
            checked_jwks_url(&url).map_err(|source| ConfigError::Jwks {
                issuer: name.clone(),
                source,
            })?;
            KeySource::JwksUrl(url)
        }
        KeysFrom::Discovery => {
            checked_issuer(&name).map_err(|source| ConfigError::Discovery {
                issuer: name.clone(),
                source,
            })?;
            issuer.discovery_url = Some(format!(
                "{}{OPENID_CONFIGURATION}",
                name.trim_end_matches('/')
            ));
            KeySource::Discovery
        }
    };
    let http = issuer
        .http_settings
        .clone()
        .or_else(|| default_http.cloned())
        .unwrap_or_default();
    let mut options = issuer.jwks_options.clone();
    if let Some(timeout) = http.request_timeout() {
        options.fetch_timeout = timeout;
    }
    let discovery_timeout = http.request_timeout().unwrap_or(DISCOVERY_TIMEOUT);
    let client = match client {
        Some(client) => client.clone(),
        None => client
            .insert(
                http.client(discovery_timeout.max(options.fetch_timeout))
                    .map_err(|source| ConfigError::HttpSettings {
                        issuer: name.clone(),
                        source,
                    })?,
            )
            .clone(),
    };
    let loader = LoadingKeys::new(name, source, client, options, discovery_timeout);
    Ok((IssuerRules::loaded_by(issuer, loader.clone()), Some(loader)))
}

/// Forgets expired revocations every minute, for as long as the configuration lives.
fn spawn_housekeeping(inner: Weak<SecurityInner>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut interval = tokio::time::interval(PURGE_INTERVAL);
        interval.tick().await;
        loop {
            interval.tick().await;
            let Some(inner) = inner.upgrade() else { break };
            if let Revocations::Memory(memory) = inner.authenticator.revocations() {
                memory.purge_expired(unix_now());
            }
            if let Some(throttle) = &inner.failure_throttle {
                throttle.evict_idle();
            }
            inner.alerter.evict_idle();
        }
    });
}

impl Security {
    /// Starts a configuration.
    pub fn builder() -> SecurityBuilder {
        SecurityBuilder {
            issuers: Vec::new(),
            default_rate: None,
            rate_scale: 1.0,
            realm: crate::rejection::DEFAULT_REALM.to_owned(),
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            body_limit: DEFAULT_BODY_LIMIT,
            token_cache_capacity: DEFAULT_TOKEN_CACHE_CAPACITY,
            token_cache_max_age: DEFAULT_TOKEN_CACHE_MAX_AGE,
            revocations: None,
            rate_store: None,
            tiers: None,
            trusted_proxies: TrustedProxies::none(),
            auth_failure_limit: Some(DEFAULT_AUTH_FAILURE_LIMIT),
            alert_policy: AlertPolicy::default(),
            alert_sinks: Vec::new(),
            auditor: Auditor::default(),
            renderer: Renderer::default(),
            error_details: false,
            http_settings: None,
            dpop: None,
        }
    }
}
