//! OIDC discovery and RFC 8414 metadata documents, read as discovery reads them once
//! fetched. Invariants: nothing panics; a document is accepted only for exactly the
//! configured issuer, and only with a `jwks_uri` that is `https://` (or `http://` on a
//! loopback host).

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_runtime::__fuzz::discovery_document;
use url::{Host, Url};

const ISSUER: &str = "https://issuer.fuzz.test/realms/main";
const URL: &str = "https://issuer.fuzz.test/realms/main/.well-known/openid-configuration";

fuzz_target!(|data: &[u8]| {
    let Ok(metadata) = discovery_document(URL, data, ISSUER) else {
        return;
    };
    assert_eq!(metadata.issuer, ISSUER);
    // As the URL parser reads it (the same parser fetches it later).
    let jwks_uri = Url::parse(&metadata.jwks_uri).expect("a URL");
    let loopback = match jwks_uri.host() {
        Some(Host::Domain(domain)) => domain == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match jwks_uri.scheme() {
        "https" => assert!(jwks_uri.host().is_some(), "{jwks_uri}"),
        "http" => assert!(loopback, "{jwks_uri}"),
        other => panic!("a jwks_uri with the scheme {other:?}: {jwks_uri}"),
    }
    assert!(jwks_uri.username().is_empty() && jwks_uri.password().is_none());
});
