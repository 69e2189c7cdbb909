//! The versioned key ring of sealed fields.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretBox, SecretSlice, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::encoding::{STANDARD_ANY_PAD, URL_SAFE_ANY_PAD};
use super::envelope::{self, KEY_BYTES, parse_version};
use super::load::secret_from_env;
use super::{KeyRingError, SealError};

/// One field key, shared by the clones of a ring and never printed.
type FieldKey = Arc<SecretBox<[u8; KEY_BYTES]>>;

/// The keys of sealed fields, by version, one of them current.
///
/// Sealing uses the current key and writes its version into the sealed value; opening
/// takes the key of the version written there. So after a rotation (a new current key,
/// the old ones kept) new writes use the new key and everything written before still
/// opens. A version can be dropped once nothing sealed with it is left
/// ([`KeyRing::version_of`] tells which key sealed a value, for a re-sealing job).
///
/// Cloning is cheap (the keys are shared) and `Debug` shows only the versions.
///
/// # The key-ring specification
///
/// [`KeyRing::from_env`] and [`KeyRing::parse`] read a list of `version:key` entries:
///
/// ```text
/// 3:q2VmUn0TQnB4HdPzMo0n7gK5cN1nF0dJjzv8mKnqGkA,2:0A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U4
/// ```
///
/// - Entries are separated by commas, spaces or line breaks (one per line in a file is
///   fine); empty entries are ignored.
/// - The **first entry is the current key**: to rotate, put the new key in front. Order
///   the rest as you like.
/// - A version is a decimal number from 0 to 4294967295, without sign or leading zeros,
///   and appears once.
/// - A key is 32 random bytes in base64, standard (`+/`) or URL-safe (`-_`) alphabet,
///   padding optional: `openssl rand -base64 32` makes one.
///
/// With several instances, rotate in two steps so that no instance meets a version it
/// does not know: first deploy the new key as a non-current entry everywhere
/// (`2:old,3:new,1:older`), then make it current (`3:new,2:old,1:older`).
///
/// Errors name the entry's position or version, never a key.
///
/// ```
/// use portcullis_runtime::secrets::KeyRing;
/// use secrecy::SecretString;
///
/// let ring = KeyRing::parse(&SecretString::from(
///     "2:Kx3nBzJ2m3c4Nq5Vw8Yb1Df6Gh9Jk2Lm4Pq7Rs0Tu3c\n\
///      1:3q2+7w3q2+7w3q2+7w3q2+7w3q2+7w3q2+7w3q2+7w0=",
/// ))?;
/// assert_eq!(ring.current_version(), 2);
/// assert_eq!(format!("{ring:?}"), "KeyRing { current: 2, versions: [1, 2] }");
///
/// let sealed = ring.seal(&"1 Main St", "orders.delivery_address")?;
/// assert!(sealed.starts_with("pcs1.2."));
/// let opened: String = ring.open(&sealed, "orders.delivery_address")?;
/// assert_eq!(opened, "1 Main St");
/// assert!(ring.open::<String>(&sealed, "orders.billing_address").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    keys: BTreeMap<u32, FieldKey>,
    current: u32,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Versions only, never a key.
        f.debug_struct("KeyRing")
            .field("current", &self.inner.current)
            .field("versions", &self.inner.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl KeyRing {
    /// A ring of one key, `version`, which is current.
    pub fn new(version: u32, key: SecretBox<[u8; KEY_BYTES]>) -> KeyRing {
        KeyRing {
            inner: Arc::new(Inner {
                keys: BTreeMap::from([(version, Arc::new(key))]),
                current: version,
            }),
        }
    }

    /// Adds an older (or not yet current) key: it opens what it sealed, and seals
    /// nothing.
    pub fn add(
        &mut self,
        version: u32,
        key: SecretBox<[u8; KEY_BYTES]>,
    ) -> Result<(), KeyRingError> {
        let inner = Arc::make_mut(&mut self.inner);
        if inner.keys.contains_key(&version) {
            return Err(KeyRingError::DuplicateVersion { version });
        }
        inner.keys.insert(version, Arc::new(key));
        Ok(())
    }

    /// Adds a new key and makes it current: new seals use it, older ones still open.
    pub fn rotate(
        &mut self,
        version: u32,
        key: SecretBox<[u8; KEY_BYTES]>,
    ) -> Result<(), KeyRingError> {
        self.add(version, key)?;
        Arc::make_mut(&mut self.inner).current = version;
        Ok(())
    }

    /// Makes the key of `version`, already in the ring, the current one.
    pub fn make_current(&mut self, version: u32) -> Result<(), KeyRingError> {
        if !self.contains(version) {
            return Err(KeyRingError::UnknownVersion { version });
        }
        Arc::make_mut(&mut self.inner).current = version;
        Ok(())
    }

    /// Removes the key of `version` (values it sealed no longer open) and says whether it
    /// was there. The current key cannot be removed.
    pub fn remove(&mut self, version: u32) -> Result<bool, KeyRingError> {
        if version == self.inner.current {
            return Err(KeyRingError::RemoveCurrent { version });
        }
        if !self.contains(version) {
            return Ok(false);
        }
        Arc::make_mut(&mut self.inner).keys.remove(&version);
        Ok(true)
    }

    /// The version of the key that seals.
    pub fn current_version(&self) -> u32 {
        self.inner.current
    }

    /// The versions in the ring, in increasing order.
    pub fn versions(&self) -> impl Iterator<Item = u32> + '_ {
        self.inner.keys.keys().copied()
    }

    /// Whether the ring has a key of `version`.
    pub fn contains(&self, version: u32) -> bool {
        self.inner.keys.contains_key(&version)
    }

    /// Generates a random key from the system's generator.
    pub fn generate_key() -> Result<SecretBox<[u8; KEY_BYTES]>, KeyRingError> {
        let mut filled = Err(KeyRingError::Random);
        let key = SecretBox::init_with_mut(|key: &mut [u8; KEY_BYTES]| {
            filled = aws_lc_rs::rand::fill(key).map_err(|_| KeyRingError::Random);
        });
        filled.map(|()| key)
    }

    /// Writes a key as unpadded base64url, as a key-ring entry takes it: for tools that
    /// generate keys for a secret store.
    pub fn encode_key(key: &SecretBox<[u8; KEY_BYTES]>) -> SecretString {
        SecretString::from(URL_SAFE_NO_PAD.encode(key.expose_secret()))
    }

    /// Parses a key-ring specification (see the [type's documentation](KeyRing)).
    pub fn parse(spec: &SecretString) -> Result<KeyRing, KeyRingError> {
        let mut ring: Option<KeyRing> = None;
        let entries = spec
            .expose_secret()
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|entry| !entry.is_empty());
        for (index, entry) in entries.enumerate() {
            let position = index + 1;
            let (version, key) = entry
                .split_once(':')
                .ok_or(KeyRingError::InvalidEntry { position })?;
            let version =
                parse_version(version).ok_or(KeyRingError::InvalidVersion { position })?;
            let key = decode_key(version, key)?;
            match &mut ring {
                None => ring = Some(KeyRing::new(version, key)),
                Some(ring) => ring.add(version, key)?,
            }
        }
        ring.ok_or(KeyRingError::Empty)
    }

    /// Loads a key ring from the environment variable `name`, or from the file that
    /// `name_FILE` names, as [`secret_from_env`] reads secrets; the value is a key-ring
    /// specification (see the [type's documentation](KeyRing)).
    ///
    /// ```no_run
    /// use portcullis_runtime::secrets::{KeyRing, install_key_ring};
    ///
    /// // ORDERS_FIELD_KEYS="2:<base64 key>,1:<base64 key>", or
    /// // ORDERS_FIELD_KEYS_FILE=/run/secrets/orders_field_keys
    /// install_key_ring(KeyRing::from_env("ORDERS_FIELD_KEYS")?)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_env(name: &str) -> Result<KeyRing, KeyRingError> {
        let ring = KeyRing::parse(&secret_from_env(name)?)?;
        tracing::info!(
            target: "portcullis::secrets",
            variable = %name,
            current = ring.current_version(),
            versions = ?ring.versions().collect::<Vec<_>>(),
            "field key ring loaded"
        );
        Ok(ring)
    }

    /// Seals `value`, encoded as JSON, with the current key, for `context` (any string
    /// naming where the value belongs, such as `"orders.delivery_address"`, or
    /// `"orders/42/delivery_address"` to bind it to one record too). Opening needs the
    /// same context. Each call draws a new nonce, so equal values seal differently.
    pub fn seal<T: Serialize + ?Sized>(
        &self,
        value: &T,
        context: &str,
    ) -> Result<String, SealError> {
        let plaintext = serde_json::to_vec(value)
            .map(secrecy::zeroize::Zeroizing::new)
            .map_err(|_| SealError::Encode {
                type_name: std::any::type_name::<T>(),
            })?;
        self.seal_bytes(&plaintext, context)
    }

    /// Opens a value sealed by [`KeyRing::seal`] for `context`.
    pub fn open<T: DeserializeOwned>(&self, sealed: &str, context: &str) -> Result<T, SealError> {
        let plaintext = self.open_bytes(sealed, context)?;
        serde_json::from_slice(plaintext.expose_secret()).map_err(|error| SealError::Decode {
            type_name: std::any::type_name::<T>(),
            // The category only: serde_json's message can quote the plaintext.
            category: match error.classify() {
                serde_json::error::Category::Io => "io",
                serde_json::error::Category::Syntax => "syntax",
                serde_json::error::Category::Data => "data",
                serde_json::error::Category::Eof => "eof",
            },
        })
    }

    /// Seals raw bytes with the current key, for `context`.
    pub fn seal_bytes(&self, plaintext: &[u8], context: &str) -> Result<String, SealError> {
        let version = self.inner.current;
        match self.inner.keys.get(&version) {
            Some(key) => envelope::seal(key, version, context, plaintext),
            // The current version is always in the ring.
            None => Err(SealError::UnknownKeyVersion { version }),
        }
    }

    /// Opens bytes sealed by [`KeyRing::seal_bytes`] for `context`: all of them, or an
    /// error.
    pub fn open_bytes(&self, sealed: &str, context: &str) -> Result<SecretSlice<u8>, SealError> {
        let opened = envelope::parse(sealed).and_then(|envelope| {
            let key =
                self.inner
                    .keys
                    .get(&envelope.version)
                    .ok_or(SealError::UnknownKeyVersion {
                        version: envelope.version,
                    })?;
            envelope::open(key, &envelope, context)
        });
        match opened {
            Ok(plaintext) => Ok(SecretSlice::from(plaintext.to_vec())),
            Err(error) => {
                tracing::debug!(
                    target: "portcullis::secrets",
                    context,
                    %error,
                    "a sealed value could not be opened"
                );
                Err(error)
            }
        }
    }

    /// The version of the key that sealed `sealed`, from its text alone (nothing is
    /// authenticated): for a job that re-seals values whose version is not current.
    pub fn version_of(sealed: &str) -> Result<u32, SealError> {
        envelope::parse(sealed).map(|envelope| envelope.version)
    }
}

/// Decodes one key of a specification: either base64 alphabet, exactly 32 bytes.
fn decode_key(version: u32, text: &str) -> Result<SecretBox<[u8; KEY_BYTES]>, KeyRingError> {
    // The alphabets share all but two characters; a key using both is refused.
    let engine = if text.contains(['+', '/']) {
        &STANDARD_ANY_PAD
    } else {
        &URL_SAFE_ANY_PAD
    };
    let bytes = engine
        .decode(text)
        .map(secrecy::zeroize::Zeroizing::new)
        .map_err(|_| KeyRingError::InvalidKey { version })?;
    if bytes.len() != KEY_BYTES {
        return Err(KeyRingError::KeyLength {
            version,
            found: bytes.len(),
        });
    }
    Ok(SecretBox::init_with_mut(|key: &mut [u8; KEY_BYTES]| {
        key.copy_from_slice(&bytes);
    }))
}
