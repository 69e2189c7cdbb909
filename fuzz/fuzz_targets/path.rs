//! Request paths through the validated `Path` extractor: tuples, an `#[input]` struct, a
//! catch-all and an option. The first byte picks the route prefix; the rest is the path
//! after it. Invariant: no path gives a server error or a panic.

#![no_main]

use axum::body::Body;
use axum::http::{Request, Uri};
use libfuzzer_sys::fuzz_target;

const PREFIXES: [&str; 5] = ["/orders/", "/items/", "/files/", "/flags/", "/"];

fuzz_target!(|data: &[u8]| {
    let Some((selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return;
    };
    let prefix = PREFIXES[usize::from(*selector) % PREFIXES.len()];
    let Ok(uri) = format!("{prefix}{rest}").parse::<Uri>() else {
        return;
    };
    let request = Request::get(uri).body(Body::empty()).expect("a request");
    let status = portcullis_fuzz::send(request);
    assert!(
        matches!(status.as_u16(), 200 | 400 | 404 | 405 | 422),
        "{status}"
    );
});
