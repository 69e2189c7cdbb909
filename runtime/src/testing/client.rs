//! Sending requests through an app in process, from a client address, and reading the
//! whole answer.

use std::borrow::Cow;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::OnceLock;

use axum::BoxError;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tower_service::Service;

use super::TestError;

/// The client address of requests unless set: 127.0.0.1, port 50000.
pub const DEFAULT_CLIENT_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50_000));

/// Sends requests through an app in process, as a server would hand them to it: with the
/// client's address as [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo), which
/// rate limits keyed by IP read.
///
/// The app is any `tower::Service<http::Request<axum::body::Body>>` that answers with an
/// `http::Response` (an `axum::Router`, or a router inside tower layers) and can be
/// cloned; each request goes to a clone, as with a server.
///
/// ```
/// # async fn run() {
/// use axum::routing::get;
/// use portcullis_runtime::testing::TestClient;
///
/// let app = axum::Router::new().route("/hello", get(|| async { "hello" }));
/// let client = TestClient::new(app);
/// let response = client.get("/hello").send().await;
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.text(), "hello");
/// # }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run());
/// ```
#[derive(Clone)]
pub struct TestClient<S> {
    app: S,
    client_addr: SocketAddr,
}

impl<S> std::fmt::Debug for TestClient<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient")
            .field("client_addr", &self.client_addr)
            .finish_non_exhaustive()
    }
}

impl<S, B> TestClient<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone,
    S::Error: Into<BoxError>,
    B: HttpBody,
    B::Error: Into<BoxError>,
{
    /// A client of `app`, sending from [`DEFAULT_CLIENT_ADDR`].
    pub fn new(app: S) -> TestClient<S> {
        TestClient {
            app,
            client_addr: DEFAULT_CLIENT_ADDR,
        }
    }

    /// The client address of this client's requests (default [`DEFAULT_CLIENT_ADDR`]);
    /// one request can have another with [`TestRequest::client_addr`].
    ///
    /// ```
    /// # let app = axum::Router::new();
    /// # use portcullis_runtime::testing::TestClient;
    /// let client = TestClient::new(app).client_addr(([10, 0, 0, 2], 40000));
    /// ```
    pub fn client_addr(mut self, addr: impl Into<SocketAddr>) -> TestClient<S> {
        self.client_addr = addr.into();
        self
    }

    /// Starts a `GET` of `path` (with its query, if any: `/orders?page=2`).
    pub fn get(&self, path: impl AsRef<str>) -> TestRequest<'_, S> {
        self.request(Method::GET, path)
    }

    /// Starts a `POST` of `path`.
    pub fn post(&self, path: impl AsRef<str>) -> TestRequest<'_, S> {
        self.request(Method::POST, path)
    }

    /// Starts a `PUT` of `path`.
    pub fn put(&self, path: impl AsRef<str>) -> TestRequest<'_, S> {
        self.request(Method::PUT, path)
    }

    /// Starts a `PATCH` of `path`.
    pub fn patch(&self, path: impl AsRef<str>) -> TestRequest<'_, S> {
        self.request(Method::PATCH, path)
    }

    /// Starts a `DELETE` of `path`.
    pub fn delete(&self, path: impl AsRef<str>) -> TestRequest<'_, S> {
        self.request(Method::DELETE, path)
    }

    /// Starts a request of any method.
    pub fn request(&self, method: Method, path: impl AsRef<str>) -> TestRequest<'_, S> {
        TestRequest {
            client: self,
            builder: Request::builder().method(method).uri(path.as_ref()),
            body: None,
            client_addr: self.client_addr,
            error: None,
        }
    }

    /// Sends a request built by hand, from this client's address unless the request
    /// carries a `ConnectInfo<SocketAddr>` already.
    ///
    /// # Panics
    ///
    /// If the app returns an error or its response body fails, like
    /// [`TestRequest::send`].
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        unwrap_response(self.try_send(request).await)
    }

    /// Sends a request built by hand, or says why no response could be read.
    pub async fn try_send(&self, mut request: Request<Body>) -> Result<TestResponse, TestError> {
        if request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_none()
        {
            request
                .extensions_mut()
                .insert(ConnectInfo(self.client_addr));
        }
        let mut app = self.app.clone();
        std::future::poll_fn(|cx| app.poll_ready(cx))
            .await
            .map_err(|error| TestError::App(error.into()))?;
        let response = app
            .call(request)
            .await
            .map_err(|error| TestError::App(error.into()))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|error| TestError::Body(error.into()))?
            .to_bytes();
        Ok(TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
            json: OnceLock::new(),
        })
    }
}

fn unwrap_response(result: Result<TestResponse, TestError>) -> TestResponse {
    match result {
        Ok(response) => response,
        Err(error) => panic!("no response: {error}"),
    }
}

/// A request being built; see [`TestClient::get`] and the other methods.
///
/// ```
/// # async fn run() {
/// # use portcullis_runtime::testing::TestClient;
/// # let app = axum::Router::new().route("/orders", axum::routing::post(|| async { "" }));
/// # let client = TestClient::new(app);
/// # let token = "";
/// let response = client
///     .post("/orders")
///     .bearer(token)
///     .header("x-request-id", "42")
///     .json(&serde_json::json!({"item": "book", "quantity": 1}))
///     .send()
///     .await;
/// # let _ = response;
/// # }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run());
/// ```
#[must_use = "a request is sent by `send`"]
pub struct TestRequest<'a, S> {
    client: &'a TestClient<S>,
    builder: http::request::Builder,
    body: Option<(Option<HeaderValue>, Bytes)>,
    client_addr: SocketAddr,
    error: Option<String>,
}

impl<S> std::fmt::Debug for TestRequest<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRequest")
            .field("method", &self.builder.method_ref())
            .field("uri", &self.builder.uri_ref())
            .field("headers", &self.builder.headers_ref())
            .field("client_addr", &self.client_addr)
            .finish_non_exhaustive()
    }
}

impl<S, B> TestRequest<'_, S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone,
    S::Error: Into<BoxError>,
    B: HttpBody,
    B::Error: Into<BoxError>,
{
    /// Adds a header. A malformed name or value is reported when the request is sent.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        <K as TryInto<HeaderName>>::Error: Into<http::Error>,
        V: TryInto<HeaderValue>,
        <V as TryInto<HeaderValue>>::Error: Into<http::Error>,
    {
        self.builder = self.builder.header(name, value);
        self
    }

    /// Adds `Authorization: Bearer <token>`.
    pub fn bearer(self, token: impl std::fmt::Display) -> Self {
        self.header(AUTHORIZATION, format!("Bearer {token}"))
    }

    /// A JSON body, `Content-Type: application/json` unless a header sets another.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                self.body = Some((
                    Some(HeaderValue::from_static("application/json")),
                    bytes.into(),
                ))
            }
            Err(error) => self.error = Some(format!("the JSON body does not serialize: {error}")),
        }
        self
    }

    /// A form body, `Content-Type: application/x-www-form-urlencoded` unless a header
    /// sets another.
    pub fn form<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_urlencoded::to_string(value) {
            Ok(text) => {
                self.body = Some((
                    Some(HeaderValue::from_static(
                        "application/x-www-form-urlencoded",
                    )),
                    text.into(),
                ))
            }
            Err(error) => self.error = Some(format!("the form body does not serialize: {error}")),
        }
        self
    }

    /// A body as it is, with `Content-Type: content_type` unless a header sets another:
    /// `.body("application/json", "{\"item\": ")` sends malformed JSON.
    pub fn body(mut self, content_type: &str, body: impl Into<Bytes>) -> Self {
        match HeaderValue::from_str(content_type) {
            Ok(content_type) => self.body = Some((Some(content_type), body.into())),
            Err(_) => self.error = Some(format!("invalid content type {content_type:?}")),
        }
        self
    }

    /// The client address of this request (default: the client's).
    pub fn client_addr(mut self, addr: impl Into<SocketAddr>) -> Self {
        self.client_addr = addr.into();
        self
    }

    /// Sends the request and reads the whole response.
    ///
    /// # Panics
    ///
    /// If the request is malformed (a path or header that is not valid HTTP, a body that
    /// does not serialize), the app returns an error instead of a response, or the
    /// response body fails; [`try_send`](TestRequest::try_send) returns the error
    /// instead. An `axum::Router` never returns an error: a refusal is a response.
    pub async fn send(self) -> TestResponse {
        unwrap_response(self.try_send().await)
    }

    /// Sends the request and reads the whole response, or says why it could not.
    pub async fn try_send(self) -> Result<TestResponse, TestError> {
        if let Some(error) = self.error {
            return Err(TestError::Request(error));
        }
        let (content_type, body) = match self.body {
            Some((content_type, bytes)) => (content_type, Some(bytes)),
            None => (None, None),
        };
        let length = body.as_ref().map(Bytes::len);
        let mut request = self
            .builder
            .extension(ConnectInfo(self.client_addr))
            .body(body.map(Body::from).unwrap_or_default())
            .map_err(|error| TestError::Request(error.to_string()))?;
        let headers = request.headers_mut();
        if let Some(content_type) = content_type {
            headers.entry(CONTENT_TYPE).or_insert(content_type);
        }
        if let Some(length) = length {
            headers.entry(CONTENT_LENGTH).or_insert(length.into());
        }
        self.client.try_send(request).await
    }
}

/// A response read whole: status, headers, and the body as bytes, text or JSON.
///
/// ```
/// # async fn run() {
/// # use portcullis_runtime::testing::TestClient;
/// # let app = axum::Router::new().route("/orders/7", axum::routing::get(|| async {
/// #     axum::Json(serde_json::json!({"id": 7}))
/// # }));
/// # let client = TestClient::new(app);
/// let response = client.get("/orders/7").send().await;
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.header("content-type"), Some("application/json"));
/// assert_eq!(response.json()["id"], 7);
/// # }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run());
/// ```
#[derive(Debug)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    json: OnceLock<Option<Value>>,
}

impl TestResponse {
    /// The status. It compares with numbers: `assert_eq!(response.status(), 200)`.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The first value of header `name`, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text, invalid UTF-8 replaced by `U+FFFD`.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn try_json(&self) -> Option<&Value> {
        self.json
            .get_or_init(|| serde_json::from_slice(&self.body).ok())
            .as_ref()
    }

    /// The body parsed as JSON: `response.json()["id"]`.
    ///
    /// # Panics
    ///
    /// If the body is not JSON; the message shows the status and the body.
    pub fn json(&self) -> &Value {
        match self.try_json() {
            Some(value) => value,
            None => panic!(
                "the response body is not JSON (status {}): {:?}",
                self.status,
                self.text()
            ),
        }
    }

    /// The body deserialized as a `T`.
    pub fn json_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The `error` of a `WWW-Authenticate: Bearer` challenge (RFC 6750 §3), such as
    /// `invalid_token` or `insufficient_scope`.
    pub fn bearer_error(&self) -> Option<&str> {
        let challenge = self.header(WWW_AUTHENTICATE.as_str())?;
        challenge.match_indices("error=\"").find_map(|(at, found)| {
            let before = challenge[..at].chars().next_back();
            if !matches!(before, None | Some(' ' | ',')) {
                return None;
            }
            let rest = &challenge[at + found.len()..];
            rest.split('"').next()
        })
    }
}
