//! JSON bodies through the validated `Json` extractor, in a `SecureRouter`: strict parsing
//! (duplicates, depth), the schema, garde rules and the body limit.
//!
//! The first byte picks the endpoint and the content type. Invariant: no input gives a
//! server error (or a panic): bad bodies are 400, 413, 415 or 422.

#![no_main]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [&str; 4] = [
    "application/json",
    "application/problem+json; charset=utf-8",
    "text/plain",
    "APPLICATION/JSON",
];

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    let path = if selector & 0x10 == 0 {
        "/orders"
    } else {
        "/small"
    };
    let content_type = CONTENT_TYPES[usize::from(selector & 0x03)];
    let request = Request::post(path)
        .header("content-type", content_type)
        .body(Body::from(body.to_vec()))
        .expect("a request");
    let status = portcullis_fuzz::send(request);
    assert!(
        matches!(status.as_u16(), 200 | 400 | 413 | 415 | 422),
        "{status}"
    );
    if status == StatusCode::OK {
        assert!(content_type.to_ascii_lowercase().contains("json"));
    }
});
