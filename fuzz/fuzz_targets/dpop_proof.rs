//! DPoP proofs (RFC 9449), as a client sends them in the `DPoP` header: parsed and checked
//! against one request, token and key binding.
//!
//! Invariants: nothing panics; a proof is accepted only when its header says `dpop+jwt`,
//! names an asymmetric algorithm, carries a public key with no private member, and its
//! claims name the request.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_runtime::__fuzz::{parse_compact_jws, verify_dpop_proof};

/// The access token the proofs go with, and the thumbprint it is bound to.
const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";
const JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
const NOW: u64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(proof) = std::str::from_utf8(data) else {
        return;
    };
    if verify_dpop_proof(proof, TOKEN, JKT, NOW).is_ok() {
        let parsed = parse_compact_jws(proof).expect("an accepted proof is a compact JWS");
        assert!(parsed.typ.is_some_and(|typ| typ.eq_ignore_ascii_case("dpop+jwt")));
        assert!(!parsed.algorithm.expect("an allowed algorithm").name().starts_with("HS"));
        assert_eq!(parsed.claims.get("htm").and_then(|v| v.as_str()), Some("GET"));
    }
});
