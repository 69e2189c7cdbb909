//! Compile-time guarantees: every misuse in `fail/` must fail to compile with the message in
//! its `.stderr`. The uses in `pass/` are test programs of this package of their own (see
//! `Cargo.toml`), so that this project only type-checks.
//!
//! Run with `cargo test -p portcullis-ui-tests`. Regenerate the expected output after an
//! intended change with `TRYBUILD=overwrite cargo test -p portcullis-ui-tests --test ui`,
//! then read every changed `.stderr`.

use std::process::Command;

/// The compiler flags trybuild gives its cases, as `CARGO_ENCODED_RUSTFLAGS` (its flags, one
/// per 0x1f-separated field).
///
/// trybuild builds the dependencies of its project with its base flags, then checks the
/// cases with one more (`--diagnostic-width=140`); Cargo keeps one build per set of flags, so
/// every dependency (the C of aws-lc-sys too) would be built twice. `CARGO_ENCODED_RUSTFLAGS`
/// takes precedence over the flags trybuild passes as configuration, so with it both steps
/// use these flags and share one build.
const FLAGS: &str = "--cfg\x1ftrybuild\x1f--verbose\x1f-A\x1fdead_code\x1f--diagnostic-width=140";

#[test]
fn ui() {
    if std::env::var("CARGO_ENCODED_RUSTFLAGS").as_deref() == Ok(FLAGS) {
        let cases = trybuild::TestCases::new();
        cases.compile_fail("fail/*.rs");
        return;
    }
    // This test again, in a process whose Cargo invocations get the flags.
    let this = std::env::current_exe().expect("the path of this test program");
    let status = Command::new(this)
        .args(["ui", "--exact", "--nocapture", "--test-threads=1"])
        .env("CARGO_ENCODED_RUSTFLAGS", FLAGS)
        .status()
        .expect("run the compile-fail cases");
    assert!(status.success(), "the compile-fail cases failed (above)");
}
