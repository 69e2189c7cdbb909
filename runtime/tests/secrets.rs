//! Secrets from the environment and sealed fields: round trips, tampering, rotation, and
//! no secret in `Debug` output, errors or logs.
//!
//! The tests that read the real environment run their checks in a child process (this
//! test binary again) whose variables are set when it starts: this process's environment
//! is never changed, so the tests need no `unsafe` (`std::env::set_var` is unsafe since
//! Rust 2024, because other threads, such as other tests, may read the environment at the
//! same time).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use portcullis_runtime::secrets::{
    KeyRing, KeyRingError, NONCE_BYTES, SEALED_PATTERN, SealError, Sealed, SecretEncoding,
    SecretError, TAG_BYTES, install_key_ring, installed_key_ring, secret_bytes_from_env,
    secret_from_env, with_key_ring,
};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------
// Helpers

fn temp_file(name: &str, content: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "portcullis-secrets-it-{}-{name}",
        std::process::id()
    ));
    std::fs::File::create(&path)
        .unwrap()
        .write_all(content)
        .unwrap();
    path
}

fn key(byte: u8) -> SecretBox<[u8; 32]> {
    SecretBox::new(Box::new([byte; 32]))
}

fn ring_of(version: u32, byte: u8) -> KeyRing {
    KeyRing::new(version, key(byte))
}

portcullis_runtime::seal_context! {
    /// An order's delivery address.
    DeliveryAddress = "orders.delivery_address";
    /// An order's billing address.
    pub(crate) BillingAddress = "orders.billing_address";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
struct Address {
    street: String,
    city: String,
}

fn address() -> Address {
    Address {
        street: "221B Baker Street".into(),
        city: "London".into(),
    }
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
struct Order {
    id: u64,
    delivery: Sealed<Address, DeliveryAddress>,
    billing: Option<Sealed<Address, BillingAddress>>,
    note: Sealed<String>,
}

fn order() -> Order {
    Order {
        id: 7,
        delivery: Sealed::new(address()),
        billing: Some(Sealed::new(address())),
        note: Sealed::new("leave at the door".into()),
    }
}

/// Flips one bit of the decoded payload of `sealed`.
fn flip_payload_bit(sealed: &str, bit: usize) -> String {
    let (head, payload) = sealed.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(payload).unwrap();
    bytes[bit / 8] ^= 1 << (bit % 8);
    format!("{head}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn payload_len(sealed: &str) -> usize {
    let (_, payload) = sealed.rsplit_once('.').unwrap();
    URL_SAFE_NO_PAD.decode(payload).unwrap().len()
}

// ---------------------------------------------------------------------------------------
// Sealed fields

#[test]
fn sealed_fields_round_trip_through_serde_json() {
    let ring = ring_of(1, 0x11);
    let json = with_key_ring(&ring, || serde_json::to_string(&order())).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["id"], 7);
    for field in ["delivery", "billing", "note"] {
        let sealed = value[field].as_str().unwrap();
        assert!(sealed.starts_with("pcs1.1."), "{sealed}");
        assert_eq!(KeyRing::version_of(sealed), Ok(1));
    }
    assert!(!json.contains("Baker") && !json.contains("London") && !json.contains("door"));

    let back: Order = with_key_ring(&ring, || serde_json::from_str(&json)).unwrap();
    assert_eq!(back.id, 7);
    assert_eq!(back.delivery.get(), &address());
    assert_eq!(back.billing.unwrap().into_inner(), address());
    assert_eq!(back.note.get(), "leave at the door");

    // A fresh nonce each time: equal values seal differently.
    let again = with_key_ring(&ring, || serde_json::to_string(&order())).unwrap();
    assert_ne!(json, again);
}

/// A record as it is stored: sealed with key version 7 of the ring below, by the format
/// `pcs1` (XChaCha20-Poly1305). Whatever cryptography library the build links, stored
/// values must keep opening: this text is fixed, never regenerated.
const STORED_RING: &str = "7:Kx3nBzJ2m3c4Nq5Vw8Yb1Df6Gh9Jk2Lm4Pq7Rs0Tu3c";
const STORED_ORDER: &str = concat!(
    r#"{"id":7,"#,
    r#""delivery":"pcs1.7.Elws9faEOQkCZ81OC83OIBq3TlUdLJrnfe247BJob9tXxCrLqi9sHiNMiJBq42C4mxZapD58mh7J-SLZ4i_1bZ_VT_OvdNIpCL01uIfPGX7DUU8hq0A","#,
    r#""billing":"pcs1.7.d-Od6uZpUzuk865HgR_dz5DqFz4gmsaTzsyQ22SntQPgN7yy2gps_l66vnXBjcYLfQmAJONPIfG8x7HuGlMzD_g1M8G-jgfpkdJ4UqxEQD3zZl3dMIA","#,
    r#""note":"pcs1.7.K1PJ6k8ja280P1jqz4DKN9rQBpRl3HFrf6Kgl002DWglbzuM4x2zaLD_ZPqGyOYfkj7LBo1n9CkNswg"}"#,
);
/// Bytes sealed with the same key for the context `orders.notes`.
const STORED_BYTES: &str =
    "pcs1.7.3thnpv6YdK9-bxemu8srcxWHbwrpN_jGBOsO1v3oYCxazI-bQmjpFKqzMjM-Ay8R7A";

#[test]
fn stored_values_keep_opening() {
    let ring = KeyRing::parse(&SecretString::from(STORED_RING)).unwrap();
    let stored: Order = with_key_ring(&ring, || serde_json::from_str(STORED_ORDER)).unwrap();
    assert_eq!(stored.id, 7);
    assert_eq!(stored.delivery.get(), &address());
    assert_eq!(stored.billing.as_ref().unwrap().get(), &address());
    assert_eq!(stored.note.get(), "leave at the door");

    let bytes = ring.open_bytes(STORED_BYTES, "orders.notes").unwrap();
    assert_eq!(bytes.expose_secret(), b"\x00\x01binary\xff");
    // The context is authenticated: the same bytes do not open for another field.
    assert_eq!(
        ring.open_bytes(STORED_BYTES, "orders.other").unwrap_err(),
        SealError::Unauthentic
    );
}

#[test]
fn explicit_rings_need_no_scope() {
    let ring = ring_of(5, 0x55);
    let sealed = Sealed::<Address, DeliveryAddress>::new(address())
        .seal_with(&ring)
        .unwrap();
    assert!(sealed.starts_with("pcs1.5."));
    let opened = Sealed::<Address, DeliveryAddress>::open_with(&sealed, &ring).unwrap();
    assert_eq!(opened.into_inner(), address());

    let bytes = ring.seal_bytes(b"raw", "ctx").unwrap();
    assert_eq!(
        ring.open_bytes(&bytes, "ctx").unwrap().expose_secret(),
        b"raw"
    );
    assert_eq!(payload_len(&bytes), NONCE_BYTES + 3 + TAG_BYTES);
}

#[test]
fn every_tampering_fails_with_a_typed_error() {
    let mut ring = ring_of(1, 0x11);
    // Version 2 holds the same key material: only the associated data tells them apart.
    ring.add(2, key(0x11)).unwrap();
    ring.add(3, key(0x33)).unwrap();
    let sealed = Sealed::<Address, DeliveryAddress>::new(address())
        .seal_with(&ring)
        .unwrap();
    let open = |text: &str| Sealed::<Address, DeliveryAddress>::open_with(text, &ring);
    assert!(open(&sealed).is_ok());

    // Every bit of the nonce, the ciphertext and the tag.
    let len = payload_len(&sealed);
    for bit in 0..len * 8 {
        let region = match bit / 8 {
            byte if byte < NONCE_BYTES => "nonce",
            byte if byte >= len - TAG_BYTES => "tag",
            _ => "ciphertext",
        };
        assert_eq!(
            open(&flip_payload_bit(&sealed, bit)).unwrap_err(),
            SealError::Unauthentic,
            "bit {bit} of the {region}"
        );
    }

    // Any character of the text, replaced.
    for (index, original) in sealed.char_indices() {
        for replacement in ['A', 'b', '9', '-', '.', '+'] {
            if replacement == original {
                continue;
            }
            let mut altered = sealed.clone();
            altered.replace_range(index..index + 1, &replacement.to_string());
            let error = open(&altered).unwrap_err();
            assert!(
                matches!(
                    error,
                    SealError::Unauthentic
                        | SealError::Malformed { .. }
                        | SealError::UnknownKeyVersion { .. }
                ),
                "{altered}: {error:?}"
            );
        }
    }

    // The version: another with the same key, another with another key, an unknown one.
    let as_version = |version: &str| sealed.replacen("pcs1.1.", &format!("pcs1.{version}."), 1);
    assert_eq!(open(&as_version("2")).unwrap_err(), SealError::Unauthentic);
    assert_eq!(open(&as_version("3")).unwrap_err(), SealError::Unauthentic);
    assert_eq!(
        open(&as_version("9")).unwrap_err(),
        SealError::UnknownKeyVersion { version: 9 }
    );
    assert!(matches!(
        open(&as_version("01")).unwrap_err(),
        SealError::Malformed { .. }
    ));

    // Truncations, at every length.
    for end in 0..sealed.len() {
        let error = open(&sealed[..end]).unwrap_err();
        assert!(
            matches!(error, SealError::Unauthentic | SealError::Malformed { .. }),
            "{end}: {error:?}"
        );
    }
    // Appended bytes.
    assert!(open(&format!("{sealed}A")).is_err());
    assert!(open(&format!("{sealed}AAAA")).is_err());

    // The prefix.
    for prefix in ["pcs2", "pcs0", "PCS1", "pcs", "xcs1"] {
        let altered = sealed.replacen("pcs1", prefix, 1);
        assert!(
            matches!(open(&altered).unwrap_err(), SealError::Malformed { .. }),
            "{altered}"
        );
    }

    // Another field, another context.
    assert_eq!(
        Sealed::<Address, BillingAddress>::open_with(&sealed, &ring).unwrap_err(),
        SealError::Unauthentic
    );
    assert_eq!(
        Sealed::<Address>::open_with(&sealed, &ring).unwrap_err(),
        SealError::Unauthentic
    );

    // Through serde, the same errors as the format's errors.
    let json = serde_json::json!({
        "id": 1,
        "delivery": flip_payload_bit(&sealed, 8 * NONCE_BYTES),
        "billing": null,
        "note": "pcs1.1.AAAA",
    })
    .to_string();
    let error = with_key_ring(&ring, || serde_json::from_str::<Order>(&json)).unwrap_err();
    assert!(
        error.to_string().contains("failed authentication"),
        "{error}"
    );
}

#[test]
fn rotation_seals_with_the_new_key_and_opens_the_old() {
    let mut ring = ring_of(1, 0x11);
    let before = with_key_ring(&ring, || serde_json::to_string(&order())).unwrap();

    ring.rotate(2, key(0x22)).unwrap();
    assert_eq!(ring.current_version(), 2);
    assert_eq!(ring.versions().collect::<Vec<_>>(), [1, 2]);
    let after = with_key_ring(&ring, || serde_json::to_string(&order())).unwrap();
    assert!(after.contains("\"pcs1.2."), "{after}");
    assert!(!after.contains("\"pcs1.1."), "{after}");

    for json in [&before, &after] {
        let back: Order = with_key_ring(&ring, || serde_json::from_str(json)).unwrap();
        assert_eq!(back.delivery.into_inner(), address());
    }

    // Re-sealing what an older key sealed, then retiring that key.
    let old: Sealed<Address, DeliveryAddress> = Sealed::open_with(
        serde_json::from_str::<serde_json::Value>(&before).unwrap()["delivery"]
            .as_str()
            .unwrap(),
        &ring,
    )
    .unwrap();
    let resealed = old.seal_with(&ring).unwrap();
    assert_eq!(KeyRing::version_of(&resealed), Ok(2));
    assert_eq!(ring.remove(1), Ok(true));
    assert_eq!(ring.remove(1), Ok(false));
    assert_eq!(
        ring.remove(2),
        Err(KeyRingError::RemoveCurrent { version: 2 })
    );
    assert!(Sealed::<Address, DeliveryAddress>::open_with(&resealed, &ring).is_ok());

    // Two-step rotation: known first, current later.
    let mut staged = KeyRing::new(2, key(0x22));
    staged.add(3, key(0x33)).unwrap();
    assert!(staged.seal_bytes(b"x", "").unwrap().starts_with("pcs1.2."));
    staged.make_current(3).unwrap();
    assert!(staged.seal_bytes(b"x", "").unwrap().starts_with("pcs1.3."));
    assert_eq!(
        staged.make_current(4),
        Err(KeyRingError::UnknownVersion { version: 4 })
    );
    assert_eq!(
        staged.rotate(3, key(0x44)),
        Err(KeyRingError::DuplicateVersion { version: 3 })
    );
}

#[test]
fn a_retired_version_fails_clearly() {
    let old = ring_of(1, 0x11);
    let json = with_key_ring(&old, || serde_json::to_string(&order())).unwrap();
    let new = ring_of(2, 0x22);
    let error = with_key_ring(&new, || serde_json::from_str::<Order>(&json)).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("sealed with key version 1, which the key ring does not have"),
        "{error}"
    );
    let sealed = old.seal(&"x", "").unwrap();
    assert_eq!(
        new.open::<String>(&sealed, "").unwrap_err(),
        SealError::UnknownKeyVersion { version: 1 }
    );
}

#[test]
fn without_a_ring_nothing_is_written_then_the_installed_ring_is_used() {
    // The only test of this binary that installs a process-wide ring.
    assert!(installed_key_ring().is_none());
    let error = serde_json::to_string(&order()).unwrap_err();
    assert!(error.to_string().contains("no key ring"), "{error}");
    let mut buffer = Vec::new();
    assert!(serde_json::to_writer(&mut buffer, &Sealed::<String>::new("plain".into())).is_err());
    assert!(!String::from_utf8_lossy(&buffer).contains("plain"));
    assert!(serde_json::from_str::<Sealed<String>>("\"pcs1.1.AAAA\"").is_err());

    let installed = ring_of(9, 0x99);
    install_key_ring(installed.clone()).unwrap();
    assert_eq!(
        install_key_ring(ring_of(10, 0x10)),
        Err(KeyRingError::AlreadyInstalled)
    );
    assert_eq!(installed_key_ring().unwrap().current_version(), 9);
    let json = serde_json::to_string(&order()).unwrap();
    assert!(json.contains("\"pcs1.9."));
    let back: Order = serde_json::from_str(&json).unwrap();
    assert_eq!(back.note.into_inner(), "leave at the door");

    // A scoped ring comes first.
    let scoped = ring_of(4, 0x44);
    let json = with_key_ring(&scoped, || serde_json::to_string(&order())).unwrap();
    assert!(json.contains("\"pcs1.4."));
    assert!(serde_json::from_str::<Order>(&json).is_err());
}

#[test]
fn sealed_values_have_an_openapi_schema() {
    use utoipa::openapi::schema::SchemaType;
    use utoipa::openapi::{RefOr, Schema};
    use utoipa::{PartialSchema, ToSchema};

    assert_eq!(Sealed::<Address, DeliveryAddress>::name(), "Sealed");
    let RefOr::T(Schema::Object(object)) = Sealed::<Address, DeliveryAddress>::schema() else {
        panic!("not an inline object schema");
    };
    assert_eq!(
        object.schema_type,
        SchemaType::Type(utoipa::openapi::schema::Type::String)
    );
    let pattern = object.pattern.unwrap();
    assert!(pattern.starts_with("^pcs1\\."), "{pattern}");

    // A type that contains sealed fields derives its schema.
    let order = serde_json::to_value(Order::schema()).unwrap();
    let mut components = Vec::new();
    Order::schemas(&mut components);
    let names: Vec<_> = components.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(
        order["properties"]["delivery"]["$ref"],
        "#/components/schemas/Sealed_Address_DeliveryAddress"
    );
    assert_eq!(
        names,
        [
            "Sealed_Address_DeliveryAddress",
            "Sealed_Address_BillingAddress",
            "Sealed_String"
        ]
    );
    // Each is the opaque string; the sealed type's own schema is not published.
    for (_, schema) in &components {
        let schema = serde_json::to_value(schema).unwrap();
        assert_eq!(schema["type"], "string");
        assert_eq!(schema["pattern"], SEALED_PATTERN);
    }
}

// ---------------------------------------------------------------------------------------
// Child processes with their own environment

/// Set in a child process to the name of the test whose check it runs.
const CHILD_TEST: &str = "PORTCULLIS_SECRETS_IT_CHILD";

/// What a child prints when its check has passed, followed by the test's name.
const CHECKED: &str = "checked in a child process: ";

/// The prefix of every variable these tests set; the child inherits none of them.
const PREFIX: &str = "PCS_IT_";

/// The environment of a child process: variables to set, and the files some of them name
/// (removed when this is dropped).
#[derive(Default)]
struct ChildEnv {
    vars: Vec<(String, OsString)>,
    files: Vec<PathBuf>,
}

impl ChildEnv {
    /// Sets `name` to `value`.
    fn var(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.vars.push((name.to_owned(), value.into()));
        self
    }

    /// Writes `content` to a new file and sets `name` to its path.
    fn file(mut self, name: &str, content: &[u8]) -> Self {
        let path = temp_file(&name.to_ascii_lowercase(), content);
        self.vars.push((name.to_owned(), path.clone().into()));
        self.files.push(path);
        self
    }
}

impl Drop for ChildEnv {
    fn drop(&mut self) {
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Whether this process is the child started to run the check of `test`.
fn is_child_of(test: &str) -> bool {
    match std::env::var(CHILD_TEST) {
        Ok(name) if name == test => true,
        // `--exact` runs one test: anything else here is a broken harness.
        Ok(name) => panic!("the child process of `{name}` ran `{test}`"),
        Err(_) => false,
    }
}

/// Runs `check` with the environment `env` makes, in a child process.
///
/// In the test process (no [`CHILD_TEST`] marker), this starts the test binary again,
/// running only `test` with the marker set to its name, every inherited `PCS_IT_`
/// variable removed and the variables of `env` set; the test passes if the child exits
/// successfully *and* says that it ran the check. In that child, it runs `check`. So a
/// broken loader fails the test, and so does a child that ran nothing.
fn in_child_process(test: &str, env: impl FnOnce() -> ChildEnv, check: impl FnOnce()) {
    if is_child_of(test) {
        check();
        println!("{CHECKED}{test}");
    } else if let Err(report) = run_child(test, env()) {
        panic!("{report}");
    }
}

/// Starts the child process of `test` with `env` and waits for it: `Err` with its output
/// unless it passed and ran the check.
fn run_child(test: &str, env: ChildEnv) -> Result<(), String> {
    let binary = std::env::current_exe().map_err(|error| format!("no test binary: {error}"))?;
    let mut command = Command::new(binary);
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_TEST, test);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with(PREFIX) {
            command.env_remove(name);
        }
    }
    command.envs(env.vars.iter().map(|(name, value)| (name, value)));
    let output = command
        .output()
        .map_err(|error| format!("the child process of `{test}` did not start: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && stdout.contains(&format!("{CHECKED}{test}\n")) {
        return Ok(());
    }
    Err(format!(
        "the check of `{test}` failed in its child process ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    ))
}

#[test]
fn a_check_failing_in_the_child_process_fails_the_test() {
    const TEST: &str = "a_check_failing_in_the_child_process_fails_the_test";
    if is_child_of(TEST) {
        assert_eq!(
            std::env::var("PCS_IT_CHILD_VAR").as_deref(),
            Ok("given to the child"),
            "the child sees its variables"
        );
        panic!("the check failed, as it must here");
    }
    let env = ChildEnv::default().var("PCS_IT_CHILD_VAR", "given to the child");
    let report = run_child(TEST, env).unwrap_err();
    assert!(
        report.contains("the check failed, as it must here"),
        "{report}"
    );
    // A child that runs no test exits successfully, but did not check anything.
    let report = run_child("no_such_test", ChildEnv::default()).unwrap_err();
    assert!(report.contains("0 passed"), "{report}");
}

// ---------------------------------------------------------------------------------------
// Loading secrets

#[test]
fn loads_from_the_variable_or_the_file() {
    const MISSING: &str = "/nonexistent/pcs-it-secret";
    in_child_process(
        "loads_from_the_variable_or_the_file",
        || {
            ChildEnv::default()
                .var("PCS_IT_PASSWORD", "from-the-variable")
                .file("PCS_IT_FILED_FILE", b"from-the-file\n")
                .var("PCS_IT_BOTH", "from-the-variable")
                .file("PCS_IT_BOTH_FILE", b"from-the-file\n")
                .file("PCS_IT_EMPTY_FILE", b"\r\n")
                .var("PCS_IT_MISSING_FILE", MISSING)
        },
        || {
            assert_eq!(
                secret_from_env("PCS_IT_PASSWORD").unwrap().expose_secret(),
                "from-the-variable"
            );
            assert_eq!(
                secret_from_env("PCS_IT_FILED").unwrap().expose_secret(),
                "from-the-file"
            );

            // Both set.
            assert_eq!(
                secret_from_env("PCS_IT_BOTH").unwrap_err(),
                SecretError::Ambiguous {
                    variable: "PCS_IT_BOTH".into(),
                    file_variable: "PCS_IT_BOTH_FILE".into(),
                }
            );

            // Neither: the message names both.
            let message = secret_from_env("PCS_IT_NEITHER").unwrap_err().to_string();
            assert!(
                message.contains("PCS_IT_NEITHER ") && message.contains("PCS_IT_NEITHER_FILE"),
                "{message}"
            );

            // An empty file, a missing file: named, not quoted.
            let empty = PathBuf::from(std::env::var_os("PCS_IT_EMPTY_FILE").unwrap());
            let error = secret_from_env("PCS_IT_EMPTY").unwrap_err();
            assert_eq!(
                error,
                SecretError::EmptyFile {
                    file_variable: "PCS_IT_EMPTY_FILE".into(),
                    path: empty.clone(),
                }
            );
            assert!(error.to_string().contains(empty.to_str().unwrap()));
            let error = secret_from_env("PCS_IT_MISSING").unwrap_err();
            assert!(matches!(error, SecretError::Unreadable { .. }));
            assert!(error.to_string().contains(MISSING));
        },
    );
}

#[test]
fn loads_keys_and_key_rings() {
    let raw = [0xA5u8; 32];
    let k2 = STANDARD.encode([2u8; 32]);
    let k1 = URL_SAFE_NO_PAD.encode([1u8; 32]);
    in_child_process(
        "loads_keys_and_key_rings",
        || {
            ChildEnv::default()
                .var("PCS_IT_HMAC", URL_SAFE_NO_PAD.encode(raw))
                .file(
                    "PCS_IT_FIELD_KEYS_FILE",
                    format!("2:{k2}\n1:{k1}\n").as_bytes(),
                )
                .var("PCS_IT_NO_KEYS", " , ")
        },
        || {
            let bytes = secret_bytes_from_env("PCS_IT_HMAC", SecretEncoding::Base64Url).unwrap();
            assert_eq!(bytes.expose_secret(), &raw);

            let ring = KeyRing::from_env("PCS_IT_FIELD_KEYS").unwrap();
            assert_eq!(ring.current_version(), 2);
            assert_eq!(ring.versions().collect::<Vec<_>>(), [1, 2]);
            // The same keys as a ring built in code.
            let mut same = KeyRing::new(2, key(2));
            same.add(1, key(1)).unwrap();
            let sealed = same.seal(&"x", "c").unwrap();
            assert_eq!(ring.open::<String>(&sealed, "c").unwrap(), "x");

            assert_eq!(
                KeyRing::from_env("PCS_IT_NO_KEYS").unwrap_err(),
                KeyRingError::Empty
            );
            assert!(matches!(
                KeyRing::from_env("PCS_IT_ABSENT_KEYS").unwrap_err(),
                KeyRingError::Load(SecretError::Missing { .. })
            ));
        },
    );
}

#[test]
fn key_ring_specifications_are_checked() {
    let k = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let parse = |spec: &str| KeyRing::parse(&SecretString::from(spec));
    assert_eq!(
        parse(&format!("1:{k}, 2:{k}")).unwrap().current_version(),
        1
    );
    assert_eq!(parse("").unwrap_err(), KeyRingError::Empty);
    assert_eq!(
        parse(&format!("1:{k},{k}")).unwrap_err(),
        KeyRingError::InvalidEntry { position: 2 }
    );
    assert_eq!(
        parse(&format!("v1:{k}")).unwrap_err(),
        KeyRingError::InvalidVersion { position: 1 }
    );
    assert_eq!(
        parse(&format!("01:{k}")).unwrap_err(),
        KeyRingError::InvalidVersion { position: 1 }
    );
    assert_eq!(
        parse(&format!("1:{k},1:{k}")).unwrap_err(),
        KeyRingError::DuplicateVersion { version: 1 }
    );
    assert_eq!(
        parse("3:c2hvcnQ").unwrap_err(),
        KeyRingError::KeyLength {
            version: 3,
            found: 5
        }
    );
    assert_eq!(
        parse("3:not*base64").unwrap_err(),
        KeyRingError::InvalidKey { version: 3 }
    );
    // Both alphabets at once.
    assert_eq!(
        parse(&format!("3:+{}", &k[1..]).replacen('B', "-", 1)).unwrap_err(),
        KeyRingError::InvalidKey { version: 3 }
    );
    let generated = KeyRing::generate_key().unwrap();
    let spec = format!("4:{}", KeyRing::encode_key(&generated).expose_secret());
    let ring = parse(&spec).unwrap();
    let sealed = KeyRing::new(4, generated).seal_bytes(b"x", "").unwrap();
    assert!(ring.open_bytes(&sealed, "").is_ok());
}

// ---------------------------------------------------------------------------------------
// No secret in Debug output, errors or logs

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// What the leak test hides: in secrets, keys and sealed values.
const MARKER: &str = "Sup3rS3cretMark3r";

/// A field key whose base64url text starts with the marker.
fn marker_key() -> String {
    format!("{MARKER}{}", "A".repeat(43 - MARKER.len()))
}

/// Key-ring specifications that fail, each with the marker in it.
fn leaky_specs() -> [String; 5] {
    let key = marker_key();
    [
        MARKER.to_string(),
        format!("1:{MARKER}"),
        format!("{MARKER}:{key}"),
        format!("1:{key}x"),
        format!("1:{key},1:{key}"),
    ]
}

#[test]
fn secrets_never_appear_in_debug_output_errors_or_logs() {
    in_child_process(
        "secrets_never_appear_in_debug_output_errors_or_logs",
        || {
            let mut env = ChildEnv::default()
                .var("PCS_IT_LEAK", MARKER)
                .var("PCS_IT_LEAK_BOTH", MARKER)
                .file("PCS_IT_LEAK_BOTH_FILE", format!("{MARKER}\n").as_bytes())
                .file("PCS_IT_LEAK_FILED_FILE", format!("{MARKER}\n").as_bytes())
                .var("PCS_IT_LEAK_BANG", format!("{MARKER}!"))
                .var("PCS_IT_LEAK_KEYS", format!("1:{}", marker_key()));
            for (index, spec) in leaky_specs().into_iter().enumerate() {
                env = env.var(&format!("PCS_IT_LEAK_BAD_KEYS_{index}"), spec);
            }
            env
        },
        leak_check,
    );
}

/// The leak test's check, run in its child process.
fn leak_check() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();

    let mut printed = Vec::<String>::new();
    // A key whose base64 text contains the marker, and its bytes.
    let marker_key = marker_key();
    let key_bytes = URL_SAFE_NO_PAD.decode(&marker_key).unwrap();
    assert_eq!(key_bytes.len(), 32);

    // Process-wide: the child process runs this test alone, and a thread-local subscriber
    // could miss the events of callsites registered before it.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    {
        // A secret from the variable, and from a file.
        let secret = secret_from_env("PCS_IT_LEAK").unwrap();
        assert_eq!(secret.expose_secret(), MARKER);
        printed.push(format!("{secret:?}"));
        let secret = secret_from_env("PCS_IT_LEAK_FILED").unwrap();
        assert_eq!(secret.expose_secret(), MARKER);
        printed.push(format!("{secret:?}"));
        // Both set, with the secret in both.
        let error = secret_from_env("PCS_IT_LEAK_BOTH").unwrap_err();
        assert!(matches!(error, SecretError::Ambiguous { .. }));
        printed.push(format!("{error} {error:?}"));
        // Not the expected encoding, from the file and from the variable.
        let error = secret_bytes_from_env("PCS_IT_LEAK_FILED", SecretEncoding::Base64).unwrap_err();
        assert!(matches!(error, SecretError::Encoding { .. }));
        printed.push(format!("{error} {error:?}"));
        let error =
            secret_bytes_from_env("PCS_IT_LEAK_BANG", SecretEncoding::Base64Url).unwrap_err();
        assert!(matches!(error, SecretError::Encoding { .. }));
        printed.push(format!("{error} {error:?}"));
        let bytes = secret_bytes_from_env("PCS_IT_LEAK_BANG", SecretEncoding::Base64Url);
        printed.push(format!("{bytes:?}"));

        // A key ring with the marker as its key, and bad specifications around it.
        let ring = KeyRing::from_env("PCS_IT_LEAK_KEYS").unwrap();
        printed.push(format!("{ring:?}"));
        for index in 0..leaky_specs().len() {
            let error = KeyRing::from_env(&format!("PCS_IT_LEAK_BAD_KEYS_{index}")).unwrap_err();
            printed.push(format!("{error} {error:?}"));
        }

        // Sealed values: Debug, and every way opening fails.
        let value = Sealed::<String, DeliveryAddress>::new(MARKER.into());
        printed.push(format!("{value:?}"));
        let sealed = value.seal_with(&ring).unwrap();
        assert!(!sealed.contains(MARKER));
        let opened = Sealed::<String, DeliveryAddress>::open_with(&sealed, &ring).unwrap();
        printed.push(format!("{opened:?} {:?}", Some(&opened)));
        for attempt in [
            Sealed::<String, BillingAddress>::open_with(&sealed, &ring).map(|_| ()),
            Sealed::<String, DeliveryAddress>::open_with(&flip_payload_bit(&sealed, 200), &ring)
                .map(|_| ()),
            // Opens, but is not a number: serde_json's own message would quote the value.
            Sealed::<u32, DeliveryAddress>::open_with(&sealed, &ring).map(|_| ()),
            Sealed::<String, DeliveryAddress>::open_with(&sealed, &ring_of(2, 0x22)).map(|_| ()),
        ] {
            let error = attempt.unwrap_err();
            printed.push(format!("{error} {error:?}"));
        }
        let error = with_key_ring(&ring, || {
            serde_json::from_str::<Sealed<u32, DeliveryAddress>>(&format!("\"{sealed}\""))
        })
        .unwrap_err();
        printed.push(format!("{error} {error:?}"));
        let order_json = with_key_ring(&ring, || {
            serde_json::to_string(&Order {
                id: 1,
                delivery: Sealed::new(Address {
                    street: MARKER.into(),
                    city: MARKER.into(),
                }),
                billing: None,
                note: Sealed::new(MARKER.into()),
            })
        })
        .unwrap();
        printed.push(order_json);
    }

    // What the checks guard against: serde_json's own messages quote values.
    let quoted = serde_json::from_str::<u32>(&format!("\"{MARKER}\"")).unwrap_err();
    assert!(quoted.to_string().contains(MARKER));

    let logs = logs.text();
    assert!(
        logs.contains("secret loaded from the environment"),
        "{logs}"
    );
    assert!(logs.contains("secret loaded from a file"), "{logs}");
    assert!(logs.contains("field key ring loaded"), "{logs}");
    assert!(logs.contains("could not be opened"), "{logs}");
    let key_hex: String = key_bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    for text in printed.iter().chain([&logs]) {
        assert!(!text.contains(MARKER), "the secret leaked: {text}");
        assert!(!text.contains(&marker_key[..20]), "the key leaked: {text}");
        assert!(!text.contains(&key_hex[..16]), "the key leaked: {text}");
    }
}
