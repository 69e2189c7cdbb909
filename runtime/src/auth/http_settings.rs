//! The HTTP settings of discovery and key fetches: proxy, extra root certificates,
//! timeouts, as a corporate network may need them.

use std::fmt;
use std::time::Duration;

use reqwest::{Certificate, Client, NoProxy, Proxy, Url, redirect};
use secrecy::{ExposeSecret, SecretString};

use super::fetch;

/// How discovery and key fetches reach the identity provider: through which proxy, trusting
/// which extra certificate authorities, within which timeouts.
///
/// This is a Portcullis type rather than a `reqwest::Client` so that a new major release of
/// the HTTP client behind it is not a breaking change of Portcullis' API.
///
/// Give it to [`SecurityBuilder::http_settings`](crate::SecurityBuilder::http_settings)
/// for every issuer, or to [`Issuer::http_settings`](crate::Issuer::http_settings) for one
/// (then it replaces the builder's settings for that issuer, as a whole). Mistakes (a proxy
/// URL that does not parse, a PEM without a certificate, a zero timeout) are reported by
/// [`SecurityBuilder::build`](crate::SecurityBuilder::build).
///
/// Whatever the settings, redirects are never followed, documents are capped in size, and
/// the URL policy holds (`https://`, plain `http://` only on a loopback host).
///
/// # Defaults
///
/// - **Proxy**: taken from the environment when the configuration is built: `HTTPS_PROXY`
///   (for `https://` URLs), `HTTP_PROXY` (for `http://` URLs), `ALL_PROXY` (both, when the
///   former are unset), each also in lower case, with the exceptions of `NO_PROXY`; all are
///   ignored when `REQUEST_METHOD` is set (a CGI environment, where `HTTP_PROXY` could come
///   from a request header). The proxy settings of the operating system (macOS, Windows)
///   are not read. [`proxy`](Self::proxy) or [`direct`](Self::direct) replace the
///   environment altogether.
/// - **Certificate authorities**: those the operating system trusts, checked by its own
///   verifier (the `rustls-platform-verifier` crate): the keychain on macOS, the system
///   store on Windows, on Linux the CA bundle of the distribution (`ca-certificates`;
///   `SSL_CERT_FILE` or `SSL_CERT_DIR` point elsewhere). A corporate CA installed on the
///   machine is trusted as it is by every other program there. A container image needs its
///   CA bundle (`ca-certificates`), or every fetch fails with a certificate error. Add a CA
///   for these fetches only (one that signs the provider's certificate, or a proxy that
///   inspects TLS) with [`root_certificate_pem`](Self::root_certificate_pem).
/// - **Timeouts**: a discovery request may take 10 s; a JWKS fetch
///   [`JwksOptions::fetch_timeout`](super::JwksOptions::fetch_timeout) (5 s by default);
///   connecting is bounded by the same deadline.
///
/// ```
/// use portcullis_runtime::auth::HttpSettings;
/// use secrecy::SecretString;
/// use std::time::Duration;
///
/// let corporate_ca = b"-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n";
/// let settings = HttpSettings::new()
///     .proxy("http://proxy.corp.example:3128")
///     .proxy_credentials("svc-orders", SecretString::from("from-a-vault"))
///     .no_proxy("idp.internal.example, 10.0.0.0/8")
///     .root_certificate_pem(corporate_ca.as_slice())
///     .connect_timeout(Duration::from_secs(2))
///     .timeout(Duration::from_secs(8));
/// # let _ = settings;
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct HttpSettings {
    proxy: ProxyChoice,
    proxy_credentials: Option<(String, SecretString)>,
    no_proxy: Option<String>,
    root_certificates: Vec<Vec<u8>>,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
}

/// Where requests go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum ProxyChoice {
    /// The proxy of the environment variables, if any.
    #[default]
    Environment,
    /// Straight to the provider.
    Direct,
    /// Through this proxy.
    Url(String),
}

impl fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the proxy password; certificates by count only.
        f.debug_struct("HttpSettings")
            .field("proxy", &self.proxy)
            .field(
                "proxy_user",
                &self.proxy_credentials.as_ref().map(|(user, _)| user),
            )
            .field("no_proxy", &self.no_proxy)
            .field("root_certificates", &self.root_certificates.len())
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Why [`HttpSettings`] cannot be used. The messages never quote a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpSettingsError {
    /// The proxy URL is not an `http://` or `https://` URL with a host, or carries
    /// credentials (give them to [`HttpSettings::proxy_credentials`] instead).
    #[error("the proxy URL is refused: {reason}")]
    InvalidProxy {
        /// What is wrong with it.
        reason: String,
    },
    /// Proxy credentials or exceptions were given without a proxy.
    #[error(
        "proxy credentials or `no_proxy` exceptions need a proxy: call `.proxy(url)` too \
         (the environment's proxy takes its exceptions from NO_PROXY)"
    )]
    NoProxyConfigured,
    /// A PEM document given as a root certificate holds no certificate.
    #[error("root certificate {index} (counting from 0) holds no PEM certificate")]
    NoCertificate {
        /// Which of the documents given.
        index: usize,
    },
    /// A PEM document given as a root certificate does not parse.
    #[error("root certificate {index} (counting from 0) is not valid PEM: {reason}")]
    InvalidCertificate {
        /// Which of the documents given.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// A timeout is zero: every request would fail.
    #[error("the {which} timeout is zero: every request would fail")]
    ZeroTimeout {
        /// `connect` or `fetch`.
        which: &'static str,
    },
    /// The HTTP client could not be built with these settings (for example a certificate
    /// that is not a valid CA certificate).
    #[error("cannot build the HTTP client for discovery and key fetches: {reason}")]
    Client {
        /// The client's error and its causes.
        reason: String,
    },
}

impl HttpSettings {
    /// The defaults: see the [type's documentation](HttpSettings#defaults).
    pub fn new() -> Self {
        HttpSettings::default()
    }

    /// Sends every request through the proxy at `url` (`http://host:port`, or
    /// `https://host:port` for a proxy reached over TLS), whatever the environment says.
    /// `https://` providers are reached through a `CONNECT` tunnel, so the proxy does not
    /// see the documents unless it inspects TLS (then add its CA with
    /// [`root_certificate_pem`](Self::root_certificate_pem)).
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = ProxyChoice::Url(url.into());
        self
    }

    /// The user name and password the proxy asks for (HTTP Basic). The password is kept
    /// in a [`SecretString`]: it is never logged, nor shown by `Debug`.
    pub fn proxy_credentials(
        mut self,
        username: impl Into<String>,
        password: SecretString,
    ) -> Self {
        self.proxy_credentials = Some((username.into(), password));
        self
    }

    /// Hosts reached without the [`proxy`](Self::proxy), in the syntax of `NO_PROXY`:
    /// comma-separated; a domain name matches itself and its subdomains (a leading `.` is
    /// allowed), an IP address or a CIDR block matches those addresses, `*` matches all.
    pub fn no_proxy(mut self, hosts: impl Into<String>) -> Self {
        self.no_proxy = Some(hosts.into());
        self
    }

    /// Connects straight to the provider: no proxy, whatever the environment says.
    pub fn direct(mut self) -> Self {
        self.proxy = ProxyChoice::Direct;
        self
    }

    /// Trusts the certificate authorities of `pem` (one or more `CERTIFICATE` blocks) as
    /// well as those of the operating system. Call again to add more.
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// The longest time connecting (TCP and TLS) may take (default: the request's own
    /// deadline).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The deadline of each discovery and JWKS request, for the whole exchange
    /// (connection, headers and body). When set, it replaces the 10 s of discovery and
    /// [`JwksOptions::fetch_timeout`](super::JwksOptions::fetch_timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The deadline of a request, when set.
    pub(crate) fn request_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// A client with these settings that follows no redirect. `longest` bounds the whole
    /// exchange of requests that set no deadline of their own (every request made here
    /// sets one), and connecting unless a connect timeout is set.
    pub(crate) fn client(&self, longest: Duration) -> Result<Client, HttpSettingsError> {
        if self.timeout.is_some_and(|timeout| timeout.is_zero()) {
            return Err(HttpSettingsError::ZeroTimeout { which: "fetch" });
        }
        if self
            .connect_timeout
            .is_some_and(|timeout| timeout.is_zero())
        {
            return Err(HttpSettingsError::ZeroTimeout { which: "connect" });
        }
        let longest = self.timeout.unwrap_or(longest);
        let mut builder = Client::builder()
            .redirect(redirect::Policy::none())
            .timeout(longest)
            .connect_timeout(self.connect_timeout.unwrap_or(longest))
            .user_agent(fetch::USER_AGENT);
        builder = match &self.proxy {
            ProxyChoice::Environment => {
                if self.proxy_credentials.is_some() || self.no_proxy.is_some() {
                    return Err(HttpSettingsError::NoProxyConfigured);
                }
                builder
            }
            ProxyChoice::Direct => {
                if self.proxy_credentials.is_some() || self.no_proxy.is_some() {
                    return Err(HttpSettingsError::NoProxyConfigured);
                }
                builder.no_proxy()
            }
            ProxyChoice::Url(url) => builder.proxy(self.proxy_for(url)?),
        };
        for (index, pem) in self.root_certificates.iter().enumerate() {
            let certificates = Certificate::from_pem_bundle(pem).map_err(|error| {
                HttpSettingsError::InvalidCertificate {
                    index,
                    reason: fetch::describe(&error),
                }
            })?;
            if certificates.is_empty() {
                return Err(HttpSettingsError::NoCertificate { index });
            }
            builder = builder.tls_certs_merge(certificates);
        }
        builder.build().map_err(|error| HttpSettingsError::Client {
            reason: fetch::describe(&error),
        })
    }

    fn proxy_for(&self, url: &str) -> Result<Proxy, HttpSettingsError> {
        // The URL is never quoted: it may have been given with a password in it.
        let invalid = |reason: &str| HttpSettingsError::InvalidProxy {
            reason: reason.to_owned(),
        };
        let parsed = Url::parse(url).map_err(|error| invalid(&error.to_string()))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid(
                "it must not carry a user name or password: give them to \
                 `HttpSettings::proxy_credentials`",
            ));
        }
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(invalid("it must be http://host:port or https://host:port"));
        }
        let mut proxy = Proxy::all(parsed).map_err(|error| invalid(&fetch::describe(&error)))?;
        if let Some((username, password)) = &self.proxy_credentials {
            proxy = proxy.basic_auth(username, password.expose_secret());
        }
        if let Some(hosts) = &self.no_proxy {
            proxy = proxy.no_proxy(NoProxy::from_string(hosts));
        }
        Ok(proxy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONGEST: Duration = Duration::from_secs(5);

    #[test]
    fn refuses_mistakes_without_quoting_passwords() {
        let error = HttpSettings::new()
            .proxy("http://user:hunter2@proxy.example:3128")
            .client(LONGEST)
            .unwrap_err();
        assert!(matches!(error, HttpSettingsError::InvalidProxy { .. }));
        assert!(!error.to_string().contains("hunter2"), "{error}");
        for bad in [
            "proxy.example:3128",
            "socks5://proxy.example:1080",
            "not a url",
        ] {
            assert!(
                matches!(
                    HttpSettings::new().proxy(bad).client(LONGEST),
                    Err(HttpSettingsError::InvalidProxy { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            HttpSettings::new()
                .no_proxy("localhost")
                .client(LONGEST)
                .unwrap_err(),
            HttpSettingsError::NoProxyConfigured
        );
        assert_eq!(
            HttpSettings::new()
                .direct()
                .proxy_credentials("u", SecretString::from("p"))
                .client(LONGEST)
                .unwrap_err(),
            HttpSettingsError::NoProxyConfigured
        );
        assert_eq!(
            HttpSettings::new()
                .root_certificate_pem(b"no certificate here".as_slice())
                .client(LONGEST)
                .unwrap_err(),
            HttpSettingsError::NoCertificate { index: 0 }
        );
        assert!(matches!(
            HttpSettings::new()
                .root_certificate_pem(
                    b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".as_slice()
                )
                .client(LONGEST),
            Err(HttpSettingsError::InvalidCertificate { index: 0, .. }
                | HttpSettingsError::Client { .. })
        ));
        assert_eq!(
            HttpSettings::new()
                .timeout(Duration::ZERO)
                .client(LONGEST)
                .unwrap_err(),
            HttpSettingsError::ZeroTimeout { which: "fetch" }
        );
        assert_eq!(
            HttpSettings::new()
                .connect_timeout(Duration::ZERO)
                .client(LONGEST)
                .unwrap_err(),
            HttpSettingsError::ZeroTimeout { which: "connect" }
        );
    }

    #[test]
    fn accepts_a_proxy_with_credentials_and_exceptions() {
        let settings = HttpSettings::new()
            .proxy("http://proxy.example:3128")
            .proxy_credentials("svc", SecretString::from("hunter2"))
            .no_proxy("localhost, .internal.example, 10.0.0.0/8");
        assert!(settings.client(LONGEST).is_ok());
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("svc"), "{debug}");
        assert!(HttpSettings::new().direct().client(LONGEST).is_ok());
        assert!(HttpSettings::new().client(LONGEST).is_ok());
    }
}
