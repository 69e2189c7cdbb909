//! Certificate-bound access tokens (RFC 8705): a token whose `cnf` names a certificate's
//! SHA-256 thumbprint (`x5t#S256`) is accepted only on a connection whose client
//! certificate has that thumbprint, from mutual TLS or, behind a proxy that terminates TLS,
//! from the RFC 9440 `Client-Cert` header that a trusted proxy sets.

use std::sync::Arc;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::HeaderValue;

/// The client certificate of the connection a request came on, by its SHA-256 thumbprint:
/// a request extension, set by [`serve_tls`](crate::transport) when the TLS configuration
/// requests client certificates. From a trusted proxy, authentication reads the client's
/// certificate from its `Client-Cert` header instead.
///
/// ```
/// use portcullis_runtime::auth::ClientCertificate;
///
/// let certificate = ClientCertificate::from_der(b"a DER certificate");
/// assert_eq!(certificate.thumbprint().len(), 43);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    thumbprint: Arc<str>,
}

impl ClientCertificate {
    /// The certificate of DER bytes `der`.
    pub fn from_der(der: &[u8]) -> ClientCertificate {
        let hash = digest::digest(&digest::SHA256, der);
        ClientCertificate {
            thumbprint: Arc::from(URL_SAFE_NO_PAD.encode(hash)),
        }
    }

    /// The base64url SHA-256 of the certificate's DER: what `cnf.x5t#S256` names.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The certificate of an RFC 9440 `Client-Cert` value: the DER certificate as a
    /// structured-field byte sequence, `:<base64>:`. `None` when it is not one.
    pub fn from_client_cert_header(value: &HeaderValue) -> Option<ClientCertificate> {
        let text = value.to_str().ok()?.trim();
        let encoded = text.strip_prefix(':')?.strip_suffix(':')?;
        let der = STANDARD.decode(encoded).ok()?;
        (!der.is_empty()).then(|| ClientCertificate::from_der(&der))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_cert_headers_are_structured_byte_sequences() {
        let der = b"certificate bytes";
        let value = HeaderValue::from_str(&format!(":{}:", STANDARD.encode(der))).unwrap();
        assert_eq!(
            ClientCertificate::from_client_cert_header(&value),
            Some(ClientCertificate::from_der(der))
        );
        for bad in ["", "::", "abc", ":not base64!:", &STANDARD.encode(der)] {
            let value = HeaderValue::from_str(bad).unwrap();
            assert_eq!(
                ClientCertificate::from_client_cert_header(&value),
                None,
                "{bad:?}"
            );
        }
    }
}
