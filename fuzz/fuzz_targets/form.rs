//! URL-encoded form bodies through the validated `Form` extractor. Invariant: bad forms
//! are 413 or 422, never a server error or a panic.

#![no_main]

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let request = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(data.to_vec()))
        .expect("a request");
    let status = portcullis_fuzz::send(request);
    assert!(matches!(status.as_u16(), 200 | 413 | 422), "{status}");
});
