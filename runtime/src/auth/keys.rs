//! Signing keys: loaded from a JWKS document, PEM, or an HMAC secret, each bound to the
//! algorithms its type allows.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use secrecy::{ExposeSecret, SecretSlice};
use serde::Deserialize;

use super::AuthFailure;
use super::jws::parse_algorithm;
use super::parsed_key::ParsedKeys;

/// The smallest RSA modulus accepted, in bits (RFC 8725 §3.5, NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;

/// The smallest HMAC secret accepted, in bytes: the output size of SHA-256 (RFC 7518 §3.2).
pub const MIN_HMAC_BYTES: usize = 32;

/// The longest signature checked, in bytes: RSA with an 8192-bit modulus, the largest
/// the RSA algorithms accept.
const MAX_SIGNATURE_BYTES: usize = 1024;

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
    key: DecodingKey,
    /// `key`, parsed for each asymmetric algorithm it may verify.
    parsed: ParsedKeys,
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

    /// A key of `kind`, limited to `alg` when given.
    fn new(kid: Option<String>, kind: KeyKind, alg: Option<Algorithm>, key: DecodingKey) -> Self {
        let algorithms = kind.public_key_algorithms().iter().copied();
        let parsed =
            ParsedKeys::parse(&key, algorithms.filter(|a| alg.is_none_or(|own| own == *a)));
        VerificationKey {
            kid,
            kind,
            alg,
            key,
            parsed,
        }
    }

    /// Checks `signature` (base64url) over `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &str, alg: Algorithm) -> bool {
        if !self.usable_with(alg) {
            return false;
        }
        match self.parsed.get(alg) {
            Some(parsed) => {
                // The longest signature: RSA with an 8192-bit modulus.
                let mut bytes = [0u8; MAX_SIGNATURE_BYTES];
                match URL_SAFE_NO_PAD.decode_slice(signature, &mut bytes) {
                    Ok(len) => parsed.verify_sig(message, &bytes[..len]).is_ok(),
                    Err(_) => false,
                }
            }
            // HMAC secrets, and keys aws-lc did not parse (which it refuses here too).
            None => {
                jsonwebtoken::crypto::verify(signature, message, &self.key, alg).unwrap_or(false)
            }
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

    /// Adds a public key in PEM (SubjectPublicKeyInfo, or PKCS#1 for RSA).
    pub fn add_pem(&mut self, kid: Option<&str>, pem: &[u8]) -> Result<(), KeyError> {
        let kid = kid.map(str::to_owned);
        let (kind, key) = if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            let der = key.try_get_as_bytes().map_err(|_| KeyError::InvalidPem)?;
            let public =
                aws_lc_rs::rsa::PublicKey::from_der(der).map_err(|_| KeyError::InvalidPem)?;
            let bits = public.modulus_len() * 8;
            if bits < MIN_RSA_BITS {
                return Err(KeyError::WeakRsaKey { bits });
            }
            (KeyKind::Rsa, key)
        } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            let point = key.try_get_as_bytes().map_err(|_| KeyError::InvalidPem)?;
            let kind = match point.len() {
                65 => KeyKind::EcP256,
                97 => KeyKind::EcP384,
                _ => return Err(KeyError::InvalidPem),
            };
            (kind, key)
        } else if let Ok(key) = DecodingKey::from_ed_pem(pem) {
            (KeyKind::Ed25519, key)
        } else {
            return Err(KeyError::InvalidPem);
        };
        self.keys.push(VerificationKey::new(kid, kind, None, key));
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
        self.keys.push(VerificationKey::new(
            kid.map(str::to_owned),
            KeyKind::Hmac(bytes.len()),
            None,
            DecodingKey::from_secret(bytes),
        ));
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
    let (kind, key) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => {
            let (n, e) = (jwk.n?, jwk.e?);
            let modulus = URL_SAFE_NO_PAD.decode(&n).ok()?;
            let significant = modulus.iter().skip_while(|byte| **byte == 0).count();
            if significant * 8 < MIN_RSA_BITS {
                return None;
            }
            (KeyKind::Rsa, DecodingKey::from_rsa_components(&n, &e).ok()?)
        }
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let (kind, size) = if crv == "P-256" {
                (KeyKind::EcP256, 32)
            } else {
                (KeyKind::EcP384, 48)
            };
            let (x, y) = (jwk.x?, jwk.y?);
            let sizes = (
                URL_SAFE_NO_PAD.decode(&x).ok()?.len(),
                URL_SAFE_NO_PAD.decode(&y).ok()?.len(),
            );
            if sizes != (size, size) {
                return None;
            }
            (kind, DecodingKey::from_ec_components(&x, &y).ok()?)
        }
        ("OKP", Some("Ed25519")) => {
            let x = jwk.x?;
            if URL_SAFE_NO_PAD.decode(&x).ok()?.len() != 32 {
                return None;
            }
            (KeyKind::Ed25519, DecodingKey::from_ed_components(&x).ok()?)
        }
        _ => return None,
    };
    if alg.is_some_and(|alg| !kind.allows(alg)) {
        return None;
    }
    Some(VerificationKey::new(jwk.kid, kind, alg, key))
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
