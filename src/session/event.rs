//! The session's event log entries: every change, ordered by `seq`, timestamped.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One entry of a session's log. `seq` starts at 1 and has no gaps, so a reader that saw
/// `seq = n` resumes with exactly the events after `n`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Event {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub event: EventKind,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    SessionOpened,
    CallStarted,
    /// What the IVR said, as spoken.
    Said {
        text: String,
    },
    /// Keys the caller pressed; credential entries are masked before they get here.
    Digits {
        digits: String,
    },
    /// What speech recognition heard.
    SpeechHeard {
        text: String,
    },
    Verified,
    VerifyFailed {
        tries: u8,
    },
    LinkSent,
    PageOpened,
    Decided {
        decision: Decision,
        by: Channel,
    },
    /// The caller asked for a person (keypad, voice or the page's button).
    AgentRequested {
        by: Channel,
    },
    /// A representative is ready to take the caller.
    AgentJoined {
        name: String,
    },
    /// Something the script never foresaw, written down with what the caller was promised.
    CaseOpened {
        note: String,
        expectation: String,
    },
    /// A text sent to the customer, or received from them (control characters removed).
    SmsSent {
        text: String,
    },
    SmsReceived {
        text: String,
    },
    /// The page shows this screen of the script from now on; its `seq` names this showing.
    ScreenShown {
        screen: String,
    },
    /// A button on the page raised an action on the screen shown at `screen` (its `seq`).
    PageAction {
        screen: u64,
        name: String,
    },
    /// A form was answered, on the page or by voice; secret values are masked.
    PageSubmit {
        screen: u64,
        form: String,
        values: std::collections::BTreeMap<String, String>,
        by: Channel,
    },
    Transferred,
    /// What a representative did at the desk, recorded right after the change it made.
    DeskAction {
        agent: String,
        action: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    CallEnded {
        status: super::CallStatus,
    },
    SessionClosed {
        reason: String,
    },
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Decline,
}

impl Decision {
    pub fn past_tense(self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::Decline => "declined",
        }
    }

    /// The word in a session's language (`es`: "aprobado"); English for any other.
    pub fn past_tense_in(self, locale: &str) -> &'static str {
        match (self, locale.starts_with("es")) {
            (Decision::Approve, true) => "aprobado",
            (Decision::Decline, true) => "rechazado",
            (d, false) => d.past_tense(),
        }
    }
}

/// Which of the session's legs something came from.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Voice,
    Web,
    Sms,
    Api,
    /// A representative at the desk.
    Desk,
}
