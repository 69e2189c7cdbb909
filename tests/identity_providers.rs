//! Access tokens shaped as Keycloak, Auth0, Microsoft Entra ID and Okta document them,
//! checked against the configuration that `docs/providers/*.md` tell users to write.
//!
//! Each vendor has a stand-in issuer: an RSA key with a `kid` in the vendor's style, whose
//! tokens carry the vendor's issuer URL in `iss` and the vendor's header (`alg: RS256`, and
//! `typ` as the vendor sends it, or none). The development issuer of `portcullis::dev`
//! signs only ES256 and adds `typ: at+jwt`, so it cannot stand in for these vendors; the
//! stand-ins sign with `common::keys::TestKey` instead.
//!
//! The pages and this file are kept in step by `pages_show_the_tested_configuration`: each
//! `page_issuer!` below is the issuer expression of a page (the test appends only a key
//! source in place of discovery or a JWKS URL, which would reach the network), and the
//! `#[secure(...)]` attributes of each vendor's handlers here are those of its page. Edit a
//! page's snippet and that test fails until this file says the same. The handler bodies
//! and the Entra ID policy function are kept in step by hand.

mod common;

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::keys::TestKey;
use common::{AuditLog, Reply, now, send};
use portcullis::RolesClaim;
use portcullis::auth::{Algorithm, KeyProvider, KeySet, StaticKeys};
use portcullis::prelude::*;
use serde_json::{Value, json};

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Change orders",
    "Orders.Read" => "Read orders (Entra ID delegated permission)",
    "Orders.Write" => "Change orders (Entra ID delegated permission)",
}

/// The issuer configuration of a page: `$build(keys)` is the page's expression with `keys`
/// as its key source, and `$text` the expression as written.
macro_rules! page_issuer {
    ($build:ident, $text:ident = $($chain:tt)+) => {
        fn $build(keys: Arc<dyn KeyProvider>) -> Issuer {
            $($chain)+.key_provider(keys)
        }
        const $text: &str = stringify!($($chain)+);
    };
}

// -- docs/providers/keycloak.md ---------------------------------------------------------

const KEYCLOAK_ISSUER: &str = "https://sso.example.com/realms/shop";

page_issuer!(
    keycloak_issuer,
    KEYCLOAK_CONFIG = Issuer::discover("https://sso.example.com/realms/shop")
        .audience("orders-api")
        .roles(RolesClaim::keycloak())
        .algorithms([Algorithm::RS256])
);

#[secure(get, path = "/orders", scope = "orders:read")]
async fn keycloak_list(who: Principal) -> String {
    describe(&who)
}

#[secure(delete, path = "/orders/{id}", scope = "orders:write", roles = ["orders-api:admin"])]
async fn keycloak_delete(who: Principal, Path(_id): Path<u64>) -> String {
    describe(&who)
}

// -- docs/providers/auth0.md ------------------------------------------------------------

const AUTH0_ISSUER: &str = "https://shop.auth0.com/";
const AUTH0_API: &str = "https://orders.example.com/";

page_issuer!(
    auth0_issuer,
    AUTH0_CONFIG = Issuer::discover("https://shop.auth0.com/")
        .audience("https://orders.example.com/")
        .roles(RolesClaim::auth0("https://orders.example.com/"))
        .algorithms([Algorithm::RS256])
);

page_issuer!(
    auth0_rfc9068_issuer,
    AUTH0_RFC9068_CONFIG = Issuer::discover("https://shop.auth0.com/")
        .audience("https://orders.example.com/")
        .roles(RolesClaim::auth0("https://orders.example.com/"))
        .algorithms([Algorithm::RS256])
        .rfc9068()
);

#[secure(get, path = "/orders", scope = "orders:read")]
async fn auth0_list(who: Principal) -> String {
    describe(&who)
}

#[secure(delete, path = "/orders/{id}", scope = "orders:write", roles = ["admin"])]
async fn auth0_delete(who: Principal, Path(_id): Path<u64>) -> String {
    describe(&who)
}

// -- docs/providers/entra-id.md ---------------------------------------------------------

const ENTRA_TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
const ENTRA_ISSUER: &str =
    "https://login.microsoftonline.com/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/v2.0";
const ENTRA_V1_ISSUER: &str = "https://sts.windows.net/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/";
/// The API's application (client) id.
const ENTRA_API: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

page_issuer!(
    entra_issuer,
    ENTRA_CONFIG = Issuer::discover(
        "https://login.microsoftonline.com/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/v2.0"
    )
    .audience("6e74172b-be56-4843-9ff4-e66a39bb12e3")
    .roles(RolesClaim::entra_id())
    .require_claims(["azp"])
    .algorithms([Algorithm::RS256])
);

page_issuer!(
    entra_v1_issuer,
    ENTRA_V1_CONFIG = Issuer::new("https://sts.windows.net/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/")
        .jwks_url(
            "https://login.microsoftonline.com/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/discovery/keys"
        )
        .audience("api://orders-api")
        .audience("6e74172b-be56-4843-9ff4-e66a39bb12e3")
        .roles(RolesClaim::entra_id())
        .algorithms([Algorithm::RS256])
);

/// As on the page: users with the delegated scope, or daemons with the application
/// permission (an app role).
fn read_orders(request: &PolicyRequest<'_>) -> PolicyDecision {
    let who = request.principal();
    PolicyDecision::allow_if(
        who.has_scope("Orders.Read") || who.has_role("Orders.Read.All"),
        "neither the Orders.Read scope nor the Orders.Read.All app role",
    )
}

#[secure(get, path = "/orders", policy = read_orders)]
async fn entra_list(who: Principal) -> String {
    describe(&who)
}

#[secure(post, path = "/orders", scope = "Orders.Write")]
async fn entra_create(who: Principal) -> String {
    describe(&who)
}

#[secure(delete, path = "/orders/{id}", roles = ["Orders.Admin"])]
async fn entra_delete(who: Principal, Path(_id): Path<u64>) -> String {
    describe(&who)
}

// -- docs/providers/okta.md -------------------------------------------------------------

const OKTA_ISSUER: &str = "https://shop.okta.com/oauth2/default";

page_issuer!(
    okta_issuer,
    OKTA_CONFIG = Issuer::discover("https://shop.okta.com/oauth2/default")
        .audience("api://default")
        .roles(RolesClaim::path("groups"))
        .algorithms([Algorithm::RS256])
);

#[secure(get, path = "/orders", scope = "orders:read")]
async fn okta_list(who: Principal) -> String {
    describe(&who)
}

#[secure(delete, path = "/orders/{id}", scope = "orders:write", roles = ["orders-admins"])]
async fn okta_delete(who: Principal, Path(_id): Path<u64>) -> String {
    describe(&who)
}

// -- the stand-in issuers ---------------------------------------------------------------

/// A vendor's signing key and the JWKS it publishes.
struct Vendor {
    key: TestKey,
    jwks: String,
}

impl Vendor {
    /// A key named `kid`; `jwk` adds the members the vendor publishes with it, and `extra`
    /// keys the vendor publishes besides (encryption keys, for one).
    fn new(kid: &str, jwk: Value, extra: impl Fn(&Value) -> Vec<Value>) -> Vendor {
        let key = TestKey::rsa(kid, aws_lc_rs::rsa::KeySize::Rsa2048);
        let mut published = key.jwk();
        for (name, value) in jwk.as_object().expect("an object") {
            published[name] = value.clone();
        }
        let mut keys = vec![published.clone()];
        keys.extend(extra(&published));
        Vendor {
            key,
            jwks: json!({ "keys": keys }).to_string(),
        }
    }

    /// The keys, as discovery or the JWKS URL would find them.
    fn keys(&self) -> Arc<dyn KeyProvider> {
        let keys = KeySet::from_jwks_json(&self.jwks).expect("the vendor's JWKS");
        Arc::new(StaticKeys::new(keys))
    }

    /// A token with the vendor's header: `RS256`, this key's `kid`, and `typ` if any.
    fn sign(&self, typ: Option<&str>, claims: &Value) -> String {
        self.key.sign(Algorithm::RS256, typ, claims)
    }
}

/// Keycloak publishes RS256 signing keys and an RSA-OAEP encryption key.
static KEYCLOAK: LazyLock<Vendor> = LazyLock::new(|| {
    Vendor::new(
        "Tq2bB3yAqDw0JyY6B0_U5KpWwXFzDkOP8dQsRwFv0Ug",
        json!({"use": "sig", "alg": "RS256"}),
        |signing| {
            let mut encryption = signing.clone();
            encryption["kid"] = json!("pA3lK9tH0XbQ2e7WcJvN8mR5sY1uZ4oD6fG_iE-kMqU");
            encryption["use"] = json!("enc");
            encryption["alg"] = json!("RSA-OAEP");
            vec![encryption]
        },
    )
});

static AUTH0: LazyLock<Vendor> = LazyLock::new(|| {
    Vendor::new(
        "NjVBRjY5MDlCMUIwNzU4RTA2QzZFMDQ4QzQ2MDAyQjVDNjk1RTM2Qg",
        json!({"use": "sig", "alg": "RS256", "x5t": "NjVBRjY5MDlCMUIwNzU4RTA2QzZFMDQ4QzQ2MDAyQjVDNjk1RTM2Qg"}),
        |_| Vec::new(),
    )
});

/// Entra ID publishes keys without `alg`, with `x5t` and the `issuer` they sign for.
static ENTRA: LazyLock<Vendor> = LazyLock::new(|| {
    Vendor::new(
        "i6lGk3FZzxRcUb2C3nEQ7syHJlY",
        json!({"use": "sig", "x5t": "i6lGk3FZzxRcUb2C3nEQ7syHJlY", "issuer": ENTRA_ISSUER}),
        |_| Vec::new(),
    )
});

static OKTA: LazyLock<Vendor> = LazyLock::new(|| {
    Vendor::new(
        "45js03w0djwedsw",
        json!({"use": "sig", "alg": "RS256"}),
        |_| Vec::new(),
    )
});

// -- helpers ----------------------------------------------------------------------------

/// What an endpoint saw: subject, client and roles, as JSON.
fn describe(who: &Principal) -> String {
    let mut roles: Vec<&str> = who.roles().collect();
    roles.sort_unstable();
    json!({"subject": who.subject(), "client": who.client_id(), "roles": roles}).to_string()
}

async fn app(issuer: Issuer, routes: portcullis::Routes<()>) -> (axum::Router, AuditLog) {
    let audit = AuditLog::default();
    let security = Security::builder()
        .issuer(issuer)
        .default_rate(rate!("1000/s"))
        .audit_sink(audit.sink())
        .build()
        .await
        .expect("configuration");
    (
        SecureRouter::new(security).mount(routes).into_router(),
        audit,
    )
}

fn call(method: &str, path: &str, token: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// Sends `method path` with `token` and checks the status and audit reason.
async fn expect(
    app: &(axum::Router, AuditLog),
    method: &str,
    path: &str,
    token: &str,
    status: StatusCode,
    reason: &str,
) -> Reply {
    let reply = send(&app.0, call(method, path, token)).await;
    let event = app.1.last();
    assert_eq!(
        (reply.status, event.reason.as_str()),
        (status, reason),
        "{method} {path}: {}",
        reply.text
    );
    reply
}

/// `(iat, exp)` for a token living `lifetime` seconds from now.
fn times(lifetime: u64) -> (u64, u64) {
    let now = now();
    (now, now + lifetime)
}

// -- the pages and this file say the same ----------------------------------------------

fn squeeze(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The `#[secure(...)]` attributes that begin a line of `source`, whitespace removed, each
/// with the name of the handler it is on.
fn secure_attributes(source: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut lines = source.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if !line.starts_with("#[secure(") {
            continue;
        }
        let mut attribute = line.to_owned();
        while !attribute.ends_with(")]") {
            attribute.push_str(lines.next().expect("the attribute ends"));
        }
        let handler = lines
            .find_map(|line| line.strip_prefix("async fn "))
            .and_then(|signature| signature.split('(').next())
            .expect("a handler follows");
        found.push((handler.to_owned(), squeeze(&attribute)));
    }
    found
}

#[test]
fn pages_show_the_tested_configuration() {
    let this_file = include_str!("identity_providers.rs");
    let pages = [
        (
            "keycloak",
            include_str!("../docs/providers/keycloak.md"),
            &[KEYCLOAK_CONFIG][..],
        ),
        (
            "auth0",
            include_str!("../docs/providers/auth0.md"),
            &[AUTH0_CONFIG, AUTH0_RFC9068_CONFIG][..],
        ),
        (
            "entra",
            include_str!("../docs/providers/entra-id.md"),
            &[ENTRA_CONFIG, ENTRA_V1_CONFIG][..],
        ),
        (
            "okta",
            include_str!("../docs/providers/okta.md"),
            &[OKTA_CONFIG][..],
        ),
    ];
    for (vendor, page, issuers) in pages {
        let squeezed = squeeze(page);
        for issuer in issuers {
            assert!(
                squeezed.contains(&squeeze(issuer)),
                "the {vendor} page no longer configures the issuer this test checks:\n{issuer}"
            );
        }
        let mut on_page: Vec<String> = secure_attributes(page)
            .into_iter()
            .map(|(_, attribute)| attribute)
            .collect();
        let mut tested: Vec<String> = secure_attributes(this_file)
            .into_iter()
            .filter(|(handler, _)| handler.starts_with(&format!("{vendor}_")))
            .map(|(_, attribute)| attribute)
            .collect();
        on_page.sort();
        tested.sort();
        assert!(!tested.is_empty(), "no {vendor} endpoints in this file");
        assert_eq!(
            on_page, tested,
            "the {vendor} page and this file declare different endpoints"
        );
    }
}

// -- Keycloak ---------------------------------------------------------------------------

async fn keycloak_app() -> (axum::Router, AuditLog) {
    app(
        keycloak_issuer(KEYCLOAK.keys()),
        routes![keycloak_list, keycloak_delete],
    )
    .await
}

/// A user's token as the Server Administration Guide describes it: the audience from the
/// Audience mapper (plus `account`, from Audience Resolve), client scopes in `scope`,
/// realm roles in `realm_access`, client roles in `resource_access`.
fn keycloak_user_claims() -> Value {
    let (iat, exp) = times(300);
    json!({
        "exp": exp,
        "iat": iat,
        "jti": "onrtac:2f1a7c9e-5b0d-4b8e-9a43-0c6f5e1d2b7a",
        "iss": KEYCLOAK_ISSUER,
        "aud": ["orders-api", "account"],
        "sub": "f1c2a3b4-5d6e-4f70-8a9b-0c1d2e3f4a5b",
        "typ": "Bearer",
        "azp": "shop-web",
        "sid": "7d3e9b1a-4c2f-4e8d-b6a0-5f1e2d3c4b5a",
        "acr": "1",
        "allowed-origins": ["https://shop.example.com"],
        "realm_access": {"roles": ["default-roles-shop", "offline_access", "uma_authorization"]},
        "resource_access": {
            "orders-api": {"roles": ["admin"]},
            "account": {"roles": ["manage-account", "view-profile"]}
        },
        "scope": "openid orders:read orders:write profile email",
        "email_verified": true,
        "preferred_username": "alice"
    })
}

#[tokio::test]
async fn keycloak_user_token_is_accepted_with_client_scopes_and_roles() {
    let app = keycloak_app().await;
    let token = KEYCLOAK.sign(Some("JWT"), &keycloak_user_claims());
    let reply = expect(&app, "GET", "/orders", &token, StatusCode::OK, "authorized").await;
    let seen = reply.json();
    assert_eq!(seen["client"], "shop-web", "the client is read from azp");
    assert_eq!(
        seen["roles"],
        json!([
            "account:manage-account",
            "account:view-profile",
            "default-roles-shop",
            "offline_access",
            "orders-api:admin",
            "uma_authorization"
        ])
    );
    expect(
        &app,
        "DELETE",
        "/orders/7",
        &token,
        StatusCode::OK,
        "authorized",
    )
    .await;
}

#[tokio::test]
async fn keycloak_service_account_token_is_accepted() {
    let app = keycloak_app().await;
    let (iat, exp) = times(300);
    let claims = json!({
        "exp": exp, "iat": iat, "jti": "trrtcc:0b9f6a2d-8e4c-4b1a-9d7e-3c5f2a1b0e9d",
        "iss": KEYCLOAK_ISSUER, "aud": "orders-api",
        "sub": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "typ": "Bearer", "azp": "billing-job",
        "acr": "1", "scope": "orders:read profile email",
        "clientHost": "10.0.4.17", "clientAddress": "10.0.4.17",
        "preferred_username": "service-account-billing-job", "client_id": "billing-job"
    });
    let token = KEYCLOAK.sign(Some("JWT"), &claims);
    let reply = expect(&app, "GET", "/orders", &token, StatusCode::OK, "authorized").await;
    assert_eq!(reply.json()["client"], "billing-job");
    // No `orders:write` client scope linked to it: the token does not grant it.
    expect(
        &app,
        "DELETE",
        "/orders/7",
        &token,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
    )
    .await;
}

#[tokio::test]
async fn keycloak_missing_client_scope_or_client_role_is_403() {
    let app = keycloak_app().await;
    let mut claims = keycloak_user_claims();
    claims["scope"] = json!("openid profile email");
    let token = KEYCLOAK.sign(Some("JWT"), &claims);
    let reply = expect(
        &app,
        "GET",
        "/orders",
        &token,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
    )
    .await;
    assert_eq!(reply.bearer_error().as_deref(), Some("insufficient_scope"));

    // A realm role `admin`, or `admin` of another client, is not `orders-api:admin`.
    let mut claims = keycloak_user_claims();
    claims["realm_access"] = json!({"roles": ["admin", "orders-api:admin"]});
    claims["resource_access"] = json!({"billing": {"roles": ["admin"]}});
    let token = KEYCLOAK.sign(Some("JWT"), &claims);
    expect(
        &app,
        "DELETE",
        "/orders/7",
        &token,
        StatusCode::FORBIDDEN,
        "missing_role",
    )
    .await;
}

#[tokio::test]
async fn keycloak_token_without_the_audience_mapper_is_401() {
    let app = keycloak_app().await;
    // Only Audience Resolve ran: `account`, for the user's `account` client roles.
    let mut claims = keycloak_user_claims();
    claims["aud"] = json!("account");
    let token = KEYCLOAK.sign(Some("JWT"), &claims);
    let reply = expect(
        &app,
        "GET",
        "/orders",
        &token,
        StatusCode::UNAUTHORIZED,
        "wrong_audience",
    )
    .await;
    assert_eq!(reply.bearer_error().as_deref(), Some("invalid_token"));
    // No mapper at all and no client roles: Keycloak leaves `aud` out.
    claims.as_object_mut().unwrap().remove("aud");
    let token = KEYCLOAK.sign(Some("JWT"), &claims);
    expect(
        &app,
        "GET",
        "/orders",
        &token,
        StatusCode::UNAUTHORIZED,
        "missing_claim",
    )
    .await;
    // An ID token is for the client that signed the user in.
    let mut id_token = keycloak_user_claims();
    id_token["typ"] = json!("ID");
    id_token["aud"] = json!("shop-web");
    let token = KEYCLOAK.sign(Some("JWT"), &id_token);
    expect(
        &app,
        "GET",
        "/orders",
        &token,
        StatusCode::UNAUTHORIZED,
        "wrong_audience",
    )
    .await;
}

// -- Auth0 ------------------------------------------------------------------------------

async fn auth0_app() -> (axum::Router, AuditLog) {
    app(
        auth0_issuer(AUTH0.keys()),
        routes![auth0_list, auth0_delete],
    )
    .await
}

/// A user's token in the Auth0 profile (Access Token Profiles): `aud` names the API and
/// the userinfo endpoint, `azp` the application, RBAC permissions in `permissions`.
fn auth0_user_claims() -> Value {
    let (iat, exp) = times(86_400);
    json!({
        "iss": AUTH0_ISSUER,
        "sub": "auth0|6553da60a54af58e29493993",
        "aud": [AUTH0_API, "https://shop.auth0.com/userinfo"],
        "azp": "K1AUPhZq8mRi0Q0pjhkfu1D7y6KjDQja",
        "exp": exp,
        "iat": iat,
        "scope": "openid profile orders:read",
        "permissions": ["orders:read"]
    })
}

#[tokio::test]
async fn auth0_user_token_is_accepted_with_scope_and_permissions() {
    let app = auth0_app().await;
    let token = AUTH0.sign(Some("JWT"), &auth0_user_claims());
    let reply = expect(&app, "GET", "/orders", &token, StatusCode::OK, "authorized").await;
    assert_eq!(reply.json()["client"], "K1AUPhZq8mRi0Q0pjhkfu1D7y6KjDQja");

    // Permissions grant scopes the client did not ask for; roles come from the Action.
    let mut claims = auth0_user_claims();
    claims["permissions"] = json!(["orders:read", "orders:write"]);
    claims["https://orders.example.com/roles"] = json!(["admin"]);
    let token = AUTH0.sign(Some("JWT"), &claims);
    expect(
        &app,
        "DELETE",
        "/orders/7",
        &token,
        StatusCode::OK,
        "authorized",
    )
    .await;
}

#[tokio::test]
async fn auth0_missing_permission_or_role_is_403() {
    let app = auth0_app().await;
    let mut claims = auth0_user_claims();
    claims["scope"] = json!("openid profile");
    claims["permissions"] = json!([]);
    let token = AUTH0.sign(Some("JWT"), &claims);
    expect(
        &app,
        "GET",
        "/orders",
        &token,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
    )
    .await;

    let mut claims = auth0_user_claims();
    claims["permissions"] = json!(["orders:read", "orders:write"]);
    let token = AUTH0.sign(Some("JWT"), &claims);
    expect(
        &app,
        "DELETE",
        "/orders/7",
        &token,
        StatusCode::FORBIDDEN,
        "missing_role",
    )
    .await;
}

#[tokio::test]
async fn auth0_machine_to_machine_token_is_accepted() {
    let app = auth0_app().await;
    // Client credentials: `sub` is the client id with `@clients`, `gty` says so, and `aud`
    // is a string. Auth0's default lifetime for an API, 24 hours, is accepted as it is.
    let (iat, exp) = times(86_400);
    let claims = json!({
        "iss": AUTH0_ISSUER,
        "sub": "awZfdIir8YFdGZWkvCejDoUb7SjTDicx@clients",
        "aud": AUTH0_API,
        "iat": iat,
        "exp": exp,
        "scope": "orders:read",
        "gty": "client-credentials",
        "azp": "awZfdIir8YFdGZWkvCejDoUb7SjTDicx"
    });
    let token = AUTH0.sign(Some("JWT"), &claims);
    let reply = expect(&app, "GET", "/orders", &token, StatusCode::OK, "authorized").await;
    let seen = reply.json();
    assert_eq!(seen["client"], "awZfdIir8YFdGZWkvCejDoUb7SjTDicx");
    assert_eq!(seen["subject"], "awZfdIir8YFdGZWkvCejDoUb7SjTDicx@clients");
}

#[tokio::test]
async fn auth0_token_for_another_api_is_401() {
    let app = auth0_app().await;
    let mut claims = auth0_user_claims();
    claims["aud"] = json!([
        "https://billing.example.com/",
        "https://shop.auth0.com/userinfo"
    ]);
    let token = AUTH0.sign(Some("JWT"), &claims);
    expect(
        &app,
        "GET",
        "/orders",
        &token,
        StatusCode::UNAUTHORIZED,
        "wrong_audience",
    )
    .await;
}

#[tokio::test]
async fn auth0_rfc9068_profile_is_accepted_and_required() {
    let app = app(
        auth0_rfc9068_issuer(AUTH0.keys()),
        routes![auth0_list, auth0_delete],
    )
    .await;
    let (iat, exp) = times(86_400);
    let claims = json!({
        "iss": AUTH0_ISSUER,
        "sub": "auth0|6553da60a54af58e29493993",
        "aud": [AUTH0_API, "https://shop.auth0.com/userinfo"],
        "client_id": "K1AUPhZq8mRi0Q0pjhkfu1D7y6KjDQja",
        "exp": exp,
        "iat": iat,
        "jti": "73WakrfVbNJBaAmhQtEeDv",
        "scope": "openid profile orders:read",
        "permissions": ["orders:read"]
    });
    let token = AUTH0.sign(Some("at+jwt"), &claims);
    let reply = expect(&app, "GET", "/orders", &token, StatusCode::OK, "authorized").await;
    assert_eq!(reply.json()["client"], "K1AUPhZq8mRi0Q0pjhkfu1D7y6KjDQja");
    // The API still issues tokens in the Auth0 profile.
    let token = AUTH0.sign(Some("JWT"), &auth0_user_claims());
    expect(
        &app,
        "GET",
        "/orders",
        &token,
        StatusCode::UNAUTHORIZED,
        "wrong_token_type",
    )
    .await;
}

// -- Microsoft Entra ID -----------------------------------------------------------------

async fn entra_app() -> (axum::Router, AuditLog) {
    app(
        entra_issuer(ENTRA.keys()),
        routes![entra_list, entra_create, entra_delete],
    )
    .await
}

/// The v2.0 access token of "Access tokens in the Microsoft identity platform", for this
/// API and tenant, with a delegated scope of the API.
fn entra_user_claims() -> Value {
    let (iat, exp) = times(75 * 60);
    json!({
        "aud": ENTRA_API,
        "iss": ENTRA_ISSUER,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "aio": "AXQAi/8IAAAAtAaZLo3ChMif6KOnttRB7eBq4/DccQzjcJGxPYy/C3jDaNGxXd6wNIIVGRghNRnwJ1lOcAnNZcjvkoyrFxCttv33140RioOFJ4bCCGVuoCag1uOTT22222gHwLPYQ/uf79QX+0KIijdrmp69RctzmQ==",
        "azp": "b9c4e8a1-3f2d-4c6b-9a7e-1d0f5e2c8b34",
        "azpacr": "0",
        "name": "Abe Lincoln",
        "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
        "preferred_username": "abeli@contoso.com",
        "rh": "I",
        "scp": "Orders.Read",
        "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
        "tid": ENTRA_TENANT,
        "uti": "fqiBqXLPj0eQa82S-IYFAA",
        "ver": "2.0"
    })
}

/// A daemon's token (client credentials, `scope=api://orders-api/.default`): the
/// application permissions granted to it in `roles`, no `scp`.
fn entra_daemon_claims() -> Value {
    let (iat, exp) = times(60 * 60);
    json!({
        "aud": ENTRA_API,
        "iss": ENTRA_ISSUER,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "aio": "E2ZgYJg6c9vG0y1uXz9b6h0LAA==",
        "azp": "535fb089-9ff3-47b6-9bfb-4f1264799865",
        "azpacr": "1",
        "idtyp": "app",
        "oid": "2f8c7a1e-6d5b-4e3a-9c0f-7b1d2e4a6c8f",
        "rh": "I",
        "roles": ["Orders.Read.All"],
        "sub": "2f8c7a1e-6d5b-4e3a-9c0f-7b1d2e4a6c8f",
        "tid": ENTRA_TENANT,
        "uti": "Xb3uK9mQ0E2pL7vR4tYcAA",
        "ver": "2.0"
    })
}

#[tokio::test]
async fn entra_user_token_with_a_delegated_scope_is_accepted() {
    let app = entra_app().await;
    let token = ENTRA.sign(Some("JWT"), &entra_user_claims());
    let reply = expect(&app, "GET", "/orders", &token, StatusCode::OK, "authorized").await;
    assert_eq!(
        reply.json()["client"],
        "b9c4e8a1-3f2d-4c6b-9a7e-1d0f5e2c8b34"
    );
    expect(
        &app,
        "POST",
        "/orders",
        &token,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
    )
    .await;
    let mut claims = entra_user_claims();
    claims["scp"] = json!("Orders.Read Orders.Write");
    let token = ENTRA.sign(Some("JWT"), &claims);
    expect(
        &app,
        "POST",
        "/orders",
        &token,
        StatusCode::OK,
        "authorized",
    )
    .await;
}

#[tokio::test]
async fn entra_daemon_token_carries_app_roles_not_scopes() {
    let app = entra_app().await;
    let token = ENTRA.sign(Some("JWT"), &entra_daemon_claims());
    let reply = expect(&app, "GET", "/orders", &token, StatusCode::OK, "authorized").await;
    assert_eq!(
        reply.json()["client"],
        "535fb089-9ff3-47b6-9bfb-4f1264799865"
    );
    // An application permission is never a scope: `scope = ...` refuses every daemon.
    expect(
        &app,
        "POST",
        "/orders",
        &token,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
    )
    .await;
    // Neither the scope nor the app role: the policy refuses.
    let mut claims = entra_daemon_claims();
    claims.as_object_mut().unwrap().remove("roles");
    let token = ENTRA.sign(Some("JWT"), &claims);
    expect(
        &app,
        "GET",
        "/orders",
        &token,
        StatusCode::FORBIDDEN,
        "policy_denied",
    )
    .await;
}

#[tokio::test]
async fn entra_app_roles_of_users_and_daemons_are_roles() {
    let app = entra_app().await;
    let mut user = entra_user_claims();
    user["roles"] = json!(["Orders.Admin"]);
    let mut daemon = entra_daemon_claims();
    daemon["roles"] = json!(["Orders.Read.All", "Orders.Admin"]);
    for claims in [user, daemon] {
        let token = ENTRA.sign(Some("JWT"), &claims);
        expect(
            &app,
            "DELETE",
            "/orders/7",
            &token,
            StatusCode::OK,
            "authorized",
        )
        .await;
    }
    let token = ENTRA.sign(Some("JWT"), &entra_user_claims());
    expect(
        &app,
        "DELETE",
        "/orders/7",
        &token,
        StatusCode::FORBIDDEN,
        "missing_role",
    )
    .await;
}

#[tokio::test]
async fn entra_tokens_for_other_audiences_or_id_tokens_are_401() {
    let app = entra_app().await;
    // A token for Microsoft Graph, or a v1.0 audience (the Application ID URI).
    for audience in ["00000003-0000-0000-c000-000000000000", "api://orders-api"] {
        let mut claims = entra_user_claims();
        claims["aud"] = json!(audience);
        let token = ENTRA.sign(Some("JWT"), &claims);
        expect(
            &app,
            "GET",
            "/orders",
            &token,
            StatusCode::UNAUTHORIZED,
            "wrong_audience",
        )
        .await;
    }
    // An ID token of the same app registration has the API's client id as `aud` and the
    // same `typ`; it has no `azp`.
    let mut id_token = entra_user_claims();
    let map = id_token.as_object_mut().unwrap();
    map.remove("azp");
    map.remove("azpacr");
    map.remove("scp");
    map.insert("roles".into(), json!(["Orders.Admin"]));
    map.insert("nonce".into(), json!("n-0S6_WzA2Mj"));
    let token = ENTRA.sign(Some("JWT"), &id_token);
    expect(
        &app,
        "DELETE",
        "/orders/7",
        &token,
        StatusCode::UNAUTHORIZED,
        "missing_claim",
    )
    .await;
}

#[tokio::test]
async fn entra_v1_tokens_need_the_v1_issuer() {
    let (iat, exp) = times(75 * 60);
    let claims = json!({
        "aud": "api://orders-api",
        "iss": ENTRA_V1_ISSUER,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "acr": "1",
        "aio": "AXQAi/8IAAAAFm+E/QTG+gFnVxLjWdw8K+61AGrSOuMMF6ebaMj7XO3IbmD3fGmrOyD+NvZyGn2VaT/kDKXw4MIhrgGVq6Bn8wLXoT1LkIZ+FzQVkJPPLQOV4KcXqSlCVPDS/DiCDgE222TImMvWNaEMaUOTsIGvTQ==",
        "amr": ["pwd"],
        "appid": "b9c4e8a1-3f2d-4c6b-9a7e-1d0f5e2c8b34",
        "appidacr": "0",
        "name": "Abe Lincoln",
        "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
        "rh": "I",
        "scp": "Orders.Read",
        "sub": "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA",
        "tid": ENTRA_TENANT,
        "unique_name": "abeli@contoso.com",
        "uti": "FVsGxYXI30-TuikuuUoFAA",
        "ver": "1.0"
    });
    let token = ENTRA.sign(Some("JWT"), &claims);
    // The v2.0 configuration does not know the v1.0 issuer.
    let v2 = entra_app().await;
    expect(
        &v2,
        "GET",
        "/orders",
        &token,
        StatusCode::UNAUTHORIZED,
        "unknown_issuer",
    )
    .await;
    let v1 = app(
        entra_v1_issuer(ENTRA.keys()),
        routes![entra_list, entra_create, entra_delete],
    )
    .await;
    let reply = expect(&v1, "GET", "/orders", &token, StatusCode::OK, "authorized").await;
    // The client is v1's `appid`.
    assert_eq!(
        reply.json()["client"],
        "b9c4e8a1-3f2d-4c6b-9a7e-1d0f5e2c8b34"
    );
}

// -- Okta -------------------------------------------------------------------------------

async fn okta_app() -> (axum::Router, AuditLog) {
    app(okta_issuer(OKTA.keys()), routes![okta_list, okta_delete]).await
}

/// A user's token from the `default` custom authorization server, as the OpenID Connect &
/// OAuth 2.0 API reference shows it, with a Groups claim added on the server.
fn okta_user_claims() -> Value {
    let (iat, exp) = times(3600);
    json!({
        "ver": 1,
        "jti": "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE",
        "iss": OKTA_ISSUER,
        "aud": "api://default",
        "iat": iat,
        "exp": exp,
        "cid": "0oaosna3ilNxgPTmk0h7",
        "uid": "00uixa271s6x7qt8I0h7",
        "scp": ["openid", "orders:read", "orders:write"],
        "auth_time": iat - 60,
        "sub": "joe.smith@example.com",
        "groups": ["Everyone", "orders-admins"]
    })
}

#[tokio::test]
async fn okta_user_token_is_accepted_with_scopes_and_groups() {
    let app = okta_app().await;
    // Okta sends no `typ`.
    let token = OKTA.sign(None, &okta_user_claims());
    let reply = expect(&app, "GET", "/orders", &token, StatusCode::OK, "authorized").await;
    let seen = reply.json();
    assert_eq!(seen["roles"], json!(["Everyone", "orders-admins"]));
    // The client is Okta's `cid`, not the user's login in `sub`.
    assert_eq!(seen["client"], "0oaosna3ilNxgPTmk0h7");
    expect(
        &app,
        "DELETE",
        "/orders/7",
        &token,
        StatusCode::OK,
        "authorized",
    )
    .await;
}

#[tokio::test]
async fn okta_client_credentials_token_is_accepted() {
    let app = okta_app().await;
    let (iat, exp) = times(3600);
    let claims = json!({
        "ver": 1,
        "jti": "AT.EmHCGDFHE18hC5j3stjbarVonh46twW7tWutB9v8hsw",
        "iss": OKTA_ISSUER,
        "aud": "api://default",
        "iat": iat,
        "exp": exp,
        "cid": "0oa8acv8gbBPRCZ7I5d7",
        "scp": ["orders:read"],
        "sub": "0oa8acv8gbBPRCZ7I5d7"
    });
    let token = OKTA.sign(None, &claims);
    let reply = expect(&app, "GET", "/orders", &token, StatusCode::OK, "authorized").await;
    assert_eq!(reply.json()["client"], "0oa8acv8gbBPRCZ7I5d7");
}

#[tokio::test]
async fn okta_missing_scope_or_group_is_403() {
    let app = okta_app().await;
    let mut claims = okta_user_claims();
    claims["scp"] = json!(["openid", "profile"]);
    let token = OKTA.sign(None, &claims);
    expect(
        &app,
        "GET",
        "/orders",
        &token,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
    )
    .await;
    let mut claims = okta_user_claims();
    claims["groups"] = json!(["Everyone"]);
    let token = OKTA.sign(None, &claims);
    expect(
        &app,
        "DELETE",
        "/orders/7",
        &token,
        StatusCode::FORBIDDEN,
        "missing_role",
    )
    .await;
}

#[tokio::test]
async fn okta_token_of_another_audience_or_id_token_is_401() {
    let app = okta_app().await;
    let mut claims = okta_user_claims();
    claims["aud"] = json!("https://billing.example.com");
    let token = OKTA.sign(None, &claims);
    expect(
        &app,
        "GET",
        "/orders",
        &token,
        StatusCode::UNAUTHORIZED,
        "wrong_audience",
    )
    .await;
    let (iat, exp) = times(3600);
    let id_token = json!({
        "sub": "00uixa271s6x7qt8I0h7", "ver": 1, "iss": OKTA_ISSUER,
        "aud": "0oaosna3ilNxgPTmk0h7", "iat": iat, "exp": exp,
        "jti": "ID.67UFdLqtzyqtWEcO4GJPVBE6MMe-guCdXwzuv11p-eE",
        "amr": ["pwd"], "idp": "00oixa26ycdNcX0VT0h7", "auth_time": iat - 60
    });
    let token = OKTA.sign(None, &id_token);
    expect(
        &app,
        "GET",
        "/orders",
        &token,
        StatusCode::UNAUTHORIZED,
        "wrong_audience",
    )
    .await;
}
