//! Portcullis inside an app that already exists: composition (fallbacks, prefixes, modules
//! with their own state and scopes, one document and inventory), the guard, the app's own
//! error format, serving without a client address, and custom rate keys.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use portcullis::alert::{Alert, AlertKind};
use portcullis::audit::AuditEvent;
use portcullis::prelude::*;
use portcullis::testing::{TestClient, TestKit};
use portcullis::transport::Hsts;
use portcullis::{ErrorRenderer, ErrorSchema, Problem, RouterError, Routes, UnsecuredRoute};
use serde_json::json;
use tower::ServiceExt;

const ISSUER: &str = "https://idp.example.com/";
const AUDIENCE: &str = "shop-api";

fn kit() -> TestKit {
    TestKit::new(ISSUER, AUDIENCE)
}

/// The orders module: its own scopes and state.
mod orders {
    use axum::extract::State;
    use portcullis::Routes;
    use portcullis::prelude::*;

    portcullis::scopes! {
        "orders:read" => "Read orders",
        "shared:admin" => "Administer the shop",
    }

    #[derive(Clone)]
    pub struct OrdersState(pub &'static str);

    #[secure(get, path = "/orders", scope = "orders:read", rate = "100/min")]
    pub async fn list_orders(_who: Principal, State(state): State<OrdersState>) -> String {
        state.0.to_owned()
    }

    #[secure(get, path = "/orders/{id}", scope = "orders:read")]
    pub async fn get_order(_who: Principal, Path(id): Path<u64>) -> String {
        format!("order {id}")
    }

    pub fn routes(state: OrdersState) -> Routes {
        routes![list_orders, get_order].with_state(state)
    }
}

/// The billing module: other scopes (one shared, described alike), another state.
mod billing {
    use axum::extract::State;
    use portcullis::Routes;
    use portcullis::prelude::*;

    portcullis::scopes! {
        "billing:read" => "Read invoices",
        "shared:admin" => "Administer the shop",
    }

    #[derive(Clone)]
    pub struct BillingState(pub u32);

    #[secure(get, path = "/invoices", scope = "billing:read")]
    pub async fn list_invoices(_who: Principal, State(state): State<BillingState>) -> String {
        format!("{} invoices", state.0)
    }

    #[secure(get, path = "/admin", scope = "shared:admin")]
    pub async fn billing_admin(_who: Principal) -> &'static str {
        "billing admin"
    }

    /// The same path as the orders module's list, for the duplicate check.
    #[secure(get, path = "/orders", scope = "billing:read")]
    pub async fn billing_orders(_who: Principal) -> &'static str {
        "billing orders"
    }

    /// The orders module's path with another parameter name.
    #[secure(delete, path = "/orders/{order_id}", scope = "billing:read")]
    pub async fn cancel(_who: Principal, Path(order_id): Path<u64>) -> String {
        format!("cancelled {order_id}")
    }

    pub fn routes(state: BillingState) -> Routes {
        routes![list_invoices, billing_admin].with_state(state)
    }
}

/// A module declaring `shared:admin` with another description.
mod clashing {
    use portcullis::prelude::*;

    portcullis::scopes! {
        "shared:admin" => "Administer everything",
    }

    #[secure(get, path = "/clash", scope = "shared:admin")]
    pub async fn clash(_who: Principal) -> &'static str {
        "clash"
    }
}

/// Public endpoints and a tenant-keyed one, at the crate root.
mod root {
    use portcullis::prelude::*;
    use portcullis::rate::CustomRateKey;

    portcullis::scopes! {
        "reports:read" => "Read reports",
    }

    #[public(get, path = "/status", rate = "100/min")]
    pub async fn status() -> &'static str {
        "up"
    }

    #[public(get, path = "/version", rate = "unlimited")]
    pub async fn version() -> &'static str {
        "1"
    }

    #[secure(get, path = "/reports", scope = "reports:read", rate = "2/min", rate_key = per_tenant)]
    pub async fn reports(_who: Principal) -> &'static str {
        "reports"
    }

    /// A quota per tenant, shared by its clients.
    pub fn per_tenant(request: &PolicyRequest<'_>) -> Option<CustomRateKey> {
        let tenant = request.principal().claim("tenant")?.as_str()?;
        Some(CustomRateKey::shared(tenant))
    }

    #[secure(get, path = "/projects/{project}", scope = "reports:read", rate = "2/min", rate_key = per_project)]
    pub async fn project(_who: Principal, Path(project): Path<String>) -> String {
        project
    }

    /// A quota per project of each client: the project is the client's to choose.
    pub fn per_project(request: &PolicyRequest<'_>) -> Option<CustomRateKey> {
        request.path_param("project").map(CustomRateKey::new)
    }
}

fn shop(security: Security) -> SecureRouter {
    SecureRouter::new(security)
        .mount(orders::routes(orders::OrdersState("[1, 2]")))
        .mount_at("/billing", billing::routes(billing::BillingState(3)))
        .prefix("/api/v1")
        .with_openapi("/openapi.json")
}

#[tokio::test]
async fn merges_into_an_app_with_its_own_fallback_and_state() {
    let kit = kit();
    #[derive(Clone)]
    struct AppState(&'static str);
    let app: Router = Router::new()
        .route(
            "/",
            get(|State(state): State<AppState>| async move { state.0 }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "the app's own fallback") })
        .with_state(AppState("home"))
        .merge(shop(kit.security().await.unwrap()).into_router());
    let client = TestClient::new(app);
    assert_eq!(client.get("/").send().await.text(), "home");
    let missing = client.get("/nowhere").send().await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.text(), "the app's own fallback");
    let token = kit.token().scopes(["orders:read", "billing:read"]).sign();
    let orders = client.get("/api/v1/orders").bearer(&token).send().await;
    assert_eq!(
        (orders.status(), orders.text().as_ref()),
        (StatusCode::OK, "[1, 2]")
    );
    let invoices = client
        .get("/api/v1/billing/invoices")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(invoices.text(), "3 invoices");
}

#[tokio::test]
async fn portcullis_answers_unknown_routes_only_when_asked() {
    let kit = kit();
    let plain = TestClient::new(shop(kit.security().await.unwrap()).into_router());
    let missing = plain.get("/nowhere").send().await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().is_empty(), "axum's own empty 404");
    let asked = TestClient::new(
        shop(kit.security().await.unwrap())
            .with_not_found()
            .into_router(),
    );
    let missing = asked.get("/nowhere").send().await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
}

#[tokio::test]
async fn the_prefix_reaches_the_document_the_inventory_the_audit_and_the_policy_names() {
    let kit = kit();
    let events: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = events.clone();
    let security = kit
        .security_builder()
        .default_rate(rate!("600/min"))
        .audit_sink(move |event: &AuditEvent<'_>| {
            seen.lock().unwrap().push(event.route.to_owned());
        })
        .build()
        .await
        .unwrap();
    let api = shop(security);
    let document = serde_json::to_value(api.openapi().unwrap()).unwrap();
    let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
    assert_eq!(
        paths,
        [
            "/api/v1/billing/admin",
            "/api/v1/billing/invoices",
            "/api/v1/orders",
            "/api/v1/orders/{id}",
        ]
    );
    let mounted: Vec<(&str, &str)> = api
        .mounted()
        .unwrap()
        .iter()
        .map(|mounted| (mounted.path, mounted.prefix))
        .collect();
    assert!(
        mounted.contains(&("/api/v1/billing/invoices", "/api/v1/billing")),
        "{mounted:?}"
    );
    assert!(
        mounted.contains(&("/api/v1/openapi.json", "/api/v1")),
        "{mounted:?}"
    );
    let inventory = api.inventory().to_string();
    for path in [
        "/api/v1/orders/{id}",
        "/api/v1/billing/admin",
        "/api/v1/openapi.json",
    ] {
        assert!(inventory.contains(path), "{inventory}");
    }
    let client = TestClient::new(api.into_router());
    let token = kit.token().scopes(["orders:read"]).sign();
    let reply = client.get("/api/v1/orders/7").bearer(&token).send().await;
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(
        reply.header("ratelimit-policy"),
        Some("\"api/v1/default\";q=600;w=60")
    );
    let reply = client.get("/api/v1/orders").bearer(&token).send().await;
    assert!(
        reply
            .header("ratelimit")
            .unwrap()
            .starts_with("\"api/v1/list_orders\";")
    );
    let served = client.get("/api/v1/openapi.json").send().await;
    assert_eq!(served.json()["paths"], document["paths"]);
    assert_eq!(
        *events.lock().unwrap(),
        [
            "/api/v1/orders/{id}",
            "/api/v1/orders",
            "/api/v1/openapi.json"
        ]
    );
}

#[tokio::test]
async fn modules_with_their_own_scopes_share_one_document_and_one_security() {
    let kit = kit();
    let security = kit.security().await.unwrap();
    let api = shop(security.clone());
    let document = serde_json::to_value(api.openapi().unwrap()).unwrap();
    let scopes = &document["components"]["securitySchemes"]["bearer"];
    // With no token endpoint the document names a bearer scheme; the scopes are listed on
    // each operation.
    assert!(scopes.is_object(), "{document}");
    assert_eq!(
        document["paths"]["/api/v1/billing/admin"]["get"]["security"],
        json!([{"bearer": []}])
    );
    let client = TestClient::new(api.into_router());
    // A token's scopes count against each module's declarations alike.
    let admin = kit.token().scopes(["shared:admin"]).sign();
    assert_eq!(
        client
            .get("/api/v1/billing/admin")
            .bearer(&admin)
            .send()
            .await
            .status(),
        StatusCode::OK
    );
    let reader = kit.token().scopes(["orders:read"]).sign();
    assert_eq!(
        client
            .get("/api/v1/billing/admin")
            .bearer(&reader)
            .send()
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // One token cache: the same token, verified once, serves both modules.
    let both = kit.token().scopes(["orders:read", "billing:read"]).sign();
    for path in [
        "/api/v1/orders",
        "/api/v1/billing/invoices",
        "/api/v1/orders",
    ] {
        let reply = client.get(path).bearer(&both).send().await;
        assert_eq!(reply.status(), StatusCode::OK, "{path}");
    }
    assert_eq!(security.signature_checks(), 3);
}

#[tokio::test]
async fn the_document_lists_every_module_s_scopes_for_its_token_endpoint() {
    let kit = kit();
    let security = kit
        .security_builder()
        .issuer(Issuer::new("https://other.example.com/").audience(AUDIENCE).token_url("https://other.example.com/token").jwks_json(r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#))
        .default_rate(rate!("600/min"))
        .build()
        .await
        .unwrap();
    let document = serde_json::to_value(shop(security).openapi().unwrap()).unwrap();
    let flow = &document["components"]["securitySchemes"]["oauth2-2"]["flows"]["clientCredentials"];
    assert_eq!(
        flow["scopes"],
        json!({
            "orders:read": "Read orders",
            "shared:admin": "Administer the shop",
            "billing:read": "Read invoices",
        }),
        "{document}"
    );
}

#[tokio::test]
async fn routers_with_other_states_merge_and_nest() {
    let kit = kit();
    let security = kit.security().await.unwrap();
    let orders: SecureRouter = SecureRouter::new(security.clone())
        .mount(orders::routes(orders::OrdersState("[]")))
        .with_openapi("/openapi.json");
    let billing: SecureRouter<billing::BillingState> = SecureRouter::new(security.clone());
    let billing = billing
        .mount(Routes::new().merge(routes![billing::list_invoices]))
        .with_state::<()>(billing::BillingState(9));
    let api = orders.nest("/billing", billing).prefix("/v2");
    let inventory = api.inventory().to_string();
    assert!(inventory.contains("/v2/billing/invoices"), "{inventory}");
    assert!(inventory.contains("/v2/openapi.json"), "{inventory}");
    let client = TestClient::new(api.into_router());
    let token = kit.token().scopes(["billing:read"]).sign();
    let reply = client
        .get("/v2/billing/invoices")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(reply.text(), "9 invoices");
}

#[tokio::test]
async fn mounting_mistakes_across_modules_are_start_up_errors_never_panics() {
    let kit = kit();
    let security = kit.security().await.unwrap();
    let duplicate = SecureRouter::new(security.clone())
        .mount(orders::routes(orders::OrdersState("[]")))
        .mount(routes![billing::billing_orders])
        .try_into_router()
        .unwrap_err();
    assert_eq!(
        duplicate,
        RouterError::DuplicateRoute {
            method: "GET",
            path: "/orders",
            first: "list_orders",
            second: "billing_orders",
        }
    );
    let conflict = SecureRouter::new(security.clone())
        .mount(orders::routes(orders::OrdersState("[]")))
        .mount(routes![billing::cancel])
        .try_into_router()
        .unwrap_err();
    assert_eq!(
        conflict,
        RouterError::ConflictingRoutes {
            first: "get_order",
            first_path: "/orders/{id}",
            second: "cancel",
            second_path: "/orders/{order_id}",
        }
    );
    let clash = SecureRouter::new(security.clone())
        .mount(billing::routes(billing::BillingState(1)))
        .mount(routes![clashing::clash])
        .try_guard()
        .unwrap_err();
    assert_eq!(
        clash,
        RouterError::ConflictingScopeDescriptions {
            scope: "shared:admin",
            first: "Administer the shop",
            first_handler: "list_invoices",
            second: "Administer everything",
            second_handler: "clash",
        }
    );
    let other = kit.security().await.unwrap();
    let mixed = SecureRouter::<()>::new(security)
        .merge(SecureRouter::new(other).mount(routes![root::status]))
        .try_inventory()
        .unwrap_err();
    assert_eq!(mixed, RouterError::DifferentSecurity);
    let refused = SecureRouter::<()>::new(kit.security().await.unwrap())
        .mount(routes![root::status])
        .prefix("/api/")
        .try_into_router()
        .unwrap_err();
    assert!(
        matches!(refused, RouterError::InvalidPrefix { .. }),
        "{refused}"
    );
}

/// Each audit event's route, reason and status, as an audit sink records them.
type Recorded = Arc<Mutex<Vec<(String, String, u16)>>>;

/// What an audit sink records, and the sink.
fn recorded_events() -> (Recorded, impl Fn(&AuditEvent<'_>) + Send + Sync + 'static) {
    let events = Recorded::default();
    let seen = events.clone();
    let sink = move |event: &AuditEvent<'_>| {
        seen.lock().unwrap().push((
            event.route.to_owned(),
            event.reason.as_str().to_owned(),
            event.status,
        ));
    };
    (events, sink)
}

/// The whole app of the guard's tests: the shop, the app's own routes, one of them
/// declared unsecured.
fn guarded(security: Security) -> (portcullis::Guarded<Router>, SecureRouter) {
    let api = shop(security).allow_unsecured(UnsecuredRoute::get("/"));
    let guard = api.guard();
    let inventory = shop(api.security().clone()).allow_unsecured(UnsecuredRoute::get("/"));
    let app = Router::new()
        .route("/", get(|| async { "home" }))
        .route("/admin/export", get(|| async { "every customer's data" }))
        .merge(api.into_router());
    (guard.wrap(app), inventory)
}

#[tokio::test]
async fn behind_the_guard_a_route_added_by_hand_is_refused_and_audited() {
    let kit = kit();
    let (events, seen) = recorded_events();
    let alerts: Arc<Mutex<Vec<Alert>>> = Arc::default();
    let raised = alerts.clone();
    let security = kit
        .security_builder()
        .default_rate(rate!("600/min"))
        .alert_policy(portcullis::alert::AlertPolicy {
            unlisted_routes: 3,
            ..Default::default()
        })
        .alert_sink(move |alert: &Alert| raised.lock().unwrap().push(alert.clone()))
        .audit_sink(seen)
        .build()
        .await
        .unwrap();
    let (app, api) = guarded(security);
    let client = TestClient::new(app);
    assert_eq!(client.get("/").send().await.text(), "home");
    let export = client.get("/admin/export").send().await;
    assert_eq!(export.status(), StatusCode::NOT_FOUND);
    assert!(!export.text().contains("customer"));
    assert_eq!(export.header("x-content-type-options"), Some("nosniff"));
    assert!(export.header("x-request-id").is_some());
    let wrong_method = client.delete("/api/v1/orders").send().await;
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.header("allow"), Some("GET, HEAD"));
    // A preflight to a listed path reaches the app (here: no CORS layer, so axum's 405).
    let preflight = client
        .request(Method::OPTIONS, "/api/v1/orders")
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "GET")
        .send()
        .await;
    assert_ne!(preflight.status(), StatusCode::NOT_FOUND);
    let token = kit.token().scopes(["orders:read"]).sign();
    let orders = client.get("/api/v1/orders").bearer(&token).send().await;
    assert_eq!(orders.status(), StatusCode::OK);
    let events = events.lock().unwrap().clone();
    assert_eq!(
        events,
        [
            ("(unlisted)".to_owned(), "unlisted_route".to_owned(), 404),
            ("(unlisted)".to_owned(), "unlisted_route".to_owned(), 405),
            ("/api/v1/orders".to_owned(), "authorized".to_owned(), 200),
        ]
    );
    // A scan for unlisted routes from one address raises one alert.
    for path in ["/.env", "/wp-admin"] {
        assert_eq!(
            client.get(path).send().await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let alerts = alerts.lock().unwrap().clone();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        matches!(alerts[0].kind, AlertKind::UnlistedRoutes { .. }),
        "{alerts:?}"
    );
    let inventory = api.inventory().to_string();
    let home = inventory
        .lines()
        .find(|line| line.starts_with("GET     / "))
        .unwrap_or_else(|| panic!("{inventory}"));
    assert!(home.contains("UNSECURED"), "{home}");
    assert!(!inventory.contains("/admin/export"));
}

/// The app's own routes of the guard's checks: one declared unsecured under a prefix, one
/// with another name for a declared parameter, and three added by hand: one where an API
/// template matches its path too (the router prefers its static segment), one catching
/// every path under `/api/v1/`, and another method at an API path.
fn own_routes() -> Router {
    Router::new()
        .route(
            "/api/v1/orders/export",
            get(|| async { "every customer's data" }),
        )
        .route("/api/v1/{anything}", get(|| async { "a catch-all" }))
        .route(
            "/api/v1/orders/{id}",
            axum::routing::delete(|| async { "deleted" }),
        )
        .route("/hooks/{name}", axum::routing::post(|| async { "hook" }))
        .nest_service("/assets", get(|| async { "an asset" }))
        .fallback(|| async { "the app's fallback" })
}

/// The guard checks the route the router picked, whether the endpoints stand beside the
/// app's routes (`into_service_with`) or inside them (`guard().wrap`).
#[tokio::test]
async fn a_route_added_by_hand_is_refused_where_a_listed_template_matches_its_path_too() {
    let kit = kit();
    let token = kit.token().scopes(["orders:read"]).sign();
    for beside in [true, false] {
        let (events, seen) = recorded_events();
        let security = kit
            .security_builder()
            .default_rate(rate!("600/min"))
            .audit_sink(seen)
            .build()
            .await
            .unwrap();
        let api = shop(security)
            .allow_unsecured(UnsecuredRoute::get_prefix("/assets"))
            .allow_unsecured(UnsecuredRoute::new(Method::POST, "/hooks/{provider}"));
        let client = if beside {
            TestClient::new(api.into_service_with(own_routes()).hsts(Hsts::default()))
        } else {
            let guard = api.guard().hsts(Hsts::default());
            TestClient::new(guard.wrap(own_routes().merge(api.into_router())))
        };
        for bearer in [None, Some(&token)] {
            let mut export = client.get("/api/v1/orders/export");
            if let Some(token) = bearer {
                export = export.bearer(token);
            }
            let export = export.send().await;
            assert_eq!(export.status(), StatusCode::NOT_FOUND, "beside: {beside}");
            assert!(!export.text().contains("customer"));
            assert_eq!(export.header("x-content-type-options"), Some("nosniff"));
            assert!(export.header("strict-transport-security").is_some());
        }
        for (method, path) in [
            (Method::GET, "/api/v1/status"),
            (Method::GET, "/nowhere"),
            (Method::DELETE, "/api/v1/orders/7"),
        ] {
            let refused = client
                .request(method.clone(), path)
                .bearer(&token)
                .send()
                .await;
            assert!(!refused.text().contains("deleted"), "{method} {path}");
            assert!(
                refused.status() == StatusCode::NOT_FOUND
                    || refused.status() == StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {}",
                refused.status()
            );
        }
        // Another method at a listed path: 405 naming the listed ones.
        let put = client.request(Method::PUT, "/api/v1/orders/7").send().await;
        assert_eq!(put.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(put.header("allow"), Some("GET, HEAD"));
        assert_eq!(put.header("x-content-type-options"), Some("nosniff"));
        // A preflight to a listed path reaches the app. With no CORS layer to answer it, the
        // app's 405 names the listed methods only, as the guard's own 405 does, never the
        // `DELETE` added by hand, which the guard refuses.
        let preflight = client
            .request(Method::OPTIONS, "/api/v1/orders/7")
            .header("origin", "https://shop.example")
            .header("access-control-request-method", "GET")
            .send()
            .await;
        assert_eq!(preflight.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            preflight.header("allow"),
            Some("GET, HEAD"),
            "beside: {beside}"
        );
        assert_eq!(preflight.header("x-content-type-options"), Some("nosniff"));
        // The listed templates serve their own paths.
        let order = client.get("/api/v1/orders/7").bearer(&token).send().await;
        assert_eq!(order.status(), StatusCode::OK);
        assert_eq!(order.text(), "order 7");
        assert_eq!(order.header("x-content-type-options"), Some("nosniff"));
        assert!(order.header("strict-transport-security").is_some());
        assert_eq!(
            client.get("/api/v1/orders/7").send().await.status(),
            StatusCode::UNAUTHORIZED
        );
        // A declaration naming the parameter otherwise than the route, and a service
        // nested under a declared prefix.
        assert_eq!(client.post("/hooks/pay").send().await.text(), "hook");
        assert_eq!(
            client.get("/assets/app.css").send().await.text(),
            "an asset"
        );
        let asset = client.get("/assets").send().await;
        assert_eq!(asset.text(), "an asset");
        assert_eq!(asset.header("x-content-type-options"), Some("nosniff"));
        let events = events.lock().unwrap().clone();
        let unlisted = |status: u16| {
            events
                .iter()
                .filter(|(route, reason, seen)| {
                    route == "(unlisted)" && reason == "unlisted_route" && *seen == status
                })
                .count()
        };
        // The export twice, the catch-all, the fallback, DELETE by hand; PUT.
        assert_eq!((unlisted(404), unlisted(405)), (4, 2), "{events:?}");
    }
}

/// A CORS layer answers the preflights of the endpoints' paths, inside the guard's check
/// (`guard().wrap` around an app with the layer) or outside the guarded service
/// (`into_service_with`); the endpoints stay secured and their answers carry its fields.
#[tokio::test]
async fn a_cors_layer_answers_preflights_and_the_endpoints_stay_secured() {
    use axum::http::{HeaderValue, header};
    use tower_http::cors::CorsLayer;

    let kit = kit();
    let token = kit.token().scopes(["orders:read"]).sign();
    let origin = "https://shop.example";
    let cors = || {
        CorsLayer::new()
            .allow_origin(HeaderValue::from_static(origin))
            .allow_methods([Method::GET])
            .allow_headers([header::AUTHORIZATION])
    };
    for beside in [true, false] {
        let security = kit
            .security_builder()
            .default_rate(rate!("600/min"))
            .build()
            .await
            .unwrap();
        let api = shop(security);
        let app = Router::new().route("/admin/export", get(|| async { "every customer's data" }));
        let service = if beside {
            tower::Layer::layer(&cors(), api.into_service_with(app)).boxed_clone()
        } else {
            let guard = api.guard();
            guard
                .wrap(app.merge(api.into_router()).layer(cors()))
                .boxed_clone()
        };
        let client = TestClient::new(service);
        let preflight = client
            .request(Method::OPTIONS, "/api/v1/orders/7")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
            .await;
        assert_eq!(preflight.status(), StatusCode::OK, "beside: {beside}");
        assert_eq!(
            preflight.header("access-control-allow-origin"),
            Some(origin)
        );
        assert_eq!(
            preflight.header("access-control-allow-methods"),
            Some("GET")
        );
        let anonymous = client
            .get("/api/v1/orders/7")
            .header("origin", origin)
            .send()
            .await;
        assert_eq!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED,
            "beside: {beside}"
        );
        let order = client
            .get("/api/v1/orders/7")
            .header("origin", origin)
            .bearer(&token)
            .send()
            .await;
        assert_eq!(order.status(), StatusCode::OK, "beside: {beside}");
        assert_eq!(order.header("access-control-allow-origin"), Some(origin));
        let unlisted = client
            .get("/admin/export")
            .header("origin", origin)
            .send()
            .await;
        assert_eq!(unlisted.status(), StatusCode::NOT_FOUND, "beside: {beside}");
        assert!(!unlisted.text().contains("customer"));
    }
}

#[tokio::test]
async fn every_response_leaving_the_guard_carries_the_security_headers() {
    let kit = kit();
    let token = kit.token().scopes(["orders:read"]).sign();
    for (beside, hsts) in [
        (true, None),
        (true, Some("max-age=600; includeSubDomains")),
        (false, None),
        (false, Some("max-age=600; includeSubDomains")),
    ] {
        let api = shop(kit.security().await.unwrap()).allow_unsecured(UnsecuredRoute::get("/"));
        let policy = Hsts::default().max_age(Duration::from_secs(600));
        let own = Router::new()
            .route("/", get(|| async { "home" }))
            .route("/admin/export", get(|| async { "every row" }));
        let client = if beside {
            let service = api.into_service_with(own);
            TestClient::new(match hsts {
                Some(_) => service.hsts(policy),
                None => service,
            })
        } else {
            let guard = match hsts {
                Some(_) => api.guard().hsts(policy),
                None => api.guard(),
            };
            TestClient::new(guard.wrap(own.merge(api.into_router())))
        };
        let answers = [
            (
                "allowed",
                client.get("/api/v1/orders").bearer(&token).send().await,
            ),
            ("no token", client.get("/api/v1/orders").send().await),
            (
                "extractor",
                client.get("/api/v1/orders/x").bearer(&token).send().await,
            ),
            ("document", client.get("/api/v1/openapi.json").send().await),
            ("unsecured", client.get("/").send().await),
            ("unlisted", client.get("/admin/export").send().await),
            ("no route", client.get("/nowhere").send().await),
            ("405", client.delete("/api/v1/orders").send().await),
            (
                "preflight",
                client
                    .request(Method::OPTIONS, "/api/v1/orders")
                    .header("origin", "https://shop.example")
                    .header("access-control-request-method", "GET")
                    .send()
                    .await,
            ),
        ];
        let statuses = answers
            .each_ref()
            .map(|(_, answer)| answer.status().as_u16());
        assert_eq!(statuses, [200, 401, 400, 200, 200, 404, 404, 405, 405]);
        for (what, answer) in &answers {
            assert_eq!(
                answer.header("x-content-type-options"),
                Some("nosniff"),
                "{what}, beside: {beside}"
            );
            assert_eq!(
                answer.header("strict-transport-security"),
                hsts,
                "{what}, beside: {beside}"
            );
        }
    }
    // Served without the guard, the endpoints' own answers still carry `nosniff`.
    let alone = TestClient::new(shop(kit.security().await.unwrap()).into_router());
    for answer in [
        alone.get("/api/v1/orders").bearer(&token).send().await,
        alone.get("/api/v1/orders").send().await,
    ] {
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    }
    // A value the app set itself is kept.
    let api = shop(kit.security().await.unwrap()).allow_unsecured(UnsecuredRoute::get("/own"));
    let guard = api.guard().hsts(Hsts::default());
    let app = Router::new()
        .route(
            "/own",
            get(|| async { ([("strict-transport-security", "max-age=1")], "its own") }),
        )
        .merge(api.into_router());
    let own = TestClient::new(guard.wrap(app)).get("/own").send().await;
    assert_eq!(own.text(), "its own");
    assert_eq!(own.header("strict-transport-security"), Some("max-age=1"));
    assert_eq!(own.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn a_guard_knows_portcullis_own_routes() {
    let kit = kit();
    let dev = portcullis::dev::DevIssuer::new("http://127.0.0.1:9/dev", "shop-api").unwrap();
    let api = shop(kit.security().await.unwrap()).with_dev_issuer(&dev);
    let guard = api.guard();
    let inventory = api.inventory().to_string();
    assert!(
        inventory.contains("/dev/.well-known/jwks.json"),
        "{inventory}"
    );
    let client = TestClient::new(guard.wrap(api.into_router()));
    for path in [
        "/dev/.well-known/jwks.json",
        "/dev/.well-known/openid-configuration",
        "/api/v1/openapi.json",
    ] {
        assert_eq!(
            client.get(path).send().await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
}

/// The envelope of the app's errors.
#[output]
struct Envelope {
    error: String,
    message: String,
}

struct EnvelopeRenderer;

impl ErrorRenderer for EnvelopeRenderer {
    fn render(&self, problem: &Problem) -> Response {
        let envelope = Envelope {
            error: problem.kind().to_owned(),
            message: problem.detail().unwrap_or(problem.title()).to_owned(),
        };
        axum::Json(envelope).into_response()
    }

    fn schema(&self) -> ErrorSchema {
        ErrorSchema::of::<Envelope>()
    }
}

#[tokio::test]
async fn the_app_s_error_format_keeps_portcullis_headers() {
    let kit = kit();
    let security = kit
        .security_builder()
        .default_rate(rate!("600/min"))
        .error_renderer(EnvelopeRenderer)
        .build()
        .await
        .unwrap();
    let api = SecureRouter::new(security)
        .mount(orders::routes(orders::OrdersState("[]")))
        .mount(routes![root::reports])
        .with_openapi("/openapi.json");
    let document = serde_json::to_value(api.openapi().unwrap()).unwrap();
    let guard = api.guard();
    let client = TestClient::new(guard.wrap(api.into_router()));

    let unauthenticated = client.get("/orders").send().await;
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        unauthenticated.header("content-type"),
        Some("application/json")
    );
    assert_eq!(unauthenticated.json()["error"], "unauthenticated");
    assert_eq!(
        unauthenticated.header("www-authenticate"),
        Some("Bearer realm=\"api\"")
    );

    let reader = kit.token().scopes(["orders:read"]).sign();
    let forbidden = client.get("/reports").bearer(&reader).send().await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(forbidden.json()["error"], "insufficient-scope");
    assert!(
        forbidden
            .header("www-authenticate")
            .unwrap()
            .contains("error=\"insufficient_scope\", error_description=\"the access token lacks a required scope\", scope=\"reports:read\"")
    );

    let reporter = kit
        .token()
        .scopes(["reports:read"])
        .claim("tenant", "acme")
        .sign();
    for _ in 0..2 {
        assert_eq!(
            client
                .get("/reports")
                .bearer(&reporter)
                .send()
                .await
                .status(),
            StatusCode::OK
        );
    }
    let limited = client.get("/reports").bearer(&reporter).send().await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.json()["error"], "quota-exceeded");
    assert!(limited.header("retry-after").is_some());
    assert!(limited.header("ratelimit-policy").is_some());
    assert!(limited.header("ratelimit").is_some());
    assert!(limited.header("x-request-id").is_some());

    let invalid = client.get("/orders/seven").bearer(&reader).send().await;
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    assert_eq!(invalid.json()["error"], "malformed-input");

    let unlisted = client.get("/nowhere").send().await;
    assert_eq!(unlisted.status(), StatusCode::NOT_FOUND);
    assert_eq!(unlisted.json()["error"], "not-found");

    let responses = &document["paths"]["/orders"]["get"]["responses"];
    assert_eq!(
        responses["401"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Envelope"
    );
    assert!(document["components"]["schemas"]["Envelope"].is_object());
}

#[tokio::test]
async fn development_error_details_name_the_reason_and_say_so() {
    let kit = kit();
    let security = kit
        .security_builder()
        .default_rate(rate!("600/min"))
        .development_error_details()
        .build()
        .await
        .unwrap();
    let api = SecureRouter::new(security).mount(orders::routes(orders::OrdersState("[]")));
    let inventory = api.inventory().to_string();
    assert!(
        inventory.contains("WARNING: development_error_details is on"),
        "{inventory}"
    );
    let client = TestClient::new(api.into_router());
    let stranger = TestKit::new(ISSUER, AUDIENCE)
        .token()
        .scopes(["orders:read"])
        .sign();
    let reply = client.get("/orders").bearer(&stranger).send().await;
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    assert!(
        reply
            .header("www-authenticate")
            .unwrap()
            .contains("error_description=\"unknown_kid\""),
        "{:?}",
        reply.header("www-authenticate")
    );
    let without = TestClient::new(
        SecureRouter::new(kit.security().await.unwrap())
            .mount(orders::routes(orders::OrdersState("[]")))
            .into_router(),
    );
    let reply = without.get("/orders").bearer(&stranger).send().await;
    assert!(
        reply
            .header("www-authenticate")
            .unwrap()
            .contains("error_description=\"the access token is invalid\"")
    );
}

/// Sends `request` with no `ConnectInfo`, as an app served by plain `axum::serve` would.
async fn without_address(app: &Router, request: Request<Body>) -> StatusCode {
    app.clone().oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn without_a_client_address_ip_keyed_decisions_refuse_with_500() {
    let kit = kit();
    let alerts: Arc<Mutex<Vec<Alert>>> = Arc::default();
    let raised = alerts.clone();
    let security = kit
        .security_builder()
        .default_rate(rate!("600/min"))
        .alert_sink(move |alert: &Alert| raised.lock().unwrap().push(alert.clone()))
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security)
        .mount(orders::routes(orders::OrdersState("[]")))
        .mount(routes![root::status, root::version])
        .into_router();
    let get = |path: &str, token: Option<&str>| {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.body(Body::empty()).unwrap()
    };
    // A public endpoint, limited per IP: never one shared bucket.
    for _ in 0..3 {
        assert_eq!(
            without_address(&app, get("/status", None)).await,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
    // A bad token, which the failed-authentication throttle would count: never unthrottled.
    assert_eq!(
        without_address(&app, get("/orders", Some("not.a.token"))).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    // An unlimited public endpoint counts nothing, so needs no address.
    assert_eq!(
        without_address(&app, get("/version", None)).await,
        StatusCode::OK
    );
    // A good token on an endpoint limited per client needs no address.
    let token = kit.token().scopes(["orders:read"]).sign();
    assert_eq!(
        without_address(&app, get("/orders", Some(&token))).await,
        StatusCode::OK
    );
    // With the address (as `portcullis::transport::serve` and the test kit give it): served.
    let mut request = get("/status", None);
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))));
    assert_eq!(without_address(&app, request).await, StatusCode::OK);
    let alerts = alerts.lock().unwrap();
    let unknown: Vec<&Alert> = alerts
        .iter()
        .filter(|alert| alert.kind == AlertKind::ClientAddressUnknown)
        .collect();
    assert_eq!(unknown.len(), 1, "alerted once: {alerts:?}");
    assert!(
        unknown[0]
            .to_string()
            .contains("portcullis::transport::serve")
    );
}

#[tokio::test]
async fn a_custom_rate_key_counts_what_the_function_picks() {
    let kit = kit();
    let api = SecureRouter::new(kit.security().await.unwrap())
        .mount(routes![root::reports, root::project])
        .with_openapi("/openapi.json");
    let inventory = api.inventory().to_string();
    assert!(inventory.contains("fn per_tenant"), "{inventory}");
    let document = serde_json::to_value(api.openapi().unwrap()).unwrap();
    assert_eq!(
        document["paths"]["/reports"]["get"]["x-ratelimit"]["key"],
        "fn per_tenant"
    );
    let client = TestClient::new(api.into_router());
    let token = |client: &str, tenant: Option<&str>| {
        let token = kit.token().client_id(client).scopes(["reports:read"]);
        match tenant {
            Some(tenant) => token.claim("tenant", tenant).sign(),
            None => token.sign(),
        }
    };
    let status = |reply: portcullis::testing::TestResponse| reply.status();
    // Two clients of one tenant share its quota (2 a minute).
    let (a, b) = (token("a", Some("acme")), token("b", Some("acme")));
    assert_eq!(
        status(client.get("/reports").bearer(&a).send().await),
        StatusCode::OK
    );
    assert_eq!(
        status(client.get("/reports").bearer(&b).send().await),
        StatusCode::OK
    );
    assert_eq!(
        status(client.get("/reports").bearer(&a).send().await),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another tenant has its own.
    let other = token("c", Some("globex"));
    assert_eq!(
        status(client.get("/reports").bearer(&other).send().await),
        StatusCode::OK
    );
    // No tenant: counted per client (the function picked nothing).
    let lone = token("d", None);
    assert_eq!(
        status(client.get("/reports").bearer(&lone).send().await),
        StatusCode::OK
    );

    // A key from the path is counted per client: another client naming the same project
    // has a bucket of its own, never this one's.
    let (x, y) = (token("x", None), token("y", None));
    for _ in 0..2 {
        assert_eq!(
            status(client.get("/projects/p1").bearer(&x).send().await),
            StatusCode::OK
        );
    }
    assert_eq!(
        status(client.get("/projects/p1").bearer(&x).send().await),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        status(client.get("/projects/p1").bearer(&y).send().await),
        StatusCode::OK
    );
    assert_eq!(
        status(client.get("/projects/p2").bearer(&x).send().await),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_reference_page_under_a_prefix_shows_the_combined_document() {
    let kit = kit();
    let api = shop(kit.security().await.unwrap()).with_api_reference("/docs", "Shop");
    let inventory = api.inventory().to_string();
    assert!(
        inventory.contains("/api/v1/docs/swagger-initializer.js"),
        "{inventory}"
    );
    let guard = api.guard();
    let client = TestClient::new(guard.wrap(api.into_router()));
    let page = client.get("/api/v1/docs").send().await;
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("https://idp.example.com"), "{policy}");
    let initializer = client
        .get("/api/v1/docs/swagger-initializer.js")
        .send()
        .await;
    assert!(
        initializer.text().contains("\"/api/v1/openapi.json\""),
        "{}",
        initializer.text()
    );
    // The document it shows covers both modules, at the paths they answer at.
    let document = client.get("/api/v1/openapi.json").send().await;
    assert!(document.json()["paths"]["/api/v1/billing/invoices"].is_object());
    assert!(document.json()["paths"]["/api/v1/orders"].is_object());
}
