//! Compile-time guarantees: every misuse in `tests/ui/fail` must fail to compile with the
//! message in its `.stderr`; everything in `tests/ui/pass` must compile.
//!
//! Regenerate the expected output after an intended change with
//! `TRYBUILD=overwrite cargo test --test ui`, then read every changed `.stderr`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
