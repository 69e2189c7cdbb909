//! Why a connection to Redis could not be made, told without the URL's password.

/// Redis could not be reached, or its settings are wrong. The text never holds a password:
/// it names the kind of failure and Redis' own words, from which any password given in
/// the URL is removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedisConnectError {
    /// No URL (nor Cluster node) was given.
    #[error("no Redis URL was given")]
    NoUrl,
    /// The key prefix holds `{` or `}`, which would change the hash slots of the keys.
    #[error("the Redis key prefix {0:?} must not contain `{{` or `}}`")]
    InvalidPrefix(String),
    /// A URL could not be read.
    #[error("a Redis URL could not be read: {0}")]
    InvalidUrl(String),
    /// The root certificates could not be read or used.
    #[error("the Redis root certificates could not be used: {0}")]
    Certificates(String),
    /// Redis did not answer, refused the credentials, or the TLS handshake failed.
    #[error("Redis could not be reached: {0}")]
    Unreachable(String),
}

/// Redis' words for `error`, with no URL in them (redis errors carry none).
pub(crate) fn describe(error: &::redis::RedisError) -> String {
    error.to_string()
}

/// `text` with every occurrence of each secret replaced.
pub(crate) fn scrubbed(text: String, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .fold(text, |text, secret| {
            text.replace(secret.as_str(), "<redacted>")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_removed_from_messages() {
        let text = scrubbed(
            "auth failed for s3cret at redis://u:s3cret@h/".to_owned(),
            &["s3cret".to_owned(), String::new()],
        );
        assert_eq!(
            text,
            "auth failed for <redacted> at redis://u:<redacted>@h/"
        );
    }
}
