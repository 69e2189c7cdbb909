//! Starting while the identity provider is down, and the HTTP settings of corporate
//! networks: a service whose provider does not answer starts, refuses that issuer's tokens
//! with 503 and `Retry-After`, reports itself not ready, alerts once per kind of failure,
//! and accepts the same tokens once the provider answers, without being rebuilt. Discovery
//! and key fetches go through a configured proxy, trust an extra root certificate, and
//! trust the CAs of the machine.

mod common;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::idp::Idp;
use common::*;
use portcullis::alert::{Alert, AlertKind};
use portcullis::auth::{
    DiscoveryError, FIRST_KEY_RETRY, HttpSettings, HttpSettingsError, IssuerFailure, KeyReadiness,
    LONGEST_KEY_RETRY, RemoteKeyError, RevocationError, RevocationFuture, RevocationStore,
    TokenIdentity, key_retry_delay,
};
use portcullis::dev::DevIssuer;
use portcullis::prelude::*;
use portcullis::transport::{TlsConfig, serve_tls};
use portcullis::{ConfigError, Readiness};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

portcullis::scopes! { "orders:read" => "Read orders" }

#[secure(get, path = "/orders", scope = "orders:read", rate = "unlimited")]
async fn list_orders(who: Principal) -> String {
    who.subject().unwrap_or_default().to_owned()
}

#[public(get, path = "/health", rate = "unlimited")]
async fn health() -> &'static str {
    "ok"
}

// ---------------------------------------------------------------------------------------
// Helpers.

/// A loopback address nothing listens on (the port was free a moment ago).
async fn free_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// The alerts raised, in order.
#[derive(Clone, Default)]
struct Alerts(Arc<Mutex<Vec<AlertKind>>>);

impl Alerts {
    fn sink(&self) -> impl Fn(&Alert) + Send + Sync + 'static {
        let alerts = self.0.clone();
        move |alert: &Alert| alerts.lock().unwrap().push(alert.kind.clone())
    }

    /// The issuer alerts: the kind of failure of each `IssuerUnavailable`, `None` for an
    /// `IssuerAvailable`.
    fn issuer_alerts(&self, issuer: &str) -> Vec<Option<IssuerFailure>> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|kind| match kind {
                AlertKind::IssuerUnavailable {
                    issuer: of,
                    failure,
                    ..
                } if of == issuer => Some(Some(*failure)),
                AlertKind::IssuerAvailable { issuer: of } if of == issuer => Some(None),
                _ => None,
            })
            .collect()
    }
}

fn builder(audit: &AuditLog, alerts: &Alerts) -> portcullis::SecurityBuilder {
    Security::builder()
        .default_rate(rate!("1000/s"))
        .auth_failure_limit(None)
        .audit_sink(audit.sink())
        .alert_sink(alerts.sink())
}

fn app(security: Security) -> axum::Router {
    SecureRouter::new(security)
        .mount(routes![list_orders, health])
        .into_router()
}

/// What the readiness says of `issuer`: `None` when ready, else (failures, last error,
/// time to the next attempt).
fn waiting(readiness: &Readiness, issuer: &str) -> Option<(u32, String, Duration)> {
    let state = readiness
        .issuers
        .iter()
        .find(|state| state.issuer == issuer)
        .unwrap_or_else(|| panic!("{issuer} is not configured"));
    match &state.keys {
        KeyReadiness::Waiting {
            failures,
            last_error,
            retry_in,
            ..
        } => Some((*failures, last_error.clone(), *retry_in)),
        _ => None,
    }
}

/// Polls `check` every 50 ms until it holds, failing after `within`.
async fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn token_of(dev: &DevIssuer, subject: &str) -> String {
    dev.token().subject(subject).scopes(["orders:read"]).sign()
}

/// The OpenAPI document of `security`'s endpoints, as text.
fn openapi(security: &Security) -> String {
    let document = SecureRouter::<()>::new(security.clone())
        .mount(routes![list_orders, health])
        .openapi()
        .unwrap();
    serde_json::to_string(&document).unwrap()
}

// ---------------------------------------------------------------------------------------
// 1. The provider is down at start-up, then comes up.

#[tokio::test]
async fn starts_while_the_provider_is_down_and_accepts_its_tokens_once_it_is_up() {
    let address = free_address().await;
    let issuer = format!("http://{address}");
    let down = DevIssuer::new(&issuer, AUDIENCE).unwrap();
    // Another issuer, whose keys are in process: its tokens are served meanwhile.
    let other = dev_issuer();
    let (audit, alerts) = (AuditLog::default(), Alerts::default());

    let started = Instant::now();
    let security = builder(&audit, &alerts)
        .issuer(other.issuer())
        .issuer(Issuer::discover(&issuer).audience(AUDIENCE))
        .build()
        .await
        .expect("the service starts while its provider is down");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a refused connection fails fast"
    );
    let app = app(security.clone());

    // Not ready, and why.
    let readiness = security.readiness();
    assert!(!readiness.is_ready());
    assert_eq!(readiness.waiting().count(), 1);
    let (failures, last_error, retry_in) = waiting(&readiness, &issuer).expect("waiting");
    assert!(failures >= 1);
    assert!(
        last_error.contains(&format!("{issuer}/.well-known/openid-configuration")),
        "{last_error}"
    );
    assert!(retry_in <= FIRST_KEY_RETRY, "{retry_in:?}");
    assert!(readiness.to_string().contains(&issuer), "{readiness}");

    // A token of that issuer: 503, Retry-After, problem+json, audited as keys_unavailable.
    let token = token_of(&down, "alice");
    let reply = send(&app, get("/orders", &token)).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text
    );
    let retry_after: u64 = reply.header("retry-after").parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert_eq!(reply.json()["status"], 503);
    assert!(!reply.headers.contains_key("www-authenticate"));
    let event = audit.last();
    assert_eq!(
        (event.reason.as_str(), event.status),
        ("keys_unavailable", 503)
    );

    // Everything else is answered as usual.
    let unknown = DevIssuer::new("https://unknown.test/", AUDIENCE).unwrap();
    let reply = send(&app, get("/orders", &token_of(&unknown, "mallory"))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(audit.last().reason, "unknown_issuer");
    let reply = send(
        &app,
        axum::http::Request::get("/orders")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(audit.last().reason, "missing_token");
    let reply = send(
        &app,
        axum::http::Request::get("/health")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = send(&app, get("/orders", &token_of(&other, "bob"))).await;
    assert_eq!((reply.status, reply.text.as_str()), (StatusCode::OK, "bob"));
    // The token endpoint is not known before discovery succeeds.
    let token_url = format!("{issuer}/oauth/token");
    assert!(!openapi(&security).contains(&token_url));
    let documented = SecureRouter::new(security.clone())
        .mount(routes![list_orders, health])
        .with_openapi("/openapi.json")
        .into_router();
    let served = || async {
        let request = axum::http::Request::get("/openapi.json")
            .body(axum::body::Body::empty())
            .unwrap();
        send(&documented, request).await.text
    };
    assert!(!served().await.contains(&token_url));

    // A retry fails the same way, then the provider comes up on that address: the next
    // retry finds it.
    eventually("a second attempt", Duration::from_secs(4), || {
        waiting(&security.readiness(), &issuer).is_some_and(|(failures, ..)| failures >= 2)
    })
    .await;
    let listener = TcpListener::bind(address).await.unwrap();
    tokio::spawn(down.clone().serve(listener));
    eventually("the issuer's keys arrive", Duration::from_secs(8), || {
        security.readiness().is_ready()
    })
    .await;
    assert_eq!(security.readiness().to_string(), "ready");

    // The same token, the same router: accepted.
    let reply = send(&app, get("/orders", &token)).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (StatusCode::OK, "alice")
    );
    assert!(openapi(&security).contains(&token_url));
    assert!(served().await.contains(&token_url));
    assert_eq!(
        alerts.issuer_alerts(&issuer),
        [Some(IssuerFailure::Connection), None],
        "one alert for the refused connections, however many, and one when the keys arrived"
    );
}

// ---------------------------------------------------------------------------------------
// 2. What no retry can mend still fails `build()`, before any request.

#[tokio::test]
async fn build_still_refuses_what_no_retry_can_mend() {
    let proxy = ForwardProxy::start().await;
    // Every request of these configurations would go through the proxy: none may.
    let spy = || HttpSettings::new().proxy(format!("http://{}", proxy.address));
    let build = |issuer: Issuer| async {
        Security::builder()
            .default_rate(rate!("1/s"))
            .http_settings(spy())
            .issuer(issuer)
            .build()
            .await
            .unwrap_err()
    };

    let error = build(Issuer::discover("http://idp.example.com/").audience(AUDIENCE)).await;
    assert!(
        matches!(
            &error,
            ConfigError::Discovery {
                source: DiscoveryError::InsecureIssuer { .. },
                ..
            }
        ),
        "{error}"
    );
    let error = build(
        Issuer::new("https://idp.example.com/")
            .audience(AUDIENCE)
            .jwks_url("http://idp.example.com/jwks"),
    )
    .await;
    assert!(
        matches!(
            &error,
            ConfigError::Jwks {
                source: RemoteKeyError::InsecureUrl { .. },
                ..
            }
        ),
        "{error}"
    );
    let error = build(
        Issuer::new("https://idp.example.com/")
            .audience(AUDIENCE)
            .jwks_url("https://user:secret@idp.example.com/jwks"),
    )
    .await;
    assert!(
        matches!(
            &error,
            ConfigError::Jwks {
                source: RemoteKeyError::InvalidUrl { .. },
                ..
            }
        ),
        "{error}"
    );
    assert!(!error.to_string().contains("secret"), "{error}");
    let error = build(Issuer::discover("https://idp.example.com/")).await;
    assert_eq!(
        error,
        ConfigError::MissingAudience("https://idp.example.com/".to_owned())
    );
    let error = build(
        Issuer::discover("https://idp.example.com/")
            .audience(AUDIENCE)
            .jwks_url("https://idp.example.com/jwks")
            .jwks_json(&common::keys::jwks(&[&common::keys::TestKey::ed25519("k")])),
    )
    .await;
    assert_eq!(
        error,
        ConfigError::ConflictingKeySources("https://idp.example.com/".to_owned())
    );

    // A valid issuer, then a broken one: the second is refused before the first is fetched.
    let error = Security::builder()
        .default_rate(rate!("1/s"))
        .http_settings(spy())
        .issuer(Issuer::discover("https://idp.example.com/").audience(AUDIENCE))
        .issuer(Issuer::discover("https://other.example.com/"))
        .build()
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ConfigError::MissingAudience("https://other.example.com/".to_owned())
    );

    // Settings that cannot be used, and never with the password in the message.
    let error = Security::builder()
        .default_rate(rate!("1/s"))
        .issuer(
            Issuer::discover("https://idp.example.com/")
                .audience(AUDIENCE)
                .http_settings(HttpSettings::new().proxy("http://svc:hunter2@proxy.example:3128")),
        )
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            ConfigError::HttpSettings {
                source: HttpSettingsError::InvalidProxy { .. },
                ..
            }
        ),
        "{error}"
    );
    assert!(!error.to_string().contains("hunter2"), "{error}");
    let error = Security::builder()
        .default_rate(rate!("1/s"))
        .http_settings(HttpSettings::new().root_certificate_pem(b"not a certificate".as_slice()))
        .issuer(Issuer::discover("https://idp.example.com/").audience(AUDIENCE))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            ConfigError::HttpSettings {
                source: HttpSettingsError::NoCertificate { index: 0 },
                ..
            }
        ),
        "{error}"
    );

    assert_eq!(proxy.requests(), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------
// 3. One alert per kind of failure, not one per retry.

#[tokio::test]
async fn each_kind_of_failure_alerts_once_and_the_arrival_once() {
    let address = free_address().await;
    let issuer = format!("http://{address}");
    let key = common::keys::TestKey::ed25519("ed");
    let (audit, alerts) = (AuditLog::default(), Alerts::default());
    let security = builder(&audit, &alerts)
        .issuer(Issuer::discover(&issuer).audience(AUDIENCE))
        .build()
        .await
        .unwrap();
    let app = app(security.clone());
    let mut claims = claims("orders:read");
    claims["iss"] = serde_json::json!(issuer);
    let token = key.sign(jsonwebtoken::Algorithm::EdDSA, None, &claims);

    // Two refused connections (at start-up, and the first retry one second later).
    eventually("a second attempt", Duration::from_secs(4), || {
        waiting(&security.readiness(), &issuer).is_some_and(|(failures, ..)| failures >= 2)
    })
    .await;
    // Requests do not hasten attempts, nor alert.
    let (failures, ..) = waiting(&security.readiness(), &issuer).unwrap();
    for _ in 0..20 {
        let reply = send(&app, get("/orders", &token)).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        let retry_after: u64 = reply.header("retry-after").parse().unwrap();
        assert!((1..=2).contains(&retry_after), "{retry_after}");
    }
    assert_eq!(
        waiting(&security.readiness(), &issuer).map(|(failures, ..)| failures),
        Some(failures)
    );
    assert_eq!(
        alerts.issuer_alerts(&issuer),
        [Some(IssuerFailure::Connection)]
    );

    // The provider answers, with a document naming another issuer: its keys are not
    // trusted, and that is another kind of failure.
    let listener = TcpListener::bind(address).await.unwrap();
    let idp = Idp::start_on(listener, common::keys::jwks(&[&key]));
    idp.claim_issuer("https://impostor.test/");
    eventually(
        "an attempt that finds the impostor",
        Duration::from_secs(6),
        || {
            waiting(&security.readiness(), &issuer)
                .is_some_and(|(_, last_error, _)| last_error.contains("impostor"))
        },
    )
    .await;
    assert_eq!(idp.jwks_fetches(), 0, "no key of another issuer is fetched");
    assert_eq!(
        send(&app, get("/orders", &token)).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        alerts.issuer_alerts(&issuer),
        [
            Some(IssuerFailure::Connection),
            Some(IssuerFailure::IssuerMismatch)
        ]
    );

    // The provider is fixed: the keys arrive at the next attempt.
    idp.claim_issuer(&issuer);
    eventually("the keys arrive", Duration::from_secs(10), || {
        security.readiness().is_ready()
    })
    .await;
    assert_eq!(
        send(&app, get("/orders", &token)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        alerts.issuer_alerts(&issuer),
        [
            Some(IssuerFailure::Connection),
            Some(IssuerFailure::IssuerMismatch),
            None
        ]
    );
    assert!(idp.discovery_fetches() >= 2);
}

#[test]
fn the_retry_schedule_is_one_second_then_doubling_with_jitter_up_to_a_minute() {
    assert_eq!(FIRST_KEY_RETRY, Duration::from_secs(1));
    assert_eq!(LONGEST_KEY_RETRY, Duration::from_secs(60));
    for jitter in [0.0, 0.5, 1.0] {
        assert_eq!(key_retry_delay(1, jitter), Duration::from_secs(1));
    }
    let nominal: Vec<u64> = (1..=10)
        .map(|n| key_retry_delay(n, 0.0).as_secs())
        .collect();
    assert_eq!(nominal, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
    for retry in 2..=12 {
        let nominal = key_retry_delay(retry, 0.0);
        let mut previous = nominal;
        for jitter in [0.1, 0.4, 0.7, 1.0] {
            let delay = key_retry_delay(retry, jitter);
            assert!(
                delay < previous,
                "more jitter, shorter delay: {retry} {jitter}"
            );
            assert!(
                delay >= nominal * 3 / 4,
                "at most a quarter off: {retry} {jitter}"
            );
            previous = delay;
        }
    }
    assert_eq!(key_retry_delay(u32::MAX, 0.0), LONGEST_KEY_RETRY);
}

#[tokio::test]
async fn retries_stop_when_the_configuration_is_dropped() {
    let address = free_address().await;
    let issuer = format!("http://{address}");
    let security = Security::builder()
        .default_rate(rate!("1/s"))
        .issuer(Issuer::discover(&issuer).audience(AUDIENCE))
        .build()
        .await
        .unwrap();
    assert!(!security.readiness().is_ready());
    let app = app(security.clone());
    drop((security, app));

    // Were the retries still running, the first would come one second after start-up.
    let idp = Idp::start_on(
        TcpListener::bind(address).await.unwrap(),
        common::keys::jwks(&[&common::keys::TestKey::ed25519("ed")]),
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(idp.discovery_fetches(), 0);
}

// ---------------------------------------------------------------------------------------
// 4. Corporate networks: a proxy, an extra root certificate.

/// A plain HTTP forward proxy: reads one absolute-form request per connection
/// (`GET http://host:port/path HTTP/1.1`), records it, forwards it and relays the answer.
struct ForwardProxy {
    address: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
}

impl ForwardProxy {
    async fn start() -> ForwardProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let _ = relay(client, recorded).await;
                });
            }
        });
        ForwardProxy { address, requests }
    }

    /// The request lines received, as `METHOD target`.
    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

async fn relay(mut client: TcpStream, recorded: Arc<Mutex<Vec<String>>>) -> io::Result<()> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = client.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    recorded.lock().unwrap().push(format!("{method} {target}"));
    let Some((authority, path)) = target
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once('/'))
    else {
        client
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await?;
        return Ok(());
    };
    let mut forwarded = format!("{method} /{path} HTTP/1.1\r\n");
    for line in lines.take_while(|line| !line.is_empty()) {
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        if name != "connection" && !name.starts_with("proxy-") {
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("connection: close\r\n\r\n");
    let mut upstream = TcpStream::connect(authority).await?;
    upstream.write_all(forwarded.as_bytes()).await?;
    tokio::io::copy(&mut upstream, &mut client).await?;
    client.shutdown().await
}

/// A development issuer serving its discovery document and JWKS on a loopback port.
async fn serving_dev_issuer() -> DevIssuer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dev = DevIssuer::new(
        format!("http://{}", listener.local_addr().unwrap()),
        AUDIENCE,
    )
    .unwrap();
    tokio::spawn(dev.clone().serve(listener));
    dev
}

#[tokio::test]
async fn discovery_and_keys_go_through_the_configured_proxy() {
    let dev = serving_dev_issuer().await;
    let issuer = dev.issuer_id().to_owned();
    let proxy = ForwardProxy::start().await;
    let nowhere = free_address().await;
    let (audit, alerts) = (AuditLog::default(), Alerts::default());

    // The builder's proxy goes nowhere; the issuer's own settings win.
    let security = builder(&audit, &alerts)
        .http_settings(HttpSettings::new().proxy(format!("http://{nowhere}")))
        .issuer(
            Issuer::discover(&issuer)
                .audience(AUDIENCE)
                .http_settings(HttpSettings::new().proxy(format!("http://{}", proxy.address))),
        )
        .build()
        .await
        .unwrap();
    assert!(security.readiness().is_ready(), "{}", security.readiness());
    assert_eq!(
        proxy.requests(),
        [
            format!("GET {issuer}/.well-known/openid-configuration"),
            format!("GET {issuer}/.well-known/jwks.json"),
        ]
    );
    let app = app(security);
    let reply = send(&app, get("/orders", &token_of(&dev, "alice"))).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (StatusCode::OK, "alice")
    );

    // The builder's settings hold for issuers without their own: this one goes to a proxy
    // that is not there, though its provider is up.
    let security = builder(&audit, &alerts)
        .http_settings(HttpSettings::new().proxy(format!("http://{nowhere}")))
        .issuer(Issuer::discover(&issuer).audience(AUDIENCE))
        .build()
        .await
        .unwrap();
    let (_, last_error, _) = waiting(&security.readiness(), &issuer).expect("waiting");
    assert!(last_error.contains("openid-configuration"), "{last_error}");
    assert_eq!(
        alerts.issuer_alerts(&issuer),
        [Some(IssuerFailure::Connection)]
    );

    // Exceptions: the provider's host is reached directly.
    let security = builder(&audit, &alerts)
        .issuer(
            Issuer::discover(&issuer).audience(AUDIENCE).http_settings(
                HttpSettings::new()
                    .proxy(format!("http://{}", proxy.address))
                    .no_proxy("localhost, 127.0.0.1"),
            ),
        )
        .build()
        .await
        .unwrap();
    assert!(security.readiness().is_ready());
    assert_eq!(proxy.requests().len(), 2, "{:?}", proxy.requests());
}

/// A certificate authority, and a server certificate it signed for `localhost` and
/// 127.0.0.1: (CA PEM, server certificate PEM, server key PEM).
/// A development issuer served over HTTPS with `certificate` and `key`, on a free port of
/// 127.0.0.1: its identifier and the issuer.
async fn https_dev_issuer(certificate: &[u8], key: &[u8]) -> (String, DevIssuer) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("https://{}", listener.local_addr().unwrap());
    let dev = DevIssuer::new(&issuer, AUDIENCE).unwrap();
    let tls = TlsConfig::from_pem(certificate, key).unwrap();
    tokio::spawn(serve_tls(
        listener,
        dev.router(),
        tls,
        std::future::pending(),
    ));
    (issuer, dev)
}

fn test_ca() -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Portcullis test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let mut server_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = server_params.signed_by(&server_key, &*ca).unwrap();
    (ca.pem(), server.pem(), server_key.serialize_pem())
}

#[tokio::test]
async fn an_extra_root_certificate_lets_discovery_and_keys_be_fetched_over_https() {
    let (ca_pem, certificate_pem, key_pem) = test_ca();
    let (issuer, dev) = https_dev_issuer(certificate_pem.as_bytes(), key_pem.as_bytes()).await;
    let token = token_of(&dev, "alice");
    let (audit, alerts) = (AuditLog::default(), Alerts::default());

    // Without the CA: the provider's certificate is not trusted.
    let security = builder(&audit, &alerts)
        .issuer(Issuer::discover(&issuer).audience(AUDIENCE))
        .build()
        .await
        .unwrap();
    let (_, last_error, _) = waiting(&security.readiness(), &issuer).expect("waiting");
    assert!(
        last_error.to_ascii_lowercase().contains("certificate"),
        "{last_error}"
    );
    assert_eq!(
        alerts.issuer_alerts(&issuer),
        [Some(IssuerFailure::Connection)]
    );
    let reply = send(&app(security), get("/orders", &token)).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);

    // With it: discovery and the JWKS over HTTPS, at the first attempt.
    let security = builder(&audit, &alerts)
        .issuer(
            Issuer::discover(&issuer)
                .audience(AUDIENCE)
                .http_settings(HttpSettings::new().root_certificate_pem(ca_pem.as_bytes())),
        )
        .build()
        .await
        .unwrap();
    assert!(security.readiness().is_ready(), "{}", security.readiness());
    let reply = send(&app(security), get("/orders", &token)).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (StatusCode::OK, "alice")
    );
}

/// Where the child half of `a_ca_the_machine_trusts_needs_no_setting` finds its files.
const TRUSTED_CA_DIR: &str = "PORTCULLIS_TEST_TRUSTED_CA_DIR";

/// A CA the machine trusts, as a corporate CA installed on it, is trusted with no setting:
/// the provider's certificate is checked by the operating system's verifier. The machine's
/// store is here the file `SSL_CERT_FILE` names, set for a child process (this test binary
/// again), so that this process's environment is never changed.
#[test]
fn a_ca_the_machine_trusts_needs_no_setting() {
    if let Some(dir) = std::env::var_os(TRUSTED_CA_DIR) {
        return serve_and_discover_over_https(std::path::PathBuf::from(dir));
    }
    let (ca_pem, certificate_pem, key_pem) = test_ca();
    let dir = std::env::temp_dir().join(format!("portcullis-trusted-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, pem) in [
        ("ca.pem", &ca_pem),
        ("certificate.pem", &certificate_pem),
        ("key.pem", &key_pem),
    ] {
        std::fs::write(dir.join(name), pem).unwrap();
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_ca_the_machine_trusts_needs_no_setting",
            "--test-threads=1",
        ])
        .env(TRUSTED_CA_DIR, &dir)
        .env("SSL_CERT_FILE", dir.join("ca.pem"))
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Serves a development issuer over HTTPS with the certificate in `dir`, and checks that
/// discovery and the keys are fetched with no root certificate configured.
fn serve_and_discover_over_https(dir: std::path::PathBuf) {
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (issuer, dev) = https_dev_issuer(&read("certificate.pem"), &read("key.pem")).await;
        let token = token_of(&dev, "alice");
        let (audit, alerts) = (AuditLog::default(), Alerts::default());
        let security = builder(&audit, &alerts)
            .issuer(Issuer::discover(&issuer).audience(AUDIENCE))
            .build()
            .await
            .unwrap();
        assert!(security.readiness().is_ready(), "{}", security.readiness());
        let reply = send(&app(security), get("/orders", &token)).await;
        assert_eq!(
            (reply.status, reply.text.as_str()),
            (StatusCode::OK, "alice")
        );
    });
}

// ---------------------------------------------------------------------------------------
// 5. A revocation store that does not answer: 503 with Retry-After too.

#[derive(Debug)]
struct Unreachable;

impl RevocationStore for Unreachable {
    fn revoke_token<'a>(&'a self, _: &'a str, _: &'a str, _: u64) -> RevocationFuture<'a, ()> {
        Box::pin(async { Err(RevocationError("unreachable".to_owned())) })
    }

    fn revoke_subject<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: u64,
        _: u64,
    ) -> RevocationFuture<'a, ()> {
        Box::pin(async { Err(RevocationError("unreachable".to_owned())) })
    }

    fn is_revoked<'a>(&'a self, _: TokenIdentity<'a>, _: u64) -> RevocationFuture<'a, bool> {
        Box::pin(async { Err(RevocationError("unreachable".to_owned())) })
    }
}

#[tokio::test]
async fn a_revocation_store_that_does_not_answer_says_when_to_retry() {
    let dev = dev_issuer();
    let audit = AuditLog::default();
    let security = Security::builder()
        .default_rate(rate!("1000/s"))
        .issuer(dev.issuer())
        .revocations(Arc::new(Unreachable))
        .audit_sink(audit.sink())
        .build()
        .await
        .unwrap();
    let reply = send(&app(security), get("/orders", &token_of(&dev, "alice"))).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.header("retry-after"), "1");
    assert_eq!(audit.last().reason, "revocation_unavailable");
}
