//! The JWS signature algorithms Portcullis verifies, as its own type: a new major release
//! of a JOSE library is not a breaking change of Portcullis' API.

use std::fmt;
use std::str::FromStr;

/// A JWS signature algorithm (RFC 7518 §3, RFC 8037 §3.1), by its JWA name.
///
/// The ones Portcullis verifies: HMAC with SHA-2 (`HS*`, only with a configured secret),
/// RSA PKCS#1 v1.5 (`RS*`) and PSS (`PS*`) with a modulus of 2048 to 8192 bits, ECDSA on
/// P-256 and P-384 (`ES256`, `ES384`), and Ed25519 (`EdDSA`). `none` is not one of them.
///
/// ```
/// use portcullis_runtime::auth::Algorithm;
///
/// assert_eq!("ES256".parse::<Algorithm>(), Ok(Algorithm::ES256));
/// assert_eq!(Algorithm::EdDSA.to_string(), "EdDSA");
/// assert!("none".parse::<Algorithm>().is_err());
/// assert!("es256".parse::<Algorithm>().is_err()); // JWA names are case-sensitive
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 (MGF1 with SHA-256).
    PS256,
    /// RSASSA-PSS with SHA-384 (MGF1 with SHA-384).
    PS384,
    /// RSASSA-PSS with SHA-512 (MGF1 with SHA-512).
    PS512,
    /// EdDSA with Ed25519.
    EdDSA,
}

impl Algorithm {
    /// Every algorithm, in the order of the enum.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::EdDSA,
    ];

    /// The JWA name, as in a JWS header's `alg`.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// The algorithm named exactly `name` (JWA names are case-sensitive), if Portcullis
    /// verifies it.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|algorithm| algorithm.name() == name)
    }

    /// Whether this is an HMAC algorithm (a shared secret).
    pub const fn is_hmac(self) -> bool {
        matches!(self, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of the [`Algorithm`]s Portcullis verifies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a JWS algorithm Portcullis verifies")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(name: &str) -> Result<Algorithm, UnknownAlgorithm> {
        Algorithm::from_name(name).ok_or_else(|| UnknownAlgorithm(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for algorithm in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(algorithm.name()), Some(algorithm));
            assert_eq!(format!("{algorithm:?}"), algorithm.name());
            assert_eq!(
                Algorithm::from_name(&algorithm.name().to_ascii_lowercase()),
                None
            );
        }
        for unknown in ["", "none", "ES512", "RS1", "HS256 ", "Ed25519"] {
            assert_eq!(Algorithm::from_name(unknown), None, "{unknown:?}");
        }
        assert_eq!(
            Algorithm::ALL.iter().filter(|a| a.is_hmac()).count(),
            3,
            "HS256/384/512"
        );
    }
}
