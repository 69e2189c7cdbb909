//! JWKS documents (RFC 7517), as fetched from an issuer: parsed, then every usable key
//! looked up by `kid` and algorithm, and asked to verify a signature.
//!
//! Invariants: nothing panics; a key is never usable with an algorithm its type forbids;
//! only usable keys are kept, and every key is kept or counted as skipped.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_runtime::__fuzz::verify_signature;
use portcullis::KeySet;
use portcullis::auth::{Algorithm, KeyKind};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(keys) = KeySet::from_jwks_json(text) else {
        return;
    };
    if let Ok(serde_json::Value::Object(document)) = serde_json::from_str(text)
        && let Some(serde_json::Value::Array(listed)) = document.get("keys")
    {
        assert_eq!(keys.len() + keys.skipped(), listed.len());
    }
    for key in keys.keys() {
        assert!(
            !matches!(key.kind(), KeyKind::Hmac(_)),
            "a JWKS never yields an HMAC key"
        );
        for alg in Algorithm::ALL {
            if key.usable_with(alg) {
                assert!(key.kind().allows(alg));
                assert!(key.alg().is_none_or(|own| own == alg));
            }
            let _ = keys.select(key.kid(), alg);
        }
    }
    for alg in Algorithm::ALL {
        if let Ok(key) = keys.select(None, alg) {
            assert!(key.usable_with(alg));
        }
    }
    // Every key checks a signature (keys are only parsed in full when they verify).
    let message = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0";
    let signature =
        "c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU";
    for key in keys.keys() {
        for alg in Algorithm::ALL {
            let verified = verify_signature(key, message, signature, alg);
            assert!(!verified || key.usable_with(alg));
            assert!(!verified, "a made-up signature verified");
        }
    }
});
