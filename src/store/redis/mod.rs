//! The production store: Redis (or Redis Cluster) holds every session, and its Pub/Sub is the
//! wake-up bus between nodes.
//!
//! Keys of one session share the `{<session id>}` hash tag so a commit touches one slot; no
//! command or pipeline ever spans two slots, so the same code runs on one Redis or a cluster.
//! Pub/Sub is at-most-once, so it only wakes listeners; the session's Stream is the record.

mod bus;
mod conn;
mod lua;

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use async_trait::async_trait;
use redis::AsyncCommands;
use tokio::sync::broadcast;
use uuid::Uuid;

use self::{
    conn::Backend,
    lua::{ALERT_STATUS_LUA, ATTACH_LUA, COMMIT_LUA, SUPERSEDE_LUA, UNLINK_PHONE_LUA},
};
use super::{Commit, Doc, HISTORY_CAP, Index, Store, StoreError, Versioned, Wake, decode, encode};
use crate::session::{Alert, AlertStatus, Draft, Event, history::Record};

/// A command that has not answered by then is treated as a failure: during an outage a
/// click must be refused within a second, not hang. It also covers the wait for this node's
/// own runtime, so it must stay well above what a busy node takes: at 250 ms a burst of 2,000
/// simultaneous taps on two cores had reads refused that Redis had answered in time.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// Requests in a row that time out before the connection is taken for dead and replaced.
const TIMEOUTS_BEFORE_REPLACING: u32 = 2;
/// Opening a connection is quick or Redis is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
/// The crate's reconnect backoff is uncapped by default; a restarted Redis must be picked up
/// within a second.
const MAX_BACKOFF: Duration = Duration::from_millis(200);

pub struct RedisStore {
    backend: Backend,
    prefix: String,
    commit: redis::Script,
    bus: broadcast::Sender<Wake>,
    channel: String,
    /// Requests that timed out in a row on the current connection.
    timeouts: AtomicU32,
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
            .map(|u| conn::client(u))
            .collect::<Result<Vec<_>, _>>()
            .map_err(unavailable)?;
        let backend = Backend::new(&urls, &clients).map_err(unavailable)?;
        let bus = broadcast::channel(16_384).0;
        let channel = format!("{prefix}:wake");
        tokio::spawn(bus::listen(clients, channel.clone(), bus.clone(), shutdown));
        Ok(Self {
            backend,
            prefix: prefix.to_owned(),
            commit: redis::Script::new(COMMIT_LUA),
            bus,
            channel,
            timeouts: AtomicU32::new(0),
        })
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
    fn doc_key(&self, doc: Doc, key: &str) -> String {
        format!("{}:{}:{{{key}}}", self.prefix, super::doc_name(doc))
    }
    fn index_key(&self, index: Index, key: &str) -> String {
        format!("{}:{}:{{{key}}}", self.prefix, index.name())
    }

    /// Runs one request with its timeout. A timeout is a failure of the connection, not only
    /// of the request: after `TIMEOUTS_BEFORE_REPLACING` in a row the connection is replaced,
    /// since a peer that went silent without closing never makes it fail by itself.
    pub(super) async fn run<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let outcome = tokio::time::timeout(COMMAND_TIMEOUT, fut).await;
        let timed_out = match &outcome {
            Err(_) => true,
            Ok(Err(e)) => e.is_timeout(),
            Ok(Ok(_)) => false,
        };
        match timed_out {
            true => self.timed_out(),
            false => self.timeouts.store(0, Ordering::Relaxed),
        }
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) if e.is_timeout() => Err(StoreError::Unknown(e.to_string())),
            Ok(Err(e)) => Err(StoreError::Unavailable(e.to_string())),
            Err(_) => Err(StoreError::Unknown("redis did not answer in time".into())),
        }
    }

    fn timed_out(&self) {
        let in_a_row = self.timeouts.fetch_add(1, Ordering::Relaxed) + 1;
        if in_a_row < TIMEOUTS_BEFORE_REPLACING {
            return;
        }
        self.timeouts.store(0, Ordering::Relaxed);
        match self.backend.replace() {
            Ok(()) => tracing::warn!(in_a_row, "redis stopped answering; replaced the connection"),
            Err(e) => tracing::warn!(error = %e, "could not replace the redis connection"),
        }
    }
}

fn status_name(status: AlertStatus) -> &'static str {
    match status {
        AlertStatus::Open => "open",
        AlertStatus::Approved => "approved",
        AlertStatus::Declined => "declined",
        AlertStatus::Superseded => "superseded",
    }
}

#[async_trait]
impl Store for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    /// On a cluster, ready while any node answers. A PING must reach every master by default,
    /// so one master down would take every node out of its balancer and stop every session,
    /// not only the third that master holds; and the cluster connection, even asked for one
    /// answer, waits on a hung master. So each seed is asked on a connection of its own, and
    /// the first answer decides.
    async fn ping(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Single(_) => {
                let mut c = self.conn().await?;
                self.run(redis::cmd("PING").query_async::<String>(&mut c))
                    .await
                    .map(drop)
            }
            Backend::Cluster(cluster) => {
                let asks = cluster.seeds.iter().map(|seed| {
                    let mut c = seed.clone();
                    Box::pin(async move { redis::cmd("PING").query_async::<String>(&mut c).await })
                });
                self.run(futures_util::future::select_ok(asks))
                    .await
                    .map(drop)
            }
        }
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
        // SET … GET: the alert the phone pointed at until now, which this one replaces.
        let point = redis::cmd("SET")
            .arg(phone)
            .arg(alert.id.to_string())
            .arg("PX")
            .arg(ms)
            .arg("GET")
            .clone();
        let (stored, replaced) = tokio::join!(
            self.run(doc.query_async::<()>(&mut c)),
            self.run(point.query_async::<Option<String>>(&mut c2)),
        );
        stored?;
        let replaced = replaced?.and_then(|id| id.parse::<Uuid>().ok());
        match replaced {
            Some(old) if old != alert.id => {
                let supersede = redis::cmd("EVAL")
                    .arg(SUPERSEDE_LUA)
                    .arg(1)
                    .arg(self.alert_key(old))
                    .clone();
                self.run(supersede.query_async::<i64>(&mut c))
                    .await
                    .map(drop)
            }
            _ => Ok(()),
        }
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

    async fn attach_session(&self, alert: Uuid, session: Uuid) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        let attach = redis::cmd("EVAL")
            .arg(ATTACH_LUA)
            .arg(1)
            .arg(self.alert_key(alert))
            .arg(session.to_string())
            .clone();
        self.run(attach.query_async::<i64>(&mut c)).await.map(drop)
    }

    async fn alert_session(&self, alert: Uuid) -> Result<Option<Uuid>, StoreError> {
        let mut c = self.conn().await?;
        let session: Option<String> = self.run(c.hget(self.alert_key(alert), "session")).await?;
        Ok(session.and_then(|s| s.parse().ok()))
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

    async fn put_doc(
        &self,
        doc: Doc,
        key: &str,
        value: &str,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let key = self.doc_key(doc, key);
        let mut c = self.conn().await?;
        match ttl {
            Some(ttl) => {
                self.run(c.pset_ex::<_, _, ()>(key, value, ttl.as_millis() as u64))
                    .await
            }
            None => self.run(c.set::<_, _, ()>(key, value)).await,
        }
    }

    async fn doc(&self, doc: Doc, key: &str) -> Result<Option<String>, StoreError> {
        let mut c = self.conn().await?;
        self.run(c.get(self.doc_key(doc, key))).await
    }

    async fn remove_doc(&self, doc: Doc, key: &str) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        self.run(c.del::<_, ()>(self.doc_key(doc, key))).await
    }

    async fn rank(&self, set: &str, member: &str, score: i64) -> Result<(), StoreError> {
        let key = format!("{}:set:{{{set}}}", self.prefix);
        let mut c = self.conn().await?;
        self.run(c.zadd::<_, _, _, ()>(key, member, score)).await
    }

    async fn unrank(&self, set: &str, member: &str) -> Result<(), StoreError> {
        let key = format!("{}:set:{{{set}}}", self.prefix);
        let mut c = self.conn().await?;
        self.run(c.zrem::<_, _, ()>(key, member)).await
    }

    async fn ranked(&self, set: &str, limit: usize) -> Result<Vec<(String, i64)>, StoreError> {
        let key = format!("{}:set:{{{set}}}", self.prefix);
        let mut c = self.conn().await?;
        let stop = limit.max(1) as isize - 1;
        self.run(c.zrange_withscores(key, 0, stop)).await
    }

    async fn log_push(&self, name: &str, entry: &str, cap: usize) -> Result<(), StoreError> {
        let key = format!("{}:log:{{{name}}}", self.prefix);
        let mut pipe = redis::pipe();
        pipe.lpush(&key, entry)
            .ignore()
            .ltrim(&key, 0, cap.max(1) as isize - 1)
            .ignore();
        let mut c = self.conn().await?;
        self.run(pipe.query_async::<()>(&mut c)).await
    }

    async fn log(&self, name: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let key = format!("{}:log:{{{name}}}", self.prefix);
        let mut c = self.conn().await?;
        self.run(c.lrange(key, 0, limit.max(1) as isize - 1)).await
    }

    fn wakeups(&self) -> broadcast::Receiver<Wake> {
        self.bus.subscribe()
    }
}
