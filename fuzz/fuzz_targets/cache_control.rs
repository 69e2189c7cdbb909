//! The `Cache-Control` header of a JWKS response, which decides when the keys are fetched
//! again. Invariant: nothing panics, and `no-cache`/`no-store` always win.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_runtime::__fuzz::cache_max_age;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let max_age = cache_max_age(value);
    if !value.contains('"') {
        let lower = value.to_ascii_lowercase();
        let directives: Vec<&str> = lower.split(',').map(str::trim).collect();
        if directives.contains(&"no-cache") || directives.contains(&"no-store") {
            assert_eq!(max_age, None, "{value:?}");
        }
    }
});
