//! A stand-in identity provider on loopback: discovery and JWKS documents the test can
//! change at will, and a count of JWKS fetches.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

/// What the provider answers.
pub struct Answers {
    pub jwks: String,
    pub jwks_status: StatusCode,
    pub discovery_issuer: Option<String>,
}

/// A running provider.
#[derive(Clone)]
pub struct Idp {
    pub base: String,
    answers: Arc<Mutex<Answers>>,
    jwks_fetches: Arc<AtomicUsize>,
    discovery_fetches: Arc<AtomicUsize>,
    server: Arc<tokio::task::JoinHandle<()>>,
}

impl Idp {
    /// Starts a provider publishing `jwks`.
    pub async fn start(jwks: String) -> Idp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Idp::start_on(listener, jwks)
    }

    /// Starts a provider publishing `jwks` on `listener`.
    pub fn start_on(listener: tokio::net::TcpListener, jwks: String) -> Idp {
        let base = format!("http://{}", listener.local_addr().unwrap());
        let answers = Arc::new(Mutex::new(Answers {
            jwks,
            jwks_status: StatusCode::OK,
            discovery_issuer: None,
        }));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let discovery_fetches = Arc::new(AtomicUsize::new(0));
        let state = (
            answers.clone(),
            jwks_fetches.clone(),
            discovery_fetches.clone(),
            base.clone(),
        );
        let app = Router::new()
            .route("/jwks", get(serve_jwks))
            .route("/.well-known/openid-configuration", get(discovery))
            .with_state(state);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Idp {
            base,
            answers,
            jwks_fetches,
            discovery_fetches,
            server: Arc::new(server),
        }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.base)
    }

    pub fn publish(&self, jwks: String) {
        self.answers.lock().unwrap().jwks = jwks;
    }

    pub fn fail_with(&self, status: StatusCode) {
        self.answers.lock().unwrap().jwks_status = status;
    }

    /// Makes discovery claim another issuer identifier.
    pub fn claim_issuer(&self, issuer: &str) {
        self.answers.lock().unwrap().discovery_issuer = Some(issuer.to_owned());
    }

    pub fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn discovery_fetches(&self) -> usize {
        self.discovery_fetches.load(Ordering::SeqCst)
    }

    /// Stops answering at all.
    pub fn stop(&self) {
        self.server.abort();
    }
}

type IdpState = (
    Arc<Mutex<Answers>>,
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
    String,
);

async fn serve_jwks(State((answers, fetches, _, _)): State<IdpState>) -> impl IntoResponse {
    fetches.fetch_add(1, Ordering::SeqCst);
    let answers = answers.lock().unwrap();
    (
        answers.jwks_status,
        [(header::CONTENT_TYPE, "application/json")],
        answers.jwks.clone(),
    )
}

async fn discovery(State((answers, _, fetches, base)): State<IdpState>) -> impl IntoResponse {
    fetches.fetch_add(1, Ordering::SeqCst);
    let issuer = answers
        .lock()
        .unwrap()
        .discovery_issuer
        .clone()
        .unwrap_or_else(|| base.clone());
    axum::Json(serde_json::json!({
        "issuer": issuer,
        "jwks_uri": format!("{base}/jwks"),
        "token_endpoint": format!("{base}/oauth/token"),
    }))
}
