//! Where sessions, their event logs and alerts live, and the bus that wakes other nodes.
//! Two implementations, one contract: `memory` (embedded, one node) and `redis` (production).

pub mod memory;
pub mod redis;

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::session::{Alert, AlertStatus, Draft, Event, Session, history::Record};

pub use self::{memory::MemoryStore, redis::RedisStore};

pub(crate) fn doc_name(doc: Doc) -> &'static str {
    doc.name()
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The request was sent but no answer came in time: it may or may not have been applied.
    #[error("store did not answer in time; the outcome is unknown: {0}")]
    Unknown(String),
    #[error("store returned data it cannot read: {0}")]
    Corrupt(String),
}

/// A session together with the version a commit must name to replace it.
#[derive(Clone, Debug)]
pub struct Versioned {
    pub session: Session,
    pub version: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commit {
    Done {
        version: u64,
    },
    /// Someone else committed first; reload and try again.
    Conflict,
}

/// Secondary keys that lead to a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Index {
    /// A provider's call id.
    Call,
    /// The hash of a page link token.
    Token,
    /// A customer's phone number, for the text conversation a reply belongs to.
    SmsThread,
    /// A signed request's nonce, seen once: a replayed request finds it taken.
    Nonce,
}

impl Index {
    fn name(self) -> &'static str {
        match self {
            Index::Call => "call",
            Index::Token => "token",
            Index::SmsThread => "sms",
            Index::Nonce => "nonce",
        }
    }
}

/// Small documents kept by key, outside any session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Doc {
    /// A desk account, by login.
    Agent,
    /// A desk sign-in, by the hash of its cookie's token.
    DeskLogin,
}

impl Doc {
    fn name(self) -> &'static str {
        match self {
            Doc::Agent => "agent",
            Doc::DeskLogin => "desk-login",
        }
    }
}

/// Records kept per customer.
pub const HISTORY_CAP: usize = 1000;

/// A nudge on the bus. It carries no data: listeners read the log from their own cursor,
/// so a lost or late wake-up delays nothing beyond the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    Session {
        id: Uuid,
        seq: u64,
    },
    /// The bus was down and is back: every listener must re-read, it may have missed events.
    Resync,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn kind(&self) -> &'static str;
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores an alert and makes it the open alert for its customer's phone.
    async fn put_alert(&self, alert: &Alert, ttl: Duration) -> Result<(), StoreError>;
    async fn alert(&self, id: Uuid) -> Result<Option<Alert>, StoreError>;
    async fn open_alert_for_phone(&self, phone: &str) -> Result<Option<Alert>, StoreError>;
    /// Notes the session that serves an alert (while the alert exists), so the alert can be
    /// repaired from it.
    async fn attach_session(&self, alert: Uuid, session: Uuid) -> Result<(), StoreError>;
    /// The session last attached to an alert.
    async fn alert_session(&self, alert: Uuid) -> Result<Option<Uuid>, StoreError>;
    /// Records an alert's outcome; a resolved alert is no longer found by phone.
    async fn set_alert_status(
        &self,
        id: Uuid,
        phone: &str,
        status: AlertStatus,
    ) -> Result<(), StoreError>;

    async fn load(&self, id: Uuid) -> Result<Option<Versioned>, StoreError>;
    /// Atomically: if the stored version is `expected` (0 = absent), write the draft's session,
    /// append its events, refresh the TTL and wake listeners.
    async fn commit(
        &self,
        draft: &Draft,
        expected: u64,
        ttl: Duration,
    ) -> Result<Commit, StoreError>;
    /// Events with `seq > after`, oldest first, at most `limit`.
    async fn events_after(
        &self,
        id: Uuid,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError>;

    /// Failures counted against a client (a link that did not open) in its current window.
    async fn failures(&self, client: &str) -> Result<u64, StoreError>;
    /// Counts one more failure for `client`; the window starts at its first failure and lasts
    /// `window`. Shared by every node, so spreading guesses over nodes gains nothing.
    async fn add_failure(&self, client: &str, window: Duration) -> Result<u64, StoreError>;

    /// Points `key` at a session unless it already points somewhere; returns the existing target.
    async fn bind(
        &self,
        index: Index,
        key: &str,
        id: Uuid,
        ttl: Duration,
    ) -> Result<Option<Uuid>, StoreError>;
    /// Points `key` at a session, replacing whatever it pointed at.
    async fn point(
        &self,
        index: Index,
        key: &str,
        id: Uuid,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    async fn lookup(&self, index: Index, key: &str) -> Result<Option<Uuid>, StoreError>;

    /// Adds to a customer's history, keeping at most the newest 1,000 records for `keep`.
    async fn append_history(
        &self,
        customer: &str,
        record: &Record,
        keep: Duration,
    ) -> Result<(), StoreError>;
    /// The newest `limit` records, newest first.
    async fn history(&self, customer: &str, limit: usize) -> Result<Vec<Record>, StoreError>;

    /// Stores a document (replacing it), for `ttl` or for good.
    async fn put_doc(
        &self,
        doc: Doc,
        key: &str,
        value: &str,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError>;
    async fn doc(&self, doc: Doc, key: &str) -> Result<Option<String>, StoreError>;
    async fn remove_doc(&self, doc: Doc, key: &str) -> Result<(), StoreError>;

    /// Puts `member` in the ranked set `set` with `score` (replacing its score): the desk's
    /// queue per team, the live sessions.
    async fn rank(&self, set: &str, member: &str, score: i64) -> Result<(), StoreError>;
    async fn unrank(&self, set: &str, member: &str) -> Result<(), StoreError>;
    /// The first `limit` members of `set`, lowest score first.
    async fn ranked(&self, set: &str, limit: usize) -> Result<Vec<(String, i64)>, StoreError>;

    /// Adds `entry` to the log `name`, keeping about the newest `cap`: the desk's audit trail.
    async fn log_push(&self, name: &str, entry: &str, cap: usize) -> Result<(), StoreError>;
    /// The newest `limit` entries of the log `name`, newest first.
    async fn log(&self, name: &str, limit: usize) -> Result<Vec<String>, StoreError>;

    fn wakeups(&self) -> broadcast::Receiver<Wake>;
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("domain types always serialise")
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(e.to_string()))
}
