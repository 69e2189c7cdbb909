//! Signing keys and tokens for the benchmarks: one RSA-2048 key (`kid` "rs", RS256) and one
//! P-256 key (`kid` "es", ES256), trusted by every variant, and a fast signer for the large
//! batches of distinct tokens that the first-seen benchmarks need.
//!
//! Tokens are signed with aws-lc-rs directly (the key parsed once) rather than through
//! jsonwebtoken, which parses the private key again for every signature: a first-seen load
//! run needs a few hundred thousand RS256 tokens.

#![allow(dead_code)]

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

/// The issuer every variant trusts.
pub const ISSUER: &str = "https://issuer.test/";
/// The audience every variant requires.
pub const AUDIENCE: &str = "orders-api";
/// The client every token is issued to (the rate limiters' key).
pub const CLIENT: &str = "load-client";
/// The scopes every token carries.
pub const SCOPES: &str = "orders:read orders:write";

/// A JWS algorithm the benchmarks sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, RSA-2048.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl Alg {
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }
}

/// The two signing keys.
pub struct BenchKeys {
    rsa: RsaKeyPair,
    rsa_pkcs8: Vec<u8>,
    ec: EcdsaKeyPair,
    ec_pkcs8: Vec<u8>,
    rng: SystemRandom,
}

impl BenchKeys {
    /// Two fresh keys.
    pub fn generate() -> BenchKeys {
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let rsa_pkcs8 = AsDer::<Pkcs8V1Der>::as_der(&rsa)
            .expect("RSA PKCS#8")
            .as_ref()
            .to_vec();
        let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key");
        let ec_pkcs8 = ec.to_pkcs8v1().expect("EC PKCS#8").as_ref().to_vec();
        BenchKeys::from_pkcs8(&rsa_pkcs8, &ec_pkcs8)
    }

    /// The keys of two PKCS#8 documents, as written by [`BenchKeys::rsa_pkcs8`] and
    /// [`BenchKeys::ec_pkcs8`].
    pub fn from_pkcs8(rsa_pkcs8: &[u8], ec_pkcs8: &[u8]) -> BenchKeys {
        BenchKeys {
            rsa: RsaKeyPair::from_pkcs8(rsa_pkcs8).expect("RSA PKCS#8"),
            rsa_pkcs8: rsa_pkcs8.to_vec(),
            ec: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, ec_pkcs8)
                .expect("EC PKCS#8"),
            ec_pkcs8: ec_pkcs8.to_vec(),
            rng: SystemRandom::new(),
        }
    }

    /// The RSA private key, PKCS#8 DER.
    pub fn rsa_pkcs8(&self) -> &[u8] {
        &self.rsa_pkcs8
    }

    /// The EC private key, PKCS#8 DER.
    pub fn ec_pkcs8(&self) -> &[u8] {
        &self.ec_pkcs8
    }

    /// The public JWKS of both keys.
    pub fn jwks(&self) -> String {
        let rsa = RsaPublicKeyComponents::<Vec<u8>>::from(self.rsa.public_key());
        let point = self.ec.public_key().as_ref();
        json!({"keys": [
            {"kty": "RSA", "kid": "rs", "use": "sig", "alg": "RS256",
             "n": URL_SAFE_NO_PAD.encode(&rsa.n), "e": URL_SAFE_NO_PAD.encode(&rsa.e)},
            {"kty": "EC", "kid": "es", "use": "sig", "alg": "ES256", "crv": "P-256",
             "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])},
        ]})
        .to_string()
    }

    /// The RSA public key as SubjectPublicKeyInfo PEM, what a hand-written verifier loads.
    pub fn rsa_public_pem(&self) -> String {
        let der = AsDer::<PublicKeyX509Der>::as_der(self.rsa.public_key()).expect("SPKI");
        let body = STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// A token for [`CLIENT`] with [`SCOPES`], issued at `now` (Unix seconds), valid for
    /// `lifetime` seconds, made unique by `jti`.
    pub fn sign(&self, alg: Alg, jti: &str, now: u64, lifetime: u64) -> String {
        let kid = match alg {
            Alg::Rs256 => "rs",
            Alg::Es256 => "es",
        };
        let header = json!({"alg": alg.name(), "typ": "JWT", "kid": kid});
        let claims = json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "client_id": CLIENT,
            "scope": SCOPES, "iat": now, "exp": now + lifetime, "jti": jti,
        });
        let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = match alg {
            Alg::Rs256 => {
                let mut signature = vec![0; self.rsa.public_modulus_len()];
                self.rsa
                    .sign(
                        &RSA_PKCS1_SHA256,
                        &self.rng,
                        token.as_bytes(),
                        &mut signature,
                    )
                    .expect("RS256 signature");
                signature
            }
            Alg::Es256 => self
                .ec
                .sign(&self.rng, token.as_bytes())
                .expect("ES256 signature")
                .as_ref()
                .to_vec(),
        };
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        token
    }

    /// `count` distinct tokens (`jti` = `{prefix}-{n}`), signed on every available core.
    pub fn sign_many(
        &self,
        alg: Alg,
        prefix: &str,
        count: usize,
        now: u64,
        lifetime: u64,
    ) -> Vec<String> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = count.div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..count)
                .step_by(chunk)
                .map(|start| {
                    let end = (start + chunk).min(count);
                    scope.spawn(move || {
                        (start..end)
                            .map(|n| self.sign(alg, &format!("{prefix}-{n}"), now, lifetime))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| worker.join().expect("signing thread"))
                .collect()
        })
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}
