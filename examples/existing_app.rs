//! Portcullis inside an axum service that already exists: the app keeps its own state,
//! routes, fallback and tower-http layer; two secured modules (orders and billing), each
//! with its own state and its own `scopes!`, are combined under `/api/v1` with one OpenAPI
//! document and one inventory; the app's own routes stand behind the guard, so that a route
//! added by hand is refused unless it is declared deliberately unsecured.
//!
//! ```text
//! cargo run --example existing_app
//! ```
//!
//! It listens on `EXISTING_APP_ADDR` (default `127.0.0.1:3001`) and prints tokens to try.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use portcullis::dev::DevIssuer;
use portcullis::prelude::*;
use portcullis::{Guarded, UnsecuredRoute};
use tower_http::trace::TraceLayer;

/// The orders module: its own scopes, state and routes.
pub mod orders {
    use std::sync::Arc;

    use axum::extract::State;
    use portcullis::Routes;
    use portcullis::prelude::*;

    portcullis::scopes! {
        "orders:read" => "Read orders",
    }

    /// What the orders module keeps.
    #[derive(Clone)]
    pub struct OrdersState {
        /// The orders, as JSON rows.
        pub orders: Arc<Vec<&'static str>>,
    }

    /// Lists the orders.
    #[secure(get, path = "/orders", scope = "orders:read", rate = "100/min")]
    async fn list_orders(_who: Principal, State(state): State<OrdersState>) -> String {
        format!("[{}]", state.orders.join(","))
    }

    /// The module's routes, with its state.
    pub fn routes(state: OrdersState) -> Routes {
        routes![list_orders].with_state(state)
    }
}

/// The billing module: other scopes, another state, a rate limit per tenant.
pub mod billing {
    use axum::extract::State;
    use portcullis::Routes;
    use portcullis::prelude::*;
    use portcullis::rate::CustomRateKey;

    portcullis::scopes! {
        "billing:read" => "Read invoices",
    }

    /// What the billing module keeps.
    #[derive(Clone)]
    pub struct BillingState {
        /// The currency invoices are in.
        pub currency: &'static str,
    }

    /// One quota per tenant (the verified token's `tenant` claim), shared by every client
    /// of the tenant; per client for tokens without one.
    pub fn per_tenant(request: &PolicyRequest<'_>) -> Option<CustomRateKey> {
        let tenant = request.principal().claim("tenant")?.as_str()?;
        Some(CustomRateKey::shared(tenant))
    }

    /// Lists the invoices.
    #[secure(get, path = "/invoices", scope = "billing:read", rate = "30/min", rate_key = per_tenant)]
    async fn list_invoices(_who: Principal, State(state): State<BillingState>) -> String {
        format!("{{\"currency\":\"{}\",\"invoices\":[]}}", state.currency)
    }

    /// The module's routes, with its state.
    pub fn routes(state: BillingState) -> Routes {
        routes![list_invoices].with_state(state)
    }
}

/// The app's own state.
#[derive(Clone)]
pub struct AppState {
    /// The service's name.
    pub name: &'static str,
}

/// The app's home page: deliberately unsecured.
async fn home(State(app): State<AppState>) -> String {
    format!("{} is running", app.name)
}

/// A route added by hand and not declared: behind the guard it answers 404.
async fn export() -> &'static str {
    "every customer's data"
}

/// The app's own fallback.
async fn fallback() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "nothing here")
}

/// The secured API: both modules under `/api/v1`, its document, the development issuer
/// and the app's one deliberately unsecured route.
pub fn api(security: Security, dev: Option<&DevIssuer>) -> SecureRouter {
    let orders = orders::OrdersState {
        orders: std::sync::Arc::new(vec![r#"{"id":1,"item":"tea"}"#]),
    };
    let billing = billing::BillingState { currency: "EUR" };
    let api = SecureRouter::new(security)
        .mount(orders::routes(orders))
        .mount_at("/billing", billing::routes(billing))
        .prefix("/api/v1")
        .with_openapi("/openapi.json")
        .allow_unsecured(UnsecuredRoute::get("/"));
    match dev {
        Some(dev) => api.with_dev_issuer(dev),
        None => api,
    }
}

/// The whole service: the existing routes, state, fallback and layer behind the guard,
/// beside the secured API (whose requests the audit trail records).
pub fn app(api: SecureRouter) -> Guarded<Router> {
    let app = Router::new()
        .route("/", get(home))
        .route("/admin/export", get(export))
        .fallback(fallback)
        .with_state(AppState {
            name: "existing-app",
        })
        .layer(TraceLayer::new_for_http());
    api.into_service_with(app)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Colours only on a terminal: a log file or a collector gets plain lines, which also
    // cost less to write (docs/performance.md, "As deployed").
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let address: SocketAddr = std::env::var("EXISTING_APP_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3001".to_owned())
        .parse()?;
    let base = format!("http://{address}");
    let dev = DevIssuer::new(format!("{base}/dev"), "existing-app")?;
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("600/min"))
        .build()
        .await?;
    let api = api(security, Some(&dev));
    println!("The security surface of the app:\n{}", api.inventory());
    let service = app(api);

    let token = |scopes: &[&str]| {
        dev.token()
            .subject("alice")
            .client("cli")
            .scopes(scopes.iter().copied())
            .claim("tenant", "acme")
            .lifetime(Duration::from_secs(3600))
            .sign()
    };
    println!("Listening on {base}; try:");
    println!("curl -i {base}/                      # unsecured on purpose");
    println!("curl -i {base}/admin/export          # added by hand: 404 behind the guard");
    println!(
        "curl -i -H 'Authorization: Bearer {}' {base}/api/v1/orders",
        token(&["orders:read"])
    );
    println!(
        "curl -i -H 'Authorization: Bearer {}' {base}/api/v1/billing/invoices",
        token(&["billing:read"])
    );
    println!("curl -s {base}/api/v1/openapi.json");

    let listener = tokio::net::TcpListener::bind(address).await?;
    portcullis::transport::serve_with_shutdown(listener, service, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
