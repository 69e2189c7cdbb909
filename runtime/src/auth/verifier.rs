//! Token verification: every rule of RFC 8725 and RFC 9068 that a resource server must
//! apply, in an order that never evaluates claims of an unverified token.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use portcullis_grammar::scope::is_scope_token;
use serde_json::{Map, Value};

use super::Algorithm;
use super::dpop::DpopMode;
use super::introspection::{Introspector, TokenDigest, digest_id, route, token_digest};
use super::jws::CompactJws;
use super::keys::KeySet;
use super::loading::LoadingKeys;
use super::principal::Principal;
use super::provider::{KeyProvider, KeyReadiness};
use super::roles::{RolesClaim, push_words as push_claim_words};
use super::tenants::{Tenant, TenantTemplate};
use super::{AuthFailure, Issuer};
use crate::authz::ScopeRegistry;

/// The rules of one issuer, resolved from its [`Issuer`] configuration.
#[derive(Debug)]
pub(crate) struct IssuerRules {
    issuer: String,
    audiences: Vec<String>,
    keys: Arc<dyn KeyProvider>,
    algorithms: Vec<Algorithm>,
    leeway: u64,
    max_lifetime: Option<u64>,
    required_type: Option<String>,
    required_claims: Vec<String>,
    token_url: Option<String>,
    discovery_url: Option<String>,
    /// The tenant this issuer stands for, when it comes from an issuer template: its keys
    /// are loaded on its first token, and its tokens' `tid` must name it.
    tenant: Option<Tenant>,
    /// The keys being loaded, when they come from a JWKS URL or discovery: the token
    /// endpoint discovery finds is read from it.
    loader: Option<Arc<LoadingKeys>>,
    roles: RolesClaim,
    dpop: DpopMode,
    /// The introspection of the issuer's opaque tokens, when configured.
    introspector: Option<Arc<Introspector>>,
    /// Whether the issuer's JWTs are verified (it has keys, or a source of keys); an issuer
    /// that only introspects has none.
    verifies_jwts: bool,
}

impl IssuerRules {
    /// The rules of `config`, with its keys from `keys`.
    pub(crate) fn new(config: Issuer, keys: Arc<dyn KeyProvider>) -> IssuerRules {
        IssuerRules {
            algorithms: config.allowed_algorithms(),
            issuer: config.issuer,
            audiences: config.audiences,
            keys,
            leeway: config.leeway.as_secs(),
            max_lifetime: config.max_lifetime.map(|lifetime| lifetime.as_secs()),
            required_type: config.required_type,
            required_claims: config.required_claims,
            token_url: config.token_url,
            discovery_url: config.discovery_url,
            tenant: None,
            loader: None,
            roles: config.roles,
            dpop: config.dpop,
            introspector: None,
            verifies_jwts: true,
        }
    }

    /// These rules, with the issuer's opaque tokens introspected by `introspector`; with
    /// `verifies_jwts` false, the issuer has no keys and its JWTs are refused.
    pub(crate) fn introspected_by(
        mut self,
        introspector: Arc<Introspector>,
        verifies_jwts: bool,
    ) -> IssuerRules {
        self.introspector = Some(introspector);
        self.verifies_jwts = verifies_jwts;
        self
    }

    /// The introspection of the issuer's opaque tokens, when configured.
    pub(crate) fn introspector(&self) -> Option<&Arc<Introspector>> {
        self.introspector.as_ref()
    }

    /// The rules of `config`, with its keys loaded (and then refreshed) by `loader`.
    pub(crate) fn loaded_by(config: Issuer, loader: Arc<LoadingKeys>) -> IssuerRules {
        let mut rules = IssuerRules::new(config, loader.clone());
        rules.loader = Some(loader);
        rules
    }

    /// These rules, for `tenant` of an issuer template when given.
    pub(crate) fn of_tenant(mut self, tenant: Option<Tenant>) -> IssuerRules {
        self.tenant = tenant;
        self
    }

    /// The loader of a tenant's keys, which its first token starts.
    fn on_demand(&self) -> Option<&Arc<LoadingKeys>> {
        self.loader.as_ref().filter(|_| self.tenant.is_some())
    }

    /// What the issuer's tokens may be as to DPoP.
    pub(crate) fn dpop_mode(&self) -> DpopMode {
        self.dpop
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Sends the alerts of the key source and of the introspection to `alerts`.
    pub(crate) fn attach_alerts(&self, alerts: crate::alert::AlertHandle) {
        if let Some(introspector) = &self.introspector {
            introspector.attach_alerts(alerts.clone());
        }
        self.keys.attach_alerts(alerts);
    }

    /// Whether `keys` are this issuer's current keys.
    #[inline]
    pub(crate) fn keys_are_current(&self, keys: &Arc<KeySet>) -> bool {
        self.keys.is_current(keys)
    }

    /// The longest a token of this issuer lives, for revocations of all a subject's tokens.
    pub(crate) fn max_lifetime(&self) -> Option<u64> {
        self.max_lifetime
    }

    /// Whether this issuer's keys are available.
    pub(crate) fn readiness(&self) -> KeyReadiness {
        if self.on_demand().is_some_and(|loader| !loader.started()) {
            return KeyReadiness::NotRequested;
        }
        self.keys.readiness()
    }

    /// What the OpenAPI document says about this issuer now: a token endpoint configured,
    /// or else the one discovery found, once it succeeded.
    pub(crate) fn documentation(&self) -> IssuerDocumentation {
        let token_url = self
            .token_url
            .clone()
            .or_else(|| self.loader.as_ref().and_then(|loader| loader.token_url()));
        IssuerDocumentation {
            issuer: self.issuer.clone(),
            token_url,
            discovery_url: self.discovery_url.clone(),
            tenants: self.tenant.as_ref().map(|tenant| tenant.template.clone()),
            dpop: self.dpop,
            jwts: self.verifies_jwts,
            opaque: self.introspector.is_some(),
        }
    }
}

/// What an OpenAPI document says about an issuer.
#[derive(Debug, Clone)]
pub(crate) struct IssuerDocumentation {
    pub(crate) issuer: String,
    pub(crate) token_url: Option<String>,
    pub(crate) discovery_url: Option<String>,
    /// The template this issuer is a tenant of, with the tenants allowed.
    pub(crate) tenants: Option<Arc<TenantTemplate>>,
    pub(crate) dpop: DpopMode,
    /// Whether its JWTs are verified.
    pub(crate) jwts: bool,
    /// Whether its opaque tokens are introspected.
    pub(crate) opaque: bool,
}

/// Verifies bearer tokens against the configured issuers.
#[derive(Debug)]
pub(crate) struct Verifier {
    issuers: Vec<IssuerRules>,
    /// The indexes of the issuers that introspect, with their token prefixes.
    introspecting: Vec<(usize, Option<String>)>,
    /// Signatures checked so far.
    signature_checks: std::sync::atomic::AtomicU64,
    signature_metric: crate::metrics::Counter,
}

/// A verified token.
pub(crate) struct Verified {
    pub(crate) principal: Principal,
    /// The key set that verified it; `None` for an introspected token.
    pub(crate) keys: Option<Arc<KeySet>>,
    /// The issuer's index.
    pub(crate) issuer: usize,
    /// Unix seconds after which a cached copy must be checked again (an introspected
    /// token's answer is kept at most its maximum age), beyond the token's `exp`.
    pub(crate) recheck_at: Option<u64>,
}

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> u64 {
    unix_seconds(SystemTime::now())
}

/// Seconds since the Unix epoch at `time` (0 before it).
pub(crate) fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl Verifier {
    pub(crate) fn new(
        issuers: Vec<IssuerRules>,
        signature_metric: crate::metrics::Counter,
    ) -> Verifier {
        let introspecting = issuers
            .iter()
            .enumerate()
            .filter_map(|(index, rules)| {
                let introspector = rules.introspector.as_ref()?;
                Some((index, introspector.token_prefix().map(str::to_owned)))
            })
            .collect();
        Verifier {
            issuers,
            introspecting,
            signature_checks: std::sync::atomic::AtomicU64::new(0),
            signature_metric,
        }
    }

    /// How many signatures were checked.
    pub(crate) fn signature_checks(&self) -> u64 {
        self.signature_checks
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn issuers(&self) -> &[IssuerRules] {
        &self.issuers
    }

    /// Whether some issuer introspects opaque tokens.
    pub(crate) fn introspects(&self) -> bool {
        !self.introspecting.is_empty()
    }

    /// The index of the issuer whose introspection endpoint `token` goes to, if any.
    pub(crate) fn introspecting_issuer(&self, token: &str) -> Option<usize> {
        if self.introspecting.is_empty() {
            return None;
        }
        route(
            token,
            self.introspecting
                .iter()
                .map(|(index, prefix)| (*index, prefix.as_deref())),
        )
    }

    /// Verifies `token` at time `now` (Unix seconds). Scopes are mapped onto `registry`.
    ///
    /// When the token names a key the issuer does not publish (yet), the issuer's keys are
    /// refreshed (at most once per cooldown) and the same token tried again, so the first
    /// request after a key rotation succeeds. When the issuer's keys have not arrived at
    /// all (its provider has been unreachable since start-up), the token is refused with
    /// [`AuthFailure::KeysUnavailable`] once its header has been checked. The first token of
    /// a tenant of an issuer template starts the fetch of that tenant's keys and waits for
    /// its first attempt; a token whose `iss` fits a template for a tenant not on its list
    /// is refused before anything is fetched.
    pub(crate) async fn verify(
        &self,
        token: &str,
        registry: Option<&ScopeRegistry>,
        now: u64,
    ) -> Result<Verified, AuthFailure> {
        if let Some(index) = self.introspecting_issuer(token) {
            return self.introspect(index, token, registry, now).await;
        }
        let jws = CompactJws::parse(token)?;
        let alg = jws.algorithm()?;

        // The issuer is read before the signature is checked only to pick its keys and
        // rules; it is compared exactly, and trusted only once the signature holds.
        let iss = string_claim(&jws.claims, "iss")?.ok_or(AuthFailure::MissingClaim("iss"))?;
        let (index, rules) = self
            .issuers
            .iter()
            .enumerate()
            .find(|(_, rules)| rules.issuer == iss)
            .filter(|(_, rules)| rules.verifies_jwts)
            .ok_or_else(|| self.unknown_issuer(iss))?;
        if !rules.algorithms.contains(&alg) {
            return Err(AuthFailure::AlgorithmNotAllowed);
        }
        check_type(jws.header.typ.as_deref(), rules.required_type.as_deref())?;
        let kid = jws.header.kid.as_deref();
        let mut keys = rules.keys.current();
        if keys.is_empty()
            && let Some(loader) = rules.on_demand()
        {
            // A tenant's first tokens: its keys are fetched now, once for all the tokens
            // that wait for them (at once when that first attempt is over).
            loader.first_attempt_on_demand().await;
            keys = rules.keys.current();
        }
        if keys.is_empty()
            && let KeyReadiness::Waiting { retry_in, .. } = rules.keys.readiness()
        {
            return Err(AuthFailure::KeysUnavailable {
                retry_after: retry_in,
            });
        }
        if let Some(kid) = kid
            && matches!(
                keys.select(Some(kid), alg),
                Err(AuthFailure::UnknownKey | AuthFailure::NoKeys)
            )
        {
            keys = rules.keys.refresh_for_unknown_kid(kid).await;
        }
        let key = keys.select(kid, alg)?;
        self.signature_checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.signature_metric.increment(1);
        if !key.verify(jws.signing_input.as_bytes(), jws.signature, alg) {
            return Err(AuthFailure::BadSignature);
        }

        let claims = &jws.claims;
        for claim in &rules.required_claims {
            if !claims.contains_key(claim) {
                return Err(AuthFailure::MissingClaim(static_claim_name(claim)));
            }
        }
        if let Some(tenant) = &rules.tenant {
            check_tenant(claims, &tenant.id)?;
        }
        let times = check_times(claims, rules, now)?;
        check_audience(claims, &rules.audiences)?;
        let principal = principal(jws.claims, rules, registry, times, None)?;
        Ok(Verified {
            principal,
            keys: Some(keys),
            issuer: index,
            recheck_at: None,
        })
    }

    /// Asks the introspection endpoint of issuer `index` about the opaque `token`, and
    /// holds an active answer to the issuer's rules.
    async fn introspect(
        &self,
        index: usize,
        token: &str,
        registry: Option<&ScopeRegistry>,
        now: u64,
    ) -> Result<Verified, AuthFailure> {
        let rules = self.issuers.get(index).ok_or(AuthFailure::Malformed)?;
        let introspector = rules.introspector.as_ref().ok_or(AuthFailure::Malformed)?;
        let digest = token_digest(token);
        let claims = introspector.introspect(token, &digest).await?;
        let audience_optional = introspector.config().audience_optional;
        let principal = introspected(claims, rules, registry, now, audience_optional, &digest)?;
        let max_age = introspector.config().max_age.as_secs();
        Ok(Verified {
            principal,
            keys: None,
            issuer: index,
            recheck_at: Some(now.saturating_add(max_age)),
        })
    }
}

impl Verifier {
    /// Why no issuer takes a token whose `iss` is `iss`: it fits an issuer template for a
    /// tenant not on its list, or it names no issuer at all.
    fn unknown_issuer(&self, iss: &str) -> AuthFailure {
        let templated = self
            .issuers
            .iter()
            .filter_map(|rules| rules.tenant.as_ref())
            .any(|tenant| tenant.template.fits(iss));
        if templated {
            AuthFailure::TenantNotAllowed
        } else {
            AuthFailure::UnknownIssuer
        }
    }
}

/// The token of a tenant's issuer must say it is that tenant's, in `tid`.
fn check_tenant(claims: &Map<String, Value>, tenant: &str) -> Result<(), AuthFailure> {
    let tid = string_claim(claims, "tid")?.ok_or(AuthFailure::MissingClaim("tid"))?;
    if tid == tenant {
        Ok(())
    } else {
        Err(AuthFailure::TenantMismatch)
    }
}

/// The principal of an active introspection answer (its members as `claims`), held to the
/// rules of `rules`' JWTs: `iss`, when present, names this issuer; `exp` is required and
/// the times are checked; `aud` names an audience (or is absent, when `audience_optional`);
/// a `token_type` or `token_use` says it is an access token. A token without `jti` is known
/// to revocations by its digest.
pub(crate) fn introspected(
    mut claims: Map<String, Value>,
    rules: &IssuerRules,
    registry: Option<&ScopeRegistry>,
    now: u64,
    audience_optional: bool,
    digest: &TokenDigest,
) -> Result<Principal, AuthFailure> {
    match string_claim(&claims, "iss")? {
        None => {
            claims.insert("iss".to_owned(), Value::String(rules.issuer.clone()));
        }
        Some(iss) if iss == rules.issuer => {}
        Some(_) => return Err(AuthFailure::UnknownIssuer),
    }
    // RFC 7662's `token_type` (RFC 6749 §7.1 types), and the `token_use` some providers add:
    // a refresh token is never an access token.
    if let Some(token_type) = string_claim(&claims, "token_type")?
        && !["bearer", "dpop"]
            .iter()
            .any(|accepted| token_type.eq_ignore_ascii_case(accepted))
    {
        return Err(AuthFailure::WrongType);
    }
    if let Some(token_use) = string_claim(&claims, "token_use")?
        && token_use != "access_token"
    {
        return Err(AuthFailure::WrongType);
    }
    let times = check_times(&claims, rules, now)?;
    if !audience_optional || claims.contains_key("aud") {
        check_audience(&claims, &rules.audiences)?;
    }
    let fallback_id = token_id(&claims)?.is_none().then(|| digest_id(digest));
    principal(claims, rules, registry, times, fallback_id)
}

/// The principal of verified `claims`; `fallback_id` is the token id when they have no
/// `jti` (an opaque token's digest).
fn principal(
    claims: Map<String, Value>,
    rules: &IssuerRules,
    registry: Option<&ScopeRegistry>,
    times: Times,
    fallback_id: Option<String>,
) -> Result<Principal, AuthFailure> {
    let issuer = string_claim(&claims, "iss")?.unwrap_or_default().to_owned();
    let subject = string_claim(&claims, "sub")?.map(str::to_owned);
    // RFC 9068's `client_id`, else OIDC's `azp`, else the names Okta (`cid`) and Entra ID
    // v1 tokens (`appid`) give the client, else the subject.
    let mut client_id = None;
    for claim in ["client_id", "azp", "cid", "appid"] {
        if let Some(client) = string_claim(&claims, claim)? {
            client_id = Some(client.to_owned());
            break;
        }
    }
    let client_id = client_id.or_else(|| subject.clone());
    let token_id = token_id(&claims)?.map(str::to_owned).or(fallback_id);

    // `scope` (RFC 9068, space-delimited), `scp` (Entra ID, Okta), `permissions` (Auth0).
    let mut scopes = Vec::new();
    for claim in ["scope", "scp", "permissions"] {
        if let Some(value) = claims.get(claim) {
            push_words(value, claim, &mut scopes)?;
        }
    }
    scopes.sort_unstable();
    scopes.dedup();
    let scope_set = registry
        .map(|registry| registry.set_of(scopes.iter().map(String::as_str)))
        .unwrap_or_default();

    let mut roles = Vec::new();
    rules
        .roles
        .read(&claims, &mut roles)
        .map_err(|()| AuthFailure::MalformedClaim("roles"))?;

    let mut builder = Principal::builder(issuer)
        .scopes(scopes)
        .scope_set(scope_set)
        .roles(roles)
        .times(times.issued_at, times.expires_at);
    if let Some(subject) = subject {
        builder = builder.subject(subject);
    }
    if let Some(client_id) = client_id {
        builder = builder.client_id(client_id);
    }
    if let Some(token_id) = token_id {
        builder = builder.token_id(token_id);
    }
    let binding = confirmation(&claims)?;
    if let Some(jkt) = binding.jkt {
        builder = builder.dpop_thumbprint(jkt);
    }
    if let Some(x5t) = binding.x5t {
        builder = builder.certificate_thumbprint(x5t);
    }
    Ok(builder.claims(claims).build())
}

/// What a token is bound to (`cnf`, RFC 7800).
#[derive(Default)]
struct Binding<'c> {
    /// A DPoP key's thumbprint (`jkt`, RFC 9449).
    jkt: Option<&'c str>,
    /// A client certificate's SHA-256 thumbprint (`x5t#S256`, RFC 8705).
    x5t: Option<&'c str>,
}

/// The key or certificate a token is bound to (`cnf`, RFC 7800): `jkt` (DPoP, RFC 9449)
/// and `x5t#S256` (mutual TLS, RFC 8705). Any other confirmation method (an embedded key,
/// a key id) is one Portcullis cannot check, and a token it cannot hold to its binding is
/// refused: accepted as a bearer token, it would work for whoever stole it.
fn confirmation(claims: &Map<String, Value>) -> Result<Binding<'_>, AuthFailure> {
    let Some(cnf) = claims.get("cnf") else {
        return Ok(Binding::default());
    };
    let Value::Object(cnf) = cnf else {
        return Err(AuthFailure::MalformedClaim("cnf"));
    };
    if cnf.is_empty()
        || cnf
            .keys()
            .any(|method| method != "jkt" && method != "x5t#S256")
    {
        return Err(AuthFailure::UnsupportedConfirmation);
    }
    let thumbprint = |name: &str| match cnf.get(name) {
        None => Ok(None),
        Some(Value::String(text)) if is_sha256_thumbprint(text) => Ok(Some(text.as_str())),
        Some(_) => Err(AuthFailure::MalformedClaim("cnf")),
    };
    Ok(Binding {
        jkt: thumbprint("jkt")?,
        x5t: thumbprint("x5t#S256")?,
    })
}

/// Whether `text` is the base64url (unpadded) form of a SHA-256 digest: 43 characters.
fn is_sha256_thumbprint(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

struct Times {
    issued_at: Option<u64>,
    expires_at: u64,
}

fn check_times(
    claims: &Map<String, Value>,
    rules: &IssuerRules,
    now: u64,
) -> Result<Times, AuthFailure> {
    let leeway = rules.leeway;
    let expires_at = numeric_date(claims, "exp")?.ok_or(AuthFailure::MissingClaim("exp"))?;
    if now >= expires_at.saturating_add(leeway) {
        return Err(AuthFailure::Expired);
    }
    if let Some(not_before) = numeric_date(claims, "nbf")?
        && now.saturating_add(leeway) < not_before
    {
        return Err(AuthFailure::NotYetValid);
    }
    let issued_at = numeric_date(claims, "iat")?;
    if let Some(issued_at) = issued_at {
        if issued_at > now.saturating_add(leeway) {
            return Err(AuthFailure::IssuedInFuture);
        }
        if issued_at > expires_at {
            return Err(AuthFailure::MalformedClaim("iat"));
        }
    }
    if let Some(max_lifetime) = rules.max_lifetime {
        let start = issued_at.unwrap_or(now);
        if expires_at.saturating_sub(start) > max_lifetime.saturating_add(leeway) {
            return Err(AuthFailure::LifetimeTooLong);
        }
    }
    Ok(Times {
        issued_at,
        expires_at,
    })
}

fn check_audience(claims: &Map<String, Value>, audiences: &[String]) -> Result<(), AuthFailure> {
    let accepted = |candidate: &str| audiences.iter().any(|audience| audience == candidate);
    match claims.get("aud") {
        None => Err(AuthFailure::MissingClaim("aud")),
        Some(Value::String(audience)) if accepted(audience) => Ok(()),
        Some(Value::String(_)) => Err(AuthFailure::WrongAudience),
        Some(Value::Array(list)) => {
            let mut found = false;
            for item in list {
                match item {
                    Value::String(audience) => found |= accepted(audience),
                    _ => return Err(AuthFailure::MalformedClaim("aud")),
                }
            }
            if found {
                Ok(())
            } else {
                Err(AuthFailure::WrongAudience)
            }
        }
        Some(_) => Err(AuthFailure::MalformedClaim("aud")),
    }
}

/// RFC 8725 §3.11 explicit typing: a token typed as something else (an ID token, a
/// logout token, a DPoP proof) is never an access token.
fn check_type(typ: Option<&str>, required: Option<&str>) -> Result<(), AuthFailure> {
    fn media_type(typ: &str) -> &str {
        let lower_prefix = typ
            .get(..12)
            .is_some_and(|p| p.eq_ignore_ascii_case("application/"));
        if lower_prefix { &typ[12..] } else { typ }
    }
    let found = typ.map(media_type);
    let ok = match (found, required) {
        (Some(found), Some(required)) => found.eq_ignore_ascii_case(media_type(required)),
        (None, Some(_)) => false,
        (None, None) => true,
        (Some(found), None) => {
            found.eq_ignore_ascii_case("jwt") || found.eq_ignore_ascii_case("at+jwt")
        }
    };
    if ok {
        Ok(())
    } else {
        Err(AuthFailure::WrongType)
    }
}

/// The token's id: its `jti`, unless empty. An empty id would name every token that has
/// one, so a token with `jti: ""` is taken as having none (an opaque token is then known
/// by its digest).
fn token_id(claims: &Map<String, Value>) -> Result<Option<&str>, AuthFailure> {
    Ok(string_claim(claims, "jti")?.filter(|id| !id.is_empty()))
}

fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, AuthFailure> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(AuthFailure::MalformedClaim(name)),
    }
}

/// A NumericDate (RFC 7519 §2): a non-negative number of seconds, fractions truncated.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<u64>, AuthFailure> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => number
            .as_u64()
            .or_else(|| {
                number
                    .as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or(AuthFailure::MalformedClaim(name)),
        Some(_) => Err(AuthFailure::MalformedClaim(name)),
    }
}

/// Appends the words of a space-delimited string or the strings of an array.
fn push_words(
    value: &Value,
    claim: &'static str,
    out: &mut Vec<String>,
) -> Result<(), AuthFailure> {
    let mut words = Vec::new();
    push_claim_words(value, &mut words).map_err(|()| AuthFailure::MalformedClaim(claim))?;
    // A granted scope is an RFC 6749 scope-token, as every declared one is: an array
    // element such as "a b" or "" grants nothing (it is no scope, and never two).
    out.extend(words.into_iter().filter(|word| is_scope_token(word)));
    Ok(())
}

/// Audit reasons carry `&'static str` claim names: the registered ones by name, any other
/// configured claim as "other".
fn static_claim_name(claim: &str) -> &'static str {
    const KNOWN: [&str; 14] = [
        "iss",
        "sub",
        "aud",
        "exp",
        "nbf",
        "iat",
        "jti",
        "client_id",
        "azp",
        "cid",
        "appid",
        "scope",
        "auth_time",
        "tid",
    ];
    KNOWN
        .iter()
        .copied()
        .find(|known| *known == claim)
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `introspection_answer` fuzz target: an active answer with `jti: ""`
    /// gave its principal the empty token id, which names no token in particular.
    #[test]
    fn an_empty_jti_is_no_token_id() {
        let rules = IssuerRules::new(
            crate::Issuer::new("https://issuer.test/").audience("orders-api"),
            Arc::new(crate::auth::StaticKeys::new(crate::auth::KeySet::new())),
        );
        let answer = |jti: &str| {
            let claims = serde_json::json!({
                "active": true, "sub": "partner", "aud": "orders-api",
                "exp": 2_000, "iat": 1_000, "jti": jti,
            });
            let Value::Object(claims) = claims else {
                unreachable!("an object")
            };
            introspected(claims, &rules, None, 1_500, false, &[7; 32]).unwrap()
        };
        assert_eq!(
            answer("").token_id(),
            Some(digest_id(&[7; 32]).as_str()),
            "an opaque token with an empty jti is known by its digest"
        );
        assert_eq!(answer("t-1").token_id(), Some("t-1"));
        let mut claims = Map::new();
        claims.insert("jti".to_owned(), Value::String(String::new()));
        assert_eq!(token_id(&claims), Ok(None));
    }

    /// Found by the `bearer_and_jws` fuzz target: an `scp` element with a space was
    /// granted as one scope holding a space.
    #[test]
    fn only_scope_tokens_are_granted() {
        let mut scopes = Vec::new();
        let scp = serde_json::json!(["orders:read", "order(s:wre ite", "", "caf\u{e9}", "a\"b"]);
        push_words(&scp, "scp", &mut scopes).unwrap();
        assert_eq!(scopes, ["orders:read"]);
        let scope = serde_json::json!("orders:read  orders:write\tx");
        push_words(&scope, "scope", &mut scopes).unwrap();
        assert_eq!(scopes, ["orders:read", "orders:read"]);
        assert!(is_scope_token("!#[]~"));
        assert!(!is_scope_token("a\\b"));
    }

    #[test]
    fn explicit_typing() {
        assert!(check_type(None, None).is_ok());
        assert!(check_type(Some("JWT"), None).is_ok());
        assert!(check_type(Some("application/AT+JWT"), None).is_ok());
        assert_eq!(
            check_type(Some("id_token+jwt"), None),
            Err(AuthFailure::WrongType)
        );
        assert_eq!(
            check_type(Some("dpop+jwt"), None),
            Err(AuthFailure::WrongType)
        );
        assert!(check_type(Some("at+jwt"), Some("at+jwt")).is_ok());
        assert!(check_type(Some("application/at+jwt"), Some("at+jwt")).is_ok());
        assert_eq!(
            check_type(Some("JWT"), Some("at+jwt")),
            Err(AuthFailure::WrongType)
        );
        assert_eq!(
            check_type(None, Some("at+jwt")),
            Err(AuthFailure::WrongType)
        );
    }

    #[test]
    fn audiences_compare_exactly() {
        let audiences = vec!["orders-api".to_owned()];
        let claims = |aud: Value| {
            let mut map = Map::new();
            map.insert("aud".into(), aud);
            map
        };
        assert!(check_audience(&claims("orders-api".into()), &audiences).is_ok());
        assert!(
            check_audience(&claims(serde_json::json!(["x", "orders-api"])), &audiences).is_ok()
        );
        for wrong in ["orders-api2", "orders", "ORDERS-API", " orders-api", ""] {
            assert_eq!(
                check_audience(&claims(wrong.into()), &audiences),
                Err(AuthFailure::WrongAudience),
                "{wrong}"
            );
        }
        assert_eq!(
            check_audience(&claims(serde_json::json!([])), &audiences),
            Err(AuthFailure::WrongAudience)
        );
        assert_eq!(
            check_audience(&claims(serde_json::json!(["orders-api", 1])), &audiences),
            Err(AuthFailure::MalformedClaim("aud"))
        );
        assert_eq!(
            check_audience(&Map::new(), &audiences),
            Err(AuthFailure::MissingClaim("aud"))
        );
    }

    #[test]
    fn numeric_dates() {
        let mut claims = Map::new();
        claims.insert("a".into(), serde_json::json!(10));
        claims.insert("b".into(), serde_json::json!(10.9));
        claims.insert("c".into(), serde_json::json!(-1));
        claims.insert("d".into(), serde_json::json!("10"));
        assert_eq!(numeric_date(&claims, "a"), Ok(Some(10)));
        assert_eq!(numeric_date(&claims, "b"), Ok(Some(10)));
        assert_eq!(
            numeric_date(&claims, "c"),
            Err(AuthFailure::MalformedClaim("c"))
        );
        assert_eq!(
            numeric_date(&claims, "d"),
            Err(AuthFailure::MalformedClaim("d"))
        );
        assert_eq!(numeric_date(&claims, "e"), Ok(None));
    }
}
