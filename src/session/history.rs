//! A customer's interaction history: one compact record per session, plus what the bank's
//! other channels report, kept for a configured number of days.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{EventKind, Session};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub at: DateTime<Utc>,
    pub kind: RecordKind,
    /// One line a person can read: what happened.
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Uuid>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Call,
    Sms,
    /// Reported on any channel; a later call opens with it.
    CardReportedStolen,
    Note,
}

impl Record {
    /// The record a finished session leaves in its customer's history, opening with
    /// `headline` (the script's words for what the session was about).
    pub fn of(s: &Session, at: DateTime<Utc>, headline: &str) -> Self {
        let kind = if s.voice.is_some() {
            RecordKind::Call
        } else {
            RecordKind::Sms
        };
        let mut parts = vec![headline.to_owned()];
        if let Some(d) = s.decision {
            parts.push(format!(
                "{} by {}",
                d.decision.past_tense(),
                format!("{:?}", d.by).to_lowercase()
            ));
        }
        if s.page_opened {
            parts.push("opened the page".into());
        }
        if s.agent_requested {
            parts.push("asked for a representative".into());
        }
        for case in &s.cases {
            parts.push(format!("case: {} ({})", case.note, case.expectation));
        }
        Self {
            at,
            kind,
            summary: parts.join("; "),
            session: Some(s.id),
        }
    }

    /// The records a finished session leaves: the session itself, then each case it opened
    /// (so a later call can find an open request).
    pub fn all_of(s: &Session, at: DateTime<Utc>, headline: &str) -> Vec<Self> {
        let cases = s.cases.iter().map(|c| Self {
            at,
            kind: RecordKind::Note,
            summary: format!("{} ({})", c.note, c.expectation),
            session: Some(s.id),
        });
        std::iter::once(Self::of(s, at, headline))
            .chain(cases)
            .collect()
    }

    /// Whether `event` finishes a session, so its record is due.
    pub fn due(event: &EventKind) -> bool {
        matches!(event, EventKind::SessionClosed { .. })
    }
}
