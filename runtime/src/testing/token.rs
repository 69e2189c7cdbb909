//! Tokens and principals of a [`TestKit`]: one description of a caller, signed as an
//! RFC 9068 access token or built as the [`Principal`] such a token verifies to.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

use portcullis_grammar::scope::is_scope_token;
use serde_json::{Map, Value};

use super::{TestError, TestKit};
use crate::RolesClaim;
use crate::auth::{Principal, unix_now};
use crate::dev::DevIssuer;

/// The subject (`sub`) of the kit's tokens and principals unless set.
pub const DEFAULT_SUBJECT: &str = "test-user";

/// The client id (`client_id`) of the kit's tokens and principals unless set.
pub const DEFAULT_CLIENT_ID: &str = "test-client";

/// How long the kit's tokens are valid unless set: 10 minutes.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);

/// A caller, described once for a token and for a principal.
#[derive(Debug, Clone)]
struct Caller {
    issuer: String,
    audience: String,
    subject: String,
    client_id: String,
    scopes: Vec<String>,
    roles: Vec<String>,
    lifetime: Duration,
    extra: Map<String, Value>,
}

impl Caller {
    fn new(kit: &TestKit) -> Caller {
        Caller {
            issuer: kit.issuer_id().to_owned(),
            audience: kit.audience().to_owned(),
            subject: DEFAULT_SUBJECT.to_owned(),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            scopes: Vec::new(),
            roles: Vec::new(),
            lifetime: DEFAULT_LIFETIME,
            extra: Map::new(),
        }
    }

    /// The claims of an access token issued at `now`: `iss`, `sub`, `aud`, `client_id`,
    /// `iat`, `exp`, `jti`, then `scope` and `roles` when there are any, then the extra
    /// claims, which replace standard ones of the same name.
    fn claims(self, now: u64) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("iss".into(), self.issuer.into());
        claims.insert("sub".into(), self.subject.into());
        claims.insert("aud".into(), self.audience.into());
        claims.insert("client_id".into(), self.client_id.into());
        claims.insert("iat".into(), now.into());
        claims.insert(
            "exp".into(),
            now.saturating_add(self.lifetime.as_secs()).into(),
        );
        claims.insert("jti".into(), token_id().into());
        if !self.scopes.is_empty() {
            claims.insert("scope".into(), self.scopes.join(" ").into());
        }
        if !self.roles.is_empty() {
            claims.insert("roles".into(), self.roles.into());
        }
        claims.extend(self.extra);
        claims
    }
}

/// A token id unlikely to repeat: 128 bits from std's OS-seeded hash keys. It needs no
/// secrecy; a test token's `jti` only has to be distinct, as a real one would be.
fn token_id() -> String {
    let (a, b) = (RandomState::new(), RandomState::new());
    format!("{:016x}{:016x}", a.hash_one(0u8), b.hash_one(1u8))
}

/// The setters [`TestToken`] and [`TestPrincipal`] share.
macro_rules! caller_setters {
    () => {
        /// The subject, `sub` (default [`DEFAULT_SUBJECT`]).
        pub fn subject(mut self, subject: impl Into<String>) -> Self {
            self.caller.subject = subject.into();
            self
        }

        /// The client the token is issued to, `client_id` (default [`DEFAULT_CLIENT_ID`]).
        pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
            self.caller.client_id = client_id.into();
            self
        }

        /// The granted scopes, in `scope` (space-delimited). None by default.
        pub fn scopes<I, S>(mut self, scopes: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.caller.scopes = scopes.into_iter().map(Into::into).collect();
            self
        }

        /// The roles, in a `roles` claim: where an [`Issuer`](crate::Issuer) reads them
        /// unless configured otherwise. None by default.
        pub fn roles<I, S>(mut self, roles: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.caller.roles = roles.into_iter().map(Into::into).collect();
            self
        }

        /// Any other claim, such as `claim("tenant", "acme")` or
        /// `claim("realm_access", json!({"roles": ["admin"]}))`. It replaces a standard
        /// claim of the same name.
        pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
            self.caller.extra.insert(name.into(), value.into());
            self
        }

        /// How long from now the token is valid, `exp - iat` (default
        /// [`DEFAULT_LIFETIME`]).
        pub fn lifetime(mut self, lifetime: Duration) -> Self {
            self.caller.lifetime = lifetime;
            self
        }
    };
}

/// An access token being described; see [`TestKit::token`].
///
/// The token is an RFC 9068 access token signed with ES256 by the kit's key: header
/// `typ: at+jwt` and the key's `kid`; claims `iss` and `aud` (the kit's), `sub`,
/// `client_id`, `iat` (now), `exp`, a fresh `jti`, `scope` and `roles` when set, and
/// the claims added with [`claim`](TestToken::claim).
///
/// ```
/// use portcullis_runtime::testing::TestKit;
///
/// let kit = TestKit::new("https://idp.example.com/", "orders-api");
/// let token = kit
///     .token()
///     .subject("alice")
///     .scopes(["orders:read", "orders:write"])
///     .roles(["admin"])
///     .claim("tenant", "acme")
///     .sign();
/// assert_eq!(token.split('.').count(), 3);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a token is made by `sign`"]
pub struct TestToken {
    issuer: DevIssuer,
    caller: Caller,
}

impl TestToken {
    pub(super) fn new(kit: &TestKit) -> TestToken {
        TestToken {
            issuer: kit.dev.clone(),
            caller: Caller::new(kit),
        }
    }

    caller_setters!();

    /// The signed token, in compact form: what goes after `Bearer `.
    ///
    /// # Panics
    ///
    /// If the token cannot be signed, which an in-memory key and JSON claims do not
    /// cause; [`try_sign`](TestToken::try_sign) returns the error instead.
    pub fn sign(self) -> String {
        match self.try_sign() {
            Ok(token) => token,
            Err(error) => panic!("the test kit could not sign a token: {error}"),
        }
    }

    /// The signed token, or why it could not be signed.
    pub fn try_sign(self) -> Result<String, TestError> {
        let claims = Value::Object(self.caller.claims(unix_now()));
        self.issuer
            .try_sign_claims(Some("at+jwt"), &claims)
            .map_err(|_| TestError::Signing)
    }
}

/// A [`Principal`] being described, for calling a handler directly; see
/// [`TestKit::principal`].
///
/// The principal is the one the kit's token with the same settings verifies to: same
/// issuer, subject, client id, scopes (sorted, without repeats), roles, token id, times
/// and claims. The only difference is its [scope bit set](Principal::scope_set), which
/// is empty: the router fills it from the API's declared scopes to check an endpoint's
/// requirements, and a handler called directly never has its requirements checked.
/// Handlers test scopes with [`Principal::has_scope`], which reads the names.
///
/// ```
/// use portcullis_runtime::testing::TestKit;
///
/// let kit = TestKit::new("https://idp.example.com/", "orders-api");
/// let alice = kit
///     .principal()
///     .subject("alice")
///     .scopes(["orders:read"])
///     .roles(["admin"])
///     .claim("tenant", "acme")
///     .build();
/// assert_eq!(alice.subject(), Some("alice"));
/// assert!(alice.has_scope("orders:read") && alice.has_role("admin"));
/// assert_eq!(alice.claim("tenant").and_then(|t| t.as_str()), Some("acme"));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a principal is made by `build`"]
pub struct TestPrincipal {
    caller: Caller,
}

impl TestPrincipal {
    pub(super) fn new(kit: &TestKit) -> TestPrincipal {
        TestPrincipal {
            caller: Caller::new(kit),
        }
    }

    caller_setters!();

    /// The principal.
    pub fn build(self) -> Principal {
        principal_of(self.caller.claims(unix_now()))
    }
}

/// The principal a verifier makes of `claims` with the default rules: the issuer, the
/// subject, the client (`client_id`, else `azp`, else `sub`), the token id, the scopes
/// of `scope`, `scp` and `permissions`, the roles of the `roles` claim, the times. A claim
/// of the wrong type counts as absent (a verifier would refuse the token).
fn principal_of(claims: Map<String, Value>) -> Principal {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let mut builder = Principal::builder(text("iss").unwrap_or_default());
    if let Some(subject) = text("sub") {
        builder = builder.subject(subject);
    }
    if let Some(client_id) = text("client_id").or(text("azp")).or(text("sub")) {
        builder = builder.client_id(client_id);
    }
    if let Some(token_id) = text("jti") {
        builder = builder.token_id(token_id);
    }
    let mut scopes: Vec<String> = ["scope", "scp", "permissions"]
        .into_iter()
        .filter_map(|name| claims.get(name))
        .flat_map(words)
        .filter(|scope| is_scope_token(scope))
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    let mut roles = Vec::new();
    if RolesClaim::default().read(&claims, &mut roles).is_err() {
        roles.clear();
    }
    let seconds = |name: &str| claims.get(name).and_then(Value::as_u64);
    builder
        .scopes(scopes)
        .roles(roles)
        .times(seconds("iat"), seconds("exp").unwrap_or(u64::MAX))
        .claims(claims)
        .build()
}

/// The words of a space-delimited string, or the strings of an array.
fn words(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => text.split(' ').map(str::to_owned).collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}
