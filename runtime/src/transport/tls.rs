//! The rustls server configuration: a certificate chain and its key, TLS 1.2 and 1.3
//! only, the aws-lc-rs provider, ALPN `h2` then `http/1.1`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;

use super::client_auth::AnyClientCertificate;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// How long a client may take to complete the TLS handshake before the connection is
/// dropped.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a certificate and key could not be loaded. Never carries key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read the {what} file {}: {source}", .path.display())]
    Read {
        /// `"certificate"` or `"private key"`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate PEM is malformed.
    #[error("the certificate PEM is malformed: {0}")]
    CertificatePem(pem::Error),
    /// The certificate PEM holds no `CERTIFICATE` section.
    #[error("no certificate found in the certificate PEM")]
    NoCertificate,
    /// The private key PEM is malformed (the details are not shown: they could quote the
    /// key).
    #[error("the private key PEM is malformed")]
    KeyPem,
    /// The key PEM holds no PKCS#8, PKCS#1 or SEC1 private key.
    #[error("no private key (PKCS#8, PKCS#1 or SEC1) found in the key PEM")]
    NoPrivateKey,
    /// rustls refused the certificate and key: an unsupported key type, or a key that
    /// does not match the certificate.
    #[error("the certificate and key were refused: {0}")]
    Rejected(#[from] rustls::Error),
}

/// The TLS side of an HTTPS server, for [`serve_tls`](super::serve_tls): a certificate
/// chain and its private key, TLS 1.2 and 1.3 only (rustls speaks nothing older), the
/// aws-lc-rs cryptography provider, and ALPN offering `h2` then `http/1.1`.
///
/// No process-wide rustls provider is installed or needed: the provider is set on this
/// configuration only.
#[derive(Clone)]
pub struct TlsConfig {
    server: Arc<ServerConfig>,
    handshake_timeout: Duration,
    /// The chain and key, to build the configuration again with client certificates
    /// requested.
    identity: Arc<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    client_certificates: bool,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("alpn", &self.server.alpn_protocols)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// From PEM files: `cert_path` holds the certificate chain, leaf first; `key_path`
    /// the private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<TlsConfig, TlsError> {
        let read = |what, path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                what,
                path: path.to_owned(),
                source,
            })
        };
        let cert = read("certificate", cert_path.as_ref())?;
        let key = read("private key", key_path.as_ref())?;
        Self::from_pem(&cert, &key)
    }

    /// From PEM text: `cert_pem` holds the certificate chain, leaf first; `key_pem` the
    /// private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsConfig, TlsError> {
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(TlsError::CertificatePem)?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate);
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| match error {
            pem::Error::NoItemsFound => TlsError::NoPrivateKey,
            _ => TlsError::KeyPem,
        })?;
        Self::from_der(chain, key)
    }

    /// From DER: the certificate chain, leaf first, and its private key.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<TlsConfig, TlsError> {
        let server = server_config(chain.clone(), key.clone_key(), false)?;
        if chain.first().is_some_and(is_a_ca_certificate) {
            tracing::warn!(
                target: "portcullis::transport",
                "the server's certificate is a CA certificate (basicConstraints CA:TRUE): \
                 clients that check certificates as rustls does (reqwest, and this API's own \
                 calls to a server presenting it) refuse it with CaUsedAsEndEntity; make it \
                 with `-addext basicConstraints=critical,CA:FALSE` (docs/tls.md)"
            );
        }
        Ok(TlsConfig {
            server: Arc::new(server),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            identity: Arc::new((chain, key)),
            client_certificates: false,
        })
    }

    /// Asks each client for a certificate at the handshake, for certificate-bound access
    /// tokens (RFC 8705): any certificate is taken (none too), the client proving it holds
    /// its key, and each request then carries its
    /// [`ClientCertificate`](crate::auth::ClientCertificate); a token whose `cnf.x5t#S256`
    /// names another certificate, or a connection without one, is refused. Off by default
    /// (browsers may ask their user to choose a certificate).
    pub fn request_client_certificates(mut self) -> Result<TlsConfig, TlsError> {
        let (chain, key) = &*self.identity;
        self.server = Arc::new(server_config(chain.clone(), key.clone_key(), true)?);
        self.client_certificates = true;
        Ok(self)
    }

    /// How long a client may take to complete the handshake (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`]).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The rustls configuration, to inspect it or to serve it with another server.
    pub fn server_config(&self) -> &Arc<ServerConfig> {
        &self.server
    }

    pub(super) fn timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// Whether clients are asked for a certificate.
    pub(super) fn requests_client_certificates(&self) -> bool {
        self.client_certificates
    }
}

/// Whether `leaf` says it is a certificate authority (basicConstraints `CA:TRUE`), which
/// clients verifying with webpki (rustls) refuse as a server's certificate, whoever issued
/// it. `openssl req -x509` makes such certificates unless told otherwise.
fn is_a_ca_certificate(leaf: &CertificateDer<'_>) -> bool {
    let Ok(certificate) = webpki::EndEntityCert::try_from(leaf) else {
        return false;
    };
    // The leaf as its own anchor: webpki checks the leaf's constraints before it looks for
    // an issuer, so the error says whether it is a CA whatever the chain.
    let Ok(anchor) = webpki::anchor_from_trusted_cert(leaf) else {
        return false;
    };
    let anchors = [anchor];
    let algorithms = rustls::crypto::aws_lc_rs::default_provider()
        .signature_verification_algorithms
        .all;
    let verified = certificate.verify_for_usage(
        algorithms,
        &anchors,
        &[],
        rustls::pki_types::UnixTime::now(),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    );
    matches!(verified, Err(webpki::Error::CaUsedAsEndEntity))
}

/// TLS 1.3 and 1.2 with the aws-lc-rs provider, ALPN `h2` then `http/1.1`; client
/// certificates requested (any taken) when `client_certificates`.
fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_certificates: bool,
) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = if client_certificates {
        builder.with_client_cert_verifier(Arc::new(AnyClientCertificate::new(provider)))
    } else {
        builder.with_no_client_auth()
    };
    let mut server = builder.with_single_cert(chain, key)?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(pem: &[u8]) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem).unwrap()
    }

    #[test]
    fn a_certificate_made_as_a_ca_is_told_apart() {
        // `openssl req -x509 ... -subj /CN=localhost`, as it marks a certificate by default.
        assert!(is_a_ca_certificate(&leaf(include_bytes!(
            "testdata/ca_true.pem"
        ))));
        // The same with `-addext basicConstraints=critical,CA:FALSE` (docs/tls.md).
        assert!(!is_a_ca_certificate(&leaf(include_bytes!(
            "testdata/ca_false.pem"
        ))));
    }

    #[test]
    fn what_is_not_a_certificate_is_not_a_ca() {
        assert!(!is_a_ca_certificate(&CertificateDer::from(vec![
            0x30, 0x00
        ])));
    }
}
