//! The voice leg, and a provider-neutral description of what the call does next.

use serde::{Deserialize, Serialize};

/// The phone call of a session, as the session sees it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct VoiceLeg {
    pub provider: String,
    pub call_id: String,
    pub from: String,
    pub to: String,
    pub status: CallStatus,
    /// Where the call is in its script.
    pub position: Position,
    /// Bumped each time the call is handed a new reply; webhooks carry it so a late or
    /// repeated one is recognised and answered with `last_reply` instead of acting twice.
    pub turn: u32,
    /// Last event `seq` the call has acted on: later events are what it has yet to hear.
    pub acted: u64,
    /// True while the call sits in the hold loop, which picks up `pending`; false while it
    /// speaks or gathers, when a reply must be pushed through the provider's live update.
    pub parked: bool,
    pub pending: Option<Reply>,
    pub last_reply: Option<Reply>,
    /// When the current wait gives up, in Unix milliseconds.
    pub wait_until: Option<i64>,
    /// The call stands in an action state whose effect (a text) the hold loop must perform.
    #[serde(default)]
    pub effect_due: bool,
}

impl VoiceLeg {
    pub fn is_live(&self) -> bool {
        self.status.is_live()
    }
}

/// Where a call is in its life, in the session's own words; each provider maps its statuses
/// onto these where its webhooks are parsed.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    Queued,
    Ringing,
    InProgress,
    Completed,
    Busy,
    Failed,
    NoAnswer,
    Canceled,
}

impl CallStatus {
    /// Whether the call can still hear anything.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            CallStatus::Queued | CallStatus::Ringing | CallStatus::InProgress
        )
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Position {
    pub state: String,
    /// Attempts already used at the current input.
    pub tries: u8,
}

/// What the call should do next: speak, then one way to continue.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Reply {
    pub speech: Vec<Prompt>,
    pub then: Then,
    /// The language to speak and listen in (`es-US`), when not the provider's default English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Then {
    /// Collect keys; `prompt` is spoken inside the gather so a key press interrupts it.
    Gather {
        prompt: String,
        digits: u8,
        /// The key that ends entry early; empty for none.
        #[serde(default = "hash_key")]
        finish_on_key: String,
        timeout_secs: u32,
        /// Words the call also listens for (speech recognition); none means keys only.
        #[serde(default)]
        hints: Vec<String>,
    },
    /// Park the call in the hold loop; `hold_prompt` is repeated while nothing happens.
    Hold {
        hold_prompt: String,
    },
    Hangup,
    /// Hand the caller to a person.
    /// A queue when named, else the agent number.
    Transfer {
        #[serde(default)]
        queue: Option<String>,
    },
}

fn hash_key() -> String {
    "#".into()
}

impl Reply {
    pub fn parks(&self) -> bool {
        matches!(self.then, Then::Hold { .. })
    }

    /// Everything the caller will hear, in order (for the event log and the page).
    pub fn spoken(&self) -> impl Iterator<Item = &str> {
        let prompt = match &self.then {
            Then::Gather { prompt, .. } => Some(prompt.as_str()),
            _ => None,
        };
        self.speech.iter().filter_map(Prompt::said).chain(prompt)
    }
}

impl super::Draft {
    /// Hands the call its next reply: logs what it will say and marks every event so far as
    /// acted on. Returns the new turn.
    pub fn give_call(&mut self, position: Position, reply: Reply, wait_secs: Option<u32>) -> u32 {
        for text in reply.spoken().map(str::to_owned).collect::<Vec<_>>() {
            self.emit(super::EventKind::Said { text });
        }
        if matches!(reply.then, Then::Transfer { .. }) {
            self.emit(super::EventKind::Transferred);
        }
        let (seq, now) = (self.session.seq, self.now);
        let Some(voice) = self.session.voice.as_mut() else {
            return 0;
        };
        voice.position = position;
        voice.turn += 1;
        voice.acted = seq;
        voice.parked = reply.parks();
        voice.pending = None;
        // Each reply brings its own wait; an earlier one no longer applies.
        voice.wait_until =
            wait_secs.map(|secs| (now + chrono::Duration::seconds(secs.into())).timestamp_millis());
        voice.last_reply = Some(reply);
        voice.turn
    }
}

/// One thing the caller hears before the call goes on.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Prompt {
    Say(String),
    /// An audio file, by https URL.
    Play {
        play: String,
    },
    /// Silence, in seconds.
    Pause {
        pause: u32,
    },
}

impl Prompt {
    /// The words, for a spoken prompt.
    pub fn said(&self) -> Option<&str> {
        match self {
            Prompt::Say(text) => Some(text),
            _ => None,
        }
    }

    pub fn contains(&self, words: &str) -> bool {
        self.said().is_some_and(|t| t.contains(words))
    }
}

impl From<String> for Prompt {
    fn from(text: String) -> Self {
        Prompt::Say(text)
    }
}

impl From<&str> for Prompt {
    fn from(text: &str) -> Self {
        Prompt::Say(text.to_owned())
    }
}
