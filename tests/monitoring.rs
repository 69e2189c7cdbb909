//! Monitoring: one audit event per decision with its precise reason, request ids, alerts
//! once per episode, a JSON-lines sink that drops rather than blocks, metrics.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use portcullis::alert::{Alert, AlertKind, AlertPolicy, AuditLoss};
use portcullis::audit::{AuditEvent, AuditSink, JsonLinesSink};
use portcullis::prelude::*;

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Create orders",
}

#[input]
struct NewOrder {
    #[garde(range(min = 1, max = 10))]
    quantity: u32,
}

#[secure(get, path = "/orders/{id}", scope = "orders:read", rate = "3/min")]
async fn get_order(_who: Principal, Path(id): Path<u64>) -> String {
    id.to_string()
}

#[secure(post, path = "/orders", scope = "orders:write", status = 201)]
async fn create_order(_who: Principal, Json(new): Json<NewOrder>) -> (StatusCode, String) {
    (StatusCode::CREATED, new.quantity.to_string())
}

#[public(get, path = "/health")]
async fn health() -> &'static str {
    "ok"
}

/// Serves anyone; says more to a known caller.
#[public(get, path = "/greeting")]
async fn greeting(caller: Option<Principal>) -> String {
    match caller {
        Some(caller) => format!("hello {}", caller.subject().unwrap_or("?")),
        None => "hello".to_owned(),
    }
}

/// Every event, in full.
#[derive(Clone, Default)]
struct FullLog(Arc<Mutex<Vec<String>>>);

impl AuditSink for FullLog {
    fn record(&self, event: &AuditEvent<'_>) {
        let line = format!(
            "{} {} {} {} {} {:?} {:?} {:?} {:?} {:?} {}",
            event.request_id,
            event.method,
            event.route,
            event.decision.as_str(),
            event.reason.as_str(),
            event.subject,
            event.client,
            event.ip,
            event.required_scopes,
            event.granted_scopes,
            event.status,
        );
        self.0.lock().unwrap().push(line);
    }
}

/// `routes`, trusting `dev`, with every audit event in `log`.
async fn audited(
    dev: &portcullis::dev::DevIssuer,
    log: &FullLog,
    routes: portcullis::Routes,
) -> axum::Router {
    audited_api(dev, log.clone(), routes).await.into_router()
}

/// `routes`, trusting `dev`, with every audit event given to `sink`: the router to finish.
async fn audited_api(
    dev: &portcullis::dev::DevIssuer,
    sink: impl AuditSink,
    routes: portcullis::Routes,
) -> SecureRouter {
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1000/s"))
        .audit_sink(sink)
        .build()
        .await
        .unwrap();
    SecureRouter::new(security).mount(routes)
}

#[tokio::test]
async fn every_decision_is_one_audit_event_with_its_reason() {
    let dev = dev_issuer();
    let log = FullLog::default();
    let app = audited(&dev, &log, routes![get_order, create_order, health]).await;
    let reader = dev
        .token()
        .subject("alice")
        .client("app")
        .scopes(["orders:read"])
        .sign();
    let writer = dev.token().subject("bob").scopes(["orders:write"]).sign();
    let with_id = Request::get("/orders/7")
        .header("authorization", format!("Bearer {reader}"))
        .header("x-request-id", "trace-42")
        .body(Body::empty())
        .unwrap();
    let reply = send(&app, with_id).await;
    assert_eq!(reply.header("x-request-id"), "trace-42");
    let cases: Vec<(axum::http::Request<Body>, &str, u16)> = vec![
        (get("/orders/7", &reader), "authorized", 200),
        (get("/orders/7", "a.b.c"), "malformed_token", 401),
        (
            Request::get("/orders/7").body(Body::empty()).unwrap(),
            "missing_token",
            401,
        ),
        (get("/orders/7", &writer), "insufficient_scope", 403),
        (get("/orders/x", &reader), "invalid_input", 400),
        (
            post_json("/orders", &writer, r#"{"quantity": 11}"#),
            "invalid_input",
            422,
        ),
        (get("/orders/7", &reader), "rate_limited", 429),
        (
            Request::get("/health").body(Body::empty()).unwrap(),
            "public",
            200,
        ),
    ];
    for (request, reason, status) in cases {
        let reply = send(&app, request).await;
        assert_eq!(reply.status.as_u16(), status, "{reason}");
        let generated = reply.header("x-request-id").to_owned();
        let line = log.0.lock().unwrap().last().cloned().unwrap();
        assert!(
            line.starts_with(&generated),
            "the event carries the response's request id: {line}"
        );
        assert!(line.contains(&format!(" {reason} ")), "{reason}: {line}");
        assert!(line.ends_with(&status.to_string()), "{line}");
    }
    let events = log.0.lock().unwrap().clone();
    assert_eq!(events.len(), 9, "one event per request");
    assert!(
        events[0].starts_with(
            "trace-42 GET /orders/{id} allow authorized Some(\"alice\") Some(\"app\")"
        ),
        "{}",
        events[0]
    );
    assert!(
        events[0].contains("[\"orders:read\"] [\"orders:read\"]"),
        "{}",
        events[0]
    );
    for event in &events {
        assert!(
            !event.contains(&reader) && !event.contains(&writer),
            "no token in events"
        );
        assert!(
            !event.contains("/orders/7"),
            "the route template, not the raw path: {event}"
        );
    }
}

#[tokio::test]
async fn the_development_issuers_routes_are_audited_as_public_endpoints() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    let dev = portcullis::dev::DevIssuer::new("http://127.0.0.1:9/dev", AUDIENCE).unwrap();
    let secret = "s3cret-of-the-reader";
    dev.register_client("reader", secret.to_owned().into(), ["orders:read"])
        .unwrap();
    let log = FullLog::default();
    let app = audited_api(&dev, log.clone(), routes![health])
        .await
        .with_dev_issuer(&dev)
        .into_router();
    let token_request = |secret: &str| {
        let basic = STANDARD.encode(format!("reader:{secret}"));
        Request::post("/dev/oauth/token")
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("grant_type=client_credentials"))
            .unwrap()
    };
    let keys = Request::get("/dev/.well-known/jwks.json")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, keys).await.status, StatusCode::OK);
    let issued = send(&app, token_request(secret)).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
    let refused = send(&app, token_request("a-wrong-secret")).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);

    let events = log.0.lock().unwrap().clone();
    let routes: Vec<String> = events
        .iter()
        .map(|event| {
            event
                .split(' ')
                .skip(1)
                .take(4)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        routes,
        [
            "GET /dev/.well-known/jwks.json allow public",
            "POST /dev/oauth/token allow public",
            "POST /dev/oauth/token allow public",
        ]
    );
    let statuses: Vec<&str> = events
        .iter()
        .map(|event| event.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(statuses, ["200", "200", "401"]);
    for event in &events {
        assert!(
            !event.contains("s3cret") && !event.contains("a-wrong-secret"),
            "{event}"
        );
    }
}

#[tokio::test]
async fn a_public_endpoints_event_names_the_caller_its_handler_authenticated() {
    let dev = dev_issuer();
    let log = FullLog::default();
    let app = audited(&dev, &log, routes![greeting]).await;
    let alice = dev
        .token()
        .subject("alice")
        .client("app")
        .scopes(["orders:read"])
        .sign();

    let known = send(&app, get("/greeting", &alice)).await;
    assert_eq!(known.text, "hello alice");
    // What one caller reads is kept by no shared cache, as on a secured endpoint.
    assert_eq!(known.header("cache-control"), "no-store");
    let anonymous = send(&app, Request::get("/greeting").body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.text, "hello");
    assert!(anonymous.headers.get("cache-control").is_none());
    let refused = send(&app, get("/greeting", "a.b.c")).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    let events = log.0.lock().unwrap().clone();
    assert_eq!(events.len(), 3, "{events:#?}");
    let id = |reply: &Reply| reply.header("x-request-id").to_owned();
    assert_eq!(
        events[0],
        format!(
            "{} GET /greeting allow public Some(\"alice\") Some(\"app\") Some(10.0.0.1) [] [\"orders:read\"] 200",
            id(&known)
        ),
        "the decision stays `public`; the event names who called"
    );
    assert_eq!(
        events[1],
        format!(
            "{} GET /greeting allow public None None Some(10.0.0.1) [] [] 200",
            id(&anonymous)
        )
    );
    assert!(
        events[2].contains(" deny malformed_token "),
        "{}",
        events[2]
    );
    assert!(
        events.iter().all(|event| !event.contains(&alice)),
        "no token in events"
    );
}

#[tokio::test]
async fn a_burst_of_failures_alerts_once_then_again_after_the_cooldown() {
    let dev = dev_issuer();
    let alerts = Arc::new(Mutex::new(Vec::<Alert>::new()));
    let sink = {
        let alerts = alerts.clone();
        move |alert: &Alert| alerts.lock().unwrap().push(alert.clone())
    };
    let policy = AlertPolicy {
        window: Duration::from_secs(60),
        authentication_failures: 5,
        unlisted_routes: 5,
        client_denials: 3,
        revoked_tokens: 2,
        cooldown: Duration::from_millis(400),
    };
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1000/s"))
        .auth_failure_limit(None)
        .alert_policy(policy)
        .alert_sink(sink)
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security.clone())
        .mount(routes![get_order, create_order])
        .into_router();
    let attacker = [198, 51, 100, 9];
    for _ in 0..20 {
        send_from(&app, get("/orders/1", "x.y.z"), attacker).await;
    }
    let raised = |kind: fn(&AlertKind) -> bool| {
        alerts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| kind(&a.kind))
            .count()
    };
    let auth = |kind: &AlertKind| matches!(kind, AlertKind::AuthenticationFailures { .. });
    assert_eq!(
        raised(auth),
        1,
        "one alert for the burst: {:?}",
        alerts.lock().unwrap()
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    for _ in 0..3 {
        send_from(&app, get("/orders/1", "x.y.z"), attacker).await;
    }
    assert_eq!(raised(auth), 2, "again after the cool-down");
    // Another address is its own episode.
    for _ in 0..5 {
        send_from(&app, get("/orders/1", "x.y.z"), [198, 51, 100, 10]).await;
    }
    assert_eq!(raised(auth), 3);

    // Denials of one client.
    let writer = dev.token().client("noisy").scopes(["orders:write"]).sign();
    for _ in 0..4 {
        send(&app, get("/orders/1", &writer)).await;
    }
    assert_eq!(
        raised(|kind| matches!(kind, AlertKind::ClientDenials { client } if client == "noisy")),
        1
    );

    // A surge of revoked tokens.
    let reader = dev.token().scopes(["orders:read"]).sign();
    security
        .revoke_subject(ISSUER, "dev-client", now() + 1)
        .await
        .unwrap();
    for _ in 0..2 {
        send_from(&app, get("/orders/1", &reader), [203, 0, 113, 1]).await;
    }
    assert_eq!(raised(|kind| matches!(kind, AlertKind::RevokedTokens)), 1);
}

/// A writer that blocks until released, then counts lines.
struct Gate {
    open: Arc<(Mutex<bool>, std::sync::Condvar)>,
    lines: Arc<AtomicUsize>,
}

impl Write for Gate {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (lock, condvar) = &*self.open;
        let mut open = lock.lock().unwrap();
        while !*open {
            open = condvar.wait(open).unwrap();
        }
        self.lines.fetch_add(
            buf.iter().filter(|b| **b == b'\n').count(),
            Ordering::SeqCst,
        );
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_json_lines_sink_drops_counts_and_alerts_instead_of_blocking() {
    let open = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let lines = Arc::new(AtomicUsize::new(0));
    let sink = JsonLinesSink::writer(
        Gate {
            open: open.clone(),
            lines: lines.clone(),
        },
        8,
    );
    let alerts = Arc::new(Mutex::new(Vec::<Alert>::new()));
    let into = alerts.clone();
    let dev = dev_issuer();
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("100000/s"))
        .audit_sink(sink.clone())
        .alert_sink(move |alert: &Alert| into.lock().unwrap().push(alert.clone()))
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security)
        .mount(routes![health])
        .into_router();
    // The writer is stuck; 200 requests still complete.
    for _ in 0..200 {
        assert_eq!(
            send(&app, Request::get("/health").body(Body::empty()).unwrap())
                .await
                .status,
            StatusCode::OK
        );
    }
    let stats = sink.stats();
    assert!(stats.dropped >= 190, "{stats:?}");
    // The first event dropped raised an alert at once; the rest wait for the next minute
    // (one alert per minute at most, however many are dropped).
    let lost: Vec<Alert> = alerts
        .lock()
        .unwrap()
        .iter()
        .filter(|alert| matches!(alert.kind, AlertKind::AuditEventsLost { .. }))
        .cloned()
        .collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(
        lost[0].kind,
        AlertKind::AuditEventsLost {
            sink: "json-lines",
            cause: AuditLoss::BufferFull
        }
    );
    assert_eq!(lost[0].count, 1);
    *open.0.lock().unwrap() = true;
    open.1.notify_all();
    for _ in 0..200 {
        if sink.stats().written + sink.stats().dropped == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stats = sink.stats();
    assert_eq!(stats.written + stats.dropped, 200, "{stats:?}");
    assert_eq!(lines.load(Ordering::SeqCst) as u64, stats.written);
}

#[tokio::test]
async fn json_lines_are_json() {
    let path = std::env::temp_dir().join(format!("portcullis-audit-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let sink = JsonLinesSink::file(&path, 100).unwrap();
    let dev = dev_issuer();
    let app = audited_api(&dev, sink.clone(), routes![get_order])
        .await
        .into_router();
    let token = dev.token().subject("alice").scopes(["orders:read"]).sign();
    send(&app, get("/orders/5", &token)).await;
    send(&app, get("/orders/5", "bad")).await;
    for _ in 0..100 {
        if sink.stats().written == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["route"], "/orders/{id}");
    assert_eq!(events[0]["decision"], "allow");
    assert_eq!(events[0]["subject"], "alice");
    assert_eq!(
        events[0]["granted_scopes"],
        serde_json::json!(["orders:read"])
    );
    assert_eq!(events[1]["reason"], "malformed_token");
    assert!(
        events[1]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(!text.contains(&token));
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn decisions_latency_and_cache_appear_in_metrics() {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    let handle = HANDLE.get_or_init(|| {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .unwrap()
    });
    #[secure(get, path = "/metered", scope = "orders:read", rate = "2/min")]
    async fn metered(_who: Principal) {}
    let dev = dev_issuer();
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap();
    let app = SecureRouter::new(security)
        .mount(routes![metered])
        .into_router();
    let token = dev.token().scopes(["orders:read"]).sign();
    for _ in 0..3 {
        send(&app, get("/metered", &token)).await;
    }
    send(&app, get("/metered", "bad")).await;
    let text = handle.render();
    let line = |needle: &str| {
        text.lines()
            .find(|line| line.contains(needle) && !line.starts_with('#'))
            .unwrap_or_default()
            .to_owned()
    };
    let decisions = |decision: &str, reason: &str| {
        line(&format!(
            "portcullis_decisions_total{{route=\"/metered\",method=\"GET\",decision=\"{decision}\",reason=\"{reason}\"}}"
        ))
    };
    assert!(decisions("allow", "allowed").ends_with(" 2"), "{text}");
    assert!(decisions("deny", "rate_limited").ends_with(" 1"), "{text}");
    assert!(
        decisions("deny", "malformed_token").ends_with(" 1"),
        "{text}"
    );
    assert!(
        line("portcullis_rate_limited_total{route=\"/metered\",method=\"GET\"}").ends_with(" 1"),
        "{text}"
    );
    assert!(text.contains("portcullis_authentication_seconds"), "{text}");
    assert!(
        text.contains("portcullis_token_cache_total{result=\"hit\"}"),
        "{text}"
    );
    assert!(text.contains("portcullis_signature_checks_total"), "{text}");
}
