//! The page's websocket protocol: what the browser may send, what the server sends back.
//! Documented for people in `docs/protocol.md`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::session::{
    CallStatus, Channel, Decision, DecisionRecord, Event, Session, SessionStatus, alert::Charge,
};

#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    Decide {
        decision: Decision,
    },
    /// The page's "Talk to someone" button.
    TalkToSomeone,
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
        session: PageView<'a>,
        last_seq: u64,
    },
    Event(&'a Event),
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

/// What the page may see of a session: no credentials, the card masked.
#[derive(Debug, Serialize)]
pub struct PageView<'a> {
    pub id: Uuid,
    pub status: SessionStatus,
    pub customer: CustomerView<'a>,
    pub card: CardView<'a>,
    pub charges: &'a [Charge],
    pub decision: Option<DecisionView>,
    pub call: Option<CallView>,
}

#[derive(Debug, Serialize)]
pub struct CustomerView<'a> {
    pub first_name: &'a str,
}

#[derive(Debug, Serialize)]
pub struct CardView<'a> {
    pub brand: &'a str,
    pub masked: String,
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

impl<'a> PageView<'a> {
    pub fn of(s: &'a Session) -> Self {
        Self {
            id: s.id,
            status: s.status,
            customer: CustomerView {
                first_name: s.case.first_name(),
            },
            card: CardView {
                brand: &s.case.card.brand,
                masked: format!("•••• {}", s.case.card.last4),
            },
            charges: &s.case.charges,
            decision: s.decision.map(DecisionView::from),
            call: s.voice.as_ref().map(|v| CallView { status: v.status }),
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
