//! `Forwarded` and `X-Forwarded-For` headers behind trusted proxies: the address that
//! rate limits key on. Invariants: nothing panics; with no trusted proxy, or from a peer
//! that is none, the peer is the client; an IPv4-mapped peer is the same peer.

#![no_main]

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use portcullis::rate::TrustedProxies;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for (index, value) in data.split(|byte| *byte == b'\n').enumerate() {
        let name = if index % 2 == 0 {
            "x-forwarded-for"
        } else {
            "forwarded"
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(HeaderName::from_static(name), value);
        }
    }
    let proxies = TrustedProxies::networks(["10.0.0.0/8", "::1/128", "192.0.2.7/32"])
        .expect("valid networks");
    let proxy: IpAddr = [10, 1, 2, 3].into();
    let stranger: IpAddr = [203, 0, 113, 9].into();
    assert_eq!(
        TrustedProxies::none().client_ip(Some(proxy), &headers),
        Some(proxy)
    );
    assert_eq!(proxies.client_ip(Some(stranger), &headers), Some(stranger));
    assert!(proxies.client_ip(Some(proxy), &headers).is_some());
    let mapped: IpAddr = "::ffff:10.1.2.3".parse().expect("an address");
    assert_eq!(
        proxies.client_ip(Some(mapped), &headers),
        proxies.client_ip(Some(proxy), &headers)
    );
});
