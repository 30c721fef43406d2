//! One Redis or a cluster behind one connection type. Each reconnects by itself when its
//! peer closes; a peer that goes silent without closing (a NAT or firewall idle timeout, a
//! failover, a cable pulled) is noticed by TCP keepalive and by commands that time out, and
//! the connection is then replaced (see [`RedisStore::run`]).

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use redis::{
    Client, IntoConnectionInfo, RedisFuture, Value,
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::ClusterClient,
    cluster_async::ClusterConnection,
    io::tcp::{TcpSettings, socket2::TcpKeepalive},
};

use super::{COMMAND_TIMEOUT, CONNECT_TIMEOUT, MAX_BACKOFF, RedisStore};
use crate::store::StoreError;

/// Keepalive probes from 5 s of silence, every 2 s, 3 of them; unacknowledged data fails the
/// socket after 5 s. A dead peer is then found in seconds, not after the kernel's two hours.
fn tcp_settings() -> TcpSettings {
    TcpSettings::default()
        .set_nodelay(true)
        .set_keepalive(
            TcpKeepalive::new()
                .with_time(Duration::from_secs(5))
                .with_interval(Duration::from_secs(2))
                .with_retries(3),
        )
        .set_user_timeout(Duration::from_secs(5))
}

/// A client for `url` whose connections carry [`tcp_settings`].
pub(super) fn client(url: &str) -> redis::RedisResult<Client> {
    Client::open(url.into_connection_info()?.set_tcp_settings(tcp_settings()))
}

pub(super) enum Backend {
    Single(Box<Single>),
    /// Connected on first use, so a node starts while the cluster is still forming.
    Cluster(Box<Cluster>),
}

pub(super) struct Single {
    client: Client,
    config: ConnectionManagerConfig,
    conn: RwLock<ConnectionManager>,
}

pub(super) struct Cluster {
    client: ClusterClient,
    /// One connection to each configured seed, of the health check's own: the cluster
    /// connection waits on a hung master even for a request another master answers.
    pub(super) seeds: Vec<ConnectionManager>,
    /// Swapped for a fresh one when the connection is replaced.
    conn: RwLock<Arc<tokio::sync::OnceCell<ClusterConnection>>>,
}

/// One Redis or a cluster, behind one connection type.
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

fn single_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_min_delay(Duration::from_millis(10))
        .set_max_delay(MAX_BACKOFF)
        .set_number_of_retries(2)
}

impl Backend {
    /// A lazy connection: a node starts even while Redis is down.
    pub(super) fn new(urls: &[&str], clients: &[Client]) -> redis::RedisResult<Self> {
        if let [client] = clients {
            let config = single_config();
            let conn = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())?;
            return Ok(Backend::Single(Box::new(Single {
                client: client.clone(),
                config,
                conn: RwLock::new(conn),
            })));
        }
        let client = ClusterClient::builder(urls.iter().copied())
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(COMMAND_TIMEOUT)
            .retries(2)
            .tcp_settings(tcp_settings())
            .build()?;
        let seeds = clients
            .iter()
            .map(|c| ConnectionManager::new_lazy_with_config(c.clone(), single_config()))
            .collect::<Result<_, _>>()?;
        Ok(Backend::Cluster(Box::new(Cluster {
            client,
            seeds,
            conn: RwLock::new(Arc::default()),
        })))
    }

    /// Drops the connection for a new one: the old one's peer has gone silent. Requests in
    /// flight on it end with their own timeouts.
    pub(super) fn replace(&self) -> redis::RedisResult<()> {
        match self {
            Backend::Single(single) => {
                let fresh = ConnectionManager::new_lazy_with_config(
                    single.client.clone(),
                    single.config.clone(),
                )?;
                *single.conn.write().unwrap_or_else(|p| p.into_inner()) = fresh;
            }
            Backend::Cluster(cluster) => {
                *cluster.conn.write().unwrap_or_else(|p| p.into_inner()) = Arc::default();
            }
        }
        Ok(())
    }
}

impl RedisStore {
    pub(super) async fn conn(&self) -> Result<Conn, StoreError> {
        match &self.backend {
            Backend::Single(single) => Ok(Conn::Single(
                single
                    .conn
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
            )),
            Backend::Cluster(cluster) => {
                let cell = cluster
                    .conn
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                // Bounded as a whole: callers queued behind a failing first connection must
                // not wait for each other's attempts in turn.
                let connect =
                    cell.get_or_try_init(|| self.run(cluster.client.get_async_connection()));
                let c = self.run(async { Ok(connect.await) }).await??;
                Ok(Conn::Cluster(c.clone()))
            }
        }
    }
}
