//! A stand-in introspection endpoint (RFC 7662) on loopback: it answers what the test set
//! for each token (`{"active": false}` for any other), only to the resource server's
//! credentials, and counts the requests for each token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// The resource server's client id at the endpoint.
pub const CLIENT_ID: &str = "orders-api";
/// Its secret.
pub const CLIENT_SECRET: &str = "introspection-secret";

#[derive(Default)]
struct Answers {
    /// The status and body answered for each token.
    by_token: HashMap<String, (StatusCode, String)>,
    /// The status answered to every request, when set (an endpoint that fails).
    failing: Option<StatusCode>,
    hits: HashMap<String, usize>,
    unauthenticated: usize,
    /// How long each answer takes.
    delay: std::time::Duration,
}

/// A running endpoint.
#[derive(Clone)]
pub struct IntrospectionServer {
    pub url: String,
    answers: Arc<Mutex<Answers>>,
}

async fn introspect(
    State(answers): State<Arc<Mutex<Answers>>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let delay = answers.lock().unwrap().delay;
    tokio::time::sleep(delay).await;
    let mut answers = answers.lock().unwrap();
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        answers.unauthenticated += 1;
        return (StatusCode::UNAUTHORIZED, "{\"error\":\"invalid_client\"}").into_response();
    }
    let token = form.get("token").cloned().unwrap_or_default();
    *answers.hits.entry(token.clone()).or_default() += 1;
    if let Some(status) = answers.failing {
        return (status, "{}").into_response();
    }
    let (status, body) = answers
        .by_token
        .get(&token)
        .cloned()
        .unwrap_or((StatusCode::OK, json!({ "active": false }).to_string()));
    (status, [("content-type", "application/json")], body).into_response()
}

impl IntrospectionServer {
    /// Starts an endpoint that knows no token.
    pub async fn start() -> IntrospectionServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/introspect", listener.local_addr().unwrap());
        let answers = Arc::new(Mutex::new(Answers::default()));
        let app = Router::new()
            .route("/introspect", post(introspect))
            .with_state(answers.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        IntrospectionServer { url, answers }
    }

    /// Answers `answer` (a JSON document) for `token`.
    pub fn answer(&self, token: &str, answer: Value) {
        self.answer_raw(token, StatusCode::OK, &answer.to_string());
    }

    /// Answers `status` and `body` for `token`.
    pub fn answer_raw(&self, token: &str, status: StatusCode, body: &str) {
        self.answers
            .lock()
            .unwrap()
            .by_token
            .insert(token.to_owned(), (status, body.to_owned()));
    }

    /// Answers `status` to every request (`None`: as set per token again).
    pub fn fail_with(&self, status: Option<StatusCode>) {
        self.answers.lock().unwrap().failing = status;
    }

    /// Takes `delay` over each answer.
    pub fn slow_down(&self, delay: std::time::Duration) {
        self.answers.lock().unwrap().delay = delay;
    }

    /// How many times `token` was asked about.
    pub fn hits(&self, token: &str) -> usize {
        self.answers
            .lock()
            .unwrap()
            .hits
            .get(token)
            .copied()
            .unwrap_or(0)
    }

    /// How many requests came in, for all tokens.
    pub fn total_hits(&self) -> usize {
        let answers = self.answers.lock().unwrap();
        answers.hits.values().sum::<usize>() + answers.unauthenticated
    }

    /// How many requests came without the resource server's credentials.
    pub fn unauthenticated(&self) -> usize {
        self.answers.lock().unwrap().unauthenticated
    }
}

/// An active answer for `issuer`'s token with `scope`, for audience `orders-api`, valid
/// for 5 minutes.
pub fn active(issuer: &str, scope: &str) -> Value {
    let now = super::now();
    json!({
        "active": true,
        "iss": issuer,
        "sub": "partner",
        "client_id": "partner-app",
        "aud": super::AUDIENCE,
        "scope": scope,
        "iat": now,
        "exp": now + 300,
        "token_type": "Bearer",
    })
}
