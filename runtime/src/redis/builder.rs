//! The settings of a connection to Redis, and connecting.

use std::time::Duration;

use ::redis::cluster::ClusterClient;
use ::redis::{Client, IntoConnectionInfo, TlsCertificates};

use super::client::Redis;
use super::connection::{Clients, ClusterClients};
use super::error::{RedisConnectError, describe, scrubbed};
use super::keys::KeySpace;
use super::timing::{BLOCK, DEFAULT_TIMEOUT};

/// The settings of a connection to Redis; see [`Redis::builder`].
#[derive(Clone)]
pub struct RedisBuilder {
    urls: Vec<String>,
    cluster: bool,
    root_certificate_pem: Option<Vec<u8>>,
    prefix: String,
    timeout: Duration,
}

impl Default for RedisBuilder {
    fn default() -> Self {
        RedisBuilder {
            urls: Vec::new(),
            cluster: false,
            root_certificate_pem: None,
            prefix: "portcullis:".to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for RedisBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URLs: they may hold a password.
        f.debug_struct("RedisBuilder")
            .field("nodes", &self.urls.len())
            .field("cluster", &self.cluster)
            .field("root_certificate", &self.root_certificate_pem.is_some())
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisBuilder {
    /// One Redis server: `redis://[[user]:password@]host:port/db`, or `rediss://` for TLS.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.urls = vec![url.into()];
        self.cluster = false;
        self
    }

    /// A Redis Cluster, found from these nodes (any of its nodes will do; give several in
    /// case one is down). All use the same scheme and credentials.
    pub fn cluster<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.urls = nodes.into_iter().map(Into::into).collect();
        self.cluster = true;
        self
    }

    /// The root certificates (PEM) that a `rediss://` server's certificate must chain to,
    /// instead of the system's.
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        let pem = pem.into();
        self.root_certificate_pem = (!pem.is_empty()).then_some(pem);
        self
    }

    /// What every key starts with (default `portcullis:`); without `{` or `}`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one call may take before it counts as a failure (default
    /// [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects, and checks that Redis answers.
    pub async fn connect(self) -> Result<Redis, RedisConnectError> {
        let secrets = self.passwords();
        self.connect_inner()
            .await
            .map_err(|error| scrub_error(error, &secrets))
    }

    /// The passwords in the URLs, to keep them out of every message.
    fn passwords(&self) -> Vec<String> {
        self.urls
            .iter()
            .filter_map(|url| url.as_str().into_connection_info().ok())
            .filter_map(|info| info.redis.password)
            .collect()
    }

    async fn connect_inner(self) -> Result<Redis, RedisConnectError> {
        let keys = KeySpace::new(&self.prefix)
            .ok_or_else(|| RedisConnectError::InvalidPrefix(self.prefix.clone()))?;
        if self.urls.is_empty() {
            return Err(RedisConnectError::NoUrl);
        }
        let certificates = self.root_certificate_pem.map(|pem| TlsCertificates {
            client_tls: None,
            root_cert: Some(pem),
        });
        let clients = if self.cluster {
            let cluster = |response_timeout: Duration| {
                let mut builder = ClusterClient::builder(self.urls.iter().map(String::as_str))
                    .connection_timeout(self.timeout)
                    .response_timeout(response_timeout)
                    .retries(2)
                    .min_retry_wait(10)
                    .max_retry_wait(100);
                if let Some(certificates) = certificates.clone() {
                    builder = builder.certs(certificates);
                }
                builder.build().map_err(invalid)
            };
            Clients::Cluster(Box::new(ClusterClients::new(
                cluster(self.timeout)?,
                cluster(self.timeout + BLOCK)?,
            )))
        } else {
            let url = self.urls[0].as_str();
            let client = match certificates {
                Some(certificates) => Client::build_with_tls(url, certificates),
                None => Client::open(url),
            };
            Clients::Single(client.map_err(invalid)?)
        };
        let connection = clients.shared(self.timeout).await?;
        let redis = Redis::new(connection, clients, keys, self.timeout);
        let mut connection = redis.connection();
        ::redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map_err(unreachable)?;
        Ok(redis)
    }
}

fn invalid(error: ::redis::RedisError) -> RedisConnectError {
    match error.kind() {
        ::redis::ErrorKind::InvalidClientConfig => RedisConnectError::InvalidUrl(describe(&error)),
        ::redis::ErrorKind::IoError if error.to_string().contains("certificate") => {
            RedisConnectError::Certificates(describe(&error))
        }
        _ => RedisConnectError::InvalidUrl(describe(&error)),
    }
}

pub(crate) fn unreachable(error: ::redis::RedisError) -> RedisConnectError {
    RedisConnectError::Unreachable(describe(&error))
}

fn scrub_error(error: RedisConnectError, secrets: &[String]) -> RedisConnectError {
    match error {
        RedisConnectError::InvalidUrl(text) => {
            RedisConnectError::InvalidUrl(scrubbed(text, secrets))
        }
        RedisConnectError::Certificates(text) => {
            RedisConnectError::Certificates(scrubbed(text, secrets))
        }
        RedisConnectError::Unreachable(text) => {
            RedisConnectError::Unreachable(scrubbed(text, secrets))
        }
        other => other,
    }
}
