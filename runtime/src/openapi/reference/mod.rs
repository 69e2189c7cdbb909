//! The interactive API reference page (Swagger UI): [`ApiReference`].

use std::borrow::Cow;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::RawQuery;
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use bytes::Bytes;
use http::{HeaderValue, header};
use serde_json::Value;

/// The page: placeholders `{{title}}` and `{{asset:<file name>}}`.
const PAGE: &str = include_str!("page.html");
/// The initializer: placeholder `{{settings}}`, a JSON object.
const INITIALIZER: &str = include_str!("initializer.js");
/// The initializer's file name.
const INITIALIZER_FILE: &str = "swagger-initializer.js";

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const PNG: &str = "image/png";

/// Swagger UI's files the page loads, with their media types.
const SWAGGER_UI_FILES: [(&str, &str); 5] = [
    ("swagger-ui-bundle.js", JAVASCRIPT),
    ("swagger-ui.css", CSS),
    ("index.css", CSS),
    ("favicon-32x32.png", PNG),
    ("favicon-16x16.png", PNG),
];

/// For the page: always asked again (it is small and names the files' current digests).
const REVALIDATE: &str = "no-cache";
/// For a file asked for with its current digest: that URL's content never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// An interactive API reference page for an OpenAPI document: Swagger UI, where a person
/// reads the operations, authorizes with OAuth 2.0 client credentials and tries requests
/// from the browser.
///
/// Give it the URL of the document as the browser reaches it (a path on the same origin,
/// such as `/openapi.json` or `/api/v1/openapi.json`, or an absolute URL), and the token
/// endpoints the Authorize dialog calls; then take its routes under a base path with
/// [`routes`](Self::routes) or [`router`](Self::router).
///
/// The routes, all `GET` (and `HEAD`), under a base path (`/docs` here):
///
/// | path | what |
/// | --- | --- |
/// | `/docs`, `/docs/` | the page (one document; its links are relative, so both work, also when the router is nested under a prefix) |
/// | `/docs/swagger-initializer.js` | the script that starts Swagger UI on the document's URL |
/// | `/docs/swagger-ui-bundle.js`, `/docs/swagger-ui.css`, `/docs/index.css`, `/docs/favicon-32x32.png`, `/docs/favicon-16x16.png` | Swagger UI's own files |
///
/// Every file comes from the application: the page loads nothing from elsewhere, has no
/// inline script or style, and sends requests only to its own origin and to the token
/// endpoints it is given. Each response carries
///
/// ```text
/// Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self';
///   img-src 'self' data:; connect-src 'self' <token endpoint origins>;
///   frame-ancestors 'none'; base-uri 'none'
/// X-Content-Type-Options: nosniff
/// Referrer-Policy: no-referrer
/// ```
///
/// (the policy on one line). The page is sent with `Cache-Control: no-cache`; it names each
/// file with a digest of its content (`swagger-ui-bundle.js?v=<digest>`), and a file asked
/// for with its current digest is cached for a year (`public, max-age=31536000,
/// immutable`), without it `no-cache`.
///
/// Swagger UI sends the token request itself (`POST` to the `tokenUrl` of the document's
/// OAuth 2.0 scheme, client id and secret in HTTP Basic), so the token endpoint's origin
/// must be in `connect-src`, and a token endpoint on another origin than the page must
/// allow the page's origin (CORS). The same holds for the `servers` of the document: a
/// server on another origin needs its origin given too (with
/// [`token_endpoints`](ApiReference::token_endpoints)) and its own CORS.
///
/// ```
/// use portcullis_runtime::openapi::ApiReference;
///
/// let docs: axum::Router = ApiReference::new("/openapi.json")
///     .title("Orders API")
///     .token_endpoints(["https://auth.example.com/oauth/token"])
///     .router("/docs")?;
/// # Ok::<(), portcullis_runtime::openapi::ApiReferenceError>(())
/// ```
///
/// Swagger UI (the files above but the page and the initializer) is © SmartBear Software,
/// under the Apache License 2.0; it is taken unmodified from the copy the
/// `utoipa-swagger-ui-vendored` crate ships, through `utoipa-swagger-ui` (version, size
/// and licence in the repository's `runtime/src/openapi/reference/README.md`).
#[derive(Debug, Clone)]
pub struct ApiReference {
    openapi_url: String,
    token_endpoints: Vec<String>,
    title: String,
}

/// Why the routes of an [`ApiReference`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiReferenceError {
    /// The base path is not a plain absolute path such as `/docs`.
    #[error("the API reference cannot be served under {path:?}: {reason}")]
    BasePath {
        /// The base path given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A URL (of a token endpoint, or of the document) names no origin that
    /// `connect-src` can allow.
    #[error("{url:?} cannot be allowed in the page's connect-src: {reason}")]
    Origin {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// One of Swagger UI's files is not in the `utoipa-swagger-ui` build linked in.
    #[error("Swagger UI's file {0} is missing from utoipa-swagger-ui")]
    MissingFile(&'static str),
}

impl ApiReference {
    /// A reference page for the OpenAPI document at `openapi_url`, as the browser reaches
    /// it: a path on the page's origin (`/openapi.json`, `/api/v1/openapi.json`) or an
    /// absolute `http`/`https` URL, whose origin is then allowed in `connect-src`.
    pub fn new(openapi_url: impl Into<String>) -> Self {
        ApiReference {
            openapi_url: openapi_url.into(),
            token_endpoints: Vec::new(),
            title: "API reference".to_owned(),
        }
    }

    /// Adds URLs the page sends requests to besides its own origin: the token endpoints of
    /// the document's OAuth 2.0 schemes (and the discovery documents of its OpenID Connect
    /// schemes, which Swagger UI fetches too). Only their origins are used, for the
    /// `connect-src` of the Content-Security-Policy; a URL that is a path (`/oauth/token`)
    /// is on the page's origin and adds nothing.
    pub fn token_endpoints<I, U>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = U>,
        U: Into<String>,
    {
        self.token_endpoints
            .extend(urls.into_iter().map(Into::into));
        self
    }

    /// Adds the URLs of `document`'s security schemes that the page fetches: each OAuth 2.0
    /// flow's `tokenUrl` and `refreshUrl`, each OpenID Connect scheme's `openIdConnectUrl`
    /// (see [`token_endpoints`](Self::token_endpoints)).
    pub fn token_endpoints_from(self, document: &utoipa::openapi::OpenApi) -> Self {
        let document = serde_json::to_value(document).unwrap_or_default();
        let mut urls = Vec::new();
        let schemes = document
            .pointer("/components/securitySchemes")
            .and_then(Value::as_object);
        for scheme in schemes.into_iter().flat_map(|schemes| schemes.values()) {
            urls.extend(scheme.get("openIdConnectUrl").and_then(Value::as_str));
            let flows = scheme.get("flows").and_then(Value::as_object);
            for flow in flows.into_iter().flat_map(|flows| flows.values()) {
                for key in ["tokenUrl", "refreshUrl"] {
                    urls.extend(flow.get(key).and_then(Value::as_str));
                }
            }
        }
        self.token_endpoints(urls.into_iter().map(str::to_owned))
    }

    /// The page's title (default `API reference`).
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// The `Content-Security-Policy` of the page and its files.
    fn content_security_policy(&self) -> Result<HeaderValue, ApiReferenceError> {
        let mut connect = vec!["'self'".to_owned()];
        for url in std::iter::once(&self.openapi_url).chain(&self.token_endpoints) {
            if let Some(origin) = origin_of(url)?
                && !connect.contains(&origin)
            {
                connect.push(origin);
            }
        }
        let policy = format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src {}; frame-ancestors 'none'; base-uri 'none'",
            connect.join(" ")
        );
        HeaderValue::try_from(policy).map_err(|_| ApiReferenceError::Origin {
            url: connect.join(" "),
            reason: "not a valid header value",
        })
    }

    /// The initializer: Swagger UI started on the document's URL.
    fn initializer(&self) -> String {
        let settings = serde_json::json!({ "url": self.openapi_url });
        INITIALIZER.replace("{{settings}}", &settings.to_string())
    }

    /// The page, its files named with `prefix` (relative to the page's URL) and their
    /// digests.
    fn page(&self, prefix: &str, files: &[Arc<File>]) -> Bytes {
        let mut page = PAGE.to_owned();
        for file in files {
            page = page.replace(
                &format!("{{{{asset:{}}}}}", file.name),
                &format!("{prefix}{}?{}", file.name, file.query),
            );
        }
        Bytes::from(page.replace("{{title}}", &escape_html(&self.title)))
    }

    /// The routes of the page and its files under `base_path` (like `/docs`), as `(path,
    /// GET route)` pairs, to mount one by one (`Router::route`); all are public and read
    /// only.
    pub fn routes<S>(
        &self,
        base_path: &str,
    ) -> Result<Vec<(String, MethodRouter<S>)>, ApiReferenceError>
    where
        S: Clone + Send + Sync + 'static,
    {
        let last_segment = check_base_path(base_path)?;
        let policy = self.content_security_policy()?;
        let mut files = Vec::with_capacity(SWAGGER_UI_FILES.len() + 1);
        for (name, content_type) in SWAGGER_UI_FILES {
            let (body, gzipped) = swagger_ui_file(name)?;
            files.push(Arc::new(File::new(name, content_type, body, gzipped)));
        }
        let initializer = Bytes::from(self.initializer());
        files.push(Arc::new(File::new(
            INITIALIZER_FILE,
            JAVASCRIPT,
            initializer,
            false,
        )));

        let mut routes = Vec::with_capacity(files.len() + 2);
        // At `/docs` relative links resolve against `/`, at `/docs/` against `/docs/`.
        let page = self.page(&format!("{last_segment}/"), &files);
        routes.push((base_path.to_owned(), page_route(page, policy.clone())));
        let page = self.page("./", &files);
        routes.push((format!("{base_path}/"), page_route(page, policy.clone())));
        for file in files {
            let path = format!("{base_path}/{}", file.name);
            routes.push((path, file_route(file, policy.clone())));
        }
        Ok(routes)
    }

    /// The paths [`routes`](Self::routes) serves under `base_path`, in the same order,
    /// without reading any file.
    pub(crate) fn paths(base_path: &str) -> Vec<String> {
        let mut paths = vec![base_path.to_owned(), format!("{base_path}/")];
        paths.extend(
            SWAGGER_UI_FILES
                .iter()
                .map(|(name, _)| *name)
                .chain([INITIALIZER_FILE])
                .map(|name| format!("{base_path}/{name}")),
        );
        paths
    }

    /// The routes of [`routes`](Self::routes) as one `axum::Router`, to merge into the
    /// application's.
    pub fn router<S>(&self, base_path: &str) -> Result<Router<S>, ApiReferenceError>
    where
        S: Clone + Send + Sync + 'static,
    {
        let routes = self.routes(base_path)?;
        Ok(routes
            .into_iter()
            .fold(Router::new(), |router, (path, route)| {
                router.route(&path, route)
            }))
    }
}

/// One file the page loads.
struct File {
    name: &'static str,
    body: Bytes,
    content_type: &'static str,
    gzipped: bool,
    /// `v=<digest of the body>`, the query the page asks for the file with.
    query: String,
}

impl File {
    fn new(name: &'static str, content_type: &'static str, body: Bytes, gzipped: bool) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body);
        let query = digest.as_ref()[..8]
            .iter()
            .fold(String::from("v="), |mut query, byte| {
                query.push(char::from(HEX[usize::from(byte >> 4)]));
                query.push(char::from(HEX[usize::from(byte & 0x0f)]));
                query
            });
        File {
            name,
            body,
            content_type,
            gzipped,
            query,
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// One of Swagger UI's files, as `utoipa-swagger-ui` embeds it, and whether it is gzipped
/// (its `gzip` feature, which another crate of the build may turn on).
fn swagger_ui_file(name: &'static str) -> Result<(Bytes, bool), ApiReferenceError> {
    let config = Arc::new(utoipa_swagger_ui::Config::<'static>::default());
    match utoipa_swagger_ui::serve(name, config) {
        Ok(Some(file)) => {
            let body = match file.bytes {
                Cow::Borrowed(bytes) => Bytes::from_static(bytes),
                Cow::Owned(bytes) => Bytes::from(bytes),
            };
            Ok((body, file.gzpipped))
        }
        _ => Err(ApiReferenceError::MissingFile(name)),
    }
}

fn page_route<S>(page: Bytes, policy: HeaderValue) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    get(move || {
        let response = respond(page.clone(), HTML, REVALIDATE, &policy);
        async move { response }
    })
}

fn file_route<S>(file: Arc<File>, policy: HeaderValue) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    get(move |RawQuery(query): RawQuery| {
        let cache = if query.as_deref() == Some(file.query.as_str()) {
            IMMUTABLE
        } else {
            REVALIDATE
        };
        let mut response = respond(file.body.clone(), file.content_type, cache, &policy);
        if file.gzipped {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        async move { response }
    })
}

fn respond(
    body: Bytes,
    content_type: &'static str,
    cache: &'static str,
    policy: &HeaderValue,
) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, policy.clone());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The last segment of `path` if it is a plain absolute path such as `/docs` or
/// `/api/v1/docs`: segments of letters, digits, `-`, `.`, `_`, `~`, no trailing `/`.
fn check_base_path(path: &str) -> Result<&str, ApiReferenceError> {
    let error = |reason| ApiReferenceError::BasePath {
        path: path.to_owned(),
        reason,
    };
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| error("it must start with `/`"))?;
    if rest.is_empty() {
        return Err(error("it must name a path below `/`, such as `/docs`"));
    }
    let mut last = rest;
    for segment in rest.split('/') {
        if segment.is_empty() {
            return Err(error("it has an empty segment or ends with `/`"));
        }
        if segment == "." || segment == ".." {
            return Err(error("it has a `.` or `..` segment"));
        }
        let plain = |byte: u8| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte);
        if !segment.bytes().all(plain) {
            return Err(error(
                "its segments may hold letters, digits, `-`, `.`, `_` and `~` only",
            ));
        }
        last = segment;
    }
    Ok(last)
}

/// The origin of `url` for `connect-src` (`https://auth.example.com`, the port only when
/// not the scheme's default), or `None` for a relative URL, which is on the page's origin.
fn origin_of(url: &str) -> Result<Option<String>, ApiReferenceError> {
    let error = |reason| ApiReferenceError::Origin {
        url: url.to_owned(),
        reason,
    };
    let scheme_like = |scheme: &str| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"+-.".contains(&byte))
    };
    if !url
        .split_once("://")
        .is_some_and(|(scheme, _)| scheme_like(scheme))
    {
        if url.starts_with("//") {
            return Err(error("give the scheme, http:// or https://"));
        }
        return Ok(None);
    }
    let uri: http::Uri = url.parse().map_err(|_| error("it is not a URL"))?;
    let scheme = uri
        .scheme_str()
        .ok_or_else(|| error("it is not a URL"))?
        .to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(error("its scheme is neither http nor https")),
    };
    let authority = uri.authority().ok_or_else(|| error("it names no host"))?;
    if authority.as_str().contains('@') {
        return Err(error("it carries user information"));
    }
    let host = authority.host();
    let plain = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'-';
    if host.is_empty() || !host.bytes().all(plain) {
        return Err(error(
            "its host is not a DNS name or an IPv4 address (a CSP source cannot name an IPv6 address)",
        ));
    }
    let host = host.to_ascii_lowercase();
    Ok(Some(match authority.port_u16() {
        Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    }))
}

/// `text` with the characters that mean something in HTML escaped.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let origin = |url: &str| origin_of(url).map_err(|error| error.to_string());
        assert_eq!(
            origin("https://Auth.Example.com/oauth/token?x=1"),
            Ok(Some("https://auth.example.com".to_owned()))
        );
        assert_eq!(
            origin("https://auth.example.com:443/token"),
            Ok(Some("https://auth.example.com".to_owned()))
        );
        assert_eq!(
            origin("http://127.0.0.1:3000/dev/oauth/token"),
            Ok(Some("http://127.0.0.1:3000".to_owned()))
        );
        assert_eq!(origin("/dev/oauth/token"), Ok(None));
        assert_eq!(origin("openapi.json"), Ok(None));
        assert_eq!(origin("/openapi.json?from=https://elsewhere"), Ok(None));
        assert_eq!(
            origin("https://auth.example.com/token#part"),
            Ok(Some("https://auth.example.com".to_owned()))
        );
        assert!(origin("//auth.example.com/token").is_err());
        assert!(origin("ftp://auth.example.com/token").is_err());
        assert!(origin("https://user:pw@auth.example.com/token").is_err());
        assert!(origin("http://[::1]:3000/token").is_err());
    }

    #[test]
    fn base_paths() {
        assert_eq!(check_base_path("/docs"), Ok("docs"));
        assert_eq!(check_base_path("/api/v1/docs"), Ok("docs"));
        for wrong in [
            "", "/", "docs", "/docs/", "/a//b", "/a/../b", "/{x}", "/a b", "/a:b",
        ] {
            assert!(check_base_path(wrong).is_err(), "{wrong:?}");
        }
    }

    #[test]
    fn the_page_names_every_file_and_escapes_the_title() {
        let reference = ApiReference::new("/openapi.json").title("<Orders & \"more\">");
        let files = [Arc::new(File::new(
            "swagger-ui.css",
            CSS,
            Bytes::from_static(b"x"),
            false,
        ))];
        let page = reference.page("docs/", &files);
        let page = std::str::from_utf8(&page).unwrap_or_default();
        assert!(page.contains("<title>&lt;Orders &amp; &quot;more&quot;&gt;</title>"));
        assert!(page.contains("href=\"docs/swagger-ui.css?v=2d711642b726b044\""));
    }

    #[test]
    fn the_policy_lists_each_origin_once() {
        let policy = ApiReference::new("https://api.example.com/openapi.json")
            .token_endpoints([
                "https://auth.example.com/token",
                "https://auth.example.com/other",
                "/local/token",
            ])
            .content_security_policy()
            .map(|value| value.to_str().unwrap_or_default().to_owned());
        assert_eq!(
            policy,
            Ok(
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                connect-src 'self' https://api.example.com https://auth.example.com; \
                frame-ancestors 'none'; base-uri 'none'"
                    .to_owned()
            )
        );
    }
}
