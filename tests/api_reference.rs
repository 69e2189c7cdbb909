//! The API reference page (feature `api-reference`): the page and every file it loads
//! answer 200 with the Content-Security-Policy, `nosniff`, their media type and cache
//! policy; the policy's `connect-src` allows the configured token endpoint's origin; the
//! initializer starts Swagger UI on the document's URL.

#![cfg(feature = "api-reference")]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use portcullis::dev::DevIssuer;
use portcullis::openapi::{ApiReference, ApiReferenceError};
use portcullis::{SecureRouter, Security};
use tower::ServiceExt;

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self' https://auth.example.com:8443; \
    frame-ancestors 'none'; base-uri 'none'";

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a text answer")
    }
}

async fn fetch(app: &Router, uri: &str) -> Answer {
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: body.to_vec(),
    }
}

/// The values of the page's `href` and `src` attributes.
fn links(page: &str) -> Vec<String> {
    let mut links = Vec::new();
    for attribute in ["href=\"", "src=\""] {
        for (index, _) in page.match_indices(attribute) {
            let rest = &page[index + attribute.len()..];
            links.push(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    links
}

/// `link` resolved against the page's path, as a browser does for these relative links.
fn resolve(page_path: &str, link: &str) -> String {
    let directory = &page_path[..=page_path.rfind('/').unwrap()];
    format!("{directory}{}", link.trim_start_matches("./"))
}

fn reference() -> ApiReference {
    ApiReference::new("/api/v1/openapi.json")
        .title("Orders API")
        .token_endpoints(["https://auth.example.com:8443/oauth/token"])
}

#[tokio::test]
async fn the_page_and_each_file_answer_with_the_policy() {
    let app: Router = reference().router("/api/v1/docs").unwrap();
    for page_path in ["/api/v1/docs", "/api/v1/docs/"] {
        let page = fetch(&app, page_path).await;
        assert_eq!(page.status, StatusCode::OK, "{page_path}");
        assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(page.header("content-security-policy"), POLICY);
        assert_eq!(page.header("x-content-type-options"), "nosniff");
        assert_eq!(page.header("cache-control"), "no-cache");
        let html = page.text();
        assert!(html.contains("<title>Orders API</title>"), "{html}");
        assert!(
            !html.contains("<script>") && !html.contains("style="),
            "{html}"
        );

        let links = links(&html);
        let names: Vec<&str> = links
            .iter()
            .map(|link| link.rsplit('/').next().unwrap().split('?').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "swagger-ui.css",
                "index.css",
                "favicon-32x32.png",
                "favicon-16x16.png",
                "swagger-ui-bundle.js",
                "swagger-initializer.js",
            ],
            "{page_path}"
        );
        for (link, name) in links.iter().zip(names) {
            let url = resolve(page_path, link);
            assert!(
                url.starts_with("/api/v1/docs/"),
                "{page_path}: {link} -> {url}"
            );
            let file = fetch(&app, &url).await;
            assert_eq!(file.status, StatusCode::OK, "{url}");
            assert_eq!(file.header("content-security-policy"), POLICY, "{url}");
            assert_eq!(file.header("x-content-type-options"), "nosniff", "{url}");
            let media_type = match name.rsplit('.').next() {
                Some("js") => "text/javascript; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                _ => "image/png",
            };
            assert_eq!(file.header("content-type"), media_type, "{url}");
            assert_eq!(
                file.header("cache-control"),
                "public, max-age=31536000, immutable",
                "{url}"
            );
            assert!(!file.body.is_empty(), "{url}");

            // Without the digest the page names it with, a file is not cached as is.
            let bare = fetch(&app, url.split('?').next().unwrap()).await;
            assert_eq!(bare.status, StatusCode::OK, "{url}");
            assert_eq!(bare.header("cache-control"), "no-cache", "{url}");
            assert_eq!(bare.body, file.body, "{url}");

            if name == "swagger-initializer.js" {
                let script = file.text();
                assert!(
                    script.contains(r#"var settings = {"url":"/api/v1/openapi.json"};"#),
                    "{script}"
                );
                assert!(script.contains("url: settings.url"), "{script}");
                assert!(script.contains("validatorUrl: \"none\""), "{script}");
            }
        }
    }
}

#[tokio::test]
async fn the_policy_allows_the_token_endpoints_of_the_document() {
    let dev = DevIssuer::new("http://127.0.0.1:3000/dev", "orders-api").unwrap();
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(portcullis::rate!("10/s"))
        .build()
        .await
        .unwrap();
    let document = SecureRouter::<()>::new(security).openapi().unwrap();
    let app: Router = ApiReference::new("/openapi.json")
        .token_endpoints_from(&document)
        .router("/docs")
        .unwrap();
    let page = fetch(&app, "/docs").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.header("content-security-policy")
            .contains("; connect-src 'self' http://127.0.0.1:3000; "),
        "{}",
        page.header("content-security-policy")
    );
}

#[test]
fn unusable_paths_and_origins_are_refused() {
    let base = |path: &str| reference().router::<()>(path).err();
    assert!(matches!(
        base("docs"),
        Some(ApiReferenceError::BasePath { .. })
    ));
    assert!(matches!(
        base("/docs/"),
        Some(ApiReferenceError::BasePath { .. })
    ));
    assert!(matches!(
        base("/{docs}"),
        Some(ApiReferenceError::BasePath { .. })
    ));
    let origin = |url: &str| {
        ApiReference::new("/openapi.json")
            .token_endpoints([url])
            .router::<()>("/docs")
            .err()
    };
    for url in [
        "ftp://auth.example.com/token",
        "https://user:secret@auth.example.com/token",
        "//auth.example.com/token",
    ] {
        assert!(
            matches!(origin(url), Some(ApiReferenceError::Origin { .. })),
            "{url}"
        );
    }
    assert!(origin("/dev/oauth/token").is_none());
}
