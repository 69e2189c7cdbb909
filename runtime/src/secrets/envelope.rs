//! The sealed format, `pcs1.<key version>.<base64url(nonce || ciphertext || tag)>`, and
//! the AEAD that fills it.
//!
//! The cipher is XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`). Its 192-bit nonces
//! can be drawn at random for every seal with no practical risk of a repeat, whereas
//! AES-256-GCM's 96-bit nonces allow only about 2^32 random nonces per key before a
//! collision becomes a real risk, and a repeated nonce breaks GCM (its authentication key
//! leaks). Stored fields are sealed again on every write for years, so a nonce that needs
//! no counter and no bookkeeping is worth the one extra hash (HChaCha20). It is also
//! constant time in software, without depending on AES instructions.
//!
//! This is the one algorithm not taken from aws-lc-rs, which has ChaCha20-Poly1305 with
//! 96-bit nonces only (the same limit as AES-GCM's). The format is fixed: values sealed by
//! any build open with every later one (`tests/secrets.rs`, `stored_values_keep_opening`).
//!
//! The associated data is `pcs1.<key version>.<context>`: the version and the context are
//! authenticated, so a value whose version was edited, or that was moved to a field with
//! another context, fails to open.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretBox};

use super::SealError;

/// The size of a field key, in bytes (256 bits).
pub const KEY_BYTES: usize = 32;

/// The first field of every sealed value: the format and its version.
pub const FORMAT_PREFIX: &str = "pcs1";

/// The size of a nonce, in bytes (XChaCha20-Poly1305).
pub const NONCE_BYTES: usize = 24;

/// The size of an authentication tag, in bytes (Poly1305).
pub const TAG_BYTES: usize = 16;

/// The longest decimal key version (`u32::MAX` has 10 digits).
const MAX_VERSION_DIGITS: usize = 10;

/// A sealed value split into its fields; nothing is checked but the syntax.
#[derive(Debug)]
pub(crate) struct Envelope {
    /// The key version recorded.
    pub(crate) version: u32,
    /// `nonce || ciphertext || tag`.
    pub(crate) payload: Vec<u8>,
}

/// Parses a canonical decimal version: digits only, no sign, no leading zero, below 2^32.
/// One version has one spelling, so a sealed value has exactly one valid text.
pub(crate) fn parse_version(text: &str) -> Option<u32> {
    let canonical = !text.is_empty()
        && text.len() <= MAX_VERSION_DIGITS
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

/// Splits `sealed` into its version and payload.
pub(crate) fn parse(sealed: &str) -> Result<Envelope, SealError> {
    let malformed = |reason| SealError::Malformed { reason };
    let Some(rest) = sealed
        .strip_prefix(FORMAT_PREFIX)
        .and_then(|rest| rest.strip_prefix('.'))
    else {
        return Err(malformed(if looks_like_other_format(sealed) {
            "it is in another version of the format; this build reads `pcs1.` values"
        } else {
            "it does not start with `pcs1.`"
        }));
    };
    let (version, payload) = rest
        .split_once('.')
        .ok_or(malformed("it has no key version"))?;
    let version = parse_version(version).ok_or(malformed(
        "its key version is not a decimal number without leading zeros",
    ))?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| malformed("its payload is not unpadded base64url"))?;
    if payload.len() < NONCE_BYTES + TAG_BYTES {
        return Err(malformed("its payload is too short"));
    }
    Ok(Envelope { version, payload })
}

/// `pcs2.`, `pcs10.`: a sealed value of a format this build does not know.
fn looks_like_other_format(sealed: &str) -> bool {
    sealed
        .strip_prefix("pcs")
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(number, _)| parse_version(number).is_some())
}

/// The associated data: the format, the key version and the context.
fn associated_data(version: u32, context: &str) -> Vec<u8> {
    format!("{FORMAT_PREFIX}.{version}.{context}").into_bytes()
}

fn cipher(key: &SecretBox<[u8; KEY_BYTES]>) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(Key::from_slice(key.expose_secret()))
}

/// Seals `plaintext` with `key` of `version`, for `context`, under a fresh random nonce.
pub(crate) fn seal(
    key: &SecretBox<[u8; KEY_BYTES]>,
    version: u32,
    context: &str,
    plaintext: &[u8],
) -> Result<String, SealError> {
    let mut nonce = [0u8; NONCE_BYTES];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError::Random)?;
    let aad = associated_data(version, context);
    let sealed = cipher(key)
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        // Only a plaintext of more than 256 GiB fails.
        .map_err(|_| SealError::TooLarge)?;
    let mut payload = Vec::with_capacity(NONCE_BYTES + sealed.len());
    payload.extend_from_slice(&nonce);
    payload.extend_from_slice(&sealed);
    Ok(format!(
        "{FORMAT_PREFIX}.{version}.{}",
        URL_SAFE_NO_PAD.encode(&payload)
    ))
}

/// Opens an envelope with `key`, for `context`: the whole plaintext, or nothing.
pub(crate) fn open(
    key: &SecretBox<[u8; KEY_BYTES]>,
    envelope: &Envelope,
    context: &str,
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let (nonce, sealed) = envelope.payload.split_at(NONCE_BYTES);
    let aad = associated_data(envelope.version, context);
    cipher(key)
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| SealError::Unauthentic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_have_one_spelling() {
        assert_eq!(parse_version("0"), Some(0));
        assert_eq!(parse_version("7"), Some(7));
        assert_eq!(parse_version("4294967295"), Some(u32::MAX));
        for bad in [
            "",
            "07",
            "00",
            "+7",
            "-7",
            " 7",
            "7 ",
            "4294967296",
            "1e3",
            "٣",
        ] {
            assert_eq!(parse_version(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parses_only_the_format() {
        let payload = URL_SAFE_NO_PAD.encode([0u8; NONCE_BYTES + TAG_BYTES]);
        let envelope = parse(&format!("pcs1.12.{payload}")).unwrap();
        assert_eq!(envelope.version, 12);
        assert_eq!(envelope.payload.len(), NONCE_BYTES + TAG_BYTES);

        let short = URL_SAFE_NO_PAD.encode([0u8; NONCE_BYTES + TAG_BYTES - 1]);
        for bad in [
            String::new(),
            "pcs1".into(),
            "pcs1.".into(),
            format!("pcs1.12{payload}"),
            format!("PCS1.12.{payload}"),
            format!("pcs2.12.{payload}"),
            format!("pcs1.012.{payload}"),
            format!("pcs1..{payload}"),
            format!("pcs1.12.{payload}="),
            format!("pcs1.12.{payload}."),
            format!("pcs1.12.{}", payload.replace('A', "+")),
            format!("pcs1.12.{short}"),
        ] {
            assert!(
                matches!(parse(&bad), Err(SealError::Malformed { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse("pcs2.1.AAAA").unwrap_err(),
            SealError::Malformed {
                reason: "it is in another version of the format; this build reads `pcs1.` values"
            }
        );
    }
}
