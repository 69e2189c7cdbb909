//! Public keys parsed once, when they are loaded, for every algorithm they may verify.
//!
//! `jsonwebtoken::crypto::verify` parses the key (a DER structure, or an RSA modulus and
//! exponent) into aws-lc's representation on every call: about 16,000 instructions for a
//! P-256 key (2% of the ECDSA check, callgrind), and for an RSA key enough that RS256
//! verified on every request serves 17% more requests a second once it is gone
//! (`benches/load.sh`). A first-seen token pays only for the check.

use std::sync::Arc;

use aws_lc_rs::rsa::RsaParameters;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents, VerificationAlgorithm};
use jsonwebtoken::Algorithm;
use jsonwebtoken::{DecodingKey, DecodingKeyKind};

/// One key, parsed for each algorithm it may verify. Cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct ParsedKeys(Arc<[(Algorithm, ParsedPublicKey)]>);

impl ParsedKeys {
    /// `key` parsed for each of `algorithms` (public-key ones). An algorithm the key does
    /// not parse for is left out; verifying with it then falls back to jsonwebtoken, which
    /// refuses the key in the same way.
    pub(crate) fn parse(
        key: &DecodingKey,
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

/// `key` parsed for `alg`, with the very parameters jsonwebtoken verifies it with (RSA
/// moduli of 2048 to 8192 bits; fixed-size ECDSA signatures, never ASN.1).
fn parse_for(key: &DecodingKey, alg: Algorithm) -> Option<ParsedPublicKey> {
    match key.kind() {
        DecodingKeyKind::RsaModulusExponent { n, e } => {
            let components = RsaPublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            };
            components.to_parsed_public_key(rsa_parameters(alg)?).ok()
        }
        DecodingKeyKind::SecretOrDer(der) => {
            ParsedPublicKey::new(verification_algorithm(alg)?, der).ok()
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
