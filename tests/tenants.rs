//! Multi-tenant issuers (`Issuer::discover_tenants`): one template, the tenants allowed,
//! two of them served by a provider on loopback with keys of their own. Each tenant's
//! discovery and keys are fetched on its first token only, once for however many tokens;
//! a tenant off the list is refused without a request; a token's `tid` must be the tenant
//! of its `iss`; a tenant whose provider is down is refused with 503 until it is up; the
//! tenants no token named leave the service ready.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::keys::{TestKey, jwks};
use common::tenants::TenantIdp;
use common::*;
use jsonwebtoken::Algorithm as Jwt;
use portcullis::ConfigError;
use portcullis::alert::AlertKind;
use portcullis::auth::{IssuerFailure, KeyReadiness};
use portcullis::prelude::*;
use serde_json::{Value, json};

portcullis::scopes! { "orders:read" => "Read orders" }

#[secure(get, path = "/orders", scope = "orders:read", rate = "unlimited")]
async fn list_orders(who: Principal) -> String {
    format!(
        "{} of {}",
        who.subject().unwrap_or_default(),
        who.claims()["tid"].as_str().unwrap_or_default()
    )
}

/// The tenants on the list: `contoso` and `fabrikam` are served by the provider, `tailspin`
/// is never named by a token.
const ALLOWED: [&str; 3] = ["contoso", "fabrikam", "tailspin"];

/// The provider, its tenants' keys (and those of `evil`, a tenant it serves that is not on
/// the list), and a service trusting the template.
struct World {
    idp: TenantIdp,
    contoso: TestKey,
    fabrikam: TestKey,
    evil: TestKey,
    security: Security,
    app: axum::Router,
    audit: AuditLog,
    alerts: Arc<Mutex<Vec<AlertKind>>>,
}

async fn world() -> World {
    let idp = TenantIdp::start().await;
    let contoso = TestKey::ed25519("contoso-key");
    let fabrikam = TestKey::ec("fabrikam-key", false);
    let evil = TestKey::ed25519("evil-key");
    idp.publish("contoso", jwks(&[&contoso]));
    idp.publish("fabrikam", jwks(&[&fabrikam]));
    idp.publish("evil", jwks(&[&evil]));
    let audit = AuditLog::default();
    let (alerts, sink) = alert_kinds();
    let security = Security::builder()
        .issuer(Issuer::discover_tenants(idp.template(), ALLOWED).audience(AUDIENCE))
        .default_rate(rate!("1000/s"))
        .auth_failure_limit(None)
        .audit_sink(audit.sink())
        .alert_sink(sink)
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security.clone())
        .mount(routes![list_orders])
        .into_router();
    World {
        idp,
        contoso,
        fabrikam,
        evil,
        security,
        app,
        audit,
        alerts,
    }
}

/// Claims of a token of `tenant` (its `iss` and `tid`) for `subject`.
fn tenant_claims(idp: &TenantIdp, tenant: &str, subject: &str) -> Value {
    let now = now();
    json!({
        "iss": idp.issuer(tenant), "tid": tenant, "aud": AUDIENCE, "sub": subject,
        "scope": "orders:read", "iat": now, "exp": now + 600,
    })
}

/// A token signed with `key`.
fn signed(key: &TestKey, claims: &Value) -> String {
    let alg = if key.kid.starts_with("fabrikam") {
        Jwt::ES256
    } else {
        Jwt::EdDSA
    };
    key.sign(alg, Some("JWT"), claims)
}

/// What the readiness says of `tenant`'s issuer.
fn readiness_of(security: &Security, issuer: &str) -> KeyReadiness {
    security
        .readiness()
        .issuers
        .into_iter()
        .find(|state| state.issuer == issuer)
        .unwrap_or_else(|| panic!("{issuer} is not configured"))
        .keys
}

#[tokio::test]
async fn each_tenant_s_keys_are_fetched_on_its_first_token_only() {
    let world = world().await;
    let idp = &world.idp;
    // Nothing fetched at start-up, and the tenants no token named leave the service ready.
    assert_eq!(idp.total_requests(), 0);
    let readiness = world.security.readiness();
    assert!(readiness.is_ready(), "{readiness}");
    assert_eq!(readiness.to_string(), "ready");
    assert_eq!(readiness.issuers.len(), ALLOWED.len());
    for tenant in ALLOWED {
        assert_eq!(
            readiness_of(&world.security, &idp.issuer(tenant)),
            KeyReadiness::NotRequested
        );
    }

    let reply = send(
        &world.app,
        get(
            "/orders",
            &signed(&world.contoso, &tenant_claims(idp, "contoso", "alice")),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.text, "alice of contoso");
    assert_eq!(idp.requests_for("contoso"), (1, 1, 0));
    assert_eq!(idp.requests_for("fabrikam"), (0, 0, 0));
    assert_eq!(
        readiness_of(&world.security, &idp.issuer("contoso")),
        KeyReadiness::Ready
    );

    // Many tokens (each verified: a different subject), one fetch.
    for n in 0..20 {
        let subject = format!("user-{n}");
        let token = signed(&world.contoso, &tenant_claims(idp, "contoso", &subject));
        let reply = send(&world.app, get("/orders", &token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    assert_eq!(idp.requests_for("contoso"), (1, 1, 0));

    // The second tenant, with its own keys: fetched on its first token.
    let reply = send(
        &world.app,
        get(
            "/orders",
            &signed(&world.fabrikam, &tenant_claims(idp, "fabrikam", "bob")),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.text, "bob of fabrikam");
    assert_eq!(idp.requests_for("fabrikam"), (1, 1, 0));
    assert_eq!(idp.requests_for("contoso"), (1, 1, 0));

    // Each tenant's tokens are verified with its keys only.
    let reply = send(
        &world.app,
        get(
            "/orders",
            &signed(&world.fabrikam, &tenant_claims(idp, "contoso", "mallory")),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(world.audit.last().reason, "unknown_kid");

    // The tenant no token named: still nothing fetched, still ready.
    assert_eq!(idp.requests_for("tailspin"), (0, 0, 0));
    assert_eq!(
        readiness_of(&world.security, &idp.issuer("tailspin")),
        KeyReadiness::NotRequested
    );
    assert!(world.security.readiness().is_ready());
}

#[tokio::test]
async fn concurrent_first_tokens_of_a_tenant_wait_for_one_fetch() {
    let world = world().await;
    world.idp.slow_discovery(Duration::from_millis(300));
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..12 {
        let token = signed(
            &world.contoso,
            &tenant_claims(&world.idp, "contoso", &format!("user-{n}")),
        );
        let app = world.app.clone();
        requests.spawn(async move { send(&app, get("/orders", &token)).await });
    }
    let mut statuses = Vec::new();
    while let Some(reply) = requests.join_next().await {
        statuses.push(reply.unwrap().status);
    }
    assert_eq!(statuses, vec![StatusCode::OK; 12]);
    assert_eq!(world.idp.requests_for("contoso"), (1, 1, 0));
    assert_eq!(world.idp.total_requests(), 2);
}

#[tokio::test]
async fn a_tenant_off_the_list_is_refused_without_a_request() {
    let world = world().await;
    let idp = &world.idp;
    // `evil` is a tenant of the same provider, with its own valid keys and tokens.
    let evil = tenant_claims(idp, "evil", "mallory");
    let mut cases = vec![("a tenant the provider serves", evil.clone())];
    for (what, iss) in [
        ("a tenant with a path in it", idp.issuer("contoso/../evil")),
        ("a tenant in capitals", idp.issuer("CONTOSO")),
        ("a tenant with a suffix", idp.issuer("contoso2")),
    ] {
        let mut claims = evil.clone();
        claims["iss"] = json!(iss);
        cases.push((what, claims));
    }
    for (what, claims) in cases {
        let reply = send(&world.app, get("/orders", &signed(&world.evil, &claims))).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(reply.bearer_error().as_deref(), Some("invalid_token"));
        assert_eq!(world.audit.last().reason, "tenant_not_allowed", "{what}");
    }
    assert_eq!(idp.total_requests(), 0);

    // An issuer that does not fit the template at all is an unknown one.
    let mut claims = evil.clone();
    claims["iss"] = json!(format!("{}/evil/v1.0", idp.base));
    let reply = send(&world.app, get("/orders", &signed(&world.evil, &claims))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(world.audit.last().reason, "unknown_issuer");
    assert_eq!(idp.total_requests(), 0);
}

#[tokio::test]
async fn the_tid_of_a_token_must_be_the_tenant_of_its_issuer() {
    let world = world().await;
    let idp = &world.idp;
    let honest = tenant_claims(idp, "contoso", "alice");
    let mut cases = Vec::new();
    for (what, tid, reason) in [
        (
            "another allowed tenant",
            json!("fabrikam"),
            "tenant_mismatch",
        ),
        ("a tenant off the list", json!("evil"), "tenant_mismatch"),
        ("in capitals", json!("CONTOSO"), "tenant_mismatch"),
        ("empty", json!(""), "tenant_mismatch"),
        ("a number", json!(1), "malformed_claim"),
        ("an array", json!(["contoso"]), "malformed_claim"),
    ] {
        let mut claims = honest.clone();
        claims["tid"] = tid;
        cases.push((what, claims, reason));
    }
    let mut no_tid = honest.clone();
    no_tid.as_object_mut().unwrap().remove("tid");
    cases.push(("absent", no_tid, "missing_claim"));
    for (what, claims, reason) in cases {
        let reply = send(&world.app, get("/orders", &signed(&world.contoso, &claims))).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "tid {what}");
        assert_eq!(world.audit.last().reason, reason, "tid {what}");
    }
    // `tid` is read only once the signature holds.
    let mut forged = honest.clone();
    forged["tid"] = json!("fabrikam");
    let reply = send(&world.app, get("/orders", &signed(&world.evil, &forged))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(world.audit.last().reason, "unknown_kid");
    // The honest token passes.
    let reply = send(&world.app, get("/orders", &signed(&world.contoso, &honest))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test]
async fn a_tenant_whose_provider_is_down_is_refused_with_503_until_it_is_up() {
    let world = world().await;
    let idp = &world.idp;
    idp.take_down("contoso");
    let token = signed(&world.contoso, &tenant_claims(idp, "contoso", "alice"));
    let issuer = idp.issuer("contoso");

    let reply = send(&world.app, get("/orders", &token)).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text
    );
    let retry_after: u64 = reply.header("retry-after").parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(world.audit.last().reason, "keys_unavailable");
    assert_eq!(idp.requests_for("contoso"), (1, 0, 0));
    // Like any issuer whose provider is down: waiting, alerted once.
    assert!(matches!(
        readiness_of(&world.security, &issuer),
        KeyReadiness::Waiting { failures: 1, .. }
    ));
    let unavailable = |alerts: &[AlertKind]| {
        alerts
            .iter()
            .filter(|kind| {
                matches!(kind, AlertKind::IssuerUnavailable { issuer: of, failure, .. }
                    if *of == issuer && *failure == IssuerFailure::HttpStatus)
            })
            .count()
    };
    assert_eq!(unavailable(&world.alerts.lock().unwrap()), 1);
    // Another token meanwhile: refused at once, no request of its own.
    let reply = send(&world.app, get("/orders", &token)).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(idp.requests_for("contoso"), (1, 0, 0));
    // The other tenants are served meanwhile.
    let other = signed(&world.fabrikam, &tenant_claims(idp, "fabrikam", "bob"));
    let reply = send(&world.app, get("/orders", &other)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    // Up again: the retry in the background (1 s after the failure) fetches the keys.
    idp.bring_up("contoso");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reply = send(&world.app, get("/orders", &token)).await;
        if reply.status == StatusCode::OK {
            assert_eq!(reply.text, "alice of contoso");
            break;
        }
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            reply.text
        );
        assert!(Instant::now() < deadline, "still refused after 5 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(idp.requests_for("contoso"), (2, 1, 0));
    assert!(world.security.readiness().is_ready());
    assert_eq!(unavailable(&world.alerts.lock().unwrap()), 1);
    assert!(
        world
            .alerts
            .lock()
            .unwrap()
            .iter()
            .any(|kind| matches!(kind, AlertKind::IssuerAvailable { issuer: of } if *of == issuer))
    );
}

#[tokio::test]
async fn start_up_refuses_templates_and_tenants_it_cannot_use_without_a_request() {
    let idp = TenantIdp::start().await;
    let build = |issuer: Issuer| async {
        Security::builder()
            .issuer(issuer)
            .default_rate(rate!("1000/s"))
            .build()
            .await
            .unwrap_err()
    };
    let template = idp.template();
    assert_eq!(
        build(Issuer::discover_tenants(&template, Vec::<String>::new()).audience(AUDIENCE)).await,
        ConfigError::NoTenants(template.clone())
    );
    for bad in ["", "a/b", "a?b", "a b", "caf\u{e9}", "{tenantid}"] {
        assert_eq!(
            build(Issuer::discover_tenants(&template, ["contoso", bad]).audience(AUDIENCE)).await,
            ConfigError::InvalidTenant {
                template: template.clone(),
                tenant: bad.to_owned()
            },
            "{bad:?}"
        );
    }
    for bad in [
        format!("{}/v2.0", idp.base),
        format!("{}/{{tenantid}}/{{tenantid}}", idp.base),
    ] {
        assert_eq!(
            build(Issuer::discover_tenants(&bad, ["contoso"]).audience(AUDIENCE)).await,
            ConfigError::InvalidTenantTemplate(bad.clone())
        );
    }
    // A tenant's identifier is an issuer's like any other: configured twice, refused.
    let error = Security::builder()
        .issuer(Issuer::discover(idp.issuer("contoso")).audience(AUDIENCE))
        .issuer(Issuer::discover_tenants(&template, ["contoso"]).audience(AUDIENCE))
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap_err();
    assert_eq!(error, ConfigError::DuplicateIssuer(idp.issuer("contoso")));
    // Each tenant's identifier goes through the URL policy of discovery.
    let error = build(
        Issuer::discover_tenants("http://idp.example/{tenantid}/v2.0", ["contoso"])
            .audience(AUDIENCE),
    )
    .await;
    assert!(
        matches!(&error, ConfigError::Discovery { issuer, .. } if issuer == "http://idp.example/contoso/v2.0"),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("http://idp.example/contoso/v2.0")
    );
    let message = ConfigError::NoTenants(template.clone()).to_string();
    assert!(message.contains("Issuer::discover_tenants"), "{message}");
    // Every mistake is found before any request.
    assert_eq!(idp.total_requests(), 0);
}

#[tokio::test]
async fn the_openapi_document_has_one_scheme_for_the_template_naming_its_tenants() {
    let world = world().await;
    let document = SecureRouter::<()>::new(world.security.clone())
        .mount(routes![list_orders])
        .openapi()
        .unwrap();
    let document = serde_json::to_value(&document).unwrap();
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .unwrap();
    assert_eq!(
        schemes.keys().collect::<Vec<_>>(),
        ["tenants"],
        "{schemes:#?}"
    );
    let scheme = &schemes["tenants"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    let description = scheme["description"].as_str().unwrap();
    assert!(description.contains(&world.idp.template()), "{description}");
    assert!(
        description.contains("`contoso`, `fabrikam`, `tailspin`"),
        "{description}"
    );
    assert!(description.contains("`tid`"), "{description}");
    assert_eq!(
        document["paths"]["/orders"]["get"]["security"],
        json!([{ "tenants": ["orders:read"] }])
    );
    // Writing the document fetched nothing.
    assert_eq!(world.idp.total_requests(), 0);

    // Another issuer beside the template is numbered as if the tenants were not there; a
    // second template has a scheme of its own.
    let other = TestKey::ed25519("other");
    let security = Security::builder()
        .issuer(Issuer::discover_tenants(world.idp.template(), ["contoso"]).audience(AUDIENCE))
        .issuer(
            Issuer::new("https://other.test/")
                .audience(AUDIENCE)
                .jwks_json(&jwks(&[&other]))
                .token_url("https://other.test/token"),
        )
        .issuer(
            Issuer::discover_tenants(format!("{}/{{tenantid}}/v3", world.idp.base), ["x"])
                .audience(AUDIENCE),
        )
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap();
    let document = SecureRouter::<()>::new(security)
        .mount(routes![list_orders])
        .openapi()
        .unwrap();
    let document = serde_json::to_value(&document).unwrap();
    let mut names: Vec<&String> = document["components"]["securitySchemes"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    names.sort();
    assert_eq!(names, ["oauth2", "tenants", "tenants-2"]);
    assert_eq!(world.idp.total_requests(), 0);
}
