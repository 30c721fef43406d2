//! The domain: a session joins one customer's call, page and texts; every change is an event.
//! Nothing here knows HTTP, Redis or any provider.

pub mod alert;
pub mod event;
pub mod history;
pub mod voice;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use alert::{Alert, AlertStatus, Case};
pub use event::{Channel, Decision, Event, EventKind};
pub use voice::{CallStatus, Position, Prompt, Reply, Then, VoiceLeg};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub alert_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: SessionStatus,
    pub case: Case,
    /// Name of the IVR script driving the call.
    pub script: String,
    pub voice: Option<VoiceLeg>,
    pub link: Option<Link>,
    pub page_opened: bool,
    pub decision: Option<DecisionRecord>,
    #[serde(default)]
    pub sms: Option<SmsLeg>,
    /// The customer's recent history, read when the session opened (newest first).
    #[serde(default)]
    pub history: Vec<history::Record>,
    #[serde(default)]
    pub agent_requested: bool,
    /// The desk account that took the session; only they act in it from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_by: Option<String>,
    /// Since when, and why, the caller has been waiting for a person at the desk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Waiting>,
    #[serde(default)]
    pub cases: Vec<FollowUp>,
    /// The customer's latest text, trimmed and in capitals, for scripts to branch on.
    #[serde(default)]
    pub sms_reply: Option<String>,
    /// The screen the page shows, once a state named one.
    #[serde(default)]
    pub screen: Option<ScreenAt>,
    /// Forms answered (form → field → value; secret values masked), each once.
    #[serde(default)]
    pub answers: BTreeMap<String, BTreeMap<String, String>>,
    /// `seq` of the last event in the log.
    pub seq: u64,
    /// The ids of the latest commits, newest last: a writer whose commit timed out reads
    /// them to learn whether it was applied.
    #[serde(default)]
    pub recent_commits: Vec<Uuid>,
}

/// A screen on the page: its name, and the `seq` of the event that showed it (a page answers
/// one showing; an answer to an earlier one is stale).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ScreenAt {
    pub name: String,
    pub seq: u64,
    /// Actions already raised on this showing: a second tap repeats, it does not act again.
    #[serde(default)]
    pub raised: Vec<String>,
}

/// A text conversation with the customer.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct SmsLeg {
    /// The provider the session texts by; older sessions name none (the default one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub to: String,
    pub position: Position,
    /// Whether a question is waiting for the customer's reply.
    pub open: bool,
}

/// A caller waiting for a person: since when, and how they came to.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Waiting {
    pub since: DateTime<Utc>,
    /// `key`, `voice` or `page` when the customer asked; `script` when the script sent them.
    pub asked_by: String,
}

/// A request outside the script, recorded for follow-up with the expectation given.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct FollowUp {
    pub note: String,
    pub expectation: String,
    pub opened_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Open,
    Closed,
}

/// The page link sent by text. Only hashes are kept: a leaked store leaks no usable link.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Link {
    pub token_hash: String,
    /// The device that claimed the link first; no other device may use it.
    pub device_hash: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct DecisionRecord {
    pub decision: Decision,
    pub by: Channel,
    pub at: DateTime<Utc>,
}

/// Why a command was not applied; the session is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the charges were already {}", .0.decision.past_tense())]
    AlreadyDecided(DecisionRecord),
    #[error("this session has ended")]
    Closed,
    #[error("this link was already opened on another device")]
    OtherDevice,
    #[error("this link is not valid")]
    BadLink,
}

impl Session {
    pub fn open(
        id: Uuid,
        alert: &Alert,
        script: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> Self {
        Self {
            id,
            alert_id: alert.id,
            created_at: now,
            expires_at: now + ttl,
            status: SessionStatus::Open,
            case: alert.case.clone(),
            script: script.to_owned(),
            voice: None,
            link: None,
            page_opened: false,
            decision: None,
            sms: None,
            history: Vec::new(),
            agent_requested: false,
            taken_by: None,
            waiting: None,
            cases: Vec::new(),
            sms_reply: None,
            screen: None,
            answers: BTreeMap::new(),
            seq: 0,
            recent_commits: Vec::new(),
        }
    }

    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.status == SessionStatus::Open && now < self.expires_at
    }
}

/// A session being changed: the new state plus the events that explain it. Stores commit
/// a draft whole or not at all.
#[derive(Clone, Debug)]
pub struct Draft {
    pub session: Session,
    pub events: Vec<Event>,
    pub now: DateTime<Utc>,
}

impl Draft {
    pub fn new(session: Session, now: DateTime<Utc>) -> Self {
        Self {
            session,
            events: Vec::new(),
            now,
        }
    }

    /// Appends an event; a `CaseOpened` from a script is also kept among the session's cases.
    pub fn emit(&mut self, event: EventKind) -> u64 {
        if let EventKind::CaseOpened { note, expectation } = &event {
            let case = FollowUp {
                note: note.clone(),
                expectation: expectation.clone(),
                opened_at: self.now,
            };
            self.session.cases.push(case);
        }
        self.session.seq += 1;
        let seq = self.session.seq;
        match &event {
            EventKind::ScreenShown { screen } => {
                self.session.screen = Some(ScreenAt {
                    name: screen.clone(),
                    seq,
                    raised: Vec::new(),
                });
            }
            EventKind::PageSubmit { form, values, .. } => {
                self.session
                    .answers
                    .entry(form.clone())
                    .or_insert_with(|| values.clone());
            }
            EventKind::PageAction { name, .. } => {
                if let Some(at) = self.session.screen.as_mut() {
                    at.raised.push(name.clone());
                }
            }
            _ => {}
        }
        self.events.push(Event {
            seq,
            at: self.now,
            event,
        });
        seq
    }

    /// First writer wins: a second decision, from any channel, is refused.
    pub fn decide(&mut self, decision: Decision, by: Channel) -> Result<(), Refusal> {
        if !self.session.is_open(self.now) {
            return Err(Refusal::Closed);
        }
        if let Some(existing) = self.session.decision {
            return Err(Refusal::AlreadyDecided(existing));
        }
        self.session.decision = Some(DecisionRecord {
            decision,
            by,
            at: self.now,
        });
        self.emit(EventKind::Decided { decision, by });
        Ok(())
    }

    /// Binds the link to the first device that presents it.
    pub fn claim_link(&mut self, token_hash: &str, device_hash: &str) -> Result<(), Refusal> {
        if !self.session.is_open(self.now) {
            return Err(Refusal::BadLink);
        }
        let link = self
            .session
            .link
            .as_mut()
            .filter(|l| l.token_hash == token_hash);
        let link = link.ok_or(Refusal::BadLink)?;
        match &link.device_hash {
            None => link.device_hash = Some(device_hash.to_owned()),
            Some(bound) if bound == device_hash => {}
            Some(_) => return Err(Refusal::OtherDevice),
        }
        Ok(())
    }

    pub fn open_page(&mut self) {
        if !self.session.page_opened && self.session.is_open(self.now) {
            self.session.page_opened = true;
            self.emit(EventKind::PageOpened);
        }
    }

    /// Asks for a person once; later asks change nothing.
    pub fn request_agent(&mut self, by: Channel) -> Result<(), Refusal> {
        if !self.session.is_open(self.now) {
            return Err(Refusal::Closed);
        }
        if !self.session.agent_requested {
            self.session.agent_requested = true;
            self.emit(EventKind::AgentRequested { by });
        }
        Ok(())
    }

    /// A representative says they are ready; the call hears it through its script.
    pub fn agent_joined(&mut self, name: &str) -> Result<(), Refusal> {
        if !self.session.is_open(self.now) {
            return Err(Refusal::Closed);
        }
        self.emit(EventKind::AgentJoined {
            name: name.to_owned(),
        });
        Ok(())
    }

    pub fn open_case(&mut self, note: &str, expectation: &str) {
        self.emit(EventKind::CaseOpened {
            note: note.to_owned(),
            expectation: expectation.to_owned(),
        });
    }

    pub fn close(&mut self, reason: &str) {
        if self.session.status == SessionStatus::Open {
            self.session.status = SessionStatus::Closed;
            self.emit(EventKind::SessionClosed {
                reason: reason.to_owned(),
            });
        }
    }
}

/// Commit ids a session keeps: enough to settle a timed-out commit while others land.
const RECENT_COMMITS: usize = 8;

impl Session {
    /// Marks this version of the session as written by commit `id`.
    pub fn stamp(&mut self, id: Uuid) {
        if self.recent_commits.len() >= RECENT_COMMITS {
            self.recent_commits.remove(0);
        }
        self.recent_commits.push(id);
    }

    /// Whether `device_hash` is the device this session's link is bound to.
    pub fn is_bound_to(&self, device_hash: &str) -> bool {
        self.link.as_ref().and_then(|l| l.device_hash.as_deref()) == Some(device_hash)
    }
}
