//! Public keys parsed once, when they are loaded, for every algorithm they may verify.
//!
//! Parsing a key (a DER structure, or an RSA modulus and exponent) into aws-lc's
//! representation for every signature would cost about 16,000 instructions for a P-256
//! key (2% of the ECDSA check, callgrind), and for an RSA key enough that RS256 verified on
//! every request serves 17% more requests a second without it (`benches/load.sh`). A
//! first-seen token pays only for the check.

use std::sync::Arc;

use aws_lc_rs::rsa::RsaParameters;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents, VerificationAlgorithm};

use super::Algorithm;

/// A public key as it was given, before aws-lc parses it.
#[derive(Clone, Copy)]
pub(crate) enum PublicKeyBytes<'a> {
    /// An RSA key's modulus and public exponent, big-endian (a JWK's `n` and `e`).
    RsaComponents {
        /// The modulus.
        n: &'a [u8],
        /// The public exponent.
        e: &'a [u8],
    },
    /// A DER `SubjectPublicKeyInfo` (or PKCS#1 `RSAPublicKey`), an uncompressed EC point,
    /// or the 32 bytes of an Ed25519 key: what aws-lc reads for the algorithm.
    Encoded(&'a [u8]),
}

/// One key, parsed for each algorithm it may verify. Cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct ParsedKeys(Arc<[(Algorithm, ParsedPublicKey)]>);

impl ParsedKeys {
    /// `key` parsed for each of `algorithms` (public-key ones). An algorithm the key does
    /// not parse for is left out: the key verifies no signature of that algorithm.
    pub(crate) fn parse(
        key: PublicKeyBytes<'_>,
        algorithms: impl Iterator<Item = Algorithm>,
    ) -> ParsedKeys {
        let parsed: Vec<(Algorithm, ParsedPublicKey)> = algorithms
            .filter_map(|alg| Some((alg, parse_for(key, alg)?)))
            .collect();
        ParsedKeys(parsed.into())
    }

    /// The key parsed for `alg`, if it was.
    pub(crate) fn get(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        self.0
            .iter()
            .find_map(|(own, parsed)| (*own == alg).then_some(parsed))
    }
}

/// `key` parsed for `alg`, with the parameters of JWA (RFC 7518 §3.3-3.5, RFC 8037):
/// RSA moduli of 2048 to 8192 bits; fixed-size ECDSA signatures (`r || s`), never ASN.1.
fn parse_for(key: PublicKeyBytes<'_>, alg: Algorithm) -> Option<ParsedPublicKey> {
    match key {
        PublicKeyBytes::RsaComponents { n, e } => RsaPublicKeyComponents { n, e }
            .to_parsed_public_key(rsa_parameters(alg)?)
            .ok(),
        PublicKeyBytes::Encoded(bytes) => {
            ParsedPublicKey::new(verification_algorithm(alg)?, bytes).ok()
        }
    }
}

fn rsa_parameters(alg: Algorithm) -> Option<&'static RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

fn verification_algorithm(alg: Algorithm) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match alg {
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
        rsa => rsa_parameters(rsa)?,
    })
}
