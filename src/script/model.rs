//! What a flow is once loaded: its states, their kinds and the events they wait on. Read
//! from a file by [`super::file`], checked by [`super::check`], run by [`super::engine`].

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use chrono::{DateTime, Utc};

use crate::session::{
    Decision, Session,
    alert::AlertKind,
    history::{Record, RecordKind},
};

use super::{screen::Screen, text::Text};

/// The flow's words for refusals, heard on the call, shown on the page and texted alike.
#[derive(Debug)]
pub struct Messages {
    /// A decision came after another channel's: `{decision}` is the one that stands.
    pub already_decided: Text,
    /// A command reached a session that is over.
    pub ended: Text,
    /// The customer texted after the session was over.
    pub texted_after_end: Text,
    /// How a finished session opens its line in the customer's history.
    pub history: Text,
}

impl Default for Messages {
    /// In English and Spanish, so a script in either needs to word none of them.
    fn default() -> Self {
        let both = |en: &str, es: &str| {
            Text::Each(
                [
                    ("en".to_owned(), en.to_owned()),
                    ("es".to_owned(), es.to_owned()),
                ]
                .into(),
            )
        };
        Self {
            already_decided: both("That was already {decision}.", "Eso ya quedó {decision}."),
            ended: both(
                "This session has ended, so nothing was changed.",
                "Esta sesión terminó, así que no se cambió nada.",
            ),
            texted_after_end: both(
                "This question has already been answered. Thank you.",
                "Esta pregunta ya tiene respuesta. Gracias.",
            ),
            history: both("Contacted us", "Nos contactó"),
        }
    }
}

/// The text a `send_link` action sends when the flow gives none.
pub const DEFAULT_LINK_TEXT: &str = "Your secure page: {link}";

/// `{"history": "card_reported_stolen", "within_days": 30}`: a record of that kind that recent.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct When {
    pub history: RecordKind,
    pub within_days: u32,
}

impl When {
    pub fn holds(&self, history: &[Record], now: DateTime<Utc>) -> bool {
        let since = now - chrono::Duration::days(self.within_days.into());
        history
            .iter()
            .any(|r| r.kind == self.history && r.at >= since)
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    #[serde(rename = "if")]
    pub condition: Condition,
    pub then: String,
}

/// Facts about the session a branch can test.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged, deny_unknown_fields)]
pub enum Condition {
    /// `{"history": "card_reported_stolen", "within_days": 30}`
    History(When),
    /// `{"page_opened": true}`
    PageOpened { page_opened: bool },
    /// `{"decided": false}`
    Decided { decided: bool },
    /// `{"alert_kind": "confirm_purchase"}`
    AlertKind {
        alert_kind: crate::session::alert::AlertKind,
    },
    /// `{"decision": "approve"}`: the session's decision, from whichever channel made it.
    Decision { decision: Decision },
    /// `{"sms_reply": "YES"}`: the customer's latest text, trimmed and in capitals.
    SmsReply { sms_reply: String },
}

impl Condition {
    pub fn holds(&self, s: &crate::session::Session) -> bool {
        match self {
            // Relative to the session's start, so a call's path never depends on the clock.
            Condition::History(when) => when.holds(&s.history, s.created_at),
            Condition::PageOpened { page_opened } => s.page_opened == *page_opened,
            Condition::Decided { decided } => s.decision.is_some() == *decided,
            Condition::AlertKind { alert_kind } => s.case.kind == *alert_kind,
            Condition::Decision { decision } => s.decision.map(|d| d.decision) == Some(*decision),
            Condition::SmsReply { sms_reply } => {
                s.sms_reply.as_deref() == Some(sms_reply.trim().to_uppercase().as_str())
            }
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CaseTemplate {
    pub note: String,
    pub expectation: String,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ScriptChannel {
    /// Words are spoken, input is keys.
    #[default]
    Voice,
    /// Words are texts, input is the text of a reply (compared in capitals, trimmed).
    Sms,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Text the page link (`sms` words it, with `{link}`); in an SMS flow, add it to the text.
    SendLink,
    /// Text `sms` to the customer.
    SendSms,
    /// Record a decision; `on_error` when another channel decided first.
    Approve,
    Decline,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    /// Seconds before `on_timeout` is taken.
    pub timeout: u32,
    pub hold_prompt: Text,
    pub on_timeout: String,
}

/// A checked script: every name it mentions exists and every state can be reached.
#[derive(Debug)]
pub struct Script {
    pub name: String,
    pub channel: ScriptChannel,
    pub serves: Vec<AlertKind>,
    pub when: Option<When>,
    pub messages: Messages,
    /// Hash of the file's text: a live call keeps the version it started with across reloads.
    pub version: String,
    pub start: String,
    pub anywhere: Anywhere,
    pub states: HashMap<String, State>,
    /// The languages its words come in; the first is the default.
    pub locales: Vec<String>,
    /// The JSON Schema the journey's data must match (`None`: the script reads no data).
    pub data: Option<serde_json::Value>,
    pub(super) data_check: Option<jsonschema::Validator>,
    pub screens: BTreeMap<String, Screen>,
    /// The screen a page shows before any state names one.
    pub screen: Option<String>,
    /// The desk team its callers are queued for when they need a person.
    pub team: String,
}

/// The team a script names none: every desk account may be put in it.
pub const DEFAULT_TEAM: &str = "general";

/// Ways out that work wherever the call is.
#[derive(Debug, Default)]
pub struct Anywhere {
    /// Keys that leave any gather that does not use them itself.
    pub keys: BTreeMap<String, String>,
    /// Words that, heard during any gather, lead on.
    pub words: BTreeMap<String, String>,
    /// Events that move the call from any state.
    pub on: BTreeMap<Trigger, String>,
}

#[derive(Debug)]
pub struct State {
    /// The screen the page shows from this state on, until another state names one.
    pub screen: Option<String>,
    pub say: Option<Text>,
    pub play: Option<String>,
    pub pause: Option<u32>,
    pub open_case: Option<CaseTemplate>,
    pub kind: StateKind,
    pub on: BTreeMap<Trigger, String>,
}

#[derive(Debug)]
pub enum StateKind {
    Next(String),
    Gather(Gather),
    Wait(Wait),
    Action {
        action: ActionKind,
        /// The text an SMS action sends, before placeholders are filled.
        sms: Option<Text>,
        on_ok: String,
        on_error: String,
    },
    Hangup,
    Transfer {
        queue: Option<String>,
    },
    Branch {
        arms: Vec<Arm>,
        otherwise: String,
    },
}

#[derive(Debug)]
pub struct Gather {
    pub prompt: Text,
    pub digits: u8,
    pub finish_on_key: String,
    pub timeout: u32,
    pub retries: u8,
    pub reprompt: Option<Text>,
    pub secret: bool,
    pub on_fail: String,
    /// Said after silence instead of the reprompt.
    pub no_input: Option<Text>,
    /// Where silence on the last try leads (default: `on_fail`).
    pub on_no_input: Option<String>,
    pub choice: Choice,
}

#[derive(Debug)]
pub enum Choice {
    Expect {
        path: String,
        on_match: String,
    },
    Options(BTreeMap<String, String>),
    Decide(BTreeMap<String, Decision>),
    /// Answers the page's question by voice: each answer is a value of `field` in `form`, and
    /// the call goes on as it would had the page sent the form (first answer wins, once).
    Fill {
        form: String,
        field: String,
        values: BTreeMap<String, String>,
    },
}

/// Session events a state may wait on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    PageOpened,
    Decided(Decision),
    AgentRequested,
    AgentJoined,
    /// The customer texted back (what they wrote is `{"sms_reply": …}` in a branch).
    SmsReply,
    /// A button on the page raised this action.
    PageAction(String),
    /// This form was answered, on the page or by voice.
    PageSubmit(String),
}

impl Trigger {
    pub(super) const KNOWN: &str = "page_opened, decided.approve, decided.decline, agent_requested, agent_joined, sms_reply, page.action.<name>, page.submit.<form>";

    pub(super) fn parse(s: &str) -> Option<Self> {
        let named = |name: &str| {
            (!name.is_empty()
                && name.len() <= 40
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
            .then(|| name.to_owned())
        };
        match s {
            "page_opened" => Some(Self::PageOpened),
            "decided.approve" => Some(Self::Decided(Decision::Approve)),
            "decided.decline" => Some(Self::Decided(Decision::Decline)),
            "agent_requested" => Some(Self::AgentRequested),
            "agent_joined" => Some(Self::AgentJoined),
            "sms_reply" => Some(Self::SmsReply),
            _ => {
                if let Some(name) = s.strip_prefix("page.action.") {
                    return named(name).map(Self::PageAction);
                }
                named(s.strip_prefix("page.submit.")?).map(Self::PageSubmit)
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("{file}: line {line}, column {column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: state `{state}`: {message}")]
    State {
        file: String,
        state: String,
        message: String,
    },
    #[error("{file}: {message}")]
    Script { file: String, message: String },
}

impl Script {
    /// `name@version`, what a session records to find its script again.
    pub fn key(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The language this session hears and sees: the customer's, where the script has it.
    pub fn locale_for(&self, s: &Session) -> &str {
        super::text::choose(&self.locales, s.case.customer.locale.as_deref())
    }

    /// The screen the session's page shows now, with the sequence number it was shown at.
    pub fn current_screen(&self, s: &Session) -> Option<(&str, &Screen, u64)> {
        let (name, seq) = match &s.screen {
            Some(at) => (at.name.as_str(), at.seq),
            None => (self.screen.as_deref()?, 0),
        };
        let screen = self.screens.get(name)?;
        Some((self.screens.get_key_value(name)?.0.as_str(), screen, seq))
    }

    /// A form by id, on whichever screen holds it.
    pub fn form(&self, id: &str) -> Option<&super::screen::Form> {
        self.screens.values().find_map(|s| s.form(id))
    }

    /// Checks `data` against the script's schema; the first mismatch names its field.
    pub fn check_data(&self, data: &serde_json::Value) -> Result<(), (String, String)> {
        let Some(validator) = &self.data_check else {
            return Ok(());
        };
        match validator.validate(data) {
            Ok(()) => Ok(()),
            Err(e) => {
                let at = e.instance_path().to_string();
                let field = at
                    .trim_start_matches('/')
                    .split('/')
                    .filter(|p| !p.is_empty())
                    .fold(String::from("data"), |mut out, part| {
                        match part.parse::<usize>() {
                            Ok(i) => out.push_str(&format!("[{i}]")),
                            Err(_) => {
                                out.push('.');
                                out.push_str(part);
                            }
                        }
                        out
                    });
                // The validator quotes the value: a huge one must not come back whole.
                let mut problem = e.to_string();
                if problem.chars().count() > 200 {
                    problem = problem.chars().take(200).collect::<String>() + "…";
                }
                Err((field, problem))
            }
        }
    }
}

impl Choice {
    /// Whether this gather gives `keys` a meaning of its own (which then wins over `anywhere`).
    pub fn uses(&self, keys: &str) -> bool {
        match self {
            Choice::Expect { .. } => false,
            Choice::Options(map) => map.contains_key(keys),
            Choice::Decide(map) => map.contains_key(keys),
            Choice::Fill { values, .. } => values.contains_key(keys),
        }
    }
}

impl Anywhere {
    pub fn targets(&self) -> Vec<&str> {
        self.keys
            .values()
            .chain(self.words.values())
            .chain(self.on.values())
            .map(String::as_str)
            .collect()
    }
}

impl State {
    /// Every state this one can lead to.
    pub fn targets(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.on.values().map(String::as_str).collect();
        match &self.kind {
            StateKind::Next(n) => out.push(n),
            StateKind::Gather(g) => {
                out.push(&g.on_fail);
                out.extend(g.on_no_input.as_deref());
                match &g.choice {
                    Choice::Expect { on_match, .. } => out.push(on_match),
                    Choice::Options(map) => out.extend(map.values().map(String::as_str)),
                    Choice::Decide(_) | Choice::Fill { .. } => {}
                }
            }
            StateKind::Wait(w) => out.push(&w.on_timeout),
            StateKind::Action {
                on_ok, on_error, ..
            } => out.extend([on_ok.as_str(), on_error.as_str()]),
            StateKind::Branch { arms, otherwise } => {
                out.extend(arms.iter().map(|a| a.then.as_str()));
                out.push(otherwise);
            }
            StateKind::Hangup | StateKind::Transfer { .. } => {}
        }
        out
    }
}
