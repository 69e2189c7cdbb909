//! The README is the first screen: its program is `examples/hello.rs` as it stands, at most
//! 40 lines, the README at most 250, and the program does what the README says.

mod common;

use common::example::{Example, lines_until};

const README: &str = include_str!("../README.md");
const HELLO: &str = include_str!("../examples/hello.rs");

/// The README's Rust block that starts with the hello example's first line.
fn readme_copy_of_hello() -> &'static str {
    let first_line = HELLO.lines().next().expect("hello.rs is not empty");
    let start = README
        .find(&format!("```rust\n{first_line}"))
        .expect("the README shows examples/hello.rs in a ```rust block")
        + "```rust\n".len();
    let length = README[start..].find("```\n").expect("the block is closed");
    &README[start..start + length]
}

#[test]
fn the_readme_shows_examples_hello_rs_whole() {
    assert_eq!(
        readme_copy_of_hello(),
        HELLO,
        "the README's copy of examples/hello.rs differs from the file: paste the file again"
    );
    assert!(
        HELLO.lines().count() <= 40,
        "examples/hello.rs is at most 40 lines"
    );
}

#[test]
fn the_readme_is_a_first_screen() {
    let lines = README.lines().count();
    assert!(lines <= 250, "README.md has {lines} lines; at most 250");
    let commands = README
        .find("cargo run --example orders")
        .expect("the README gives the command that runs the example");
    let tests = README
        .find("cargo test --workspace")
        .expect("the README gives the test command");
    let first_section = README.find("\n## ").unwrap_or(README.len());
    assert!(
        commands < first_section && tests < first_section,
        "the two commands come first"
    );
}

#[test]
fn the_readme_s_curl_line_works() {
    let (example, stdout) = Example::start("hello", "HELLO_ADDR", &[]);
    let lines = lines_until(stdout, |line| line.starts_with("curl "));
    let curl = lines.last().expect("hello prints a curl line");
    let token = curl
        .split("Bearer ")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the curl line carries a bearer token");
    assert!(
        curl.ends_with(&format!("http://127.0.0.1:{}/hello", example.port)),
        "{curl}"
    );
    let hello = example.get("/hello", Some(token));
    assert_eq!(
        (hello.status, hello.body.as_str()),
        (200, "Hello, alice!\n")
    );
    let anonymous = example.get("/hello", None);
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Bearer realm=\"api\"")
    );
    assert_eq!(example.get("/health", None).body, "ok\n");
    assert_eq!(example.get("/elsewhere", None).status, 404);
}
