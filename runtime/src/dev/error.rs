//! Why the development issuer could not do what it was asked.

/// Why the development issuer could not start, rotate, sign or register a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DevError {
    /// The system's random generator or key generation failed.
    #[error("could not generate a signing key")]
    KeyGeneration,
    /// A token could not be signed.
    #[error("could not sign a token")]
    Signing,
    /// As many opaque tokens as the issuer keeps are alive
    /// ([`MAX_OPAQUE_TOKENS`](super::MAX_OPAQUE_TOKENS)).
    #[error("too many opaque tokens are alive; try again when some have expired")]
    TooManyTokens,
    /// A client registration was refused.
    #[error("client {client_id:?} refused: {reason}")]
    InvalidClient {
        /// The client id, as given.
        client_id: String,
        /// What is wrong with the registration.
        reason: String,
    },
}
