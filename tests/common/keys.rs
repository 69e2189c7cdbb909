//! Signing keys of every supported type, for tests that sign tokens by hand.

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use super::b64;

/// A private key and what a verifier needs of it.
pub struct TestKey {
    pub kid: String,
    encoding: EncodingKey,
    public_der: Vec<u8>,
    jwk: Value,
}

impl TestKey {
    /// An RSA key of `bits` bits.
    pub fn rsa(kid: &str, bits: aws_lc_rs::rsa::KeySize) -> TestKey {
        let pair = aws_lc_rs::rsa::KeyPair::generate(bits).unwrap();
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
        let public = pair.public_key();
        let public_der = AsDer::<PublicKeyX509Der>::as_der(public)
            .unwrap()
            .as_ref()
            .to_vec();
        let components = aws_lc_rs::signature::RsaPublicKeyComponents::<Vec<u8>>::from(public);
        let jwk =
            json!({"kty": "RSA", "kid": kid, "n": b64(&components.n), "e": b64(&components.e)});
        let pkcs1 = pkcs8_private_key(pkcs8.as_ref());
        TestKey {
            kid: kid.into(),
            encoding: EncodingKey::from_rsa_der(pkcs1),
            public_der,
            jwk,
        }
    }

    /// An EC key on P-256 (`p384 = false`) or P-384.
    pub fn ec(kid: &str, p384: bool) -> TestKey {
        let (alg, crv, size) = if p384 {
            (&ECDSA_P384_SHA384_FIXED_SIGNING, "P-384", 48)
        } else {
            (&ECDSA_P256_SHA256_FIXED_SIGNING, "P-256", 32)
        };
        let pair = EcdsaKeyPair::generate(alg).unwrap();
        let pkcs8 = pair.to_pkcs8v1().unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({"kty": "EC", "crv": crv, "kid": kid, "x": b64(&point[1..1 + size]), "y": b64(&point[1 + size..])});
        let public_der = AsDer::<PublicKeyX509Der>::as_der(pair.public_key())
            .unwrap()
            .as_ref()
            .to_vec();
        TestKey {
            kid: kid.into(),
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            public_der,
            jwk,
        }
    }

    /// An Ed25519 key.
    pub fn ed25519(kid: &str) -> TestKey {
        let pair = Ed25519KeyPair::generate().unwrap();
        let pkcs8 = pair.to_pkcs8().unwrap();
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(pair.public_key().as_ref())});
        let public_der = AsDer::<PublicKeyX509Der>::as_der(pair.public_key())
            .unwrap()
            .as_ref()
            .to_vec();
        TestKey {
            kid: kid.into(),
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            public_der,
            jwk,
        }
    }

    /// The public JWK.
    pub fn jwk(&self) -> Value {
        self.jwk.clone()
    }

    /// The public key as SubjectPublicKeyInfo PEM.
    pub fn public_pem(&self) -> String {
        let body = STANDARD.encode(&self.public_der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    /// A token with `claims`, signed with `alg`, header `typ` and this key's `kid`.
    pub fn sign(&self, alg: impl SigningAlgorithm, typ: Option<&str>, claims: &Value) -> String {
        let header = jsonwebtoken::Header {
            kid: Some(self.kid.clone()),
            typ: typ.map(str::to_owned),
            ..jsonwebtoken::Header::new(alg.jsonwebtoken())
        };
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// An algorithm to sign test tokens with: jsonwebtoken's, or Portcullis' by its name.
pub trait SigningAlgorithm {
    /// The same algorithm, as jsonwebtoken names it.
    fn jsonwebtoken(self) -> Algorithm;
}

impl SigningAlgorithm for Algorithm {
    fn jsonwebtoken(self) -> Algorithm {
        self
    }
}

impl SigningAlgorithm for portcullis::auth::Algorithm {
    fn jsonwebtoken(self) -> Algorithm {
        self.name()
            .parse()
            .expect("jsonwebtoken knows every JWA name")
    }
}

/// A JWKS document of `keys`.
pub fn jwks(keys: &[&TestKey]) -> String {
    json!({"keys": keys.iter().map(|key| key.jwk()).collect::<Vec<_>>()}).to_string()
}

/// The `privateKey` OCTET STRING of a PKCS#8 `PrivateKeyInfo`: for RSA, the PKCS#1
/// `RSAPrivateKey` that jsonwebtoken signs with.
fn pkcs8_private_key(der: &[u8]) -> &[u8] {
    /// Splits one DER element off `input`: (tag, contents, rest).
    fn element(input: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = input[0];
        let (length, header) = match input[1] {
            short if short < 0x80 => (short as usize, 2),
            long => {
                let count = (long & 0x7f) as usize;
                let length = input[2..2 + count]
                    .iter()
                    .fold(0usize, |acc, byte| (acc << 8) | *byte as usize);
                (length, 2 + count)
            }
        };
        (
            tag,
            &input[header..header + length],
            &input[header + length..],
        )
    }
    let (_, info, _) = element(der);
    let (_, _version, rest) = element(info);
    let (_, _algorithm, rest) = element(rest);
    let (tag, private_key, _) = element(rest);
    assert_eq!(tag, 0x04, "PrivateKeyInfo.privateKey is an OCTET STRING");
    private_key
}

impl TestKey {
    /// A raw signature of `message` (JOSE format: fixed-size r||s for ECDSA).
    pub fn raw_signature(&self, message: &[u8]) -> Vec<u8> {
        let token = jsonwebtoken::crypto::sign(message, &self.encoding, self.algorithm()).unwrap();
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .unwrap()
    }

    fn algorithm(&self) -> Algorithm {
        match self.jwk["kty"].as_str() {
            Some("RSA") => Algorithm::RS256,
            Some("OKP") => Algorithm::EdDSA,
            _ if self.jwk["crv"] == "P-384" => Algorithm::ES384,
            _ => Algorithm::ES256,
        }
    }
}
