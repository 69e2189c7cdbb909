//! Signing keys: loaded from a JWKS document, PEM, or an HMAC secret, each bound to the
//! algorithms its type allows.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::hmac;
use aws_lc_rs::rsa::RsaParameters;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, ED25519, ParsedPublicKey,
    VerificationAlgorithm,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretSlice};
use serde::Deserialize;

use super::jws::parse_algorithm;
use super::parsed_key::{ParsedKeys, PublicKeyBytes};
use super::{Algorithm, AuthFailure};

/// The smallest RSA modulus accepted, in bits (RFC 8725 §3.5, NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;

/// The smallest HMAC secret accepted, in bytes: the output size of SHA-256 (RFC 7518 §3.2).
pub const MIN_HMAC_BYTES: usize = 32;

/// The longest signature checked, in bytes: RSA with an 8192-bit modulus, the largest
/// the RSA algorithms accept.
const MAX_SIGNATURE_BYTES: usize = 1024;

/// The DER tag of a SEQUENCE, the first byte of every `SubjectPublicKeyInfo`.
const DER_SEQUENCE: u8 = 0x30;

/// The size of an Ed25519 public key, in bytes.
const ED25519_KEY_BYTES: usize = 32;

/// The type of a key, which decides the algorithms it may verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// RSA: RS256/384/512 and PS256/384/512.
    Rsa,
    /// EC on P-256: ES256 only.
    EcP256,
    /// EC on P-384: ES384 only.
    EcP384,
    /// Ed25519: EdDSA only.
    Ed25519,
    /// An HMAC secret of the given length: HS256, and HS384/HS512 when long enough.
    Hmac(usize),
}

impl KeyKind {
    /// Whether a key of this kind may verify `alg`. This is what stops algorithm
    /// confusion: an RSA public key is never an HMAC secret, whatever the token says.
    pub fn allows(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            KeyKind::Hmac(len) => match alg {
                HS256 => len >= 32,
                HS384 => len >= 48,
                HS512 => len >= 64,
                _ => false,
            },
            public => public.public_key_algorithms().contains(&alg),
        }
    }

    /// The public-key algorithms a key of this kind verifies (none for an HMAC secret).
    pub fn public_key_algorithms(self) -> &'static [Algorithm] {
        use Algorithm::*;
        match self {
            KeyKind::Rsa => &[RS256, RS384, RS512, PS256, PS384, PS512],
            KeyKind::EcP256 => &[ES256],
            KeyKind::EcP384 => &[ES384],
            KeyKind::Ed25519 => &[EdDSA],
            KeyKind::Hmac(_) => &[],
        }
    }

    /// Whether this kind is a shared secret.
    pub fn is_symmetric(self) -> bool {
        matches!(self, KeyKind::Hmac(_))
    }
}

/// One key that can verify token signatures.
#[derive(Clone)]
pub struct VerificationKey {
    kid: Option<String>,
    kind: KeyKind,
    alg: Option<Algorithm>,
    check: SignatureCheck,
}

/// What checks a key's signatures (aws-lc-rs), prepared when the key is loaded.
#[derive(Clone)]
enum SignatureCheck {
    /// A public key, parsed for each algorithm it may verify.
    Public(ParsedKeys),
    /// An HMAC secret, keyed for each HMAC algorithm its length allows. Shared.
    Hmac(Arc<[(Algorithm, hmac::Key)]>),
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key material, not even a public key.
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl VerificationKey {
    /// The key id.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key's type.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The one algorithm the key is published for, if it says.
    pub fn alg(&self) -> Option<Algorithm> {
        self.alg
    }

    /// Whether this key may verify a token signed with `alg`: its type allows the
    /// algorithm and, when the key names an `alg`, it is that one.
    pub fn usable_with(&self, alg: Algorithm) -> bool {
        self.kind.allows(alg) && self.alg.is_none_or(|own| own == alg)
    }

    /// A public key of `kind`, limited to `alg` when given.
    fn public(
        kid: Option<String>,
        kind: KeyKind,
        alg: Option<Algorithm>,
        key: PublicKeyBytes<'_>,
    ) -> Self {
        let algorithms = kind.public_key_algorithms().iter().copied();
        let parsed = ParsedKeys::parse(key, algorithms.filter(|a| alg.is_none_or(|own| own == *a)));
        VerificationKey {
            kid,
            kind,
            alg,
            check: SignatureCheck::Public(parsed),
        }
    }

    /// An HMAC secret (at least [`MIN_HMAC_BYTES`], checked by the caller).
    fn hmac(kid: Option<String>, secret: &[u8]) -> Self {
        let kind = KeyKind::Hmac(secret.len());
        let keys: Vec<(Algorithm, hmac::Key)> = [
            (Algorithm::HS256, hmac::HMAC_SHA256),
            (Algorithm::HS384, hmac::HMAC_SHA384),
            (Algorithm::HS512, hmac::HMAC_SHA512),
        ]
        .into_iter()
        .filter(|(alg, _)| kind.allows(*alg))
        .map(|(alg, hash)| (alg, hmac::Key::new(hash, secret)))
        .collect();
        VerificationKey {
            kid,
            kind,
            alg: None,
            check: SignatureCheck::Hmac(keys.into()),
        }
    }

    /// Checks `signature` (base64url) over `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &str, alg: Algorithm) -> bool {
        if !self.usable_with(alg) {
            return false;
        }
        // The longest signature: RSA with an 8192-bit modulus.
        let mut bytes = [0u8; MAX_SIGNATURE_BYTES];
        let Ok(len) = URL_SAFE_NO_PAD.decode_slice(signature, &mut bytes) else {
            return false;
        };
        let signature = &bytes[..len];
        match &self.check {
            // A key aws-lc did not parse for `alg` verifies nothing.
            SignatureCheck::Public(parsed) => parsed
                .get(alg)
                .is_some_and(|key| key.verify_sig(message, signature).is_ok()),
            // In constant time.
            SignatureCheck::Hmac(keys) => keys
                .iter()
                .find(|(own, _)| *own == alg)
                .is_some_and(|(_, key)| hmac::verify(key, message, signature).is_ok()),
        }
    }
}

/// Why a key could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The JWKS document is not JSON with a `keys` array.
    #[error("the JWKS document is not valid JSON with a \"keys\" array: {0}")]
    InvalidJwks(String),
    /// The PEM is not an RSA, EC or Ed25519 public key.
    #[error("the PEM is not an RSA, EC (P-256/P-384) or Ed25519 public key")]
    InvalidPem,
    /// An RSA key is too short.
    #[error("the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required")]
    WeakRsaKey {
        /// The modulus size found.
        bits: usize,
    },
    /// An HMAC secret is too short.
    #[error("the HMAC secret has {bytes} bytes; at least {MIN_HMAC_BYTES} are required")]
    WeakHmacSecret {
        /// The length found.
        bytes: usize,
    },
}

/// The signing keys of one issuer.
///
/// ```
/// use portcullis_runtime::KeySet;
///
/// let jwks = r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
///     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
/// let keys = KeySet::from_jwks_json(jwks).unwrap();
/// assert_eq!(keys.len(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<VerificationKey>,
    skipped: usize,
}

/// The members of a JWK that matter for verification.
#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

impl KeySet {
    /// An empty key set: every token fails with [`AuthFailure::NoKeys`].
    pub fn new() -> KeySet {
        KeySet::default()
    }

    /// Parses a JWKS document (RFC 7517). Keys that cannot verify signatures are skipped:
    /// encryption keys (`use: "enc"`), keys whose `key_ops` lack `verify`, symmetric
    /// (`oct`) keys, unknown key types and curves, malformed keys, and RSA keys shorter
    /// than 2048 bits.
    pub fn from_jwks_json(json: &str) -> Result<KeySet, KeyError> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let document: Document =
            serde_json::from_str(json).map_err(|error| KeyError::InvalidJwks(error.to_string()))?;
        let mut set = KeySet::new();
        for value in document.keys {
            match serde_json::from_value::<RawJwk>(value)
                .ok()
                .and_then(from_jwk)
            {
                Some(key) => set.keys.push(key),
                None => set.skipped += 1,
            }
        }
        Ok(set)
    }

    /// Adds a public key in PEM: `PUBLIC KEY` (SubjectPublicKeyInfo) or, for RSA,
    /// `RSA PUBLIC KEY` (PKCS#1).
    pub fn add_pem(&mut self, kid: Option<&str>, pem: &[u8]) -> Result<(), KeyError> {
        let (label, der) = pem_block(pem).ok_or(KeyError::InvalidPem)?;
        let kind = match label {
            "PUBLIC KEY" => public_key_kind(&der)?,
            "RSA PUBLIC KEY" => rsa_kind(&der)?.ok_or(KeyError::InvalidPem)?,
            _ => return Err(KeyError::InvalidPem),
        };
        self.keys.push(VerificationKey::public(
            kid.map(str::to_owned),
            kind,
            None,
            PublicKeyBytes::Encoded(&der),
        ));
        Ok(())
    }

    /// Adds an HMAC secret. HMAC is accepted only when configured this way, never from a
    /// JWKS document, and the secret must be at least 32 bytes.
    pub fn add_hmac(
        &mut self,
        kid: Option<&str>,
        secret: &SecretSlice<u8>,
    ) -> Result<(), KeyError> {
        let bytes = secret.expose_secret();
        if bytes.len() < MIN_HMAC_BYTES {
            return Err(KeyError::WeakHmacSecret { bytes: bytes.len() });
        }
        self.keys
            .push(VerificationKey::hmac(kid.map(str::to_owned), bytes));
        Ok(())
    }

    /// Adds every key of `other`.
    pub fn extend(&mut self, other: KeySet) {
        self.keys.extend(other.keys);
        self.skipped += other.skipped;
    }

    /// The usable keys.
    pub fn keys(&self) -> &[VerificationKey] {
        &self.keys
    }

    /// How many keys of the document were skipped as unusable.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Finds the key for a token with `kid` (if any) and algorithm `alg`.
    ///
    /// With a `kid`, only keys with that exact id are considered. Without one, the key is
    /// used only if exactly one key could verify `alg`.
    pub fn select(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<&VerificationKey, AuthFailure> {
        if self.keys.is_empty() {
            return Err(AuthFailure::NoKeys);
        }
        match kid {
            Some(kid) => {
                let mut with_kid = self
                    .keys
                    .iter()
                    .filter(|key| key.kid.as_deref() == Some(kid))
                    .peekable();
                if with_kid.peek().is_none() {
                    return Err(AuthFailure::UnknownKey);
                }
                with_kid
                    .find(|key| key.usable_with(alg))
                    .ok_or(AuthFailure::KeyAlgorithmMismatch)
            }
            None => {
                let mut usable = self.keys.iter().filter(|key| key.usable_with(alg));
                match (usable.next(), usable.next()) {
                    (Some(key), None) => Ok(key),
                    (Some(_), Some(_)) => Err(AuthFailure::AmbiguousKey),
                    (None, _) => Err(AuthFailure::KeyAlgorithmMismatch),
                }
            }
        }
    }
}

/// The label and the decoded contents of the first PEM block of `pem` (RFC 7468), if it
/// has one whose base64 decodes.
fn pem_block(pem: &[u8]) -> Option<(&str, Vec<u8>)> {
    let text = std::str::from_utf8(pem).ok()?;
    let (_, rest) = text.split_once("-----BEGIN ")?;
    let (label, rest) = rest.split_once("-----")?;
    if label.contains(['\r', '\n']) {
        return None;
    }
    let (body, _) = rest.split_once(&format!("-----END {label}-----"))?;
    let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    Some((label, STANDARD.decode(base64).ok()?))
}

/// `Some(Rsa)` when `der` is an RSA public key (SubjectPublicKeyInfo or PKCS#1) of at least
/// [`MIN_RSA_BITS`], `None` when it is not an RSA key.
fn rsa_kind(der: &[u8]) -> Result<Option<KeyKind>, KeyError> {
    let Ok(public) = aws_lc_rs::rsa::PublicKey::from_der(der) else {
        return Ok(None);
    };
    // `as_ref` is the PKCS#1 `RSAPublicKey`, whatever form the key came in.
    let bits = RsaParameters::public_modulus_len(public.as_ref())
        .map_err(|_| KeyError::InvalidPem)? as usize;
    if bits < MIN_RSA_BITS {
        return Err(KeyError::WeakRsaKey { bits });
    }
    Ok(Some(KeyKind::Rsa))
}

/// The kind of the key of a `SubjectPublicKeyInfo`: RSA, EC on P-256 or P-384, Ed25519.
fn public_key_kind(der: &[u8]) -> Result<KeyKind, KeyError> {
    if let Some(kind) = rsa_kind(der)? {
        return Ok(kind);
    }
    // aws-lc also reads a bare EC point or Ed25519 key, which a PEM public key is not.
    if der.first() != Some(&DER_SEQUENCE) || der.len() == ED25519_KEY_BYTES {
        return Err(KeyError::InvalidPem);
    }
    let candidates: [(KeyKind, &'static dyn VerificationAlgorithm); 3] = [
        (KeyKind::EcP256, &ECDSA_P256_SHA256_FIXED),
        (KeyKind::EcP384, &ECDSA_P384_SHA384_FIXED),
        (KeyKind::Ed25519, &ED25519),
    ];
    candidates
        .into_iter()
        .find(|(_, algorithm)| ParsedPublicKey::new(*algorithm, der).is_ok())
        .map(|(kind, _)| kind)
        .ok_or(KeyError::InvalidPem)
}

/// The public key of a JWK object (RSA, EC on P-256 or P-384, Ed25519), as a DPoP proof
/// carries it; `None` for any other key, or one that does not parse.
pub(crate) fn public_key_from_jwk(
    jwk: &serde_json::Map<String, serde_json::Value>,
) -> Option<VerificationKey> {
    let raw: RawJwk = serde_json::from_value(serde_json::Value::Object(jwk.clone())).ok()?;
    from_jwk(raw)
}

fn from_jwk(jwk: RawJwk) -> Option<VerificationKey> {
    if jwk.use_.as_deref().is_some_and(|use_| use_ != "sig") {
        return None;
    }
    if jwk
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
    {
        return None;
    }
    let alg = match jwk.alg.as_deref() {
        None => None,
        Some(name) => Some(parse_algorithm(name)?),
    };
    // The key's bytes as aws-lc reads them: an RSA modulus and exponent, an uncompressed EC
    // point (0x04 || x || y), the 32 bytes of an Ed25519 key.
    enum Material {
        Rsa { n: Vec<u8>, e: Vec<u8> },
        Encoded(Vec<u8>),
    }
    let (kind, material) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => {
            let modulus = URL_SAFE_NO_PAD.decode(jwk.n?).ok()?;
            let exponent = URL_SAFE_NO_PAD.decode(jwk.e?).ok()?;
            let significant = modulus.iter().skip_while(|byte| **byte == 0).count();
            if significant * 8 < MIN_RSA_BITS {
                return None;
            }
            (
                KeyKind::Rsa,
                Material::Rsa {
                    n: modulus,
                    e: exponent,
                },
            )
        }
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let (kind, size) = if crv == "P-256" {
                (KeyKind::EcP256, 32)
            } else {
                (KeyKind::EcP384, 48)
            };
            let x = URL_SAFE_NO_PAD.decode(jwk.x?).ok()?;
            let y = URL_SAFE_NO_PAD.decode(jwk.y?).ok()?;
            if (x.len(), y.len()) != (size, size) {
                return None;
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (kind, Material::Encoded(point))
        }
        ("OKP", Some("Ed25519")) => {
            let x = URL_SAFE_NO_PAD.decode(jwk.x?).ok()?;
            if x.len() != ED25519_KEY_BYTES {
                return None;
            }
            (KeyKind::Ed25519, Material::Encoded(x))
        }
        _ => return None,
    };
    if alg.is_some_and(|alg| !kind.allows(alg)) {
        return None;
    }
    let key = match &material {
        Material::Rsa { n, e } => PublicKeyBytes::RsaComponents { n, e },
        Material::Encoded(bytes) => PublicKeyBytes::Encoded(bytes),
    };
    Some(VerificationKey::public(jwk.kid, kind, alg, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn jwks(keys: &str) -> KeySet {
        KeySet::from_jwks_json(&format!(r#"{{"keys":[{keys}]}}"#)).unwrap()
    }

    #[test]
    fn skips_keys_that_cannot_verify() {
        let set = jwks(&format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","kid":"good"}},
               {{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","use":"enc"}},
               {{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","key_ops":["encrypt"]}},
               {{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","alg":"RS256"}},
               {{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}},
               {{"kty":"RSA","n":"AQAB","e":"AQAB"}},
               {{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}},
               {{"kty":"OKP","crv":"Ed448","x":"AA"}},
               {{"kty":"OKP","crv":"Ed25519","x":"AAAA"}},
               "not an object""#
        ));
        assert_eq!(set.len(), 1);
        assert_eq!(set.skipped(), 9);
        assert_eq!(set.keys()[0].kid(), Some("good"));
        assert!(KeySet::from_jwks_json("[]").is_err());
        assert!(KeySet::from_jwks_json("{\"keys\": 1}").is_err());
    }

    #[test]
    fn binds_algorithms_to_key_types() {
        assert!(KeyKind::Rsa.allows(Algorithm::PS512));
        assert!(!KeyKind::Rsa.allows(Algorithm::HS256));
        assert!(!KeyKind::EcP256.allows(Algorithm::ES384));
        assert!(!KeyKind::Ed25519.allows(Algorithm::ES256));
        assert!(KeyKind::Hmac(32).allows(Algorithm::HS256));
        assert!(!KeyKind::Hmac(32).allows(Algorithm::HS512));
        assert!(!KeyKind::Hmac(64).allows(Algorithm::RS256));
    }

    #[test]
    fn selects_by_kid_then_by_uniqueness() {
        let set = jwks(&format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","kid":"a"}},
               {{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","kid":"b","alg":"EdDSA"}}"#
        ));
        assert_eq!(
            set.select(Some("b"), Algorithm::EdDSA).unwrap().kid(),
            Some("b")
        );
        assert_eq!(
            set.select(Some("c"), Algorithm::EdDSA).unwrap_err(),
            AuthFailure::UnknownKey
        );
        assert_eq!(
            set.select(Some("a"), Algorithm::HS256).unwrap_err(),
            AuthFailure::KeyAlgorithmMismatch
        );
        assert_eq!(
            set.select(None, Algorithm::EdDSA).unwrap_err(),
            AuthFailure::AmbiguousKey
        );
        assert_eq!(
            KeySet::new().select(None, Algorithm::EdDSA).unwrap_err(),
            AuthFailure::NoKeys
        );
    }

    fn pem(label: &str, der: &[u8]) -> Vec<u8> {
        let body = STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|line| std::str::from_utf8(line).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
        .into_bytes()
    }

    /// Signs `message` with a key of `kind`, and gives the signature in base64url with the
    /// DER of its public key (SubjectPublicKeyInfo) and, for RSA, its PKCS#1 form.
    fn signed(kind: KeyKind, message: &[u8]) -> (String, Vec<u8>, Vec<u8>) {
        use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{self, KeyPair};
        let random = SystemRandom::new();
        let (signature, spki, raw): (Vec<u8>, PublicKeyX509Der<'static>, Vec<u8>) = match kind {
            KeyKind::Rsa => {
                let pair =
                    aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &random, message, &mut out)
                    .unwrap();
                let public = pair.public_key();
                (out, public.as_der().unwrap(), public.as_ref().to_vec())
            }
            KeyKind::EcP256 | KeyKind::EcP384 => {
                let signing = if kind == KeyKind::EcP256 {
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING
                } else {
                    &signature::ECDSA_P384_SHA384_FIXED_SIGNING
                };
                let pair = signature::EcdsaKeyPair::generate(signing).unwrap();
                let out = pair.sign(&random, message).unwrap().as_ref().to_vec();
                let public = pair.public_key();
                (out, public.as_der().unwrap(), public.as_ref().to_vec())
            }
            KeyKind::Ed25519 => {
                let pair = signature::Ed25519KeyPair::generate().unwrap();
                let out = pair.sign(message).as_ref().to_vec();
                let public = pair.public_key();
                (out, public.as_der().unwrap(), public.as_ref().to_vec())
            }
            KeyKind::Hmac(_) => unreachable!(),
        };
        (
            URL_SAFE_NO_PAD.encode(signature),
            spki.as_ref().to_vec(),
            raw,
        )
    }

    #[test]
    fn reads_pem_public_keys_of_every_kind() {
        let message = b"header.payload";
        let cases = [
            (KeyKind::Rsa, Algorithm::RS256),
            (KeyKind::EcP256, Algorithm::ES256),
            (KeyKind::EcP384, Algorithm::ES384),
            (KeyKind::Ed25519, Algorithm::EdDSA),
        ];
        for (kind, alg) in cases {
            let (signature, spki, raw) = signed(kind, message);
            let mut set = KeySet::new();
            set.add_pem(Some("k"), &pem("PUBLIC KEY", &spki)).unwrap();
            let key = set.select(Some("k"), alg).unwrap();
            assert_eq!(key.kind(), kind);
            assert!(key.verify(message, &signature, alg), "{kind:?}");
            assert!(!key.verify(b"header.other", &signature, alg), "{kind:?}");
            // A bare key (an EC point, Ed25519's 32 bytes) is not a PEM public key.
            if kind != KeyKind::Rsa {
                assert_eq!(
                    set.add_pem(None, &pem("PUBLIC KEY", &raw)),
                    Err(KeyError::InvalidPem),
                    "{kind:?}"
                );
            }
            assert_eq!(
                set.add_pem(None, &pem("RSA PUBLIC KEY", &spki[..spki.len() - 1])),
                Err(KeyError::InvalidPem)
            );
            if kind == KeyKind::Rsa {
                // PKCS#1 `RSAPublicKey`.
                set.add_pem(Some("pkcs1"), &pem("RSA PUBLIC KEY", &raw))
                    .unwrap();
                let key = set.select(Some("pkcs1"), alg).unwrap();
                assert!(key.verify(message, &signature, alg));
            } else {
                assert_eq!(
                    set.add_pem(None, &pem("RSA PUBLIC KEY", &spki)),
                    Err(KeyError::InvalidPem),
                    "{kind:?}"
                );
            }
        }
        let mut set = KeySet::new();
        let (_, spki, _) = signed(KeyKind::EcP256, message);
        for bad in [
            pem("CERTIFICATE", &spki),
            pem("PRIVATE KEY", &spki),
            pem("PUBLIC KEY", b"not a key"),
            b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n".to_vec(),
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n".to_vec(),
            b"no PEM here".to_vec(),
            vec![0xff, 0xfe],
        ] {
            assert_eq!(set.add_pem(None, &bad), Err(KeyError::InvalidPem));
        }
        assert!(set.is_empty());
    }

    #[test]
    fn refuses_short_rsa_keys_in_pem() {
        use aws_lc_rs::encoding::AsDer;
        let mut modulus = vec![0xc5; 128];
        modulus[127] = 0x01;
        let components = aws_lc_rs::rsa::PublicKeyComponents {
            n: modulus,
            e: vec![1, 0, 1],
        };
        let spki = components.as_der().unwrap();
        assert_eq!(
            KeySet::new().add_pem(None, &pem("PUBLIC KEY", spki.as_ref())),
            Err(KeyError::WeakRsaKey { bits: 1024 })
        );
    }

    #[test]
    fn checks_hmac_signatures_with_the_secret() {
        use aws_lc_rs::hmac;
        let secret = vec![0x5a; 64];
        let message = b"header.payload";
        let mut set = KeySet::new();
        set.add_hmac(Some("h"), &SecretSlice::from(secret.clone()))
            .unwrap();
        let key = &set.keys()[0];
        for (alg, hash) in [
            (Algorithm::HS256, hmac::HMAC_SHA256),
            (Algorithm::HS384, hmac::HMAC_SHA384),
            (Algorithm::HS512, hmac::HMAC_SHA512),
        ] {
            let tag = hmac::sign(&hmac::Key::new(hash, &secret), message);
            let signature = URL_SAFE_NO_PAD.encode(tag.as_ref());
            assert!(key.verify(message, &signature, alg), "{alg}");
            assert!(!key.verify(b"header.other", &signature, alg), "{alg}");
            let mut tampered = tag.as_ref().to_vec();
            tampered[0] ^= 1;
            assert!(!key.verify(message, &URL_SAFE_NO_PAD.encode(tampered), alg));
            // Another algorithm's tag of the same message.
            let other = if alg == Algorithm::HS256 {
                Algorithm::HS512
            } else {
                Algorithm::HS256
            };
            assert!(!key.verify(message, &signature, other), "{alg}");
        }
        assert!(!key.verify(message, "not base64url!", Algorithm::HS256));
        assert!(!key.verify(message, &"A".repeat(2000), Algorithm::HS256));
        // A 32-byte secret verifies HS256 only.
        let mut short = KeySet::new();
        short
            .add_hmac(None, &SecretSlice::from(secret[..32].to_vec()))
            .unwrap();
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA384, &secret[..32]), message);
        assert!(!short.keys()[0].verify(
            message,
            &URL_SAFE_NO_PAD.encode(tag.as_ref()),
            Algorithm::HS384
        ));
    }

    #[test]
    fn refuses_weak_hmac_secrets() {
        let mut set = KeySet::new();
        let weak = SecretSlice::from(b"short".to_vec());
        assert_eq!(
            set.add_hmac(None, &weak),
            Err(KeyError::WeakHmacSecret { bytes: 5 })
        );
        let strong = SecretSlice::from(vec![7u8; 48]);
        set.add_hmac(Some("h"), &strong).unwrap();
        assert!(set.keys()[0].usable_with(Algorithm::HS384));
        assert!(!format!("{set:?}").contains('7'));
    }
}
