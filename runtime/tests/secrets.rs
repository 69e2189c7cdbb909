//! Secrets from the environment and sealed fields: round trips, tampering, rotation, and
//! no secret in `Debug` output, errors or logs.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

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

/// Tests that change the process environment take this lock.
static ENV: Mutex<()> = Mutex::new(());

fn env_lock() -> MutexGuard<'static, ()> {
    ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn set_env(name: &str, value: &str) {
    // SAFETY: the tests that touch the environment hold `ENV`, and nothing else in this
    // binary reads these variables.
    unsafe { std::env::set_var(name, value) }
}

fn remove_env(name: &str) {
    // SAFETY: as in `set_env`.
    unsafe { std::env::remove_var(name) }
}

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
// Loading secrets

#[test]
fn loads_from_the_variable_or_the_file() {
    let _env = env_lock();
    set_env("PCS_IT_PASSWORD", "from-the-variable");
    assert_eq!(
        secret_from_env("PCS_IT_PASSWORD").unwrap().expose_secret(),
        "from-the-variable"
    );
    remove_env("PCS_IT_PASSWORD");

    let path = temp_file("password", b"from-the-file\n");
    set_env("PCS_IT_PASSWORD_FILE", path.to_str().unwrap());
    assert_eq!(
        secret_from_env("PCS_IT_PASSWORD").unwrap().expose_secret(),
        "from-the-file"
    );

    // Both set.
    set_env("PCS_IT_PASSWORD", "from-the-variable");
    assert_eq!(
        secret_from_env("PCS_IT_PASSWORD").unwrap_err(),
        SecretError::Ambiguous {
            variable: "PCS_IT_PASSWORD".into(),
            file_variable: "PCS_IT_PASSWORD_FILE".into(),
        }
    );
    remove_env("PCS_IT_PASSWORD");
    remove_env("PCS_IT_PASSWORD_FILE");

    // Neither: the message names both.
    let message = secret_from_env("PCS_IT_PASSWORD").unwrap_err().to_string();
    assert!(
        message.contains("PCS_IT_PASSWORD ") && message.contains("PCS_IT_PASSWORD_FILE"),
        "{message}"
    );

    // An empty file, a missing file: named, not quoted.
    let empty = temp_file("empty", b"\r\n");
    set_env("PCS_IT_EMPTY_FILE", empty.to_str().unwrap());
    let error = secret_from_env("PCS_IT_EMPTY").unwrap_err();
    assert_eq!(
        error,
        SecretError::EmptyFile {
            file_variable: "PCS_IT_EMPTY_FILE".into(),
            path: empty.clone(),
        }
    );
    assert!(error.to_string().contains(empty.to_str().unwrap()));
    remove_env("PCS_IT_EMPTY_FILE");
    set_env("PCS_IT_MISSING_FILE", "/nonexistent/pcs-it-secret");
    let error = secret_from_env("PCS_IT_MISSING").unwrap_err();
    assert!(matches!(error, SecretError::Unreadable { .. }));
    assert!(error.to_string().contains("/nonexistent/pcs-it-secret"));
    remove_env("PCS_IT_MISSING_FILE");
}

#[test]
fn loads_keys_and_key_rings() {
    let _env = env_lock();
    let raw = [0xA5u8; 32];
    set_env("PCS_IT_HMAC", &URL_SAFE_NO_PAD.encode(raw));
    let bytes = secret_bytes_from_env("PCS_IT_HMAC", SecretEncoding::Base64Url).unwrap();
    assert_eq!(bytes.expose_secret(), &raw);
    remove_env("PCS_IT_HMAC");

    let k2 = STANDARD.encode([2u8; 32]);
    let k1 = URL_SAFE_NO_PAD.encode([1u8; 32]);
    let path = temp_file("ring", format!("2:{k2}\n1:{k1}\n").as_bytes());
    set_env("PCS_IT_FIELD_KEYS_FILE", path.to_str().unwrap());
    let ring = KeyRing::from_env("PCS_IT_FIELD_KEYS").unwrap();
    remove_env("PCS_IT_FIELD_KEYS_FILE");
    assert_eq!(ring.current_version(), 2);
    assert_eq!(ring.versions().collect::<Vec<_>>(), [1, 2]);
    // The same keys as a ring built in code.
    let mut same = KeyRing::new(2, key(2));
    same.add(1, key(1)).unwrap();
    let sealed = same.seal(&"x", "c").unwrap();
    assert_eq!(ring.open::<String>(&sealed, "c").unwrap(), "x");

    set_env("PCS_IT_NO_KEYS", " , ");
    assert_eq!(
        KeyRing::from_env("PCS_IT_NO_KEYS").unwrap_err(),
        KeyRingError::Empty
    );
    remove_env("PCS_IT_NO_KEYS");
    assert!(matches!(
        KeyRing::from_env("PCS_IT_NO_KEYS").unwrap_err(),
        KeyRingError::Load(SecretError::Missing { .. })
    ));
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

#[test]
fn secrets_never_appear_in_debug_output_errors_or_logs() {
    const MARKER: &str = "Sup3rS3cretMark3r";
    let _env = env_lock();
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();

    let mut printed = Vec::<String>::new();
    // A key whose base64 text contains the marker, and its bytes.
    let marker_key = format!("{MARKER}{}", "A".repeat(43 - MARKER.len()));
    let key_bytes = URL_SAFE_NO_PAD.decode(&marker_key).unwrap();
    assert_eq!(key_bytes.len(), 32);
    let file = temp_file("marker", format!("{MARKER}\n").as_bytes());

    // Process-wide, the only one this binary sets: a thread-local subscriber can miss the
    // events of callsites that another test's thread registered first, with none set.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    {
        // A secret from the variable, and from a file.
        set_env("PCS_IT_LEAK", MARKER);
        let secret = secret_from_env("PCS_IT_LEAK").unwrap();
        assert_eq!(secret.expose_secret(), MARKER);
        printed.push(format!("{secret:?}"));
        // Both set, with the secret in both.
        set_env("PCS_IT_LEAK_FILE", file.to_str().unwrap());
        let error = secret_from_env("PCS_IT_LEAK").unwrap_err();
        printed.push(format!("{error} {error:?}"));
        remove_env("PCS_IT_LEAK");
        let secret = secret_from_env("PCS_IT_LEAK").unwrap();
        printed.push(format!("{secret:?}"));
        // Not the expected encoding.
        let error = secret_bytes_from_env("PCS_IT_LEAK", SecretEncoding::Base64).unwrap_err();
        printed.push(format!("{error} {error:?}"));
        remove_env("PCS_IT_LEAK_FILE");
        set_env("PCS_IT_LEAK", &format!("{MARKER}!"));
        let error = secret_bytes_from_env("PCS_IT_LEAK", SecretEncoding::Base64Url).unwrap_err();
        printed.push(format!("{error} {error:?}"));
        let bytes = secret_bytes_from_env("PCS_IT_LEAK", SecretEncoding::Base64Url);
        printed.push(format!("{bytes:?}"));
        remove_env("PCS_IT_LEAK");

        // A key ring with the marker as its key, and bad specifications around it.
        set_env("PCS_IT_LEAK_KEYS", &format!("1:{marker_key}"));
        let ring = KeyRing::from_env("PCS_IT_LEAK_KEYS").unwrap();
        printed.push(format!("{ring:?}"));
        for spec in [
            MARKER.to_string(),
            format!("1:{MARKER}"),
            format!("{MARKER}:{marker_key}"),
            format!("1:{marker_key}x"),
            format!("1:{marker_key},1:{marker_key}"),
        ] {
            set_env("PCS_IT_LEAK_KEYS", &spec);
            let error = KeyRing::from_env("PCS_IT_LEAK_KEYS").unwrap_err();
            printed.push(format!("{error} {error:?}"));
        }
        remove_env("PCS_IT_LEAK_KEYS");

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
