//! Remote JWKS (fetch, rotation, single flight, stale while failing, Cache-Control,
//! background refresh) and OIDC / RFC 8414 discovery, against a real local HTTP server whose
//! answers each test changes at will.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_runtime::KeySet;
use portcullis_runtime::auth::{
    DiscoveryError, JwksOptions, ProviderMetadata, RemoteJwks, RemoteKeyError, discover,
    discover_with,
};
use serde_json::json;
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------------------
// A provider whose answers the tests change at will.

#[derive(Clone)]
struct Reply {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    delay: Duration,
    /// Send the body in chunks, without `Content-Length`.
    streamed: bool,
}

impl Reply {
    fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            body: body.into(),
            headers: Vec::new(),
            delay: Duration::ZERO,
            streamed: false,
        }
    }

    fn status(status: u16) -> Reply {
        Reply {
            status,
            ..Reply::ok(Vec::new())
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    fn streamed(mut self) -> Reply {
        self.streamed = true;
        self
    }
}

#[derive(Default)]
struct Provider {
    replies: Mutex<HashMap<String, Reply>>,
    /// Requests for `/jwks`.
    jwks_hits: AtomicUsize,
    /// Requests for any path.
    all_hits: AtomicUsize,
    hits: Mutex<HashMap<String, usize>>,
}

struct Server {
    base: String,
    provider: Arc<Provider>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start() -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let provider = Arc::new(Provider::default());
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&provider));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server {
            base,
            provider,
            task,
        }
    }

    fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.base)
    }

    fn set(&self, path: &str, reply: Reply) {
        self.provider
            .replies
            .lock()
            .unwrap()
            .insert(path.to_owned(), reply);
    }

    fn set_jwks(&self, reply: Reply) {
        self.set("/jwks", reply);
    }

    fn jwks_hits(&self) -> usize {
        self.provider.jwks_hits.load(Ordering::SeqCst)
    }

    fn all_hits(&self) -> usize {
        self.provider.all_hits.load(Ordering::SeqCst)
    }

    fn hits(&self, path: &str) -> usize {
        self.provider
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

async fn answer(State(provider): State<Arc<Provider>>, uri: Uri) -> Response {
    let path = uri.path().to_owned();
    provider.all_hits.fetch_add(1, Ordering::SeqCst);
    if path == "/jwks" {
        provider.jwks_hits.fetch_add(1, Ordering::SeqCst);
    }
    *provider
        .hits
        .lock()
        .unwrap()
        .entry(path.clone())
        .or_default() += 1;
    let reply = provider.replies.lock().unwrap().get(&path).cloned();
    let Some(reply) = reply else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::empty())
            .unwrap();
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let body = if reply.streamed {
        let chunks: Vec<Result<Bytes, Infallible>> = reply
            .body
            .chunks(64 * 1024)
            .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
            .collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    } else {
        Body::from(reply.body)
    };
    let mut response = Response::builder().status(reply.status);
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    response.body(body).unwrap()
}

// ---------------------------------------------------------------------------------------
// Keys.

/// Real Ed25519 public keys, by kid, as JWKs.
struct Keys(BTreeMap<&'static str, String>);

impl Keys {
    fn generate(kids: &[&'static str]) -> Keys {
        Keys(
            kids.iter()
                .map(|kid| {
                    let pair = Ed25519KeyPair::generate().unwrap();
                    (*kid, URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()))
                })
                .collect(),
        )
    }

    fn x(&self, kid: &str) -> &str {
        &self.0[kid]
    }

    fn jwk(&self, kid: &str) -> serde_json::Value {
        json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA",
               "kid": kid, "x": self.x(kid)})
    }

    /// A JWKS document with these kids.
    fn jwks(&self, kids: &[&str]) -> String {
        let keys: Vec<_> = kids.iter().map(|kid| self.jwk(kid)).collect();
        json!({ "keys": keys }).to_string()
    }
}

fn kids(keys: &KeySet) -> BTreeSet<String> {
    keys.keys()
        .iter()
        .filter_map(|key| key.kid().map(str::to_owned))
        .collect()
}

fn set_of(kids: &[&str]) -> BTreeSet<String> {
    kids.iter().map(|kid| (*kid).to_owned()).collect()
}

/// Options with short delays, for tests.
fn quick() -> JwksOptions {
    JwksOptions {
        refresh_interval: Duration::from_millis(200),
        min_refresh_interval: Duration::from_millis(100),
        max_refresh_interval: Duration::from_secs(1),
        unknown_kid_cooldown: Duration::from_secs(30),
        fetch_timeout: Duration::from_secs(2),
        ..JwksOptions::default()
    }
}

/// A client without connection reuse, so that a stopped server is really gone.
fn unpooled_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Capturing tracing events.

#[derive(Debug, Clone)]
struct Captured {
    target: String,
    level: tracing::Level,
    fields: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

impl Capture {
    fn alerts(&self) -> Vec<Captured> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|event| event.target == "portcullis::alert")
            .cloned()
            .collect()
    }
}

struct Visitor<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Visitor(&mut fields));
        self.0.lock().unwrap().push(Captured {
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields,
        });
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

// ---------------------------------------------------------------------------------------
// 1. Initial fetch and URL policy.

#[tokio::test]
async fn fetches_the_keys_once() {
    let server = Server::start().await;
    let keys = Keys::generate(&["k1", "k2"]);
    server.set_jwks(Reply::ok(keys.jwks(&["k1", "k2"])));

    let jwks = RemoteJwks::fetch(&server.jwks_uri(), JwksOptions::default())
        .await
        .unwrap();
    assert_eq!(kids(&jwks.current()), set_of(&["k1", "k2"]));
    assert_eq!(jwks.uri(), server.jwks_uri());
    let stats = jwks.stats();
    assert_eq!(
        (stats.fetches_attempted, stats.fetches_failed, stats.keys),
        (1, 0, 2)
    );
    assert!(stats.last_success.elapsed() < Duration::from_secs(5));
    // Nothing was spawned: no further request, whatever the wait.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.jwks_hits(), 1);
    // Debug output never shows key material.
    assert!(!format!("{jwks:?}").contains(keys.x("k1")));

    // `localhost` is loopback too.
    let local = server.jwks_uri().replace("127.0.0.1", "localhost");
    let jwks = RemoteJwks::fetch(&local, JwksOptions::default())
        .await
        .unwrap();
    assert_eq!(jwks.current().len(), 2);
}

#[tokio::test]
async fn refuses_insecure_urls_before_any_request() {
    // Every request of this client would reach the test server as a proxy: none may.
    let server = Server::start().await;
    let spy = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(&server.base).unwrap())
        .build()
        .unwrap();
    for uri in [
        "http://example.com/jwks",
        "http://10.1.2.3/jwks",
        "http://localhost.example.com/jwks",
        "ftp://127.0.0.1/jwks",
    ] {
        let error = RemoteJwks::fetch_with(spy.clone(), uri, JwksOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            error,
            RemoteKeyError::InsecureUrl {
                uri: uri.to_owned()
            }
        );
        assert!(error.to_string().contains("https://"), "{error}");
        assert!(matches!(
            RemoteJwks::fetch(uri, JwksOptions::default()).await,
            Err(RemoteKeyError::InsecureUrl { .. })
        ));
    }
    assert!(matches!(
        RemoteJwks::fetch(
            "https://user:secret@idp.example.com/jwks",
            JwksOptions::default()
        )
        .await,
        Err(RemoteKeyError::InvalidUrl { .. })
    ));
    assert!(matches!(
        RemoteJwks::fetch("jwks.json", JwksOptions::default()).await,
        Err(RemoteKeyError::InvalidUrl { .. })
    ));
    assert_eq!(server.all_hits(), 0);
}

#[tokio::test]
async fn a_first_fetch_that_fails_is_an_error() {
    let server = Server::start().await;
    assert_eq!(
        RemoteJwks::fetch(&server.jwks_uri(), JwksOptions::default())
            .await
            .unwrap_err(),
        RemoteKeyError::Status {
            uri: server.jwks_uri(),
            status: 404
        }
    );
    server.set_jwks(Reply::ok(r#"{"keys": []}"#));
    let error = RemoteJwks::fetch(&server.jwks_uri(), JwksOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, RemoteKeyError::NoUsableKeys { skipped: 0, .. }),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------
// 2. Rotation.

#[tokio::test]
async fn picks_up_rotated_keys() {
    let server = Server::start().await;
    let keys = Keys::generate(&["old", "new"]);
    server.set_jwks(Reply::ok(keys.jwks(&["old"])));
    let jwks = RemoteJwks::fetch(&server.jwks_uri(), JwksOptions::default())
        .await
        .unwrap();

    // A known kid never causes a fetch.
    assert_eq!(
        kids(&*jwks.refresh_for_unknown_kid("old").await),
        set_of(&["old"])
    );
    assert_eq!(server.jwks_hits(), 1);

    // The provider publishes a new key: its first sight fetches it (the start-up fetch
    // does not start the cooldown).
    let before = jwks.current();
    assert!(jwks.is_current(&before));
    server.set_jwks(Reply::ok(keys.jwks(&["old", "new"])));
    let refreshed = jwks.refresh_for_unknown_kid("new").await;
    assert_eq!(kids(&refreshed), set_of(&["old", "new"]));
    // What the token cache asks on every hit: tokens verified with the old set are not.
    assert!(!jwks.is_current(&before));
    assert!(jwks.is_current(&refreshed));
    assert_eq!(kids(&jwks.current()), set_of(&["old", "new"]));
    assert_eq!(server.jwks_hits(), 2);

    // The provider retires the old key: the next refresh replaces the whole set.
    server.set_jwks(Reply::ok(keys.jwks(&["new"])));
    let refreshed = jwks.refresh_now().await.unwrap();
    assert_eq!(kids(&refreshed), set_of(&["new"]));
    assert_eq!(kids(&jwks.current()), set_of(&["new"]));
    assert_eq!(server.jwks_hits(), 3);
    assert_eq!(jwks.stats().fetches_attempted, 3);
}

// ---------------------------------------------------------------------------------------
// 3. A flood of unknown kids.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_fetches_once_per_cooldown() {
    let server = Server::start().await;
    let keys = Keys::generate(&["k1"]);
    // Slow answers, so that the flood arrives while a fetch is in progress.
    server.set_jwks(Reply::ok(keys.jwks(&["k1"])).delayed(Duration::from_millis(100)));
    let cooldown = Duration::from_millis(700);
    let options = JwksOptions {
        unknown_kid_cooldown: cooldown,
        ..JwksOptions::default()
    };
    let jwks = RemoteJwks::fetch(&server.jwks_uri(), options)
        .await
        .unwrap();
    assert_eq!(server.jwks_hits(), 1);

    let flood_start = Instant::now();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let jwks = Arc::clone(&jwks);
            tokio::spawn(async move { jwks.refresh_for_unknown_kid("nope").await })
        })
        .collect();
    for task in tasks {
        // Everyone gets the keys to retry with, still without the unknown kid.
        assert_eq!(kids(&task.await.unwrap()), set_of(&["k1"]));
    }
    let flood_fetches = server.jwks_hits() - 1;
    assert!(
        (1..=2).contains(&flood_fetches),
        "{flood_fetches} fetches for the flood"
    );

    // Within the cooldown: no fetch at all.
    let before = server.jwks_hits();
    for _ in 0..50 {
        jwks.refresh_for_unknown_kid("nope").await;
    }
    assert!(
        flood_start.elapsed() < cooldown,
        "the test machine is too slow"
    );
    assert_eq!(server.jwks_hits(), before);

    // After the cooldown, one more early refresh is allowed.
    tokio::time::sleep_until((flood_start + cooldown + Duration::from_millis(50)).into()).await;
    jwks.refresh_for_unknown_kid("nope").await;
    jwks.refresh_for_unknown_kid("nope").await;
    assert_eq!(server.jwks_hits(), before + 1);
    assert_eq!(
        jwks.stats().fetches_attempted,
        server.jwks_hits() as u64,
        "the stats count every request"
    );
}

// ---------------------------------------------------------------------------------------
// 4. Provider down after start-up.

#[tokio::test]
async fn keeps_the_keys_while_the_provider_fails() {
    let server = Server::start().await;
    let keys = Keys::generate(&["k1"]);
    server.set_jwks(Reply::ok(keys.jwks(&["k1"])));
    let jwks = RemoteJwks::fetch(&server.jwks_uri(), JwksOptions::default())
        .await
        .unwrap();

    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());

    server.set_jwks(Reply::status(500));
    assert_eq!(
        jwks.refresh_now().await.unwrap_err(),
        RemoteKeyError::Status {
            uri: server.jwks_uri(),
            status: 500
        }
    );
    assert_eq!(kids(&jwks.current()), set_of(&["k1"]));
    // An unknown kid during the outage: the old keys come back.
    assert_eq!(
        kids(&*jwks.refresh_for_unknown_kid("k2").await),
        set_of(&["k1"])
    );
    let stats = jwks.stats();
    assert_eq!(
        (
            stats.fetches_attempted,
            stats.fetches_failed,
            stats.consecutive_failures,
            stats.keys
        ),
        (3, 2, 2, 1)
    );

    let alerts = capture.alerts();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    for alert in &alerts {
        assert_eq!(alert.level, tracing::Level::WARN);
        assert_eq!(alert.fields["uri"], server.jwks_uri());
        assert!(alert.fields["error"].contains("HTTP 500"), "{alert:?}");
        assert_eq!(
            alert.fields["message"],
            "JWKS refresh failed; keeping the previous keys"
        );
    }

    // The provider recovers: the failure count resets.
    server.set_jwks(Reply::ok(keys.jwks(&["k1"])));
    jwks.refresh_now().await.unwrap();
    assert_eq!(jwks.stats().consecutive_failures, 0);
    assert_eq!(jwks.stats().fetches_failed, 2);
}

#[tokio::test]
async fn keeps_the_keys_when_the_provider_is_gone() {
    let server = Server::start().await;
    let keys = Keys::generate(&["k1"]);
    server.set_jwks(Reply::ok(keys.jwks(&["k1"])));
    let jwks = RemoteJwks::fetch_with(unpooled_client(), &server.jwks_uri(), quick())
        .await
        .unwrap();

    let uri = server.jwks_uri();
    server.task.abort();
    assert!(server.task.await.unwrap_err().is_cancelled());
    let error = jwks.refresh_now().await.unwrap_err();
    assert!(
        matches!(error, RemoteKeyError::Fetch { .. }),
        "{error:?}: {error}"
    );
    assert!(
        error.to_string().contains(&uri),
        "the message names the URL: {error}"
    );
    assert_eq!(kids(&jwks.current()), set_of(&["k1"]));
    assert_eq!(jwks.stats().fetches_failed, 1);
}

// ---------------------------------------------------------------------------------------
// 5. Garbage.

#[tokio::test]
async fn keeps_the_keys_when_the_document_is_garbage() {
    let server = Server::start().await;
    let keys = Keys::generate(&["k1", "enc"]);
    server.set_jwks(Reply::ok(keys.jwks(&["k1"])));
    let options = JwksOptions {
        fetch_timeout: Duration::from_millis(300),
        ..JwksOptions::default()
    };
    let jwks = RemoteJwks::fetch(&server.jwks_uri(), options)
        .await
        .unwrap();

    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());

    let secret_looking = format!(r#"{{"keys": "{}"}}"#, keys.x("k1"));
    let mut encryption_only = keys.jwk("enc");
    encryption_only["use"] = json!("enc");
    let encryption_only = json!({ "keys": [encryption_only] }).to_string();
    let ten_megabytes = vec![b' '; 10 * 1024 * 1024];
    let cases: Vec<(&str, Reply)> = vec![
        ("keys is a number", Reply::ok(r#"{"keys": 5}"#)),
        ("keys is a string", Reply::ok(secret_looking.clone())),
        ("not JSON", Reply::ok("not json")),
        ("not UTF-8", Reply::ok(vec![b'{', 0xff, 0xfe, b'}'])),
        ("no keys", Reply::ok(r#"{"keys": []}"#)),
        ("only an encryption key", Reply::ok(encryption_only)),
        ("10 MB", Reply::ok(ten_megabytes.clone())),
        ("10 MB streamed", Reply::ok(ten_megabytes).streamed()),
        (
            "a redirect",
            Reply::status(302).header("location", "https://evil.example/jwks"),
        ),
        (
            "HTML error page",
            Reply::ok("<html>oops</html>").header("content-type", "text/html"),
        ),
        (
            "too slow",
            Reply::ok(keys.jwks(&["k1"])).delayed(Duration::from_secs(3)),
        ),
    ];
    let count = cases.len() as u64;
    for (case, reply) in cases {
        server.set_jwks(reply);
        let started = Instant::now();
        let error = jwks.refresh_now().await.unwrap_err();
        let expected = match case {
            "keys is a number" | "keys is a string" | "not JSON" | "not UTF-8"
            | "HTML error page" => matches!(error, RemoteKeyError::InvalidDocument { .. }),
            "no keys" => matches!(error, RemoteKeyError::NoUsableKeys { skipped: 0, .. }),
            "only an encryption key" => {
                matches!(error, RemoteKeyError::NoUsableKeys { skipped: 1, .. })
            }
            "10 MB" | "10 MB streamed" => {
                matches!(error, RemoteKeyError::TooLarge { limit: 262_144, .. })
            }
            "a redirect" => matches!(error, RemoteKeyError::Redirected { .. }),
            "too slow" => {
                started.elapsed() < Duration::from_secs(2)
                    && matches!(error, RemoteKeyError::Timeout { .. })
            }
            _ => unreachable!(),
        };
        assert!(expected, "{case}: {error:?}");
        assert_eq!(kids(&jwks.current()), set_of(&["k1"]), "{case}");
    }
    assert_eq!(jwks.stats().fetches_failed, count);
    assert_eq!(jwks.stats().keys, 1);

    // Every failure raised an alert, and none quoted the document or any key.
    let alerts = capture.alerts();
    assert_eq!(alerts.len() as u64, count, "{alerts:?}");
    for alert in alerts {
        let text = format!("{:?}", alert.fields);
        assert!(!text.contains(keys.x("k1")), "{text}");
        assert!(!text.contains(keys.x("enc")), "{text}");
        assert!(!text.contains("oops"), "{text}");
    }
}

// ---------------------------------------------------------------------------------------
// 6. Cache-Control.

#[test]
fn cache_control_max_age_is_parsed_and_clamped() {
    let secs = Duration::from_secs;
    let options = JwksOptions::default();
    assert_eq!(options.refresh_delay(Some("max-age=600")), secs(600));
    assert_eq!(options.refresh_delay(Some("max-age=0")), secs(60));
    assert_eq!(options.refresh_delay(Some("max-age=10")), secs(60));
    assert_eq!(
        options.refresh_delay(Some("max-age=31536000")),
        secs(24 * 3600)
    );
    assert_eq!(options.refresh_delay(Some("no-store")), secs(300));
    assert_eq!(options.refresh_delay(Some("max-age=junk")), secs(300));
    assert_eq!(options.refresh_delay(None), secs(300));
}

#[tokio::test]
async fn the_next_refresh_follows_cache_control() {
    let server = Server::start().await;
    let keys = Keys::generate(&["k1"]);
    let document = keys.jwks(&["k1"]);
    server.set_jwks(Reply::ok(document.clone()).header("cache-control", "public, max-age=120"));
    let jwks = RemoteJwks::fetch(&server.jwks_uri(), JwksOptions::default())
        .await
        .unwrap();
    assert_eq!(jwks.stats().next_refresh, Duration::from_secs(120));

    let secs = Duration::from_secs;
    for (cache_control, expected) in [
        (Some("max-age=5"), secs(60)),
        (Some("max-age=31536000"), secs(24 * 3600)),
        (Some("no-store, max-age=600"), secs(300)),
        (Some("no-cache"), secs(300)),
        (None, secs(300)),
    ] {
        let mut reply = Reply::ok(document.clone());
        if let Some(value) = cache_control {
            reply = reply.header("cache-control", value);
        }
        server.set_jwks(reply);
        jwks.refresh_now().await.unwrap();
        assert_eq!(jwks.stats().next_refresh, expected, "{cache_control:?}");
    }
    // Two Cache-Control lines count as one list.
    server.set_jwks(
        Reply::ok(document.clone())
            .header("cache-control", "public")
            .header("cache-control", "max-age=900"),
    );
    jwks.refresh_now().await.unwrap();
    assert_eq!(jwks.stats().next_refresh, secs(900));

    // After failures, retries come sooner than the normal delay, backing off.
    server.set_jwks(Reply::status(503));
    let mut retries = Vec::new();
    for _ in 0..6 {
        jwks.refresh_now().await.unwrap_err();
        retries.push(jwks.stats().next_refresh.as_secs());
    }
    assert_eq!(retries, [30, 60, 120, 240, 300, 300]);
}

// ---------------------------------------------------------------------------------------
// 7. Background refresh.

async fn wait_for(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn refreshes_in_the_background_until_dropped() {
    let server = Server::start().await;
    let keys = Keys::generate(&["k1", "k2"]);
    server.set_jwks(Reply::ok(keys.jwks(&["k1"])));
    let jwks = RemoteJwks::fetch(&server.jwks_uri(), quick())
        .await
        .unwrap();
    assert_eq!(jwks.stats().next_refresh, Duration::from_millis(200));
    jwks.spawn_refresh();
    jwks.spawn_refresh(); // a second call starts no second loop

    // The provider rotates: the loop picks it up without any token asking.
    server.set_jwks(Reply::ok(keys.jwks(&["k2"])));
    let changed = Instant::now();
    wait_for("the rotated key", Duration::from_secs(2), || {
        kids(&jwks.current()) == set_of(&["k2"])
    })
    .await;
    assert!(changed.elapsed() < Duration::from_millis(600));

    // The provider fails: the loop keeps the keys and counts the failures.
    server.set_jwks(Reply::status(500));
    wait_for("a failed refresh", Duration::from_secs(2), || {
        jwks.stats().fetches_failed >= 1
    })
    .await;
    assert_eq!(kids(&jwks.current()), set_of(&["k2"]));

    // Back to normal, and the loop does not hammer the provider: one fetch per 200 ms.
    server.set_jwks(Reply::ok(keys.jwks(&["k1", "k2"])));
    wait_for("the recovery", Duration::from_secs(2), || {
        jwks.stats().keys == 2
    })
    .await;
    let before = server.jwks_hits();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = server.jwks_hits() - before;
    assert!((1..=4).contains(&during), "{during} fetches in 500 ms");

    // Dropping the last Arc stops the loop.
    let weak = Arc::downgrade(&jwks);
    drop(jwks);
    wait_for("the drop", Duration::from_secs(2), || {
        weak.upgrade().is_none()
    })
    .await;
    let after_drop = server.jwks_hits();
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(server.jwks_hits(), after_drop);
}

// ---------------------------------------------------------------------------------------
// 8. Discovery.

fn metadata(issuer: &str, jwks_uri: &str) -> String {
    json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "token_endpoint": format!("{issuer}/token"),
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["EdDSA"]
    })
    .to_string()
}

const TIMEOUT: Duration = Duration::from_secs(2);

#[tokio::test]
async fn discovers_the_jwks_uri() {
    let server = Server::start().await;
    let issuer = server.base.clone();
    let keys = Keys::generate(&["k1"]);
    server.set_jwks(Reply::ok(keys.jwks(&["k1"])));
    server.set(
        "/.well-known/openid-configuration",
        Reply::ok(metadata(&issuer, &server.jwks_uri())),
    );
    let found = discover(&issuer, TIMEOUT).await.unwrap();
    assert_eq!(
        found,
        ProviderMetadata {
            issuer: issuer.clone(),
            jwks_uri: server.jwks_uri(),
            token_endpoint: Some(format!("{issuer}/token")),
            introspection_endpoint: None,
        }
    );
    assert_eq!(server.hits("/.well-known/oauth-authorization-server"), 0);

    // Discovery, then keys.
    let jwks = RemoteJwks::fetch(&found.jwks_uri, JwksOptions::default())
        .await
        .unwrap();
    assert_eq!(kids(&jwks.current()), set_of(&["k1"]));

    // An issuer with a terminating slash is the same server, another identifier.
    let slashed = format!("{issuer}/");
    server.set(
        "/.well-known/openid-configuration",
        Reply::ok(metadata(&slashed, &server.jwks_uri())),
    );
    assert_eq!(
        discover_with(&unpooled_client(), &slashed, TIMEOUT)
            .await
            .unwrap()
            .issuer,
        slashed
    );
}

#[tokio::test]
async fn falls_back_to_rfc_8414() {
    let server = Server::start().await;
    let issuer = format!("{}/tenant1", server.base);
    // No OIDC document at /tenant1/.well-known/openid-configuration: 404.
    server.set(
        "/.well-known/oauth-authorization-server/tenant1",
        Reply::ok(json!({"issuer": issuer, "jwks_uri": server.jwks_uri()}).to_string()),
    );
    let found = discover(&issuer, TIMEOUT).await.unwrap();
    assert_eq!(found.jwks_uri, server.jwks_uri());
    assert_eq!(found.token_endpoint, None);
    assert_eq!(server.hits("/tenant1/.well-known/openid-configuration"), 1);
    assert_eq!(
        server.hits("/.well-known/oauth-authorization-server/tenant1"),
        1
    );

    // Neither document: both URLs are named.
    let other = format!("{}/tenant2", server.base);
    let error = discover(&other, TIMEOUT).await.unwrap_err();
    assert!(
        matches!(error, DiscoveryError::NotFound { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("/tenant2/.well-known/openid-configuration")
            && message.contains("/.well-known/oauth-authorization-server/tenant2"),
        "{message}"
    );

    // Only a 404 falls back: another error is reported as it is.
    server.set(
        "/tenant1/.well-known/openid-configuration",
        Reply::status(500),
    );
    assert_eq!(
        discover(&issuer, TIMEOUT).await.unwrap_err(),
        DiscoveryError::Status {
            url: format!("{issuer}/.well-known/openid-configuration"),
            status: 500
        }
    );
    assert_eq!(
        server.hits("/.well-known/oauth-authorization-server/tenant1"),
        1
    );
}

#[tokio::test]
async fn refuses_a_document_of_another_issuer() {
    let server = Server::start().await;
    let issuer = server.base.clone();
    server.set(
        "/.well-known/openid-configuration",
        Reply::ok(metadata("https://evil.example/", &server.jwks_uri())),
    );
    let error = discover(&issuer, TIMEOUT).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "discovery at {issuer}/.well-known/openid-configuration says issuer \
             \"https://evil.example/\", expected \"{issuer}\""
        )
    );
    assert_eq!(
        error,
        DiscoveryError::IssuerMismatch {
            url: format!("{issuer}/.well-known/openid-configuration"),
            found: "https://evil.example/".to_owned(),
            expected: issuer.clone(),
        }
    );

    // Exactly: a terminating slash is another issuer.
    server.set(
        "/.well-known/openid-configuration",
        Reply::ok(metadata(&format!("{issuer}/"), &server.jwks_uri())),
    );
    assert!(matches!(
        discover(&issuer, TIMEOUT).await,
        Err(DiscoveryError::IssuerMismatch { .. })
    ));
}

#[tokio::test]
async fn refuses_insecure_or_missing_jwks_uris_and_bad_documents() {
    let server = Server::start().await;
    let issuer = server.base.clone();
    let path = "/.well-known/openid-configuration";
    let url = format!("{issuer}{path}");

    server.set(
        path,
        Reply::ok(metadata(&issuer, "http://example.com/jwks")),
    );
    let error = discover(&issuer, TIMEOUT).await.unwrap_err();
    assert_eq!(
        error,
        DiscoveryError::InsecureJwksUri {
            url: url.clone(),
            jwks_uri: "http://example.com/jwks".to_owned()
        }
    );
    assert!(
        error.to_string().contains("\"http://example.com/jwks\""),
        "{error}"
    );

    server.set(path, Reply::ok(json!({ "issuer": issuer }).to_string()));
    assert_eq!(
        discover(&issuer, TIMEOUT).await.unwrap_err(),
        DiscoveryError::MissingJwksUri { url: url.clone() }
    );

    server.set(path, Reply::ok("<html></html>"));
    assert!(matches!(
        discover(&issuer, TIMEOUT).await,
        Err(DiscoveryError::InvalidDocument { .. })
    ));

    server.set(path, Reply::ok(vec![b' '; 300 * 1024]).streamed());
    assert!(matches!(
        discover(&issuer, TIMEOUT).await,
        Err(DiscoveryError::TooLarge { .. })
    ));

    server.set(
        path,
        Reply::status(301).header("location", "https://evil.example/.well-known/x"),
    );
    assert_eq!(
        discover(&issuer, TIMEOUT).await.unwrap_err(),
        DiscoveryError::Redirected { url: url.clone() }
    );

    // The issuer itself must pass the URL policy, before any request.
    let hits = server.all_hits();
    assert_eq!(
        discover("http://idp.example.com", TIMEOUT)
            .await
            .unwrap_err(),
        DiscoveryError::InsecureIssuer {
            issuer: "http://idp.example.com".to_owned()
        }
    );
    assert_eq!(server.all_hits(), hits);
}

#[tokio::test]
async fn refuses_redirects_even_with_a_client_that_follows_them() {
    let server = Server::start().await;
    let keys = Keys::generate(&["k1"]);
    server.set("/elsewhere", Reply::ok(keys.jwks(&["k1"])));
    server.set_jwks(Reply::status(302).header("location", &format!("{}/elsewhere", server.base)));
    let following = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .unwrap();
    assert_eq!(
        RemoteJwks::fetch_with(following, &server.jwks_uri(), JwksOptions::default())
            .await
            .unwrap_err(),
        RemoteKeyError::Redirected {
            uri: server.jwks_uri()
        }
    );
    // That client did follow it; the keys it found were refused all the same.
    assert_eq!(server.hits("/elsewhere"), 1);
    // The default client does not even follow it.
    assert!(matches!(
        RemoteJwks::fetch(&server.jwks_uri(), JwksOptions::default()).await,
        Err(RemoteKeyError::Redirected { .. })
    ));
    assert_eq!(server.hits("/elsewhere"), 1);
}
