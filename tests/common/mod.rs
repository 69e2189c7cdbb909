//! Helpers shared by the integration tests: a development issuer, an audit recorder, and
//! a way to send one request through a router and read the answer.

#![allow(dead_code)]

pub mod dpop;
pub mod example;
pub mod idp;
pub mod introspection;
pub mod keys;
pub mod redis;
pub mod tenants;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use portcullis::audit::{AuditEvent, Decision};
use portcullis::dev::DevIssuer;
use serde_json::Value;
use tower::ServiceExt;

pub const ISSUER: &str = "https://issuer.test/";
pub const AUDIENCE: &str = "orders-api";

/// A development issuer for the tests' tokens.
pub fn dev_issuer() -> DevIssuer {
    DevIssuer::new(ISSUER, AUDIENCE).expect("key generation")
}

/// A configuration trusting `dev`, with a default rate no test reaches (1000/s), that
/// records every audit event in the log returned with it.
pub async fn audited_security(dev: &DevIssuer) -> (portcullis::Security, AuditLog) {
    let audit = AuditLog::default();
    let security = portcullis::Security::builder()
        .issuer(dev.issuer())
        .default_rate(portcullis::rate!("1000/s"))
        .audit_sink(audit.sink())
        .build()
        .await
        .expect("configuration");
    (security, audit)
}

/// One audit event, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audited {
    pub handler: &'static str,
    pub decision: Decision,
    pub reason: String,
    pub status: u16,
    pub subject: Option<String>,
    pub client: Option<String>,
    pub detail: Option<String>,
}

/// Records every audit event.
#[derive(Clone, Default)]
pub struct AuditLog(Arc<Mutex<Vec<Audited>>>);

impl AuditLog {
    pub fn sink(&self) -> impl Fn(&AuditEvent<'_>) + Send + Sync + 'static {
        let events = self.0.clone();
        move |event: &AuditEvent<'_>| {
            events.lock().unwrap().push(Audited {
                handler: event.handler,
                decision: event.decision,
                reason: event.reason.as_str().to_owned(),
                status: event.status,
                subject: event.subject.map(str::to_owned),
                client: event.client.map(str::to_owned),
                detail: event.detail.map(str::to_owned),
            })
        }
    }

    pub fn events(&self) -> Vec<Audited> {
        self.0.lock().unwrap().clone()
    }

    pub fn last(&self) -> Audited {
        self.events().last().cloned().expect("an audit event")
    }
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON: {}", self.text))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    /// The `WWW-Authenticate` error code, if any.
    pub fn bearer_error(&self) -> Option<String> {
        let challenge = self.header("www-authenticate");
        challenge
            .split("error=\"")
            .nth(1)
            .map(|rest| rest.split('"').next().unwrap().to_owned())
    }
}

/// Sends `request` from `ip` and reads the whole answer.
pub async fn send_from(app: &Router, mut request: Request<Body>, ip: [u8; 4]) -> Reply {
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Sends `request` from 10.0.0.1.
pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    send_from(app, request, [10, 0, 0, 1]).await
}

/// A GET with a bearer token.
pub fn get(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// A POST with a bearer token and a JSON body.
pub fn post_json(path: &str, token: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// base64url without padding.
/// The claim `name` of a JWT, as text (a number or other JSON value as its JSON).
pub fn claim(token: &str, name: &str) -> String {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    let value: Value = serde_json::from_slice(&bytes).expect("a JSON payload");
    value[name]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| value[name].to_string())
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS built by hand from a header, claims and a raw signature.
pub fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string()),
        b64(claims.to_string()),
        b64(signature)
    )
}

/// `base64url(header) "." base64url(payload)`: what a JWS signature covers. The payload is
/// text, so that tests can sign JSON no `Value` can hold (duplicate names, odd numbers).
pub fn signing_input(header: &Value, payload: &str) -> String {
    format!("{}.{}", b64(header.to_string()), b64(payload))
}

/// A raw HMAC signature (`HS256`, `HS384` or `HS512`) of `message` with `secret`, computed
/// directly so that any secret can be used, including ones a JWT library refuses.
pub fn hmac_sign(alg: &str, secret: &[u8], message: &[u8]) -> Vec<u8> {
    use aws_lc_rs::hmac;
    let algorithm = match alg {
        "HS256" => hmac::HMAC_SHA256,
        "HS384" => hmac::HMAC_SHA384,
        "HS512" => hmac::HMAC_SHA512,
        other => panic!("not an HMAC algorithm: {other}"),
    };
    hmac::sign(&hmac::Key::new(algorithm, secret), message)
        .as_ref()
        .to_vec()
}

/// Standard claims for the test issuer, valid for ten minutes from now.
pub fn claims(scope: &str) -> Value {
    let now = now();
    serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "client_id": "app-1",
        "scope": scope, "iat": now, "exp": now + 600, "jti": format!("j-{now}"),
    })
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The kinds of the alerts raised, in order, and a sink for
/// `SecurityBuilder::alert_sink` that records them there.
pub fn alert_kinds() -> (
    Arc<Mutex<Vec<portcullis::alert::AlertKind>>>,
    impl Fn(&portcullis::alert::Alert) + Send + Sync + 'static,
) {
    let kinds = Arc::new(Mutex::new(Vec::new()));
    let into = kinds.clone();
    (kinds, move |alert: &portcullis::alert::Alert| {
        into.lock().unwrap().push(alert.kind.clone())
    })
}
