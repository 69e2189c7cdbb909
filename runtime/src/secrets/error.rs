//! Why a secret could not be loaded, a key ring built, or a value sealed or opened.
//!
//! No error here carries a secret: they name variables, files, positions and key
//! versions, never values, and wrap no foreign error whose message could quote one.

use std::io;
use std::path::PathBuf;

use super::encoding::SecretEncoding;

/// Why a secret could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Neither the variable nor its `_FILE` companion is set.
    #[error("the secret is not configured: set {variable} or {file_variable}")]
    Missing {
        /// The variable holding the value itself.
        variable: String,
        /// The variable naming a file that holds the value.
        file_variable: String,
    },
    /// Both the variable and its `_FILE` companion are set.
    #[error("both {variable} and {file_variable} are set: keep one of them")]
    Ambiguous {
        /// The variable holding the value itself.
        variable: String,
        /// The variable naming a file that holds the value.
        file_variable: String,
    },
    /// A variable's value is not valid Unicode.
    #[error("the environment variable {variable} is not valid Unicode")]
    NotUnicode {
        /// The variable.
        variable: String,
    },
    /// A variable is set but empty.
    #[error("the environment variable {variable} is empty")]
    EmptyVariable {
        /// The variable.
        variable: String,
    },
    /// The secret file could not be read.
    #[error("the secret file {} (from {file_variable}) could not be read: {reason}", path.display())]
    Unreadable {
        /// The variable that named the file.
        file_variable: String,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: io::ErrorKind,
    },
    /// The secret file is larger than [`MAX_SECRET_FILE_BYTES`](super::MAX_SECRET_FILE_BYTES).
    #[error(
        "the secret file {} (from {file_variable}) is larger than {limit} bytes: \
         is it the right file?",
        path.display()
    )]
    FileTooLarge {
        /// The variable that named the file.
        file_variable: String,
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: usize,
    },
    /// The secret file is not UTF-8 text.
    #[error("the secret file {} (from {file_variable}) is not UTF-8 text", path.display())]
    FileNotUnicode {
        /// The variable that named the file.
        file_variable: String,
        /// The file.
        path: PathBuf,
    },
    /// The secret file is empty, or holds only line breaks.
    #[error("the secret file {} (from {file_variable}) is empty", path.display())]
    EmptyFile {
        /// The variable that named the file.
        file_variable: String,
        /// The file.
        path: PathBuf,
    },
    /// The secret is not in the expected encoding.
    #[error("the secret from {origin} is not valid {expected}")]
    Encoding {
        /// Where the secret came from: a variable, or a file and the variable naming it.
        origin: String,
        /// The encoding expected.
        expected: SecretEncoding,
    },
}

/// Why a [`KeyRing`](super::KeyRing) could not be built, loaded or installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRingError {
    /// The key-ring specification could not be loaded.
    #[error(transparent)]
    Load(#[from] SecretError),
    /// The specification holds no key.
    #[error("the key ring holds no key: give at least one `version:base64key` entry")]
    Empty,
    /// An entry is not `version:key`.
    #[error("entry {position} of the key ring is not `version:base64key`")]
    InvalidEntry {
        /// The entry's position, from 1.
        position: usize,
    },
    /// An entry's version is not a decimal number below 2^32 without leading zeros.
    #[error(
        "entry {position} of the key ring has an invalid version: use a decimal number \
         from 0 to 4294967295, without sign or leading zeros"
    )]
    InvalidVersion {
        /// The entry's position, from 1.
        position: usize,
    },
    /// An entry's key is not base64.
    #[error(
        "the key of version {version} is not base64 (standard or URL-safe alphabet, \
         padding optional)"
    )]
    InvalidKey {
        /// The key's version.
        version: u32,
    },
    /// A key does not have 32 bytes.
    #[error("the key of version {version} has {found} bytes; field keys have exactly 32")]
    KeyLength {
        /// The key's version.
        version: u32,
        /// The length found.
        found: usize,
    },
    /// Two keys have the same version.
    #[error("the key ring has two keys of version {version}")]
    DuplicateVersion {
        /// The version.
        version: u32,
    },
    /// A version the ring does not have was named.
    #[error("the key ring has no key of version {version}")]
    UnknownVersion {
        /// The version.
        version: u32,
    },
    /// The current key cannot be removed.
    #[error("version {version} is the current key and cannot be removed")]
    RemoveCurrent {
        /// The version.
        version: u32,
    },
    /// No randomness was available to generate a key.
    #[error("the system's random number generator failed")]
    Random,
    /// A process-wide key ring is already installed.
    #[error("a key ring is already installed in this process")]
    AlreadyInstalled,
}

/// Why a value could not be sealed or opened.
///
/// Every tampered, truncated, re-keyed or moved sealed value fails with one of these;
/// none of them carries plaintext, and opening never returns part of one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// Serde needed a key ring and none was in scope or installed.
    #[error(
        "no key ring for sealed fields: call `portcullis::secrets::install_key_ring` at \
         start-up, or serialize inside `with_key_ring`"
    )]
    NoKeyRing,
    /// The sealed value is not in the `pcs1.<version>.<base64url>` format.
    #[error("the sealed value is malformed: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The value was sealed with a key version the ring does not have.
    #[error("the value was sealed with key version {version}, which the key ring does not have")]
    UnknownKeyVersion {
        /// The version recorded in the sealed value.
        version: u32,
    },
    /// Authentication failed: the value was altered, sealed with another key, or sealed for
    /// another context.
    #[error(
        "the sealed value failed authentication: it was altered, sealed with another key, \
         or sealed for another field"
    )]
    Unauthentic,
    /// The value could not be encoded before sealing.
    #[error("a value of type {type_name} could not be encoded as JSON to be sealed")]
    Encode {
        /// The value's type.
        type_name: &'static str,
    },
    /// The decrypted value is not a valid `T` (for example after a change of type).
    #[error("the sealed value opened but is not a valid {type_name} ({category} error)")]
    Decode {
        /// The expected type.
        type_name: &'static str,
        /// What kind of JSON error: `syntax`, `data` or `eof`, never the value.
        category: &'static str,
    },
    /// The plaintext is beyond what the cipher can seal under one nonce (256 GiB).
    #[error("the value is too large to be sealed")]
    TooLarge,
    /// No randomness was available for a nonce.
    #[error("the system's random number generator failed")]
    Random,
}
