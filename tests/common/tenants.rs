//! A stand-in multi-tenant identity provider on loopback: one server answering for every
//! tenant under `/<tenant>/v2.0` (as Entra ID does), each tenant with its own discovery
//! document and JWKS, a count of the requests to each path, and tenants that can be taken
//! down and brought up again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// What the provider knows.
#[derive(Default)]
struct Provider {
    base: String,
    /// The JWKS of each tenant it serves.
    jwks: HashMap<String, String>,
    /// The tenants answering 503.
    down: HashSet<String>,
    /// Requests by path, counted before anything else.
    requests: HashMap<String, usize>,
    /// How long discovery takes.
    discovery_delay: Duration,
}

/// A running provider.
#[derive(Clone)]
pub struct TenantIdp {
    pub base: String,
    provider: Arc<Mutex<Provider>>,
}

impl TenantIdp {
    /// Starts a provider that serves no tenant yet.
    pub async fn start() -> TenantIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let provider = Arc::new(Mutex::new(Provider {
            base: base.clone(),
            ..Provider::default()
        }));
        let app = Router::new().fallback(serve).with_state(provider.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TenantIdp { base, provider }
    }

    /// The issuer template: `http://127.0.0.1:<port>/{tenantid}/v2.0`.
    pub fn template(&self) -> String {
        format!("{}/{{tenantid}}/v2.0", self.base)
    }

    /// The issuer identifier of `tenant`.
    pub fn issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.base)
    }

    /// Serves `tenant`, with `jwks` as its keys.
    pub fn publish(&self, tenant: &str, jwks: String) {
        self.provider
            .lock()
            .unwrap()
            .jwks
            .insert(tenant.to_owned(), jwks);
    }

    /// Makes every request for `tenant` answer 503.
    pub fn take_down(&self, tenant: &str) {
        self.provider.lock().unwrap().down.insert(tenant.to_owned());
    }

    /// Makes `tenant` answer again.
    pub fn bring_up(&self, tenant: &str) {
        self.provider.lock().unwrap().down.remove(tenant);
    }

    /// Makes each discovery request take `delay`.
    pub fn slow_discovery(&self, delay: Duration) {
        self.provider.lock().unwrap().discovery_delay = delay;
    }

    /// The requests for `tenant`: (discovery, JWKS, any other path of the tenant).
    pub fn requests_for(&self, tenant: &str) -> (usize, usize, usize) {
        let provider = self.provider.lock().unwrap();
        let prefix = format!("/{tenant}/");
        let (mut discovery, mut jwks, mut other) = (0, 0, 0);
        for (path, count) in &provider.requests {
            let Some(rest) = path.strip_prefix(&prefix) else {
                continue;
            };
            match rest {
                "v2.0/.well-known/openid-configuration" => discovery += count,
                "v2.0/keys" => jwks += count,
                _ => other += count,
            }
        }
        (discovery, jwks, other)
    }

    /// Every request made so far.
    pub fn total_requests(&self) -> usize {
        self.provider.lock().unwrap().requests.values().sum()
    }
}

async fn serve(State(provider): State<Arc<Mutex<Provider>>>, uri: Uri) -> Response {
    let path = uri.path().to_owned();
    let delay = {
        let mut provider = provider.lock().unwrap();
        *provider.requests.entry(path.clone()).or_default() += 1;
        provider.discovery_delay
    };
    let mut segments = path.trim_start_matches('/').splitn(2, '/');
    let (Some(tenant), Some(rest)) = (segments.next(), segments.next()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if rest == "v2.0/.well-known/openid-configuration" {
        tokio::time::sleep(delay).await;
    }
    let provider = provider.lock().unwrap();
    if provider.down.contains(tenant) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let Some(jwks) = provider.jwks.get(tenant) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let issuer = format!("{}/{tenant}/v2.0", provider.base);
    match rest {
        "v2.0/.well-known/openid-configuration" => axum::Json(serde_json::json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/keys"),
            "token_endpoint": format!("{}/{tenant}/oauth2/v2.0/token", provider.base),
        }))
        .into_response(),
        "v2.0/keys" => ([(header::CONTENT_TYPE, "application/json")], jwks.clone()).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
