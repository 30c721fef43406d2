//! One Redis or a cluster behind one connection type; each reconnects by itself.

use std::time::Duration;

use redis::{
    Client, RedisFuture, Value,
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::ClusterClient,
    cluster_async::ClusterConnection,
};

use super::{COMMAND_TIMEOUT, CONNECT_TIMEOUT, MAX_BACKOFF, RedisStore};
use crate::store::StoreError;

pub(super) enum Backend {
    Single(ConnectionManager),
    /// Connected on first use, so a node starts while the cluster is still forming.
    Cluster(Box<Cluster>),
}

pub(super) struct Cluster {
    client: ClusterClient,
    conn: tokio::sync::OnceCell<ClusterConnection>,
}

/// One Redis or a cluster, behind one connection type: each reconnects by itself.
#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

impl Backend {
    /// A lazy connection: a node starts even while Redis is down.
    pub(super) fn new(urls: &[&str], clients: &[Client]) -> redis::RedisResult<Self> {
        if let [client] = clients {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(COMMAND_TIMEOUT))
                .set_min_delay(Duration::from_millis(10))
                .set_max_delay(MAX_BACKOFF)
                .set_number_of_retries(2);
            let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
            return Ok(Backend::Single(conn));
        }
        let client = ClusterClient::builder(urls.iter().copied())
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(COMMAND_TIMEOUT)
            .retries(2)
            .build()?;
        Ok(Backend::Cluster(Box::new(Cluster {
            client,
            conn: tokio::sync::OnceCell::new(),
        })))
    }
}

impl RedisStore {
    pub(super) async fn conn(&self) -> Result<Conn, StoreError> {
        match &self.backend {
            Backend::Single(c) => Ok(Conn::Single(c.clone())),
            Backend::Cluster(cluster) => {
                // Bounded as a whole: callers queued behind a failing first connection must
                // not wait for each other's attempts in turn.
                let connect = cluster
                    .conn
                    .get_or_try_init(|| self.run(cluster.client.get_async_connection()));
                let c = self.run(async { Ok(connect.await) }).await??;
                Ok(Conn::Cluster(c.clone()))
            }
        }
    }
}
