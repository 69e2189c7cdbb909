//! Compile-time guarantees: every misuse in `fail/` must fail to compile with the message in
//! its `.stderr`. The uses in `pass/` are test programs of this package of their own (see
//! `Cargo.toml`), so that this project only type-checks.
//!
//! Run with `cargo test -p portcullis-ui-tests`. Regenerate the expected output after an
//! intended change with `TRYBUILD=overwrite cargo test -p portcullis-ui-tests --test ui`,
//! then read every changed `.stderr`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("fail/*.rs");
}
