//! Random identifiers: token ids, opaque tokens, secrets.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::DevError;

/// `bytes` random bytes, base64url-encoded.
pub(crate) fn random_id(bytes: usize) -> Result<String, DevError> {
    let mut buffer = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buffer)
        .map_err(|_| DevError::KeyGeneration)?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}
