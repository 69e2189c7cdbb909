//! The route path grammar of `path = "..."`, against axum: every path the macro accepts
//! must be one axum's router accepts (it panics on the others, at start-up), with the
//! same parameters, and a request to it must reach the handler.

#![no_main]

use axum::Router;
use axum::body::Body;
use axum::extract::RawPathParams;
use axum::http::{Request, StatusCode, Uri};
use axum::routing::get;
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use portcullis_grammar::path;
use tower::ServiceExt;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = path::parse(text) else {
        return;
    };
    let mut names = parsed.params.clone();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), parsed.params.len(), "duplicate parameters");
    // axum panics here on a path it refuses.
    let router: Router = if parsed.params.is_empty() {
        Router::new().route(text, get(|| async { String::new() }))
    } else {
        Router::new().route(
            text,
            get(|params: RawPathParams| async move {
                params
                    .iter()
                    .map(|(name, _)| name.to_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        )
    };
    // A concrete path: every parameter replaced by a value.
    let concrete: Vec<String> = text
        .split('/')
        .map(|segment| match segment.strip_prefix("{*") {
            Some(_) => "v/w".to_owned(),
            None if segment.starts_with('{') => "v".to_owned(),
            None => segment.to_owned(),
        })
        .collect();
    let Ok(uri) = concrete.join("/").parse::<Uri>() else {
        return;
    };
    if uri.path() != concrete.join("/") {
        return;
    }
    let (status, body) = portcullis_fuzz::block_on(async {
        let response = router
            .oneshot(Request::get(uri).body(Body::empty()).expect("a request"))
            .await
            .expect("infallible");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    });
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(body, parsed.params.join(","), "{text}");
});
