//! The IVR flow file format: JSON states, parsed and checked into a [`Script`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;
use sha2::Digest;

use chrono::{DateTime, Utc};

use crate::session::{
    Decision,
    history::{Record, RecordKind},
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptFile {
    /// Lets editors find `schema.json`; ignored here.
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    name: String,
    /// `voice` (the default) or `sms`: what a state's words and a gather's input are.
    #[serde(default)]
    channel: ScriptChannel,
    /// Run this flow instead of the alert's usual one when the customer's history matches.
    when: Option<When>,
    start: String,
    /// Ways out that work in every state: keys (`"0": "agent"`) and events (`agent_requested`).
    #[serde(default)]
    anywhere: AnywhereFile,
    states: BTreeMap<String, StateFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnywhereFile {
    #[serde(default)]
    keys: BTreeMap<String, String>,
    /// Spoken words (lower case) that lead somewhere from any gather, e.g. `"agent": "agent"`.
    #[serde(default)]
    words: BTreeMap<String, String>,
    #[serde(default)]
    on: BTreeMap<String, String>,
}

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

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ScriptChannel {
    /// Words are spoken, input is keys.
    #[default]
    Voice,
    /// Words are texts, input is the text of a reply (compared in capitals, trimmed).
    Sms,
}

/// `"transfer": true` (the agent number) or `"transfer": {"queue": "fraud"}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TransferFile {
    Agent(bool),
    Queue { queue: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    say: Option<String>,
    /// An audio file (https URL) played after `say`.
    play: Option<String>,
    /// Seconds of silence (1-10) after `say` and `play`.
    pause: Option<u32>,
    next: Option<String>,
    gather: Option<GatherFile>,
    wait: Option<Wait>,
    action: Option<ActionKind>,
    /// The text of `send_sms`, or of `send_link` (which must then hold `{link}`).
    sms: Option<String>,
    on_ok: Option<String>,
    on_error: Option<String>,
    #[serde(default)]
    hangup: bool,
    transfer: Option<TransferFile>,
    /// Conditions tried in order; the first that holds chooses the next state, else `else`.
    branch: Option<Vec<Arm>>,
    #[serde(rename = "else")]
    otherwise: Option<String>,
    /// Writes a case (a request the flow cannot handle itself) when the state is entered.
    open_case: Option<CaseTemplate>,
    /// Transitions on session events from any channel: `page_opened`, `decided.approve`, …
    #[serde(default)]
    on: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatherFile {
    prompt: String,
    /// Keys to collect; voice only.
    digits: Option<u8>,
    /// The key that ends entry early (`#` unless told; `""` for none); voice only.
    finish_on_key: Option<String>,
    /// Seconds of silence; voice only (a texted question stays open while the session lives).
    timeout: Option<u32>,
    #[serde(default = "default_retries")]
    retries: u8,
    reprompt: Option<String>,
    /// Mask the keys in the log and on the page (credentials).
    #[serde(default)]
    secret: bool,
    /// Said after silence (instead of `reprompt`).
    no_input: Option<String>,
    /// Where silence on the last try leads; default `on_fail`.
    on_no_input: Option<String>,
    /// Compare the keys with this piece of session data, e.g. `customer.verify.card_last4`.
    expect: Option<String>,
    on_match: Option<String>,
    /// Key → next state.
    options: Option<BTreeMap<String, String>>,
    /// Key → decision recorded for the session.
    decide: Option<BTreeMap<String, Decision>>,
    on_fail: String,
}

fn default_retries() -> u8 {
    3
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
    pub hold_prompt: String,
    pub on_timeout: String,
}

/// A checked script: every name it mentions exists and every state can be reached.
#[derive(Debug)]
pub struct Script {
    pub name: String,
    pub channel: ScriptChannel,
    pub when: Option<When>,
    /// Hash of the file's text: a live call keeps the version it started with across reloads.
    pub version: String,
    pub start: String,
    pub anywhere: Anywhere,
    pub states: HashMap<String, State>,
}

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
    pub say: Option<String>,
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
        sms: Option<String>,
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
    pub prompt: String,
    pub digits: u8,
    pub finish_on_key: String,
    pub timeout: u32,
    pub retries: u8,
    pub reprompt: Option<String>,
    pub secret: bool,
    pub on_fail: String,
    /// Said after silence instead of the reprompt.
    pub no_input: Option<String>,
    /// Where silence on the last try leads (default: `on_fail`).
    pub on_no_input: Option<String>,
    pub choice: Choice,
}

#[derive(Debug)]
pub enum Choice {
    Expect { path: String, on_match: String },
    Options(BTreeMap<String, String>),
    Decide(BTreeMap<String, Decision>),
}

/// Session events a state may wait on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    PageOpened,
    Decided(Decision),
    AgentRequested,
    AgentJoined,
    /// The customer texted back (what they wrote is `{"sms_reply": …}` in a branch).
    SmsReply,
}

impl Trigger {
    const KNOWN: &str =
        "page_opened, decided.approve, decided.decline, agent_requested, agent_joined, sms_reply";

    fn parse(s: &str) -> Option<Self> {
        match s {
            "page_opened" => Some(Self::PageOpened),
            "decided.approve" => Some(Self::Decided(Decision::Approve)),
            "decided.decline" => Some(Self::Decided(Decision::Decline)),
            "agent_requested" => Some(Self::AgentRequested),
            "agent_joined" => Some(Self::AgentJoined),
            "sms_reply" => Some(Self::SmsReply),
            _ => None,
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

impl ScriptError {
    /// The state a problem is about, if it is about one.
    fn state(&self) -> Option<String> {
        match self {
            ScriptError::State { state, .. } => Some(state.clone()),
            _ => None,
        }
    }
}

impl Script {
    /// Parses and checks one flow file; `file` names it in errors. The first problem found.
    pub fn parse(file: &str, text: &str) -> Result<Self, ScriptError> {
        Self::parse_all(file, text).map_err(|mut problems| problems.remove(0))
    }

    /// Parses and checks one flow file, reporting every problem rather than the first.
    pub fn parse_all(file: &str, text: &str) -> Result<Self, Vec<ScriptError>> {
        let raw: ScriptFile = serde_json::from_str(text).map_err(|e| {
            vec![ScriptError::Syntax {
                file: file.into(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            }]
        })?;
        let mut problems = Vec::new();
        let state_problem = |state: &str, message: String| ScriptError::State {
            file: file.into(),
            state: state.into(),
            message,
        };
        let mut states = HashMap::new();
        for (name, state) in raw.states {
            match convert(state, raw.channel)
                .and_then(|c| super::speech::check_placeholders(&c).map(|()| c))
            {
                Ok(converted) => {
                    states.insert(name, converted);
                }
                Err(message) => problems.push(state_problem(&name, message)),
            }
        }
        let mut on = BTreeMap::new();
        for (key, target) in raw.anywhere.on {
            match Trigger::parse(&key) {
                Some(trigger) => {
                    on.insert(trigger, target);
                }
                None => problems.push(ScriptError::Script {
                    file: file.into(),
                    message: format!(
                        "`anywhere.on` has unknown event `{key}` (known: {})",
                        Trigger::KNOWN
                    ),
                }),
            }
        }
        let words = raw
            .anywhere
            .words
            .into_iter()
            .map(|(w, t)| (w.to_lowercase(), t))
            .collect();
        let digest = sha2::Sha256::digest(text.as_bytes());
        let script = Script {
            name: raw.name,
            channel: raw.channel,
            when: raw.when,
            version: digest.iter().take(6).map(|b| format!("{b:02x}")).collect(),
            start: raw.start,
            anywhere: Anywhere {
                keys: raw.anywhere.keys,
                words,
                on,
            },
            states,
        };
        // A state that failed to load would show up again as a dangling target; skip those.
        let broken: BTreeSet<String> = problems.iter().filter_map(ScriptError::state).collect();
        problems.extend(script.link_problems(file, &broken));
        match problems.is_empty() {
            true => Ok(script),
            false => Err(problems),
        }
    }

    fn link_problems(&self, file: &str, broken: &BTreeSet<String>) -> Vec<ScriptError> {
        let mut problems = Vec::new();
        let missing = |t: &str| !self.states.contains_key(t) && !broken.contains(t);
        if missing(&self.start) {
            problems.push(ScriptError::Script {
                file: file.into(),
                message: format!("start state `{}` does not exist", self.start),
            });
        }
        for target in self.anywhere.targets().into_iter().filter(|t| missing(t)) {
            problems.push(ScriptError::Script {
                file: file.into(),
                message: format!("`anywhere` goes to `{target}`, which does not exist"),
            });
        }
        let mut names: Vec<&String> = self.states.keys().collect();
        names.sort();
        for name in &names {
            for target in self.states[*name]
                .targets()
                .into_iter()
                .filter(|t| missing(t))
            {
                problems.push(ScriptError::State {
                    file: file.into(),
                    state: (*name).clone(),
                    message: format!("goes to `{target}`, which does not exist"),
                });
            }
        }
        let mut roots = self.anywhere.targets();
        roots.push(&self.start);
        let mut seen: BTreeSet<&str> = roots.iter().copied().collect();
        let mut todo = roots;
        while let Some(name) = todo.pop() {
            let Some(state) = self.states.get(name) else {
                continue;
            };
            for target in state.targets() {
                if seen.insert(target) {
                    todo.push(target);
                }
            }
        }
        for name in names.into_iter().filter(|n| !seen.contains(n.as_str())) {
            problems.push(ScriptError::State {
                file: file.into(),
                state: name.clone(),
                message: "can never be reached".into(),
            });
        }
        problems
    }
}

impl Script {
    /// `name@version`, what a session records to find its script again.
    pub fn key(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

impl Choice {
    /// Whether this gather gives `keys` a meaning of its own (which then wins over `anywhere`).
    pub fn uses(&self, keys: &str) -> bool {
        match self {
            Choice::Expect { .. } => false,
            Choice::Options(map) => map.contains_key(keys),
            Choice::Decide(map) => map.contains_key(keys),
        }
    }
}

impl Anywhere {
    fn targets(&self) -> Vec<&str> {
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
                    Choice::Decide(_) => {}
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

fn convert(s: StateFile, channel: ScriptChannel) -> Result<State, String> {
    let mut on = BTreeMap::new();
    for (key, target) in s.on {
        let trigger = Trigger::parse(&key)
            .ok_or_else(|| format!("`on` has unknown event `{key}` (known: {})", Trigger::KNOWN))?;
        on.insert(trigger, target);
    }
    let mut kinds = Vec::new();
    if let Some(n) = s.next {
        kinds.push(StateKind::Next(n));
    }
    if let Some(g) = s.gather {
        kinds.push(StateKind::Gather(convert_gather(g, channel)?));
    }
    if let Some(w) = s.wait {
        if w.timeout == 0 {
            return Err("a wait needs a timeout above 0 seconds".into());
        }
        kinds.push(StateKind::Wait(w));
    }
    if let Some(action) = s.action {
        let (Some(on_ok), Some(on_error)) = (s.on_ok, s.on_error) else {
            return Err("an action needs both on_ok and on_error".into());
        };
        match (action, &s.sms) {
            (ActionKind::SendSms, None) => return Err("send_sms needs the `sms` text".into()),
            (ActionKind::SendLink, Some(text)) if !text.contains("{link}") => {
                return Err("the `sms` of send_link must hold `{link}`".into());
            }
            (ActionKind::SendSms, Some(text)) if text.contains("{link}") => {
                return Err("`{link}` belongs in a send_link action".into());
            }
            (ActionKind::SendSms | ActionKind::SendLink, Some(text))
                if text.chars().count() > 320 =>
            {
                return Err("an `sms` is over 320 characters (two text segments)".into());
            }
            (ActionKind::Approve | ActionKind::Decline, Some(_)) => {
                return Err("only send_sms and send_link take an `sms` text".into());
            }
            _ => {}
        }
        kinds.push(StateKind::Action {
            action,
            sms: s.sms,
            on_ok,
            on_error,
        });
    } else if s.sms.is_some() {
        return Err("`sms` goes with a send_sms or send_link action".into());
    }
    if s.hangup {
        kinds.push(StateKind::Hangup);
    }
    match (s.branch, s.otherwise) {
        (Some(arms), Some(otherwise)) if !arms.is_empty() => {
            kinds.push(StateKind::Branch { arms, otherwise })
        }
        (None, None) => {}
        _ => return Err("a branch needs at least one arm and an `else`".into()),
    }
    match s.transfer {
        None | Some(TransferFile::Agent(false)) => {}
        Some(TransferFile::Agent(true)) => kinds.push(StateKind::Transfer { queue: None }),
        Some(TransferFile::Queue { queue }) => {
            kinds.push(StateKind::Transfer { queue: Some(queue) })
        }
    }
    if kinds.len() != 1 {
        return Err(
            "needs exactly one of next, gather, wait, action, hangup, transfer, branch".into(),
        );
    }
    let bad_url = |url: &String| {
        !url.starts_with("https://")
            || url.len() > 500
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    if s.play.as_ref().is_some_and(bad_url) {
        return Err("play needs an https URL of at most 500 characters".into());
    }
    if s.pause.is_some_and(|p| !(1..=10).contains(&p)) {
        return Err("pause must be 1 to 10 seconds".into());
    }
    let kind = kinds.remove(0);
    if channel == ScriptChannel::Sms
        && matches!(
            kind,
            StateKind::Wait(_)
                | StateKind::Transfer { .. }
                | StateKind::Action {
                    action: ActionKind::SendSms,
                    ..
                }
        )
    {
        return Err("an SMS script can say, gather, branch, act (send_link, approve, decline), go next and hang up (end the thread) only".into());
    }
    if !on.is_empty() && !matches!(kind, StateKind::Gather(_) | StateKind::Wait(_)) {
        return Err("only gather and wait states can react to `on` events".into());
    }
    Ok(State {
        say: s.say,
        play: s.play,
        pause: s.pause,
        open_case: s.open_case,
        kind,
        on,
    })
}

fn convert_gather(g: GatherFile, channel: ScriptChannel) -> Result<Gather, String> {
    let (digits, timeout) = match (channel, g.digits, g.timeout) {
        (ScriptChannel::Voice, Some(d @ 1..=20), Some(t @ 1..=60)) => (d, t),
        (ScriptChannel::Voice, _, _) => {
            return Err("a voice gather needs digits 1-20 and a timeout of 1-60 seconds".into());
        }
        (ScriptChannel::Sms, None, None) if g.finish_on_key.is_none() => (0, 0),
        (ScriptChannel::Sms, _, _) => {
            return Err("an SMS gather takes no digits, timeout or finish_on_key: the question stays open while the session lives".into());
        }
    };
    let finish_on_key = g.finish_on_key.unwrap_or_else(|| "#".into());
    if !matches!(
        finish_on_key.as_str(),
        "" | "#" | "*" | "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9"
    ) {
        return Err("finish_on_key is one key (0-9, # or *) or \"\" for none".into());
    }
    let keys = g
        .options
        .iter()
        .flat_map(|m| m.keys())
        .chain(g.decide.iter().flat_map(|m| m.keys()));
    for key in keys {
        let keypad = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_digit() || c == '*' || c == '#');
        let word = !key.is_empty() && key.chars().all(|c| c.is_alphabetic() || c == ' ');
        if !(keypad || word) {
            return Err(format!(
                "answer `{key}` is neither keys (0-9, *, #) nor words"
            ));
        }
        if channel == ScriptChannel::Voice
            && keypad
            && !finish_on_key.is_empty()
            && key.contains(finish_on_key.as_str())
        {
            return Err(format!(
                "answer `{key}` holds the finish key `{finish_on_key}`, which the caller can never enter"
            ));
        }
    }
    if g.retries == 0 {
        return Err("a gather needs at least 1 try".into());
    }
    // Replies to texts are matched in capitals ("yes", "Yes" and "YES" are one answer).
    // Spoken answers are compared in lower case, as recognition returns them.
    fn fold<V>(m: BTreeMap<String, V>, channel: ScriptChannel) -> BTreeMap<String, V> {
        m.into_iter()
            .map(|(k, v)| match channel {
                ScriptChannel::Sms => (k.to_uppercase(), v),
                ScriptChannel::Voice => (k.to_lowercase(), v),
            })
            .collect()
    }
    let options = g.options.map(|m| fold(m, channel));
    let decide = g.decide.map(|m| fold(m, channel));
    let choice = match (g.expect, g.on_match, options, decide) {
        (Some(path), Some(on_match), None, None) => Choice::Expect { path, on_match },
        (None, None, Some(options), None) => Choice::Options(options),
        (None, None, None, Some(decide)) => Choice::Decide(decide),
        _ => {
            return Err(
                "gather needs exactly one of expect (with on_match), options, decide".into(),
            );
        }
    };
    Ok(Gather {
        prompt: g.prompt,
        digits,
        finish_on_key,
        timeout,
        retries: g.retries,
        reprompt: g.reprompt,
        secret: g.secret,
        on_fail: g.on_fail,
        no_input: g.no_input,
        on_no_input: g.on_no_input,
        choice,
    })
}
