//! The secure router: mounting, state, public endpoints, optional authentication, and the
//! result being an ordinary axum router.

mod common;

use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use common::*;
use portcullis::prelude::*;
use portcullis::{RouterError, Routes};

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Create orders",
}

#[derive(Clone)]
struct AppState {
    greeting: &'static str,
}

#[public(get, path = "/health")]
async fn health() -> &'static str {
    "ok"
}

#[public(get, path = "/hello")]
async fn hello(State(state): State<AppState>, who: Option<Principal>) -> String {
    match who {
        Some(who) => format!("{} {}", state.greeting, who.subject().unwrap_or("?")),
        None => format!("{} stranger", state.greeting),
    }
}

#[secure(get, path = "/orders", scope = "orders:read")]
async fn list_orders(_who: Principal) -> &'static str {
    "list"
}

#[secure(post, path = "/orders", scope = "orders:write", status = 201)]
async fn create_order(_who: Principal) -> (StatusCode, &'static str) {
    (StatusCode::CREATED, "created")
}

#[secure(delete, path = "/orders", scope = "orders:write", status = 204)]
async fn clear_orders(_who: Principal) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[secure(get, path = "/other", scope = "orders:read")]
async fn duplicate_of_list(_who: Principal) -> &'static str {
    "other"
}

async fn security(dev: &portcullis::dev::DevIssuer) -> Security {
    Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1000/s"))
        .build()
        .await
        .unwrap()
}

fn anonymous(method: &str, path: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn public_endpoints_need_no_token() {
    let dev = dev_issuer();
    let app = SecureRouter::new(security(&dev).await)
        .mount(routes![health])
        .into_router();
    let reply = send(&app, anonymous("GET", "/health")).await;
    assert_eq!((reply.status, reply.text.as_str()), (StatusCode::OK, "ok"));
    assert!(reply.headers.get("cache-control").is_none());
}

#[tokio::test]
async fn state_and_optional_authentication() {
    let dev = dev_issuer();
    let app = SecureRouter::new(security(&dev).await)
        .mount(routes![hello])
        .into_router()
        .with_state(AppState { greeting: "hello" });
    assert_eq!(
        send(&app, anonymous("GET", "/hello")).await.text,
        "hello stranger"
    );
    let token = dev.token().subject("alice").sign();
    assert_eq!(send(&app, get("/hello", &token)).await.text, "hello alice");
    // A bad token is refused, never silently treated as anonymous.
    let reply = send(&app, get("/hello", "not.a.token")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.bearer_error().as_deref(), Some("invalid_token"));
}

#[tokio::test]
async fn several_methods_share_a_path() {
    let dev = dev_issuer();
    let app = SecureRouter::new(security(&dev).await)
        .mount(routes![list_orders, create_order])
        .mount(routes![clear_orders, health])
        .with_not_found()
        .into_router();
    let reader = dev.token().scopes(["orders:read"]).sign();
    let writer = dev.token().scopes(["orders:write"]).sign();
    let with = |method: &str, token: &str| {
        Request::builder()
            .method(method)
            .uri("/orders")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        send(&app, with("GET", &reader)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, with("GET", &writer)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, with("POST", &writer)).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        send(&app, with("POST", &reader)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, with("DELETE", &writer)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(&app, with("PUT", &writer)).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let missing = send(&app, anonymous("GET", "/nowhere")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.header("content-type"), "application/problem+json");
}

#[tokio::test]
async fn the_result_is_an_ordinary_axum_router() {
    let dev = dev_issuer();
    let api = SecureRouter::new(security(&dev).await)
        .mount(routes![list_orders, health])
        .into_router();
    let app = axum::Router::new()
        .nest("/api/v1", api)
        .route("/", axum::routing::get(|| async { "root" }))
        .layer(axum::middleware::map_response(
            |mut response: axum::response::Response| async move {
                response
                    .headers_mut()
                    .insert("x-layered", "yes".parse().unwrap());
                response
            },
        ));
    let token = dev.token().scopes(["orders:read"]).sign();
    let reply = send(&app, get("/api/v1/orders", &token)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("x-layered"), "yes");
    assert_eq!(
        send(&app, anonymous("GET", "/api/v1/orders")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, anonymous("GET", "/api/v1/health")).await.status,
        StatusCode::OK
    );

    // Served on a real socket, with connect info for per-IP limits.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.abort();
}

#[tokio::test]
async fn mounting_mistakes_are_reported_at_start_up() {
    let dev = dev_issuer();
    #[secure(get, path = "/orders", scope = "orders:read")]
    async fn also_list(_who: Principal) -> &'static str {
        "again"
    }
    let router: SecureRouter = SecureRouter::new(security(&dev).await);
    let error = router
        .mount(routes![list_orders, duplicate_of_list, also_list])
        .try_into_router()
        .unwrap_err();
    assert_eq!(
        error,
        RouterError::DuplicateRoute {
            method: "GET",
            path: "/orders",
            first: "list_orders",
            second: "also_list"
        }
    );
    assert_eq!(
        error.to_string(),
        "`list_orders` and `also_list` both declare GET /orders"
    );

    let no_issuer = Security::builder()
        .default_rate(rate!("1/s"))
        .build()
        .await
        .unwrap();
    let routes: Routes = routes![health, list_orders];
    let error = SecureRouter::new(no_issuer)
        .mount(routes)
        .try_into_router()
        .unwrap_err();
    assert_eq!(error, RouterError::NoIssuer("list_orders"));
}

#[tokio::test]
async fn configuration_mistakes_are_reported_at_start_up() {
    use portcullis::ConfigError;
    let dev = dev_issuer();
    assert_eq!(
        Security::builder().build().await.unwrap_err(),
        ConfigError::MissingDefaultRate
    );
    let no_audience = Issuer::new("https://x/").jwks_json(&dev.jwks_json());
    let error = Security::builder()
        .issuer(no_audience)
        .default_rate(rate!("1/s"))
        .build()
        .await
        .unwrap_err();
    assert_eq!(error, ConfigError::MissingAudience("https://x/".into()));
    let no_keys = Issuer::new("https://x/").audience("a");
    let error = Security::builder()
        .issuer(no_keys)
        .default_rate(rate!("1/s"))
        .build()
        .await
        .unwrap_err();
    assert_eq!(error, ConfigError::NoKeys("https://x/".into()));
    let bad_jwks = Issuer::new("https://x/").audience("a").jwks_json("{");
    let error = Security::builder()
        .issuer(bad_jwks)
        .default_rate(rate!("1/s"))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(error, ConfigError::Key { .. }), "{error}");
    let weak = Issuer::new("https://x/")
        .audience("a")
        .hmac_secret(None, &secrecy::SecretSlice::from(b"secret".to_vec()));
    let error = Security::builder()
        .issuer(weak)
        .default_rate(rate!("1/s"))
        .build()
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "a key of the issuer \"https://x/\" was refused: the HMAC secret has 6 bytes; at least 32 are required"
    );
    let twice = Security::builder()
        .issuer(dev.issuer())
        .issuer(dev.issuer())
        .default_rate(rate!("1/s"))
        .build()
        .await;
    assert_eq!(
        twice.unwrap_err(),
        ConfigError::DuplicateIssuer(ISSUER.into())
    );
    let lax = dev.issuer().leeway(std::time::Duration::from_secs(3600));
    let error = Security::builder()
        .issuer(lax)
        .default_rate(rate!("1/s"))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(error, ConfigError::LeewayTooLong { .. }));
    let realm = Security::builder()
        .realm("a\"b")
        .default_rate(rate!("1/s"))
        .build()
        .await
        .unwrap_err();
    assert_eq!(realm, ConfigError::InvalidRealm);
}
