//! How a binary secret, such as a key, is written in its variable or file.

use std::fmt;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use secrecy::zeroize::Zeroizing;

const INDIFFERENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);

/// Standard base64, padding optional.
pub(crate) const STANDARD_ANY_PAD: GeneralPurpose =
    GeneralPurpose::new(&alphabet::STANDARD, INDIFFERENT);

/// URL-safe base64, padding optional.
pub(crate) const URL_SAFE_ANY_PAD: GeneralPurpose =
    GeneralPurpose::new(&alphabet::URL_SAFE, INDIFFERENT);

/// How a binary secret, such as a key, is written in its variable or file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecretEncoding {
    /// Base64 with the standard alphabet (`+` and `/`), padding optional: what
    /// `openssl rand -base64 32` prints.
    Base64,
    /// Base64 with the URL-safe alphabet (`-` and `_`), padding optional: what JWKs and
    /// `openssl rand -base64 32 | tr '+/' '-_'` use.
    Base64Url,
}

impl fmt::Display for SecretEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretEncoding::Base64 => "base64 (standard alphabet with + and /, padding optional)",
            SecretEncoding::Base64Url => {
                "base64url (URL-safe alphabet with - and _, padding optional)"
            }
        })
    }
}

impl SecretEncoding {
    /// Decodes `text`. The decoder's error is dropped: it can quote a byte of the input.
    pub(crate) fn decode(self, text: &str) -> Option<Zeroizing<Vec<u8>>> {
        let engine = match self {
            SecretEncoding::Base64 => &STANDARD_ANY_PAD,
            SecretEncoding::Base64Url => &URL_SAFE_ANY_PAD,
        };
        engine.decode(text).ok().map(Zeroizing::new)
    }
}
