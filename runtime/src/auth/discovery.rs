//! OpenID Connect Discovery 1.0 and OAuth 2.0 Authorization Server Metadata (RFC 8414):
//! finding an issuer's `jwks_uri` from its identifier, with the issuer checked.

use std::time::Duration;

use reqwest::{Client, Url};
use serde::Deserialize;

use super::fetch::{self, FetchFailure, UrlRefusal};
use super::remote::DEFAULT_MAX_DOCUMENT_BYTES;

/// The OpenID Connect discovery suffix (OIDC Discovery §4).
pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";

/// The RFC 8414 well-known suffix (RFC 8414 §3).
pub const OAUTH_AUTHORIZATION_SERVER: &str = "/.well-known/oauth-authorization-server";

/// What discovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// The issuer identifier, identical to the one configured.
    pub issuer: String,
    /// Where the issuer publishes its signing keys; it passed the URL policy.
    pub jwks_uri: String,
    /// The token endpoint, when the document names one (not checked).
    pub token_endpoint: Option<String>,
    /// The introspection endpoint (RFC 7662), when the document names one; it is checked
    /// against the URL policy when used.
    pub introspection_endpoint: Option<String>,
}

/// Why discovery failed. The messages name the URLs involved, for operators.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The issuer identifier is not a URL, or has a query, a fragment or credentials.
    #[error("the issuer {issuer:?} is not a valid issuer identifier: {reason}")]
    InvalidIssuer {
        /// The issuer as configured.
        issuer: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The issuer is neither `https://` nor `http://` on a loopback host.
    #[error(
        "refusing discovery for the issuer {issuer:?}: it must be https:// \
         (plain http:// only on localhost, 127.0.0.0/8 or [::1], for development)"
    )]
    InsecureIssuer {
        /// The issuer as configured.
        issuer: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for discovery: {reason}")]
    Client {
        /// The client's error.
        reason: String,
    },
    /// The request failed: connection, TLS or protocol error.
    #[error("discovery at {url} failed: {reason}")]
    Fetch {
        /// The well-known URL.
        url: String,
        /// The error and its causes.
        reason: String,
    },
    /// The request took longer than the timeout.
    #[error("discovery at {url} took longer than {timeout:?}")]
    Timeout {
        /// The well-known URL.
        url: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The server answered with a redirect, which is not followed.
    #[error("discovery at {url} answered with a redirect, which is not followed")]
    Redirected {
        /// The well-known URL.
        url: String,
    },
    /// The server answered with a status other than 2xx (or 404 for the first URL).
    #[error("discovery at {url} answered HTTP {status}")]
    Status {
        /// The well-known URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// Both well-known URLs answered 404.
    #[error(
        "no discovery document for the issuer {issuer:?}: both {openid_url} and {oauth_url} \
         answered HTTP 404"
    )]
    NotFound {
        /// The issuer as configured.
        issuer: String,
        /// The OpenID Connect URL tried.
        openid_url: String,
        /// The RFC 8414 URL tried.
        oauth_url: String,
    },
    /// The document is larger than the cap.
    #[error("discovery at {url} returned more than {limit} bytes")]
    TooLarge {
        /// The well-known URL.
        url: String,
        /// The cap, in bytes.
        limit: usize,
    },
    /// The document is not a JSON object with a string `issuer`.
    #[error("discovery at {url} returned an invalid document: {reason}")]
    InvalidDocument {
        /// The well-known URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The document's `issuer` is not exactly the configured one (OIDC Discovery §4.3,
    /// RFC 8414 §3.3): it may belong to another issuer, and its keys must not be trusted.
    #[error("discovery at {url} says issuer {found:?}, expected {expected:?}")]
    IssuerMismatch {
        /// The well-known URL.
        url: String,
        /// The `issuer` of the document.
        found: String,
        /// The issuer as configured.
        expected: String,
    },
    /// The document has no `jwks_uri`.
    #[error("discovery at {url} gives no jwks_uri")]
    MissingJwksUri {
        /// The well-known URL.
        url: String,
    },
    /// The `jwks_uri` is not a valid URL.
    #[error("discovery at {url} gives the jwks_uri {jwks_uri:?}, which is invalid: {reason}")]
    InvalidJwksUri {
        /// The well-known URL.
        url: String,
        /// The `jwks_uri` of the document, without the credentials it carries.
        jwks_uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The `jwks_uri` is neither `https://` nor `http://` on a loopback host.
    #[error(
        "discovery at {url} gives the jwks_uri {jwks_uri:?}, which is refused: signing keys \
         must be fetched over https:// (plain http:// only from localhost, 127.0.0.0/8 or \
         [::1], for development)"
    )]
    InsecureJwksUri {
        /// The well-known URL.
        url: String,
        /// The `jwks_uri` of the document.
        jwks_uri: String,
    },
}

impl DiscoveryError {
    fn from_fetch(url: &Url, failure: FetchFailure) -> DiscoveryError {
        let url = url.to_string();
        match failure {
            FetchFailure::Transport(reason) => DiscoveryError::Fetch { url, reason },
            FetchFailure::Timeout(timeout) => DiscoveryError::Timeout { url, timeout },
            FetchFailure::Redirected => DiscoveryError::Redirected { url },
            FetchFailure::Status(status) => DiscoveryError::Status { url, status },
            FetchFailure::TooLarge(limit) => DiscoveryError::TooLarge { url, limit },
        }
    }
}

/// The members of a metadata document that matter here; others are ignored.
#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    token_endpoint: Option<String>,
    #[serde(default)]
    introspection_endpoint: Option<String>,
}

/// Discovers the metadata of `issuer` with a client that follows no redirect; `timeout`
/// applies to each of the (at most two) requests, for the whole exchange.
///
/// Tries OIDC discovery (`{issuer}/.well-known/openid-configuration`), and when that
/// answers 404, RFC 8414 (`/.well-known/oauth-authorization-server` inserted between the
/// host and the path of the issuer, RFC 8414 §3.1). Only a 404 leads to the second URL;
/// any other failure is reported as it is.
///
/// The document's `issuer` must equal `issuer` exactly (OIDC Discovery §4.3, RFC 8414
/// §3.3), else [`DiscoveryError::IssuerMismatch`]. The same rules as for
/// [`RemoteJwks`](super::RemoteJwks) apply: the issuer and the `jwks_uri` must be
/// `https://` (plain `http://` only on a loopback host), no redirect is followed, and
/// documents larger than [`DEFAULT_MAX_DOCUMENT_BYTES`] are refused. A document without a
/// `jwks_uri` is refused too (RFC 8414 makes it optional, but it is the point here).
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use portcullis_runtime::auth::{JwksOptions, RemoteJwks, discover};
/// use std::time::Duration;
///
/// let metadata = discover("https://idp.example.com/realms/main", Duration::from_secs(5)).await?;
/// let jwks = RemoteJwks::fetch(&metadata.jwks_uri, JwksOptions::default()).await?;
/// jwks.spawn_refresh();
/// # Ok(())
/// # }
/// ```
pub async fn discover(issuer: &str, timeout: Duration) -> Result<ProviderMetadata, DiscoveryError> {
    let client =
        fetch::default_client(timeout).map_err(|reason| DiscoveryError::Client { reason })?;
    discover_with(&client, issuer, timeout).await
}

/// Same as [`discover`] with a caller-provided client. Redirects are refused even if that
/// client follows them.
pub async fn discover_with(
    client: &Client,
    issuer: &str,
    timeout: Duration,
) -> Result<ProviderMetadata, DiscoveryError> {
    let (openid_url, oauth_url) = well_known_urls(issuer)?;
    let get = |url: Url| async move {
        let result = fetch::get(
            client,
            &url,
            "application/json",
            timeout,
            DEFAULT_MAX_DOCUMENT_BYTES,
        )
        .await;
        (url, result)
    };
    let (url, fetched) = match get(openid_url).await {
        (url, Ok(fetched)) => (url, fetched),
        (openid_url, Err(FetchFailure::Status(404))) => match get(oauth_url).await {
            (url, Ok(fetched)) => (url, fetched),
            (oauth_url, Err(FetchFailure::Status(404))) => {
                return Err(DiscoveryError::NotFound {
                    issuer: issuer.to_owned(),
                    openid_url: openid_url.to_string(),
                    oauth_url: oauth_url.to_string(),
                });
            }
            (url, Err(failure)) => return Err(DiscoveryError::from_fetch(&url, failure)),
        },
        (url, Err(failure)) => return Err(DiscoveryError::from_fetch(&url, failure)),
    };
    metadata_from_document(url.as_str(), &fetched.body, issuer)
}

/// Reads the discovery document `body`, fetched from `url`, for `issuer`: its `issuer`
/// must be exactly `issuer`, and its `jwks_uri` present and acceptable.
pub(crate) fn metadata_from_document(
    url: &str,
    body: &[u8],
    issuer: &str,
) -> Result<ProviderMetadata, DiscoveryError> {
    let url = url.to_owned();
    let metadata: Metadata =
        serde_json::from_slice(body).map_err(|error| DiscoveryError::InvalidDocument {
            url: url.clone(),
            reason: error.to_string(),
        })?;
    if metadata.issuer != issuer {
        return Err(DiscoveryError::IssuerMismatch {
            url,
            found: metadata.issuer,
            expected: issuer.to_owned(),
        });
    }
    let jwks_uri = metadata
        .jwks_uri
        .ok_or_else(|| DiscoveryError::MissingJwksUri { url: url.clone() })?;
    match fetch::checked_url(&jwks_uri) {
        Ok(_) => {}
        Err(UrlRefusal::Insecure) => {
            return Err(DiscoveryError::InsecureJwksUri { url, jwks_uri });
        }
        Err(UrlRefusal::Invalid(reason)) => {
            return Err(DiscoveryError::InvalidJwksUri {
                url,
                jwks_uri: fetch::without_credentials(&jwks_uri),
                reason,
            });
        }
    }
    Ok(ProviderMetadata {
        issuer: metadata.issuer,
        jwks_uri,
        token_endpoint: metadata.token_endpoint,
        introspection_endpoint: metadata.introspection_endpoint,
    })
}

/// Checks that `issuer` can be discovered at all (a URL that passes the URL policy, without
/// query or fragment), before any request.
pub(crate) fn checked_issuer(issuer: &str) -> Result<(), DiscoveryError> {
    well_known_urls(issuer).map(|_| ())
}

/// The OIDC and RFC 8414 discovery URLs of `issuer`.
///
/// OIDC appends the suffix to the issuer without its terminating `/`; RFC 8414 inserts its
/// suffix between the host and the path (without its terminating `/`).
fn well_known_urls(issuer: &str) -> Result<(Url, Url), DiscoveryError> {
    let invalid = |reason: String| DiscoveryError::InvalidIssuer {
        issuer: issuer.to_owned(),
        reason,
    };
    let url = fetch::checked_url(issuer).map_err(|refusal| match refusal {
        UrlRefusal::Invalid(reason) => invalid(reason),
        UrlRefusal::Insecure => DiscoveryError::InsecureIssuer {
            issuer: issuer.to_owned(),
        },
    })?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "an issuer identifier has no query or fragment".to_owned(),
        ));
    }
    let base = issuer.strip_suffix('/').unwrap_or(issuer);
    let openid = Url::parse(&format!("{base}{OPENID_CONFIGURATION}"))
        .map_err(|error| invalid(error.to_string()))?;
    let path = url.path();
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut oauth = url.clone();
    oauth.set_path(&format!("{OAUTH_AUTHORIZATION_SERVER}{path}"));
    Ok((openid, oauth))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(issuer: &str) -> (String, String) {
        let (openid, oauth) = well_known_urls(issuer).unwrap();
        (openid.to_string(), oauth.to_string())
    }

    #[test]
    fn builds_well_known_urls() {
        assert_eq!(
            urls("https://idp.example.com"),
            (
                "https://idp.example.com/.well-known/openid-configuration".to_owned(),
                "https://idp.example.com/.well-known/oauth-authorization-server".to_owned()
            )
        );
        assert_eq!(
            urls("https://idp.example.com/"),
            (
                "https://idp.example.com/.well-known/openid-configuration".to_owned(),
                "https://idp.example.com/.well-known/oauth-authorization-server".to_owned()
            )
        );
        // RFC 8414 §3.1's example, and a realm with a terminating slash.
        assert_eq!(
            urls("https://example.com/issuer1").1,
            "https://example.com/.well-known/oauth-authorization-server/issuer1"
        );
        assert_eq!(
            urls("https://kc.example.com:8443/realms/main/"),
            (
                "https://kc.example.com:8443/realms/main/.well-known/openid-configuration"
                    .to_owned(),
                "https://kc.example.com:8443/.well-known/oauth-authorization-server/realms/main"
                    .to_owned()
            )
        );
    }

    #[test]
    fn refuses_bad_issuers() {
        assert!(matches!(
            well_known_urls("http://idp.example.com"),
            Err(DiscoveryError::InsecureIssuer { .. })
        ));
        assert!(matches!(
            well_known_urls("https://idp.example.com/?tenant=1"),
            Err(DiscoveryError::InvalidIssuer { .. })
        ));
        assert!(matches!(
            well_known_urls("https://idp.example.com/#x"),
            Err(DiscoveryError::InvalidIssuer { .. })
        ));
        assert!(matches!(
            well_known_urls("idp.example.com"),
            Err(DiscoveryError::InvalidIssuer { .. })
        ));
    }
}
