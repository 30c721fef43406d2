//! The page's websocket protocol: what the browser may send, what the server sends back.
//! Documented for people in `docs/protocol.md`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use std::collections::BTreeMap;

use crate::{
    broker::PageRefusal,
    session::{CallStatus, Channel, Decision, DecisionRecord, Event, Session, SessionStatus},
};

#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    Decide {
        decision: Decision,
    },
    /// The page's "Talk to someone" button.
    TalkToSomeone,
    /// A button raised a named action on the screen shown at `screen` (its `seq`).
    Action {
        screen: u64,
        name: String,
    },
    /// A form answered on the screen shown at `screen`.
    Submit {
        screen: u64,
        form: String,
        values: BTreeMap<String, String>,
    },
}

impl ClientMsg {
    /// One message from the page; `None` for anything that is not exactly one of ours.
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg<'a> {
    /// The whole current state; always first after (re)connecting.
    Snapshot {
        session: PageView,
        last_seq: u64,
    },
    Event(&'a Event),
    /// The screen the page shows now (after a `screen_shown` event, or a form answered).
    Screen {
        screen: &'a serde_json::Value,
    },
    /// An action or form the session did not take; nothing was recorded.
    Refused {
        reason: PageRefusal,
        #[serde(skip_serializing_if = "Option::is_none")]
        form: Option<&'a str>,
        /// Field → what is wrong with it, in the script's words.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        errors: &'a BTreeMap<String, String>,
    },
    DecisionRefused {
        reason: RefusalReason,
        message: &'a str,
        decision: Option<DecisionView>,
    },
    /// The server is closing the socket: `shutdown` asks the page to reconnect elsewhere.
    Bye {
        reason: ByeReason,
    },
    Error {
        message: &'a str,
    },
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    AlreadyDecided,
    SessionClosed,
    Unavailable,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ByeReason {
    SessionClosed,
    Shutdown,
}

/// What the page may see of a session: the screen its script draws, never the data itself
/// (a page shows only what the screen names; credentials never).
#[derive(Debug, Serialize)]
pub struct PageView {
    pub id: Uuid,
    pub status: SessionStatus,
    pub decision: Option<DecisionView>,
    pub call: Option<CallView>,
    pub screen: Option<serde_json::Value>,
    /// Whether the customer has asked for a person.
    pub agent_requested: bool,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct DecisionView {
    pub decision: Decision,
    pub by: Channel,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct CallView {
    pub status: CallStatus,
}

impl PageView {
    /// `screen`: the session's current screen as its script draws it.
    pub fn of(s: &Session, screen: Option<serde_json::Value>) -> Self {
        Self {
            id: s.id,
            status: s.status,
            decision: s.decision.map(DecisionView::from),
            call: s.voice.as_ref().map(|v| CallView { status: v.status }),
            screen,
            agent_requested: s.agent_requested,
        }
    }
}

impl From<DecisionRecord> for DecisionView {
    fn from(r: DecisionRecord) -> Self {
        Self {
            decision: r.decision,
            by: r.by,
            at: r.at,
        }
    }
}

impl ServerMsg<'_> {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("protocol messages always serialise")
    }
}
