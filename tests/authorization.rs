//! Authorization: all-of and any-of scopes, roles, policies; 403 with RFC 6750
//! `insufficient_scope` and the scopes that would do.

mod common;

use axum::http::StatusCode;
use common::*;
use portcullis::audit::Decision;
use portcullis::prelude::*;
use serde_json::json;

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Create orders",
    "orders:admin" => "Administer orders",
    "reports:read" => "Read reports",
}

#[secure(get, path = "/orders", scope = "orders:read")]
async fn list_orders(_who: Principal) -> &'static str {
    "list"
}

#[secure(post, path = "/orders", scopes = ["orders:read", "orders:write"])]
async fn create_order(_who: Principal) -> &'static str {
    "created"
}

#[secure(get, path = "/reports", any_scope = ["reports:read", "orders:admin"])]
async fn reports(_who: Principal) -> &'static str {
    "reports"
}

#[secure(delete, path = "/orders/{id}", scope = "orders:admin", roles = ["admin"], status = 204)]
async fn delete_order(_who: Principal, Path(_id): Path<u64>) -> StatusCode {
    StatusCode::NO_CONTENT
}

fn own_profile(request: &PolicyRequest<'_>) -> PolicyDecision {
    let principal = request.principal();
    let own = request.path_param("user") == principal.subject();
    PolicyDecision::allow_if(
        own || principal.has_role("support"),
        "not the profile owner",
    )
}

#[secure(get, path = "/users/{user}", policy = own_profile)]
async fn profile(who: Principal, Path(user): Path<String>) -> String {
    format!("{user} seen by {}", who.subject().unwrap_or("?"))
}

async fn app() -> (portcullis::dev::DevIssuer, axum::Router, AuditLog) {
    let dev = dev_issuer();
    let (security, audit) = audited_security(&dev).await;
    let app = SecureRouter::new(security)
        .mount(routes![
            list_orders,
            create_order,
            reports,
            delete_order,
            profile
        ])
        .into_router();
    (dev, app, audit)
}

fn request(method: &str, path: &str, token: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap()
}

async fn status(app: &axum::Router, method: &str, path: &str, token: &str) -> StatusCode {
    send(app, request(method, path, token)).await.status
}

#[tokio::test]
async fn a_missing_scope_is_403_naming_the_scope() {
    let (dev, app, audit) = app().await;
    let token = dev.token().scopes(["reports:read"]).sign();
    let reply = send(&app, get("/orders", &token)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.bearer_error().as_deref(), Some("insufficient_scope"));
    assert!(
        reply
            .header("www-authenticate")
            .ends_with("scope=\"orders:read\""),
        "{}",
        reply.header("www-authenticate")
    );
    assert_eq!(reply.json()["status"], 403);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    let event = audit.last();
    assert_eq!(
        (event.decision, event.reason.as_str()),
        (Decision::Deny, "insufficient_scope")
    );
    assert_eq!(event.subject.as_deref(), Some("dev-client"));
}

#[tokio::test]
async fn all_of_scopes() {
    let (dev, app, _) = app().await;
    let both = dev.token().scopes(["orders:read", "orders:write"]).sign();
    let one = dev.token().scopes(["orders:write"]).sign();
    assert_eq!(status(&app, "POST", "/orders", &both).await, StatusCode::OK);
    let reply = send(&app, request("POST", "/orders", &one)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(
        reply
            .header("www-authenticate")
            .contains("scope=\"orders:read orders:write\"")
    );
}

#[tokio::test]
async fn any_of_scopes() {
    let (dev, app, _) = app().await;
    for scopes in [
        vec!["reports:read"],
        vec!["orders:admin"],
        vec!["reports:read", "orders:admin"],
    ] {
        let token = dev.token().scopes(scopes.clone()).sign();
        assert_eq!(
            status(&app, "GET", "/reports", &token).await,
            StatusCode::OK,
            "{scopes:?}"
        );
    }
    let neither = dev.token().scopes(["orders:read", "unknown:scope"]).sign();
    assert_eq!(
        status(&app, "GET", "/reports", &neither).await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn scopes_come_from_scope_or_scp() {
    let (dev, app, _) = app().await;
    let mut scp = claims("");
    scp.as_object_mut().unwrap().remove("scope");
    scp["scp"] = json!(["orders:read"]);
    assert_eq!(
        status(
            &app,
            "GET",
            "/orders",
            &dev.sign_claims(Some("at+jwt"), &scp)
        )
        .await,
        StatusCode::OK
    );
    // Scope strings compare exactly: no prefix, case or whitespace games.
    for scope in ["orders:rea", "ORDERS:READ", "orders:read2", "orders:*"] {
        let token = dev.token().scopes([scope]).sign();
        assert_eq!(
            status(&app, "GET", "/orders", &token).await,
            StatusCode::FORBIDDEN,
            "{scope}"
        );
    }
}

#[tokio::test]
async fn roles_are_required_besides_scopes() {
    let (dev, app, audit) = app().await;
    let admin = dev.token().scopes(["orders:admin"]).roles(["admin"]).sign();
    let not_admin = dev.token().scopes(["orders:admin"]).roles(["user"]).sign();
    let admin_without_scope = dev.token().scopes(["orders:read"]).roles(["admin"]).sign();
    assert_eq!(
        status(&app, "DELETE", "/orders/7", &admin).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        status(&app, "DELETE", "/orders/7", &not_admin).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(audit.last().reason, "missing_role");
    assert_eq!(
        status(&app, "DELETE", "/orders/7", &admin_without_scope).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(audit.last().reason, "insufficient_scope");
}

#[tokio::test]
async fn policies_decide_over_principal_and_path() {
    let (dev, app, audit) = app().await;
    let alice = dev.token().subject("alice").sign();
    let support = dev.token().subject("bob").roles(["support"]).sign();
    let reply = send(&app, get("/users/alice", &alice)).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (StatusCode::OK, "alice seen by alice")
    );
    assert_eq!(
        status(&app, "GET", "/users/carol", &support).await,
        StatusCode::OK
    );
    let reply = send(&app, get("/users/carol", &alice)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(
        !reply.text.contains("owner"),
        "the policy's reason is for the audit log only"
    );
    let event = audit.last();
    assert_eq!(event.reason, "policy_denied");
    assert_eq!(
        event.detail.as_deref(),
        Some("own_profile: not the profile owner")
    );
}

#[tokio::test]
async fn provider_claim_layouts_normalise_into_one_principal() {
    #[secure(get, path = "/keycloak", roles = ["orders-api:admin"])]
    async fn keycloak_admin(who: Principal) -> String {
        let mut roles: Vec<&str> = who.roles().collect();
        roles.sort();
        roles.join(" ")
    }
    #[secure(get, path = "/permissions", scope = "orders:write")]
    async fn with_permissions(_who: Principal) {}

    let dev = dev_issuer();
    let security = Security::builder()
        .issuer(dev.issuer().roles(portcullis::RolesClaim::keycloak()))
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security)
        .mount(routes![keycloak_admin, with_permissions])
        .into_router();
    let keycloak = dev
        .token()
        .claim("realm_access", json!({"roles": ["admin"]}))
        .claim(
            "resource_access",
            json!({"orders-api": {"roles": ["admin"]}, "billing": {"roles": ["auditor"]}}),
        )
        .sign();
    let reply = send(&app, get("/keycloak", &keycloak)).await;
    assert_eq!(reply.text, "admin billing:auditor orders-api:admin");
    // A client role of another client, or a realm role of the same name, is not enough.
    let other_client = dev
        .token()
        .claim(
            "realm_access",
            json!({"roles": ["admin", "orders-api:admin"]}),
        )
        .claim("resource_access", json!({"billing": {"roles": ["admin"]}}))
        .sign();
    assert_eq!(
        send(&app, get("/keycloak", &other_client)).await.status,
        StatusCode::FORBIDDEN
    );
    // Auth0 puts API permissions in `permissions`.
    let auth0 = dev
        .token()
        .claim("permissions", json!(["orders:write"]))
        .sign();
    assert_eq!(
        send(&app, get("/permissions", &auth0)).await.status,
        StatusCode::OK
    );
}
