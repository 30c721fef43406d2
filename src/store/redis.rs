//! The production store: Redis (or Redis Cluster) holds every session, and its Pub/Sub is the
//! wake-up bus between nodes.
//!
//! Keys of one session share the `{<session id>}` hash tag so a commit touches one slot; no
//! command or pipeline ever spans two slots, so the same code runs on one Redis or a cluster.
//! Pub/Sub is at-most-once, so it only wakes listeners; the session's Stream is the record.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::{
    AsyncCommands, Client, RedisFuture, Value,
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::ClusterClient,
    cluster_async::ClusterConnection,
};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{Commit, HISTORY_CAP, Index, Store, StoreError, Versioned, Wake, decode, encode};
use crate::session::{Alert, AlertStatus, Draft, Event, history::Record};

/// A command that has not answered by then is treated as a failure: during an outage a
/// click must be refused within a second, not hang. It also covers the wait for this node's
/// own runtime, so it must stay well above what a busy node takes: at 250 ms a burst of 2,000
/// simultaneous taps on two cores had reads refused that Redis had answered in time.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// Opening a connection is quick or Redis is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
/// The crate's reconnect backoff is uncapped by default; a restarted Redis must be picked up
/// within a second.
const MAX_BACKOFF: Duration = Duration::from_millis(200);

/// Compare-and-set of the session document plus appending its events, in one step.
const COMMIT_LUA: &str = r#"
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'v', v + 1, 'doc', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local last = nil
for i = 6, #ARGV, 2 do
  redis.call('XADD', KEYS[2], '0-' .. ARGV[i], 'e', ARGV[i + 1])
  last = ARGV[i]
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if last then redis.call('PUBLISH', ARGV[4], ARGV[5] .. ' ' .. last) end
return v + 1
"#;

/// An alert's outcome, written only while the alert exists (it is a hash: `doc` as posted,
/// `status` as decided).
const ALERT_STATUS_LUA: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSET', KEYS[1], 'status', ARGV[1])
"#;

/// Drops the phone → alert pointer only if it still points at this alert.
const UNLINK_PHONE_LUA: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

pub struct RedisStore {
    backend: Backend,
    prefix: String,
    commit: redis::Script,
    bus: broadcast::Sender<Wake>,
    channel: String,
}

enum Backend {
    Single(ConnectionManager),
    /// Connected on first use, so a node starts while the cluster is still forming.
    Cluster(Box<Cluster>),
}

struct Cluster {
    client: ClusterClient,
    conn: tokio::sync::OnceCell<ClusterConnection>,
}

/// One Redis or a cluster, behind one connection type: each reconnects by itself.
#[derive(Clone)]
enum Conn {
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

impl RedisStore {
    /// Connects lazily (a node starts even while Redis is down) and starts the bus listener,
    /// which stops when `shutdown` fires. `url` is one Redis URL, or several separated by
    /// commas: the seed nodes of a Redis Cluster.
    pub fn connect(
        url: &str,
        prefix: &str,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Result<Self, StoreError> {
        let unavailable = |e: redis::RedisError| StoreError::Unavailable(e.to_string());
        let urls: Vec<&str> = url.split(',').map(str::trim).collect();
        let clients = urls
            .iter()
            .map(|u| Client::open(*u))
            .collect::<Result<Vec<_>, _>>()
            .map_err(unavailable)?;
        let backend = if let [client] = clients.as_slice() {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(COMMAND_TIMEOUT))
                .set_min_delay(Duration::from_millis(10))
                .set_max_delay(MAX_BACKOFF)
                .set_number_of_retries(2);
            let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
                .map_err(unavailable)?;
            Backend::Single(conn)
        } else {
            let client = ClusterClient::builder(urls)
                .connection_timeout(CONNECT_TIMEOUT)
                .response_timeout(COMMAND_TIMEOUT)
                .retries(2)
                .build()
                .map_err(unavailable)?;
            Backend::Cluster(Box::new(Cluster {
                client,
                conn: tokio::sync::OnceCell::new(),
            }))
        };
        let bus = broadcast::channel(16_384).0;
        let channel = format!("{prefix}:wake");
        tokio::spawn(listen(clients, channel.clone(), bus.clone(), shutdown));
        Ok(Self {
            backend,
            prefix: prefix.to_owned(),
            commit: redis::Script::new(COMMIT_LUA),
            bus,
            channel,
        })
    }

    async fn conn(&self) -> Result<Conn, StoreError> {
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

    fn session_key(&self, id: Uuid) -> String {
        format!("{}:{{{id}}}:session", self.prefix)
    }
    fn events_key(&self, id: Uuid) -> String {
        format!("{}:{{{id}}}:events", self.prefix)
    }
    fn alert_key(&self, id: Uuid) -> String {
        format!("{}:alert:{{{id}}}", self.prefix)
    }
    fn phone_key(&self, phone: &str) -> String {
        format!("{}:phone:{{{phone}}}", self.prefix)
    }
    fn failures_key(&self, client: &str) -> String {
        format!("{}:failures:{{{client}}}", self.prefix)
    }
    fn index_key(&self, index: Index, key: &str) -> String {
        format!("{}:{}:{{{key}}}", self.prefix, index.name())
    }

    async fn run<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError::Unavailable(e.to_string())),
            Err(_) => Err(StoreError::Unavailable(
                "redis did not answer in time".into(),
            )),
        }
    }
}

/// Keeps one subscription per node alive across Redis restarts. After every (re)subscribe it
/// broadcasts `Resync`, because messages published while it was away are gone for good. In a
/// cluster every node sees every message, so one subscription anywhere is enough: it moves to
/// the next seed node when the one it is on goes away.
async fn listen(
    clients: Vec<Client>,
    channel: String,
    bus: broadcast::Sender<Wake>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut backoff = Duration::from_millis(20);
    for client in clients.iter().cycle() {
        let subscribed = async {
            let mut pubsub = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub())
                .await
                .ok()?
                .ok()?;
            tokio::time::timeout(COMMAND_TIMEOUT, pubsub.subscribe(&channel))
                .await
                .ok()?
                .ok()?;
            Some(pubsub)
        };
        let pubsub = tokio::select! {
            p = subscribed => p,
            () = shutdown.cancelled() => return,
        };
        if let Some(pubsub) = pubsub {
            let since = tokio::time::Instant::now();
            let _ = bus.send(Wake::Resync);
            tracing::info!(channel, "subscribed to the wake-up bus");
            let mut messages = pubsub.into_on_message();
            loop {
                tokio::select! {
                    msg = messages.next() => match msg {
                        Some(msg) => {
                            if let Some(wake) = parse_wake(msg.get_payload_bytes()) {
                                let _ = bus.send(wake);
                            }
                        }
                        None => break,
                    },
                    () = shutdown.cancelled() => return,
                }
            }
            tracing::warn!("lost the wake-up bus; reconnecting");
            // Only a subscription that held for a while resets the backoff: one dropped at
            // once must not have every waiting call and page reload many times a second.
            if since.elapsed() >= Duration::from_secs(1) {
                backoff = Duration::from_millis(20);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn status_name(status: AlertStatus) -> &'static str {
    match status {
        AlertStatus::Open => "open",
        AlertStatus::Approved => "approved",
        AlertStatus::Declined => "declined",
    }
}

fn parse_wake(payload: &[u8]) -> Option<Wake> {
    let text = std::str::from_utf8(payload).ok()?;
    let (id, seq) = text.split_once(' ')?;
    Some(Wake::Session {
        id: id.parse().ok()?,
        seq: seq.parse().ok()?,
    })
}

#[async_trait]
impl Store for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        self.run(redis::cmd("PING").query_async::<String>(&mut c))
            .await
            .map(drop)
    }

    async fn put_alert(&self, alert: &Alert, ttl: Duration) -> Result<(), StoreError> {
        let ms = ttl.as_millis() as u64;
        let key = self.alert_key(alert.id);
        let mut doc = redis::pipe();
        // Atomic, so the alert never stays without its time to live.
        doc.atomic()
            .hset_multiple(
                &key,
                &[
                    ("doc", encode(alert)),
                    ("status", status_name(alert.status).to_owned()),
                ],
            )
            .ignore()
            .pexpire(&key, ms as i64)
            .ignore();
        let (mut c, mut c2) = (self.conn().await?, self.conn().await?);
        // The alert and the phone pointer hash to different slots: two requests, sent together.
        let phone = self.phone_key(&alert.case.customer.phone);
        let (stored, pointed) = tokio::join!(
            self.run(doc.query_async::<()>(&mut c)),
            self.run(c2.pset_ex::<_, _, ()>(phone, alert.id.to_string(), ms)),
        );
        stored.and(pointed)
    }

    async fn alert(&self, id: Uuid) -> Result<Option<Alert>, StoreError> {
        let mut c = self.conn().await?;
        let (doc, status): (Option<String>, Option<String>) = self
            .run(
                redis::cmd("HMGET")
                    .arg(self.alert_key(id))
                    .arg("doc")
                    .arg("status")
                    .query_async(&mut c),
            )
            .await?;
        let Some(doc) = doc else { return Ok(None) };
        let mut alert: Alert = decode(&doc)?;
        if let Some(status) = status {
            alert.status = decode(&format!("\"{status}\""))?;
        }
        Ok(Some(alert))
    }

    async fn open_alert_for_phone(&self, phone: &str) -> Result<Option<Alert>, StoreError> {
        let mut c = self.conn().await?;
        let id: Option<String> = self.run(c.get(self.phone_key(phone))).await?;
        let Some(id) = id.and_then(|s| s.parse().ok()) else {
            return Ok(None);
        };
        Ok(self
            .alert(id)
            .await?
            .filter(|a| a.status == AlertStatus::Open))
    }

    async fn set_alert_status(
        &self,
        id: Uuid,
        phone: &str,
        status: AlertStatus,
    ) -> Result<(), StoreError> {
        // Status and phone pointer live in different slots (on a cluster, maybe on different
        // nodes): two scripts sent together, one round trip. Plain EVAL: EVALSHA on a Redis
        // that has not seen the script yet costs two more round trips.
        let status_cmd = redis::cmd("EVAL")
            .arg(ALERT_STATUS_LUA)
            .arg(1)
            .arg(self.alert_key(id))
            .arg(status_name(status))
            .clone();
        let (mut c, mut c2) = (self.conn().await?, self.conn().await?);
        let set = self.run(status_cmd.query_async::<i64>(&mut c));
        if status == AlertStatus::Open {
            return set.await.map(drop);
        }
        let unlink_cmd = redis::cmd("EVAL")
            .arg(UNLINK_PHONE_LUA)
            .arg(1)
            .arg(self.phone_key(phone))
            .arg(id.to_string())
            .clone();
        let unlink = self.run(unlink_cmd.query_async::<i64>(&mut c2));
        let (set, unlinked) = tokio::join!(set, unlink);
        set.and(unlinked).map(drop)
    }

    async fn load(&self, id: Uuid) -> Result<Option<Versioned>, StoreError> {
        let mut c = self.conn().await?;
        let (v, doc): (Option<u64>, Option<String>) = self
            .run(
                redis::cmd("HMGET")
                    .arg(self.session_key(id))
                    .arg("v")
                    .arg("doc")
                    .query_async(&mut c),
            )
            .await?;
        match (v, doc) {
            (Some(version), Some(doc)) => Ok(Some(Versioned {
                session: decode(&doc)?,
                version,
            })),
            _ => Ok(None),
        }
    }

    async fn commit(
        &self,
        draft: &Draft,
        expected: u64,
        ttl: Duration,
    ) -> Result<Commit, StoreError> {
        let id = draft.session.id;
        let mut inv = self.commit.key(self.session_key(id));
        inv.key(self.events_key(id))
            .arg(expected)
            .arg(encode(&draft.session))
            .arg(ttl.as_millis() as u64)
            .arg(&self.channel)
            .arg(id.to_string());
        for event in &draft.events {
            inv.arg(event.seq).arg(encode(event));
        }
        let mut c = self.conn().await?;
        let version: i64 = self.run(inv.invoke_async(&mut c)).await?;
        Ok(if version < 0 {
            Commit::Conflict
        } else {
            Commit::Done {
                version: version as u64,
            }
        })
    }

    async fn events_after(
        &self,
        id: Uuid,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let mut c = self.conn().await?;
        let start = format!("0-{}", after + 1);
        let reply: redis::streams::StreamRangeReply = self
            .run(c.xrange_count(self.events_key(id), start, "+", limit))
            .await?;
        reply
            .ids
            .iter()
            .map(|entry| {
                let raw: String = entry
                    .get("e")
                    .ok_or_else(|| StoreError::Corrupt("event without body".into()))?;
                decode(&raw)
            })
            .collect()
    }

    async fn bind(
        &self,
        index: Index,
        key: &str,
        id: Uuid,
        ttl: Duration,
    ) -> Result<Option<Uuid>, StoreError> {
        let mut c = self.conn().await?;
        let set = redis::cmd("SET")
            .arg(self.index_key(index, key))
            .arg(id.to_string())
            .arg("NX")
            .arg("GET")
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .clone();
        let existing: Option<String> = self.run(set.query_async(&mut c)).await?;
        Ok(existing.and_then(|s| s.parse().ok()))
    }

    async fn point(
        &self,
        index: Index,
        key: &str,
        id: Uuid,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        let ms = ttl.as_millis() as u64;
        self.run(c.pset_ex::<_, _, ()>(self.index_key(index, key), id.to_string(), ms))
            .await
    }

    async fn failures(&self, client: &str) -> Result<u64, StoreError> {
        let mut c = self.conn().await?;
        let n: Option<u64> = self.run(c.get(self.failures_key(client))).await?;
        Ok(n.unwrap_or(0))
    }

    async fn add_failure(&self, client: &str, window: Duration) -> Result<u64, StoreError> {
        let key = self.failures_key(client);
        let mut pipe = redis::pipe();
        // NX: the window runs from the first failure; later ones do not extend it.
        pipe.incr(&key, 1u64)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(window.as_millis() as u64)
            .arg("NX")
            .ignore();
        let mut c = self.conn().await?;
        let (n,): (u64,) = self.run(pipe.query_async(&mut c)).await?;
        Ok(n)
    }

    async fn lookup(&self, index: Index, key: &str) -> Result<Option<Uuid>, StoreError> {
        let mut c = self.conn().await?;
        let raw: Option<String> = self.run(c.get(self.index_key(index, key))).await?;
        Ok(raw.and_then(|s| s.parse().ok()))
    }

    async fn append_history(
        &self,
        customer: &str,
        record: &Record,
        keep: Duration,
    ) -> Result<(), StoreError> {
        let key = format!("{}:history:{{{customer}}}", self.prefix);
        let mut pipe = redis::pipe();
        pipe.cmd("XADD")
            .arg(&key)
            .arg("MAXLEN")
            .arg("~")
            .arg(HISTORY_CAP)
            .arg("*")
            .arg("r")
            .arg(encode(record))
            .ignore();
        pipe.pexpire(&key, keep.as_millis() as i64).ignore();
        let mut c = self.conn().await?;
        self.run(pipe.query_async::<()>(&mut c)).await
    }

    async fn history(&self, customer: &str, limit: usize) -> Result<Vec<Record>, StoreError> {
        let key = format!("{}:history:{{{customer}}}", self.prefix);
        let mut c = self.conn().await?;
        let reply: redis::streams::StreamRangeReply =
            self.run(c.xrevrange_count(key, "+", "-", limit)).await?;
        reply
            .ids
            .iter()
            .map(|entry| {
                let raw: String = entry
                    .get("r")
                    .ok_or_else(|| StoreError::Corrupt("history entry without body".into()))?;
                decode(&raw)
            })
            .collect()
    }

    fn wakeups(&self) -> broadcast::Receiver<Wake> {
        self.bus.subscribe()
    }
}
