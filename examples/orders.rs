//! An in-memory orders API secured by Portcullis, with its own development token issuer so
//! that it runs with no identity provider.
//!
//! ```text
//! cargo run --example orders
//! ```
//!
//! Environment: `ORDERS_ADDR` (default `127.0.0.1:3000`), `ORDERS_RATE_SCALE` (multiplies
//! every quota, default 1), `RUST_LOG` (default `info`: audit events included).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use portcullis::dev::DevIssuer;
use portcullis::prelude::*;
use serde::Serialize;

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Create orders",
    "orders:admin" => "Delete orders",
}

/// One order.
#[derive(Clone, Serialize)]
struct Order {
    id: u64,
    item: String,
    quantity: u32,
    created_by: String,
}

/// A new order, as clients send it.
#[input]
struct NewOrder {
    /// What is ordered.
    #[garde(length(chars, min = 1, max = 64))]
    item: String,
    /// How many.
    #[garde(range(min = 1, max = 1000))]
    quantity: u32,
}

/// The orders, in memory.
#[derive(Clone, Default)]
struct Store {
    orders: Arc<Mutex<BTreeMap<u64, Order>>>,
    next_id: Arc<AtomicU64>,
}

impl Store {
    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<u64, Order>) -> T) -> T {
        let mut orders = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut orders)
    }
}

/// Is the service up?
#[public(get, path = "/health", rate = "10/s")]
async fn health() -> &'static str {
    "ok"
}

/// Lists every order.
#[secure(get, path = "/orders", scope = "orders:read", rate = "100/min")]
async fn list_orders(State(store): State<Store>, _who: Principal) -> Json<Vec<Order>> {
    Json(store.with(|orders| orders.values().cloned().collect()))
}

/// Gets one order.
#[secure(get, path = "/orders/{id}", scope = "orders:read")]
async fn get_order(
    State(store): State<Store>,
    _who: Principal,
    Path(id): Path<u64>,
) -> Result<Json<Order>, ApiError> {
    store
        .with(|orders| orders.get(&id).cloned())
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no order {id}")))
}

/// Creates an order.
#[secure(post, path = "/orders", scope = "orders:write", rate = "10/min")]
async fn create_order(
    State(store): State<Store>,
    who: Principal,
    Json(new): Json<NewOrder>,
) -> (StatusCode, Json<Order>) {
    let id = store.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let order = Order {
        id,
        item: new.item,
        quantity: new.quantity,
        created_by: who.subject().unwrap_or("unknown").to_owned(),
    };
    store.with(|orders| orders.insert(id, order.clone()));
    (StatusCode::CREATED, Json(order))
}

/// Deletes an order.
#[secure(delete, path = "/orders/{id}", scope = "orders:admin", rate = "10/min")]
async fn delete_order(
    State(store): State<Store>,
    _who: Principal,
    Path(id): Path<u64>,
) -> Result<StatusCode, ApiError> {
    match store.with(|orders| orders.remove(&id)) {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(ApiError::not_found(format!("no order {id}"))),
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let address: SocketAddr = env_or("ORDERS_ADDR", "127.0.0.1:3000").parse()?;
    let rate_scale: f64 = env_or("ORDERS_RATE_SCALE", "1").parse()?;

    let issuer = format!("http://{address}/dev");
    let dev = DevIssuer::new(&issuer, "orders-api")?;
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("600/min"))
        .rate_scale(rate_scale)
        .realm("orders")
        .build()
        .await?;
    let api = SecureRouter::new(security)
        .mount(routes![
            health,
            list_orders,
            get_order,
            create_order,
            delete_order
        ])
        .into_router()
        .with_state(Store::default());
    let app = api.nest("/dev", dev.router());

    let lifetime = Duration::from_secs(3600);
    let reader = dev
        .token()
        .subject("alice")
        .client("orders-reader")
        .scopes(["orders:read"])
        .lifetime(lifetime)
        .sign();
    let writer = dev
        .token()
        .subject("bob")
        .client("orders-writer")
        .scopes(["orders:read", "orders:write"])
        .lifetime(lifetime)
        .sign();
    let base = format!("http://{address}");
    println!(
        "Orders API on {base} (development issuer {issuer}, JWKS at {issuer}/.well-known/jwks.json)"
    );
    println!();
    println!("Reader token (orders:read), valid 1 h:");
    println!("READER_TOKEN={reader}");
    println!("Writer token (orders:read orders:write), valid 1 h:");
    println!("WRITER_TOKEN={writer}");
    println!();
    println!("Try:");
    println!("curl -i {base}/health");
    println!(
        "curl -i -H \"Authorization: Bearer {writer}\" -H 'Content-Type: application/json' -d '{{\"item\": \"tea\", \"quantity\": 2}}' {base}/orders"
    );
    println!("curl -i -H \"Authorization: Bearer {reader}\" {base}/orders");
    println!("curl -i -H \"Authorization: Bearer {reader}\" {base}/orders/1");
    println!(
        "curl -i -H \"Authorization: Bearer {reader}\" -X DELETE {base}/orders/1    # 403: needs orders:admin"
    );
    println!("curl -i {base}/orders    # 401: no token");

    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
