//! An in-memory orders API secured by Portcullis, with its own development token issuer so
//! that it runs with no identity provider.
//!
//! ```text
//! cargo run --example orders                       # serve
//! cargo run --example orders -- --openapi out.json # write the OpenAPI document and exit
//! ```
//!
//! Environment: `ORDERS_ADDR` (default `127.0.0.1:3000`), `ORDERS_RATE_SCALE` (multiplies
//! every quota, default 1), `RUST_LOG` (default `info`: audit events included).

include!("api.rs");

use std::net::SocketAddr;
use std::time::Duration;

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
    let router = api(security(&dev, rate_scale).await?);

    let mut args = std::env::args().skip(1);
    if let Some(flag) = args.next() {
        if flag != "--openapi" {
            return Err(
                format!("unknown argument {flag:?}; the only one is `--openapi <file|->`").into(),
            );
        }
        let json = serde_json::to_string_pretty(&router.openapi()?)?;
        match args.next().as_deref() {
            None | Some("-") => println!("{json}"),
            Some(file) => std::fs::write(file, json + "\n")?,
        }
        return Ok(());
    }

    let app = router
        .into_router()
        .with_state(Store::default())
        .nest("/dev", dev.router());

    let lifetime = Duration::from_secs(3600);
    let token = |subject: &str, client: &str, scopes: &[&str]| {
        dev.token()
            .subject(subject)
            .client(client)
            .scopes(scopes.iter().copied())
            .lifetime(lifetime)
            .sign()
    };
    let reader = token("alice", "orders-reader", &["orders:read"]);
    let writer = token("bob", "orders-writer", &["orders:read", "orders:write"]);
    let admin = token(
        "carol",
        "orders-admin",
        &["orders:read", "orders:write", "orders:admin"],
    );
    let base = format!("http://{address}");
    println!("Orders API on {base}: OpenAPI at {base}/openapi.json; development issuer {issuer}");
    println!();
    println!("Tokens, valid 1 h:");
    println!("READER_TOKEN={reader}");
    println!("WRITER_TOKEN={writer}");
    println!("ADMIN_TOKEN={admin}");
    println!();
    println!("Try:");
    println!("curl -i {base}/health");
    println!(
        "curl -i -H \"Authorization: Bearer {writer}\" -H 'Content-Type: application/json' \
         -d '{{\"item\": \"tea\", \"quantity\": 2}}' {base}/orders"
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
