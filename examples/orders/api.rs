// The orders API: its scopes, types, handlers and security configuration.
//
// This file is `include!`d by the example (`main.rs`) and by its test
// (`tests/orders_example.rs`), so that both build the same API; so it holds no inner
// attributes and no `main`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::StatusCode;
use portcullis::RequestContext;
use portcullis::prelude::*;
use portcullis::secrets::{KeyRing, Sealed, with_key_ring};
use serde::{Deserialize, Serialize};

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Create orders",
    "orders:admin" => "Delete orders",
    "tokens:revoke" => "Revoke access tokens",
    "ops:metrics" => "Read the service's metrics",
}

/// The Prometheus exporter's handle, installed by `main` before the API is built.
static METRICS: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> = std::sync::OnceLock::new();

/// One order.
#[output]
#[derive(Clone)]
pub struct Order {
    /// The order's id.
    id: u64,
    /// What was ordered.
    item: String,
    /// How many.
    quantity: u32,
    /// The subject who ordered it.
    created_by: String,
    /// Where to deliver it, if given: stored encrypted, returned in clear.
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery_address: Option<String>,
}

/// A new order, as clients send it.
#[input]
pub struct NewOrder {
    /// What is ordered.
    #[garde(length(chars, min = 1, max = 64))]
    item: String,
    /// How many.
    #[garde(range(min = 1, max = 1000))]
    quantity: u32,
    /// Where to deliver it (optional). Stored encrypted.
    #[garde(length(chars, min = 1, max = 200))]
    delivery_address: Option<String>,
}

/// A token to revoke.
#[input]
pub struct Revocation {
    /// The token's `jti`.
    #[garde(length(chars, min = 1, max = 256))]
    jti: String,
    /// The token's `exp` (Unix seconds): the revocation is kept until then.
    #[garde(range(min = 1, max = 32_503_680_000u64))]
    exp: u64,
}

portcullis::seal_context! {
    /// What an order's delivery address is sealed for: a value sealed for another field
    /// does not open as one.
    DeliveryAddress = "orders.delivery_address";
}

/// An order as the store keeps it: its delivery address sealed, so that the stored row
/// holds ciphertext and `Debug` (in logs) shows `Sealed(..)`.
#[derive(Debug, Serialize, Deserialize)]
struct StoredOrder {
    id: u64,
    item: String,
    quantity: u32,
    created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delivery_address: Option<Sealed<String, DeliveryAddress>>,
}

impl StoredOrder {
    /// The order as the API returns it, the address in clear.
    fn into_output(self) -> Order {
        Order {
            id: self.id,
            item: self.item,
            quantity: self.quantity,
            created_by: self.created_by,
            delivery_address: self.delivery_address.map(Sealed::into_inner),
        }
    }
}

/// The orders, in memory, kept as a database would keep them: one JSON row per order,
/// its sealed fields encrypted under the store's key ring (new rows with the current key;
/// rows of older keys in the ring still open).
#[derive(Clone)]
pub struct Store {
    rows: Arc<Mutex<BTreeMap<u64, String>>>,
    next_id: Arc<AtomicU64>,
    keys: KeyRing,
}

impl Store {
    /// An empty store whose sealed fields use `keys`.
    fn new(keys: KeyRing) -> Store {
        Store {
            rows: Arc::default(),
            next_id: Arc::default(),
            keys,
        }
    }

    fn rows<T>(&self, f: impl FnOnce(&mut BTreeMap<u64, String>) -> T) -> T {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut rows)
    }

    /// Seals `order` into a row and stores it.
    fn insert(&self, order: &StoredOrder) -> Result<(), StoreError> {
        let row = with_key_ring(&self.keys, || serde_json::to_string(order))
            .map_err(|cause| StoreError::new(order.id, "sealed", cause))?;
        self.rows(|rows| rows.insert(order.id, row));
        Ok(())
    }

    /// Opens a row. One that does not open (altered, or sealed with a key the ring does
    /// not hold) fails closed.
    fn open(&self, id: u64, row: &str) -> Result<StoredOrder, StoreError> {
        with_key_ring(&self.keys, || serde_json::from_str(row))
            .map_err(|cause| StoreError::new(id, "opened", cause))
    }

    fn get(&self, id: u64) -> Result<Option<StoredOrder>, StoreError> {
        match self.rows(|rows| rows.get(&id).cloned()) {
            Some(row) => self.open(id, &row).map(Some),
            None => Ok(None),
        }
    }

    fn all(&self) -> Result<Vec<StoredOrder>, StoreError> {
        let rows: Vec<(u64, String)> =
            self.rows(|rows| rows.iter().map(|(id, row)| (*id, row.clone())).collect());
        rows.iter().map(|(id, row)| self.open(*id, row)).collect()
    }
}

/// An order that could not be sealed or opened. The client gets a bare 500; the cause
/// goes to the log, and names no plaintext and no key (a sealed field's errors never do).
#[derive(Debug)]
struct StoreError {
    id: u64,
    action: &'static str,
    cause: serde_json::Error,
}

impl StoreError {
    fn new(id: u64, action: &'static str, cause: serde_json::Error) -> StoreError {
        StoreError { id, action, cause }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        let StoreError { id, action, cause } = error;
        ApiError::internal(format_args!("order {id} could not be {action}: {cause}"))
    }
}

/// Is the service up?
#[public(get, path = "/health", rate = "10/s", tag = "operations")]
async fn health() -> &'static str {
    "ok"
}

/// Is the service ready for authenticated requests?
///
/// Ready once every issuer's signing keys have arrived; before, 503 says which issuer is
/// still waiting, and why.
#[public(get, path = "/ready", rate = "10/s", tag = "operations", errors(503 = "An issuer's signing keys have not arrived yet"))]
async fn ready(context: RequestContext) -> Result<String, ApiError> {
    let readiness = context.security().readiness();
    if readiness.is_ready() {
        Ok(readiness.to_string())
    } else {
        Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", readiness.to_string()))
    }
}

/// Lists every order.
#[secure(get, path = "/orders", scope = "orders:read", rate = "100/min", tag = "orders")]
async fn list_orders(
    State(store): State<Store>,
    _who: Principal,
) -> Result<Json<Vec<Order>>, ApiError> {
    let orders = store.all()?.into_iter().map(StoredOrder::into_output);
    Ok(Json(orders.collect()))
}

/// Gets one order.
#[secure(get, path = "/orders/{id}", scope = "orders:read", tag = "orders", errors(404 = "No such order"))]
async fn get_order(
    State(store): State<Store>,
    _who: Principal,
    Path(id): Path<u64>,
) -> Result<Json<Order>, ApiError> {
    store
        .get(id)?
        .map(|order| Json(order.into_output()))
        .ok_or_else(|| ApiError::not_found(format!("no order {id}")))
}

/// Creates an order.
#[secure(post, path = "/orders", scope = "orders:write", rate = "10/min", status = 201, tag = "orders")]
async fn create_order(
    State(store): State<Store>,
    who: Principal,
    Json(new): Json<NewOrder>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    let id = store.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let order = StoredOrder {
        id,
        item: new.item,
        quantity: new.quantity,
        created_by: who.subject().unwrap_or("unknown").to_owned(),
        delivery_address: new.delivery_address.map(Sealed::new),
    };
    // Safe to log: a sealed field prints as `Sealed(..)`.
    tracing::debug!(?order, "order stored");
    store.insert(&order)?;
    Ok((StatusCode::CREATED, Json(order.into_output())))
}

/// Deletes an order.
#[secure(
    delete,
    path = "/orders/{id}",
    scope = "orders:admin",
    rate = "10/min",
    status = 204,
    tag = "orders",
    errors(404 = "No such order")
)]
async fn delete_order(
    State(store): State<Store>,
    _who: Principal,
    Path(id): Path<u64>,
) -> Result<StatusCode, ApiError> {
    match store.rows(|rows| rows.remove(&id)) {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(ApiError::not_found(format!("no order {id}"))),
    }
}

/// Revokes a token of the caller's issuer, on every request from now until it expires.
#[secure(post, path = "/admin/revocations", scope = "tokens:revoke", rate = "10/min", status = 204, tag = "operations", errors(503 = "The revocation could not be stored (Redis is unreachable); retry"))]
async fn revoke(
    context: RequestContext,
    who: Principal,
    Json(revocation): Json<Revocation>,
) -> Result<StatusCode, ApiError> {
    context
        .security()
        .revoke_token(who.issuer(), &revocation.jti, revocation.exp)
        .await
        .map_err(|error| {
            tracing::error!(target: "orders", %error, "a revocation could not be stored");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "revocations-unavailable",
                "the revocation could not be stored; retry shortly",
            )
        })?;
    tracing::info!(target: "orders", jti = %revocation.jti, by = who.subject(), "token revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// The service's metrics, in the Prometheus text format.
#[secure(get, path = "/metrics", scope = "ops:metrics", rate = "60/min", tag = "operations")]
async fn metrics(_who: Principal) -> String {
    METRICS.get().map(|handle| handle.render()).unwrap_or_default()
}

/// Redis shared by every instance, and how quotas are counted there.
struct SharedRedis {
    redis: portcullis::redis::Redis,
    /// Every decision asks Redis (`REDIS_RATE_MODE=exact`), rather than leasing permits.
    exact: bool,
}

/// The security configuration: tokens of `issuer`, 600 requests a minute by default, every
/// quota multiplied by `rate_scale`; DPoP-bound tokens with proofs naming `public_origin`;
/// rate limits, revocations and the DPoP proofs seen in Redis when given (rate limits fall
/// back to this instance's memory while Redis is away; revocations and proofs, which
/// cannot be guessed, refuse instead); the audit trail to `audit` when given.
async fn security(
    issuer: Issuer,
    rate_scale: f64,
    redis: Option<&SharedRedis>,
    public_origin: &str,
    audit: Option<portcullis::audit::JsonLinesSink>,
) -> Result<Security, portcullis::ConfigError> {
    let mut dpop = portcullis::auth::Dpop::new(public_origin);
    let mut builder = Security::builder()
        .issuer(issuer)
        .default_rate(rate!("600/min"))
        .rate_scale(rate_scale)
        .realm("orders");
    if let Some(audit) = audit {
        builder = builder.audit_sink(audit);
    }
    if let Some(SharedRedis { redis, exact }) = redis {
        use portcullis::redis::WhenUnreachable::UseLocalLimits;
        let rates = match exact {
            true => redis.rate_store(UseLocalLimits),
            false => redis.leased_rate_store(UseLocalLimits),
        };
        builder = builder
            .rate_store(Arc::new(rates))
            .revocations(Arc::new(redis.revocations().await));
        dpop = dpop.replay_store(Arc::new(redis.dpop_replay_store()));
    }
    builder.dpop(dpop).build().await
}

/// The API, with its OpenAPI document at `/openapi.json` and, with the `api-reference`
/// feature, its interactive reference at `/docs`.
fn api(security: Security) -> SecureRouter<Store> {
    let api = SecureRouter::new(security)
        .mount(routes![health, ready, list_orders, get_order, create_order, delete_order, revoke, metrics])
        .with_openapi("/openapi.json");
    #[cfg(feature = "api-reference")]
    let api = api.with_api_reference("/docs", "Orders API");
    api
        .openapi_info(portcullis::OpenApiInfo {
            title: "Orders".to_owned(),
            version: "1.0.0".to_owned(),
            description: Some("An in-memory orders API secured by Portcullis.".to_owned()),
        })
}
