//! An in-memory orders API secured by Portcullis. By default it runs its own development
//! authorization server (under `/dev`), so that it needs no identity provider; with
//! `OIDC_ISSUER` set it trusts that provider instead.
//!
//! ```text
//! cargo run --example orders                       # serve
//! cargo run --example orders -- --openapi out.json # write the OpenAPI document and exit
//! ```
//!
//! With the `api-reference` feature (on for the examples), `/docs` serves an interactive
//! reference: authorize there with a client id and secret printed at start-up, then try
//! the operations.
//!
//! Environment:
//! - `ORDERS_ADDR`: where to listen (default `127.0.0.1:3000`);
//! - `ORDERS_TLS_CERT` and `ORDERS_TLS_KEY`: PEM files of a certificate chain and its
//!   private key; with both set the API is served over HTTPS (TLS 1.2 and 1.3, HTTP/2 by
//!   ALPN) and its responses carry `Strict-Transport-Security`;
//!   `ORDERS_TLS_CLIENT_CERTIFICATES=request` also asks clients for a certificate, for
//!   certificate-bound tokens (RFC 8705);
//! - `ORDERS_RATE_SCALE`: multiplies every quota (default 1);
//! - `ORDERS_PUBLIC_ORIGIN`: where clients reach the API, which the `htu` of their DPoP
//!   proofs names (default `http://<ORDERS_ADDR>`, `https://` with TLS); DPoP-bound tokens
//!   (of the development issuer or of `OIDC_ISSUER`) are accepted with proofs for it;
//! - `OIDC_ISSUER`: an external provider, found by discovery (Keycloak, Auth0, Okta, Entra
//!   ID, Ory Hydra, ...); `OIDC_AUDIENCE` its audience for this API (default `orders-api`);
//!   with `OIDC_INTROSPECTION_CLIENT_ID` and `OIDC_INTROSPECTION_CLIENT_SECRET`, its opaque
//!   tokens are introspected (RFC 7662) at its discovery document's
//!   `introspection_endpoint`, answers kept at most `OIDC_INTROSPECTION_MAX_AGE` seconds
//!   (default 300);
//! - `REDIS_URL`: rate limits and revocations in Redis, shared by every instance
//!   (`redis://[user:password@]host:port/`, or `rediss://` for TLS); `REDIS_CLUSTER_URLS`
//!   instead: the comma-separated nodes of a Redis Cluster; `REDIS_CA_FILE`: a PEM file of
//!   the root certificates a `rediss://` server's certificate must chain to (default: the
//!   system's); `REDIS_RATE_MODE`: `leased` (default: permits taken from Redis in small
//!   batches, most requests make no round trip) or `exact` (every decision asks Redis);
//! - `ORDERS_FIELD_KEYS` (or `ORDERS_FIELD_KEYS_FILE`, a file holding the same): the key
//!   ring that seals delivery addresses in the store, `version:base64key` entries with the
//!   current key first, e.g. `ORDERS_FIELD_KEYS="2:<new key>,1:<old key>"`; make a key with
//!   `openssl rand -base64 32`. Unset, a random key is made for the run (the store is in
//!   memory anyway);
//! - `ORDERS_AUDIT_FILE`: where the audit trail goes, one JSON line per decision (default:
//!   standard output, which carries nothing else);
//! - `RUST_LOG`: the log lines, on standard error with the start-up guide; default
//!   `info,portcullis::audit=off` (the audit trail is the JSON lines: `RUST_LOG=info` adds
//!   each decision to the log lines as well).
//!
//! HTTPS with a self-signed certificate for local use:
//!
//! ```text
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
//!   -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
//!   -addext basicConstraints=critical,CA:FALSE -keyout key.pem -out cert.pem
//! ORDERS_TLS_CERT=cert.pem ORDERS_TLS_KEY=key.pem cargo run --example orders
//! curl --cacert cert.pem https://127.0.0.1:3000/health
//! ```

include!("api.rs");

use std::net::SocketAddr;
use std::time::Duration;

use portcullis::audit::JsonLinesSink;
use portcullis::auth::{HttpSettings, Introspection};
use portcullis::dev::DevIssuer;
use portcullis::secrets::{KeyRingError, SecretError};
use portcullis::transport::{Hsts, TlsConfig, serve_tls, serve_with_shutdown};
use secrecy::SecretString;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// A random client secret for the development server.
fn random_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 24] = std::array::from_fn(|_| rand_byte());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn rand_byte() -> u8 {
    let mut byte = [0u8; 1];
    aws_lc_rs::rand::fill(&mut byte).unwrap_or_default();
    byte[0]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Log lines; colours only on a terminal (a log file or a collector gets plain lines).
    // Every decision, allowed or refused, is one JSON line of the audit trail instead (below),
    // so the log lines leave `portcullis::audit` out: formatting a log line for every request
    // would cost about half as much again as the request (docs/performance.md, "As
    // deployed").
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,portcullis::audit=off".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    // The audit trail: one JSON line per decision, written in batches by a thread of its own
    // (100,000 events buffered; past that, lost events are counted and alerted). It has
    // standard output to itself: log lines and the start-up guide, with its development
    // secrets and tokens, go to standard error, so `> audit.jsonl` keeps the trail alone.
    let audit = match std::env::var_os("ORDERS_AUDIT_FILE") {
        Some(path) => JsonLinesSink::file(path, 100_000)?,
        None => JsonLinesSink::stdout(100_000),
    };
    // Metrics go to a Prometheus recorder, served at /metrics (scope ops:metrics). It is
    // installed first: handles are registered when the API is built.
    let _ = METRICS.set(metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?);
    let address: SocketAddr = env_or("ORDERS_ADDR", "127.0.0.1:3000").parse()?;
    let rate_scale: f64 = env_or("ORDERS_RATE_SCALE", "1").parse()?;
    let tls = tls_from_env()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://{address}");

    // The development authorization server, with one client per role of the API.
    let dev = DevIssuer::new(format!("{base}/dev"), "orders-api")?;
    let clients = [
        ("orders-reader", vec!["orders:read"]),
        ("orders-writer", vec!["orders:read", "orders:write"]),
        (
            "orders-admin",
            vec![
                "orders:read",
                "orders:write",
                "orders:admin",
                "tokens:revoke",
            ],
        ),
    ];
    let mut secrets = Vec::new();
    for (client, scopes) in &clients {
        let secret = random_secret();
        dev.register_client(
            *client,
            SecretString::from(secret.clone()),
            scopes.iter().copied(),
        )?;
        secrets.push((*client, secret));
    }

    // A partner whose tokens are opaque: the API introspects them at the development
    // server (RFC 7662).
    let partner_secret = random_secret();
    dev.register_opaque_client(
        "orders-partner",
        SecretString::from(partner_secret.clone()),
        ["orders:read"],
    )?;
    secrets.push(("orders-partner", partner_secret));

    let external = std::env::var("OIDC_ISSUER").ok();
    let issuer = match &external {
        Some(url) => {
            let issuer = Issuer::discover(url).audience(env_or("OIDC_AUDIENCE", "orders-api"));
            match introspection_from_env()? {
                Some(introspection) => issuer.introspection(introspection),
                None => issuer,
            }
        }
        // Served over HTTPS, the API asks its own development server about opaque tokens
        // through that certificate: trust it for those calls.
        None => match (&tls, std::env::var_os("ORDERS_TLS_CERT")) {
            (Some(_), Some(cert)) => dev
                .issuer()
                .http_settings(HttpSettings::new().root_certificate_pem(std::fs::read(cert)?)),
            _ => dev.issuer(),
        },
    };
    let redis = redis_from_env().await?;
    // Where clients reach the API: DPoP proofs name it (never taken from `Host`).
    let public_origin = env_or("ORDERS_PUBLIC_ORIGIN", &base);
    let router = api(security(
        issuer,
        rate_scale,
        redis.as_ref(),
        &public_origin,
        Some(audit),
    )
    .await?);

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

    // The development issuer's routes, served through Portcullis (public, rate limited,
    // listed in the inventory and known to the guard).
    let router = match &external {
        Some(_) => router,
        None => router.with_dev_issuer(&dev),
    };
    eprintln!("The security surface of the API:\n{}", router.inventory());
    let keys = field_keys().map_err(|error| format!("ORDERS_FIELD_KEYS: {error}"))?;
    // Every request to a route not listed above is refused by the guard (404, audited).
    // Every response leaving the guard carries `nosniff`, and HSTS when served over TLS.
    let router: SecureRouter = router.with_state(Store::new(keys));
    let app = match tls {
        Some(_) => router.into_service().hsts(Hsts::default()),
        None => router.into_service(),
    };

    eprintln!("Orders API on {base}; its OpenAPI document is at {base}/openapi.json");
    #[cfg(feature = "api-reference")]
    eprintln!("Its interactive reference (Swagger UI) is at {base}/docs");
    eprintln!("Readiness (200 once the issuer's keys are loaded): {base}/ready");
    if tls.is_some() {
        eprintln!(
            "Serving HTTPS (TLS 1.2 and 1.3) with ORDERS_TLS_CERT; \
             for a self-signed certificate, give curl `--cacert` with that file"
        );
    }
    if let Some(shared) = &redis {
        eprintln!(
            "Rate limits and revocations live in Redis ({}, quotas {})",
            if shared.redis.is_cluster() {
                "a Cluster"
            } else {
                "one server"
            },
            if shared.exact {
                "counted exactly"
            } else {
                "leased"
            }
        );
    }
    match &external {
        Some(url) => eprintln!("Trusting tokens of {url} (found by discovery)"),
        None => print_development_guide(&dev, &base, &secrets),
    }

    let listener = tokio::net::TcpListener::bind(address).await?;
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match tls {
        Some(tls) => serve_tls(listener, app, tls, shutdown).await?,
        None => serve_with_shutdown(listener, app, shutdown).await?,
    }
    Ok(())
}

/// The introspection of `OIDC_ISSUER`'s opaque tokens, with `OIDC_INTROSPECTION_CLIENT_ID`
/// and `OIDC_INTROSPECTION_CLIENT_SECRET` set (at the endpoint its discovery document
/// names), answers kept at most `OIDC_INTROSPECTION_MAX_AGE` seconds.
fn introspection_from_env() -> Result<Option<Introspection>, Box<dyn std::error::Error>> {
    let id = std::env::var("OIDC_INTROSPECTION_CLIENT_ID").ok();
    let secret = std::env::var("OIDC_INTROSPECTION_CLIENT_SECRET").ok();
    let introspection = match (id, secret) {
        (Some(id), Some(secret)) => Introspection::new(id, SecretString::from(secret)),
        (None, None) => return Ok(None),
        _ => {
            return Err("set both OIDC_INTROSPECTION_CLIENT_ID and \
                        OIDC_INTROSPECTION_CLIENT_SECRET, or neither"
                .into());
        }
    };
    Ok(Some(match std::env::var("OIDC_INTROSPECTION_MAX_AGE") {
        Ok(seconds) => {
            let seconds: u64 = seconds.parse().map_err(|_| {
                format!("OIDC_INTROSPECTION_MAX_AGE is a number of seconds, not {seconds:?}")
            })?;
            introspection.max_age(Duration::from_secs(seconds))
        }
        Err(_) => introspection,
    }))
}

/// Redis from `REDIS_URL` or `REDIS_CLUSTER_URLS` (with `REDIS_CA_FILE` and
/// `REDIS_RATE_MODE`), if either is set.
async fn redis_from_env() -> Result<Option<SharedRedis>, Box<dyn std::error::Error>> {
    let builder = portcullis::redis::Redis::builder();
    let builder = match (
        std::env::var("REDIS_URL"),
        std::env::var("REDIS_CLUSTER_URLS"),
    ) {
        (Ok(_), Ok(_)) => return Err("set REDIS_URL or REDIS_CLUSTER_URLS, not both".into()),
        (Ok(url), Err(_)) => builder.url(url),
        (Err(_), Ok(nodes)) => builder.cluster(nodes.split(',').map(str::trim)),
        (Err(_), Err(_)) => return Ok(None),
    };
    let builder = match std::env::var("REDIS_CA_FILE") {
        Ok(file) => builder.root_certificate_pem(
            std::fs::read(&file).map_err(|error| format!("REDIS_CA_FILE {file}: {error}"))?,
        ),
        Err(_) => builder,
    };
    let exact = match env_or("REDIS_RATE_MODE", "leased").as_str() {
        "leased" => false,
        "exact" => true,
        other => {
            return Err(format!("REDIS_RATE_MODE is `leased` or `exact`, not {other:?}").into());
        }
    };
    Ok(Some(SharedRedis {
        redis: builder.connect().await?,
        exact,
    }))
}

/// The key ring of sealed fields, from `ORDERS_FIELD_KEYS` or `ORDERS_FIELD_KEYS_FILE`;
/// with neither set, one random key for this run. A ring that is set but wrong stops the
/// start-up: a typo must not silently seal with a throwaway key.
fn field_keys() -> Result<KeyRing, KeyRingError> {
    match KeyRing::from_env("ORDERS_FIELD_KEYS") {
        Err(KeyRingError::Load(SecretError::Missing { .. })) => {
            eprintln!(
                "ORDERS_FIELD_KEYS is not set: delivery addresses are sealed with a random key \
                 made for this run (not shown; what this run stores cannot be opened by another). \
                 To keep a key, set ORDERS_FIELD_KEYS=\"1:$(openssl rand -base64 32)\" \
                 or ORDERS_FIELD_KEYS_FILE=<file>"
            );
            Ok(KeyRing::new(1, KeyRing::generate_key()?))
        }
        loaded => loaded,
    }
}

/// The certificate and key of `ORDERS_TLS_CERT` and `ORDERS_TLS_KEY`, if both are set.
fn tls_from_env() -> Result<Option<TlsConfig>, Box<dyn std::error::Error>> {
    match (
        std::env::var_os("ORDERS_TLS_CERT"),
        std::env::var_os("ORDERS_TLS_KEY"),
    ) {
        (Some(cert), Some(key)) => {
            let tls = TlsConfig::from_pem_files(cert, key)?;
            // Client certificates, for certificate-bound tokens (RFC 8705).
            match std::env::var("ORDERS_TLS_CLIENT_CERTIFICATES").as_deref() {
                Ok("request") => Ok(Some(tls.request_client_certificates()?)),
                Ok(other) => Err(format!(
                    "ORDERS_TLS_CLIENT_CERTIFICATES is `request` or unset, not {other:?}"
                )
                .into()),
                Err(_) => Ok(Some(tls)),
            }
        }
        (None, None) => Ok(None),
        _ => Err("set both ORDERS_TLS_CERT and ORDERS_TLS_KEY (PEM files), or neither".into()),
    }
}

fn print_development_guide(dev: &DevIssuer, base: &str, secrets: &[(&str, String)]) {
    let token_url = format!("{base}/dev/oauth/token");
    eprintln!(
        "Development authorization server at {base}/dev (token endpoint {token_url}); clients:"
    );
    for (client, secret) in secrets {
        eprintln!("  {client}  secret {secret}");
    }
    eprintln!();
    eprintln!("Get a token (client credentials), then call the API with it:");
    let (writer, writer_secret) = &secrets[1];
    eprintln!(
        "TOKEN=$(curl -s -u {writer}:{writer_secret} -d grant_type=client_credentials {token_url} \
         | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')"
    );
    eprintln!(
        "curl -i -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \
         -d '{{\"item\": \"tea\", \"quantity\": 2}}' {base}/orders"
    );
    eprintln!("curl -i -H \"Authorization: Bearer $TOKEN\" {base}/orders/1");
    eprintln!("curl -i {base}/orders    # 401: no token");
    eprintln!();
    let (reader, reader_secret) = &secrets[0];
    eprintln!(
        "A DPoP-bound token (RFC 9449: bound to the client's key, a proof with each request):"
    );
    eprintln!("cargo run --example dpop_client -- {reader} {reader_secret}");
    eprintln!();
    if let Some((partner, partner_secret)) = secrets.iter().find(|(id, _)| *id == "orders-partner")
    {
        eprintln!("An opaque token (not a JWT: the API asks the server about it, RFC 7662):");
        eprintln!(
            "OPAQUE=$(curl -s -u {partner}:{partner_secret} -d grant_type=client_credentials \
             {token_url} | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')"
        );
        eprintln!("curl -i -H \"Authorization: Bearer $OPAQUE\" {base}/orders/1");
        eprintln!();
    }

    // Ready-made tokens too, valid for an hour (also read by the repository's CI).
    let lifetime = Duration::from_secs(3600);
    let token = |subject: &str, client: &str, scopes: &[&str]| {
        dev.token()
            .subject(subject)
            .client(client)
            .scopes(scopes.iter().copied())
            .lifetime(lifetime)
            .sign()
    };
    eprintln!(
        "READER_TOKEN={}",
        token("alice", "orders-reader", &["orders:read"])
    );
    eprintln!(
        "WRITER_TOKEN={}",
        token("bob", "orders-writer", &["orders:read", "orders:write"])
    );
    eprintln!(
        "ADMIN_TOKEN={}",
        token(
            "carol",
            "orders-admin",
            &[
                "orders:read",
                "orders:write",
                "orders:admin",
                "tokens:revoke"
            ]
        )
    );
}
