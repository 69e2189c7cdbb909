//! The troubleshooting guide, `docs/troubleshooting.md`, covers every start-up error and
//! every audit reason: adding an error variant, an error type or an audit reason without
//! documenting it fails here.
//!
//! What is parsed, from the runtime's sources (`runtime/src/**/*.rs`), as plain text:
//!
//! - every `pub enum <Name> { ... }` whose name contains `Error` (what
//!   `grep -rn "pub enum .*Error" runtime/src` finds). Each must be listed below, as
//!   documented on the page ([`DOCUMENTED`]) or documented elsewhere ([`ELSEWHERE`]), so that
//!   a new error type has to be placed;
//! - the variant names of each documented enum: the identifiers directly inside the enum's
//!   braces, skipping comments, string and character literals, attributes (`#[error(...)]`)
//!   and the fields of struct and tuple variants;
//! - the reason strings of the audit log: each `=> "reason"` arm of `Reason::as_str`
//!   (`runtime/src/audit/mod.rs`) and of `AuthFailure::as_str`
//!   (`runtime/src/auth/failure.rs`).
//!
//! And from the page: each documented enum has a heading naming it in backticks (like
//! ``### `ConfigError` ``), and each of its variants appears in backticks in that section;
//! each reason appears in backticks in the section `## Audit reasons`; each error type
//! documented elsewhere is named in backticks on the page, which points to its page.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The error types whose every variant the page lists, each in its own section.
const DOCUMENTED: [&str; 13] = [
    "ConfigError",
    "RouterError",
    "OpenApiError",
    "ApiReferenceError",
    "DevError",
    "KeyError",
    "DiscoveryError",
    "RemoteKeyError",
    "HttpSettingsError",
    "RateError",
    "RedisConnectError",
    "DpopConfigError",
    "IntrospectionConfigError",
];

/// The error types documented on another page (`Some(page)`, which the troubleshooting page
/// names them with), or not user-facing errors at all (`None`, with why).
const ELSEWHERE: [(&str, Option<&str>, &str); 7] = [
    ("TlsError", Some("tls.md"), "loading a certificate and key"),
    ("SecretError", Some("secrets.md"), "loading secrets"),
    (
        "KeyRingError",
        Some("secrets.md"),
        "the key ring of sealed fields",
    ),
    (
        "SealError",
        Some("secrets.md"),
        "sealing and opening fields",
    ),
    ("TestError", Some("testing.md"), "the test kit"),
    (
        "StrictJsonError",
        None,
        "a hidden type of the fuzz targets' API",
    ),
    (
        "BearerErrorCode",
        None,
        "the RFC 6750 codes of `WWW-Authenticate`, not an error",
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn page() -> String {
    read(&root().join("docs/troubleshooting.md"))
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// The length of the comment, literal or lifetime quote starting at `at`, if one does.
fn skipped(text: &[u8], at: usize) -> Option<usize> {
    let rest = &text[at..];
    let until = |from: usize, end: &[u8]| {
        rest[from..]
            .windows(end.len())
            .position(|window| window == end)
            .map_or(rest.len(), |found| from + found + end.len())
    };
    match rest {
        [b'/', b'/', ..] => Some(until(2, b"\n")),
        [b'/', b'*', ..] => Some(until(2, b"*/")),
        [b'"', ..] => {
            let mut index = 1;
            while index < rest.len() && rest[index] != b'"' {
                index += if rest[index] == b'\\' { 2 } else { 1 };
            }
            Some(index + 1)
        }
        [b'r', b'"', ..] => Some(until(2, b"\"")),
        [b'r', b'#', b'"', ..] => Some(until(3, b"\"#")),
        // A character literal ('a', '\n', '"'), or the quote of a lifetime ('static).
        [b'\'', b'\\', ..] => Some(until(2, b"'")),
        [b'\'', _, b'\'', ..] => Some(3),
        [b'\'', ..] => Some(1),
        _ => None,
    }
}

/// The text between the first `{` at or after `from` and its matching `}`.
fn block(text: &str, from: usize) -> &str {
    let bytes = text.as_bytes();
    let open = from + text[from..].find('{').expect("a block");
    let mut depth = 0usize;
    let mut index = open;
    while index < bytes.len() {
        if let Some(length) = skipped(bytes, index) {
            index += length;
            continue;
        }
        match bytes[index] {
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..index];
                }
            }
            _ => {}
        }
        index += 1;
    }
    panic!("unclosed block at byte {open}");
}

/// The variant names of an enum's body: identifiers at its top level that start with an
/// upper-case letter.
fn variants(body: &str) -> Vec<String> {
    let bytes = body.as_bytes();
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut index = 0;
    while index < bytes.len() {
        if let Some(length) = skipped(bytes, index) {
            index += length;
            continue;
        }
        let byte = bytes[index];
        match byte {
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => depth -= 1,
            _ if depth == 0 && (byte.is_ascii_alphabetic() || byte == b'_') => {
                let start = index;
                while index < bytes.len()
                    && (bytes[index].is_ascii_alphanumeric() || bytes[index] == b'_')
                {
                    index += 1;
                }
                if byte.is_ascii_uppercase() {
                    found.push(body[start..index].to_owned());
                }
                continue;
            }
            _ => {}
        }
        index += 1;
    }
    found
}

/// Every `pub enum` of the runtime whose name contains `Error`: its file and variants.
fn error_enums() -> BTreeMap<String, (PathBuf, Vec<String>)> {
    let mut files = Vec::new();
    rust_files(&root().join("runtime/src"), &mut files);
    let mut enums = BTreeMap::new();
    for file in files {
        let text = read(&file);
        for (at, _) in text.match_indices("pub enum ") {
            let name: String = text[at + "pub enum ".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.contains("Error") {
                continue;
            }
            let found = variants(block(&text, at));
            if let Some((other, _)) = enums.insert(name.clone(), (file.clone(), found)) {
                panic!(
                    "`{name}` is declared in {} and {}",
                    other.display(),
                    file.display()
                );
            }
        }
    }
    enums
}

/// The strings of the `=> "..."` arms of `fn as_str` in `impl <type> {` of `file`.
fn as_str_reasons(file: &str, type_name: &str) -> Vec<String> {
    let text = read(&root().join(file));
    let implementation = format!("impl {type_name} {{");
    let at = text
        .find(&implementation)
        .unwrap_or_else(|| panic!("no `{implementation}` in {file}"));
    let function = at + text[at..].find("fn as_str").expect("an `as_str` function");
    let body = block(&text, function);
    body.match_indices("=> \"")
        .map(|(arm, arrow)| {
            let start = arm + arrow.len();
            let end = start + body[start..].find('"').expect("a closing quote");
            body[start..end].to_owned()
        })
        .collect()
}

/// Every audit reason: `Reason::as_str` and `AuthFailure::as_str`.
fn audit_reasons() -> Vec<String> {
    let mut reasons = as_str_reasons("runtime/src/audit/mod.rs", "Reason");
    reasons.extend(as_str_reasons("runtime/src/auth/failure.rs", "AuthFailure"));
    reasons.extend(as_str_reasons(
        "runtime/src/auth/dpop/failure.rs",
        "DpopFailure",
    ));
    reasons
}

/// The section of the page under the heading that contains `marker`, up to the next
/// heading of the same or a higher level.
fn section<'a>(page: &'a str, marker: &str) -> Option<&'a str> {
    let level = |line: &str| line.bytes().take_while(|byte| *byte == b'#').count();
    let mut offset = 0;
    let mut start = None;
    for line in page.split_inclusive('\n') {
        let heading = level(line);
        match start {
            None if heading > 0 && line.contains(marker) => start = Some((offset, heading)),
            Some((from, above)) if heading > 0 && heading <= above => {
                return Some(&page[from..offset]);
            }
            _ => {}
        }
        offset += line.len();
    }
    start.map(|(from, _)| &page[from..])
}

#[test]
fn the_variant_parser_skips_what_is_not_a_variant() {
    let source = r#"
        /// Doesn't count: a { brace } in a comment.
        pub enum SampleError {
            /// A unit variant.
            #[error("a {brace} in a message, an escaped \" quote, and 'quotes'")]
            Unit,
            /* Hidden, in a block comment */
            Tuple(#[from] OtherError, &'static str),
            Struct {
                /// A field, not a variant.
                Field: Vec<(u8, [char; 2])>,
                quote: char = '"',
            },
            Last
        }
    "#;
    let at = source.find("pub enum").expect("the sample enum");
    assert_eq!(
        variants(block(source, at)),
        ["Unit", "Tuple", "Struct", "Last"]
    );
}

#[test]
fn the_parsers_read_the_sources() {
    let enums = error_enums();
    let (_, config) = &enums["ConfigError"];
    assert_eq!(
        config.first().map(String::as_str),
        Some("MissingDefaultRate")
    );
    assert!(config.iter().any(|variant| variant == "InvalidRateScale"));
    let (_, router) = &enums["RouterError"];
    // A tuple variant with `#[from]` is read; the fields of struct variants are not.
    assert!(router.iter().any(|variant| variant == "OpenApi"));
    assert!(
        router
            .iter()
            .all(|variant| variant != "String" && variant != "OpenApiError")
    );
    assert!(enums["DiscoveryError"].1.len() >= 14);
    let reasons = audit_reasons();
    assert!(reasons.iter().any(|reason| reason == "authorized"));
    assert!(reasons.iter().any(|reason| reason == "unknown_kid"));
    assert!(reasons.len() >= 37, "{reasons:?}");
}

#[test]
fn every_error_type_is_documented_here_or_elsewhere() {
    let page = page();
    let mut unplaced = Vec::new();
    for (name, (file, _)) in error_enums() {
        let elsewhere = ELSEWHERE.iter().find(|(known, _, _)| *known == name);
        match elsewhere {
            Some((_, Some(_), _)) => assert!(
                page.contains(&format!("`{name}`")),
                "docs/troubleshooting.md should name `{name}` and point to its page"
            ),
            Some((_, None, _)) => {}
            None if DOCUMENTED.contains(&name.as_str()) => {}
            None => unplaced.push(format!("{name} ({})", file.display())),
        }
    }
    assert!(
        unplaced.is_empty(),
        "error types neither on docs/troubleshooting.md nor placed elsewhere: {unplaced:?}; \
         document their variants there and add them to DOCUMENTED, or add them to ELSEWHERE"
    );
}

#[test]
fn every_error_variant_is_on_the_page() {
    let page = page();
    let enums = error_enums();
    let mut missing = Vec::new();
    for name in DOCUMENTED {
        let (file, found) = enums
            .get(name)
            .unwrap_or_else(|| panic!("`pub enum {name}` is not in runtime/src any more"));
        assert!(
            !found.is_empty(),
            "no variant read in `{name}` ({})",
            file.display()
        );
        let Some(text) = section(&page, &format!("`{name}`")) else {
            missing.push(format!("a section headed `{name}`"));
            continue;
        };
        for variant in found {
            if !text.contains(&format!("`{variant}`")) {
                missing.push(format!("{name}::{variant}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/troubleshooting.md does not document: {missing:?}"
    );
}

#[test]
fn every_audit_reason_is_on_the_page() {
    let page = page();
    let text = section(&page, "Audit reasons").expect("a section `## Audit reasons`");
    let missing: Vec<String> = audit_reasons()
        .into_iter()
        .filter(|reason| !text.contains(&format!("`{reason}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/troubleshooting.md does not explain the audit reasons {missing:?}"
    );
}
