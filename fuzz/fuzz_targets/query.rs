//! Query strings through the validated `Query` extractor. Invariant: bad query strings
//! are 400 or 422, never a server error or a panic.

#![no_main]

use axum::body::Body;
use axum::http::{Request, Uri};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = format!("/search?{query}").parse::<Uri>() else {
        return;
    };
    let request = Request::get(uri).body(Body::empty()).expect("a request");
    let status = portcullis_fuzz::send(request);
    assert!(matches!(status.as_u16(), 200 | 400 | 422), "{status}");
});
