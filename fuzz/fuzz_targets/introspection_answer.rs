//! An introspection answer (RFC 7662) read and held to the issuer's rules as the
//! resource server takes it, at a fixed clock. Invariants: nothing panics; an accepted
//! answer said `active: true`, names the issuer (or no issuer), an audience of ours, and
//! an `exp` the token has not reached; the principal names its token (by `jti` or by the
//! token's digest).

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_runtime::__fuzz::introspection_answer;
use serde_json::Value;

/// The fixed clock: 2026-01-01.
const NOW: u64 = 1_767_225_600;

fuzz_target!(|data: &[u8]| {
    let Ok(principal) = introspection_answer(data, NOW) else {
        return;
    };
    // What was accepted is a JSON object that said `active: true`.
    let answer: Value = serde_json::from_slice(data).expect("an accepted answer is JSON");
    assert_eq!(answer["active"], Value::Bool(true));
    assert_eq!(principal.issuer(), "https://issuer.fuzz.test/");
    match &answer["iss"] {
        Value::Null => {}
        iss => assert_eq!(iss, "https://issuer.fuzz.test/"),
    }
    let audiences = match &answer["aud"] {
        Value::String(aud) => vec![aud.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        other => panic!("an accepted audience {other:?}"),
    };
    assert!(audiences.contains(&"orders-api"), "{audiences:?}");
    // The default leeway is 30 s.
    assert!(principal.expires_at_unix() + 30 > NOW);
    assert!(principal.token_id().is_some_and(|id| !id.is_empty()));
});
