//! How Portcullis talks to Redis: one server (a connection manager that reconnects) or a
//! Cluster (a client that follows `MOVED` and `ASK` redirections), over TCP or TLS, as
//! one type; and dedicated connections for the revocation feed's blocking reads.

use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClient;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Client, Cmd, Pipeline, RedisFuture, Value};

use super::error::{RedisConnectError, describe};

fn unreachable(error: ::redis::RedisError) -> RedisConnectError {
    RedisConnectError::Unreachable(describe(&error))
}

/// Where connections come from: one server, or a Cluster.
#[derive(Clone)]
pub(crate) enum Clients {
    Single(Client),
    Cluster(Box<ClusterClients>),
}

/// The same Cluster twice: `feed` waits longer for an answer, for blocking reads.
#[derive(Clone)]
pub(crate) struct ClusterClients {
    shared: ClusterClient,
    feed: ClusterClient,
}

impl ClusterClients {
    pub(crate) fn new(shared: ClusterClient, feed: ClusterClient) -> Self {
        ClusterClients { shared, feed }
    }
}

impl Clients {
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Clients::Cluster(_))
    }

    /// The connection every store shares: multiplexed, reconnecting on its own.
    pub(crate) async fn shared(&self, timeout: Duration) -> Result<Connection, RedisConnectError> {
        match self {
            Clients::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(timeout)
                    .set_response_timeout(timeout)
                    .set_number_of_retries(1)
                    .set_max_delay(100);
                client
                    .get_connection_manager_with_config(config)
                    .await
                    .map(Connection::Single)
                    .map_err(unreachable)
            }
            Clients::Cluster(clients) => clients
                .shared
                .get_async_connection()
                .await
                .map(Connection::Cluster)
                .map_err(unreachable),
        }
    }

    /// A connection of its own, for blocking reads that would hold up a shared one;
    /// `response_timeout` bounds each call (on a Cluster, the feed client's own).
    pub(crate) async fn dedicated(
        &self,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Result<Connection, ::redis::RedisError> {
        match self {
            Clients::Single(client) => {
                let config = ::redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(connect_timeout)
                    .set_response_timeout(response_timeout);
                let connection = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                Ok(Connection::Dedicated(connection))
            }
            Clients::Cluster(clients) => {
                // Each call makes connections of its own to the nodes.
                let connection =
                    tokio::time::timeout(connect_timeout, clients.feed.get_async_connection())
                        .await
                        .map_err(|_| {
                            ::redis::RedisError::from((
                                ::redis::ErrorKind::IoError,
                                "no answer from the Cluster",
                            ))
                        })??;
                Ok(Connection::Cluster(connection))
            }
        }
    }
}

/// A connection to one server or to a Cluster.
#[derive(Clone)]
pub(crate) enum Connection {
    Single(ConnectionManager),
    Dedicated(::redis::aio::MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(connection) => connection.req_packed_command(cmd),
            Connection::Dedicated(connection) => connection.req_packed_command(cmd),
            Connection::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
            Connection::Dedicated(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
            Connection::Cluster(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(connection) => connection.get_db(),
            Connection::Dedicated(connection) => connection.get_db(),
            Connection::Cluster(connection) => connection.get_db(),
        }
    }
}
