//! The "as deployed" pair of the load benchmark: Portcullis set up as the orders example
//! sets it up, and bare axum doing the same handler work beside it.
//!
//! - Handler work, in both: the orders are JSON rows in a `Mutex<BTreeMap<u64, String>>`, as
//!   the example keeps them; `GET /orders/{id}` clones one row, parses it and answers it
//!   re-serialized.
//! - [`serve_portcullis`]: what the example adds around it: a Prometheus recorder installed
//!   before the configuration is built (so every metric is recorded), the `tracing`
//!   subscriber the example installs (`fmt`, `RUST_LOG` or `info,portcullis::audit=off`,
//!   colours only on a terminal), the audit trail (a [`JsonLinesSink`] on standard output: a
//!   JSON line for every request), and the endpoint served behind the guard
//!   (`into_service`), `nosniff` on every response. The quota of the endpoint is never reached. The example writes its
//!   log lines to standard error; here they go to standard output with the audit trail,
//!   which `benches/load.sh` sends to `/dev/null`: a write either way.
//! - [`bare`]: the same handler on bare axum, nothing else.
//!
//! To weigh one piece at a time: `DEPLOYED_WITHOUT` (comma-separated) leaves pieces out of
//! [`serve_portcullis`]: `recorder`, `subscriber`, `guard` (the endpoint's router served
//! alone: its responses still carry the `nosniff` the pipeline writes);
//! `DEPLOYED_HEADERS=layer` adds the security-headers layer around the app (around the
//! guard, or in its place without it); `DEPLOYED_LOG=sink` formats log lines and writes them
//! nowhere, `DEPLOYED_LOG=colours` writes them with colours even off a terminal;
//! `DEPLOYED_AUDIT=tracing` makes the audit trail `tracing` log lines instead of the
//! [`JsonLinesSink`] (the filter then defaults to `info`); `DEPLOYED_GUARD=wrap` serves the
//! endpoint as an app that adopts Portcullis does: its router merged into the app's, the
//! whole wrapped by [`Guard::wrap`](portcullis::Guard::wrap).
//!
//! The crate that includes this module must declare, at its root,
//! `portcullis::scopes! { "orders:read" => "..." }`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::StatusCode;
use portcullis::audit::JsonLinesSink;
use portcullis::prelude::*;
use portcullis::transport::SecurityHeadersLayer;

use super::tokens::{AUDIENCE, ISSUER};

/// The orders, one JSON row each, as the example's store keeps them.
#[derive(Clone)]
pub struct Rows(Arc<Mutex<BTreeMap<u64, String>>>);

impl Rows {
    /// Orders 1 to 100.
    pub fn seeded() -> Rows {
        let rows = (1..=100)
            .map(|id| {
                let row = StoredOrder {
                    id,
                    item: "tea".to_owned(),
                    quantity: 2,
                    created_by: "alice".to_owned(),
                };
                (id, serde_json::to_string(&row).unwrap_or_default())
            })
            .collect();
        Rows(Arc::new(Mutex::new(rows)))
    }

    /// Order `id`, parsed from a copy of its row.
    fn get(&self, id: u64) -> Option<StoredOrder> {
        let row = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()?;
        serde_json::from_str(&row).ok()
    }
}

/// A row as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredOrder {
    id: u64,
    item: String,
    quantity: u32,
    created_by: String,
}

/// An order, as Portcullis' `GET /orders/{id}` returns it.
#[output]
pub struct Order {
    id: u64,
    item: String,
    quantity: u32,
    created_by: String,
}

/// Gets one order (the quota is real, never reached).
#[secure(
    get,
    path = "/orders/{id}",
    scope = "orders:read",
    rate = "1000000000/s",
    errors(404 = "No such order")
)]
async fn get_order(
    State(rows): State<Rows>,
    _who: Principal,
    Path(id): Path<u64>,
) -> Result<Json<Order>, StatusCode> {
    let order = rows.get(id).ok_or(StatusCode::NOT_FOUND)?;
    Ok(Json(Order {
        id: order.id,
        item: order.item,
        quantity: order.quantity,
        created_by: order.created_by,
    }))
}

/// Installs what the example installs before it builds its configuration: the Prometheus
/// recorder, and the `tracing` subscriber.
pub fn install_observability() -> Result<(), Box<dyn std::error::Error>> {
    if !without("subscriber") {
        let default_filter = match audit_as_log_lines() {
            true => "info",
            false => "info,portcullis::audit=off",
        };
        let subscriber = tracing_subscriber::fmt().with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        );
        // Colours only on a terminal, as the example.
        let colours = std::io::IsTerminal::is_terminal(&std::io::stdout());
        match std::env::var("DEPLOYED_LOG").as_deref() {
            Ok("sink") => subscriber
                .with_ansi(colours)
                .with_writer(std::io::sink)
                .init(),
            Ok("colours") => subscriber.with_ansi(true).init(),
            _ => subscriber.with_ansi(colours).init(),
        }
    }
    if !without("recorder") {
        // The handle would serve /metrics; the recorder records whether or not it is read.
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
        std::mem::forget(handle);
    }
    Ok(())
}

/// Whether `DEPLOYED_AUDIT=tracing` asks for the audit trail as `tracing` log lines.
fn audit_as_log_lines() -> bool {
    std::env::var("DEPLOYED_AUDIT").is_ok_and(|to| to == "tracing")
}

/// Whether `DEPLOYED_WITHOUT` leaves `piece` out.
fn without(piece: &str) -> bool {
    std::env::var("DEPLOYED_WITHOUT")
        .is_ok_and(|pieces| pieces.split(',').any(|left_out| left_out.trim() == piece))
}

/// Serves Portcullis as the example deploys it on `listener` (call
/// [`install_observability`] first), trusting the keys of `jwks`.
pub async fn serve_portcullis(
    listener: tokio::net::TcpListener,
    jwks: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = Security::builder()
        .issuer(Issuer::new(ISSUER).audience(AUDIENCE).jwks_json(jwks))
        .default_rate(rate!("1000000/s"));
    if !audit_as_log_lines() {
        // The audit trail as the example writes it: JSON lines on standard output, written
        // in batches by the sink's own thread.
        builder = builder.audit_sink(JsonLinesSink::stdout(100_000));
    }
    let security = builder.build().await?;
    let router = SecureRouter::new(security)
        .mount(routes![get_order])
        .with_state(Rows::seeded());
    let layer = match std::env::var("DEPLOYED_HEADERS").as_deref() {
        Err(_) | Ok("") => false,
        Ok("layer") => true,
        Ok(other) => return Err(format!("DEPLOYED_HEADERS={other}: only `layer`").into()),
    };
    let headers = SecurityHeadersLayer::for_plain_http();
    match std::env::var("DEPLOYED_GUARD").as_deref() {
        Err(_) | Ok("") => {}
        Ok("wrap") if !without("guard") && !layer => {
            let guard = router.guard();
            let app = axum::Router::new().merge(router.into_router());
            portcullis::transport::serve(listener, guard.wrap(app)).await?;
            return Ok(());
        }
        Ok(other) => {
            let error = format!("DEPLOYED_GUARD={other}: only `wrap`, with the guard, no layer");
            return Err(error.into());
        }
    }
    match (without("guard"), layer) {
        // Behind the guard, as the example.
        (false, false) => portcullis::transport::serve(listener, router.into_service()).await?,
        // The guard inside the security-headers layer (which then finds `nosniff` set).
        (false, true) => {
            portcullis::transport::serve(listener, headers.wrap(router.into_service())).await?
        }
        // No guard; or the layer in its place.
        (true, false) => portcullis::transport::serve(listener, router.into_router()).await?,
        (true, true) => {
            portcullis::transport::serve(listener, headers.wrap(router.into_router())).await?
        }
    }
    Ok(())
}

async fn bare_get_order(
    State(rows): State<Rows>,
    axum::extract::Path(id): axum::extract::Path<u64>,
) -> Result<axum::Json<StoredOrder>, StatusCode> {
    rows.get(id).map(axum::Json).ok_or(StatusCode::NOT_FOUND)
}

/// The same handler work on bare axum.
pub fn bare() -> axum::Router {
    axum::Router::new()
        .route("/orders/{id}", axum::routing::get(bare_get_order))
        .with_state(Rows::seeded())
}
