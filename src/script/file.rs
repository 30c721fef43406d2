//! The flow file as written (JSON, `ivr-scripts/schema.json`) and its loading into a
//! [`Script`]: each state converted, placeholders and links checked, every problem reported.

use std::collections::BTreeMap;

use super::{model::*, screen::Screen, text::Text};
use crate::session::{Decision, alert::AlertKind};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScriptFile {
    /// Lets editors find `schema.json`; ignored here.
    #[serde(rename = "$schema", default)]
    pub(super) _schema: Option<String>,
    pub(super) name: String,
    /// `voice` (the default) or `sms`: what a state's words and a gather's input are.
    #[serde(default)]
    pub(super) channel: ScriptChannel,
    /// The alert kinds this flow runs for (`card_hold`, `confirm_purchase`).
    #[serde(default)]
    pub(super) serves: Vec<AlertKind>,
    /// Run this flow instead of the alert's usual one when the customer's history matches.
    pub(super) when: Option<When>,
    /// What the flow says when another channel got there first or the session is over.
    #[serde(default)]
    pub(super) messages: MessagesFile,
    pub(super) start: String,
    /// Ways out that work in every state: keys (`"0": "agent"`) and events (`agent_requested`).
    #[serde(default)]
    pub(super) anywhere: AnywhereFile,
    pub(super) states: BTreeMap<String, StateFile>,
    /// The languages of its words (`["en", "es"]`); the first is the default.
    #[serde(default)]
    pub(super) locales: Vec<String>,
    /// The JSON Schema of the data the bank sends to start this journey.
    pub(super) data: Option<serde_json::Value>,
    /// What the page can show, by name.
    #[serde(default)]
    pub(super) screens: BTreeMap<String, Screen>,
    /// The screen a page shows before any state names one.
    pub(super) screen: Option<String>,
    /// The desk team its callers are queued for when they need a person (`general`).
    pub(super) team: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MessagesFile {
    pub(super) already_decided: Option<Text>,
    pub(super) ended: Option<Text>,
    pub(super) texted_after_end: Option<Text>,
    pub(super) history: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AnywhereFile {
    #[serde(default)]
    pub(super) keys: BTreeMap<String, String>,
    /// Spoken words (lower case) that lead somewhere from any gather, e.g. `"agent": "agent"`.
    #[serde(default)]
    pub(super) words: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) on: BTreeMap<String, String>,
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
pub(super) struct StateFile {
    /// The screen the page shows from here on.
    screen: Option<String>,
    say: Option<Text>,
    /// An audio file (https URL) played after `say`.
    play: Option<String>,
    /// Seconds of silence (1-10) after `say` and `play`.
    pause: Option<u32>,
    next: Option<String>,
    gather: Option<GatherFile>,
    wait: Option<Wait>,
    action: Option<ActionKind>,
    /// The text of `send_sms`, or of `send_link` (which must then hold `{link}`).
    sms: Option<Text>,
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
    prompt: Text,
    /// Keys to collect; voice only.
    digits: Option<u8>,
    /// The key that ends entry early (`#` unless told; `""` for none); voice only.
    finish_on_key: Option<String>,
    /// Seconds of silence; voice only (a texted question stays open while the session lives).
    timeout: Option<u32>,
    #[serde(default = "default_retries")]
    retries: u8,
    reprompt: Option<Text>,
    /// Mask the keys in the log and on the page (credentials).
    #[serde(default)]
    secret: bool,
    /// Said after silence (instead of `reprompt`).
    no_input: Option<Text>,
    /// Where silence on the last try leads; default `on_fail`.
    on_no_input: Option<String>,
    /// Compare the keys with this piece of session data, e.g. `customer.verify.card_last4`.
    expect: Option<String>,
    on_match: Option<String>,
    /// Key → next state; with `fills`, key → the field's value.
    options: Option<BTreeMap<String, String>>,
    /// `form.field`: the answer fills this field of a page form, as if the page had sent it.
    fills: Option<String>,
    /// Key → decision recorded for the session.
    decide: Option<BTreeMap<String, Decision>>,
    on_fail: String,
}

fn default_retries() -> u8 {
    3
}

pub(super) fn convert(s: StateFile, channel: ScriptChannel) -> Result<State, String> {
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
        let any = |text: &Text, test: &dyn Fn(&str) -> bool| text.all().into_iter().any(test);
        match (action, &s.sms) {
            (ActionKind::SendSms, None) => return Err("send_sms needs the `sms` text".into()),
            (ActionKind::SendLink, Some(text)) if any(text, &|t| !t.contains("{link}")) => {
                return Err("the `sms` of send_link must hold `{link}`".into());
            }
            (ActionKind::SendSms, Some(text)) if any(text, &|t| t.contains("{link}")) => {
                return Err("`{link}` belongs in a send_link action".into());
            }
            (ActionKind::SendSms | ActionKind::SendLink, Some(text))
                if any(text, &|t| t.chars().count() > 320) =>
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
        screen: s.screen,
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
        (None, None, Some(values), None) if g.fills.is_some() => {
            let fills = g.fills.unwrap_or_default();
            let Some((form, field)) = fills.split_once('.') else {
                return Err(format!("fills `{fills}` must name form.field"));
            };
            Choice::Fill {
                form: form.to_owned(),
                field: field.to_owned(),
                values,
            }
        }
        _ if g.fills.is_some() => {
            return Err("a gather that fills a form field takes `options` (answer → value)".into());
        }
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

/// Why a JSON file beside the scripts is not one, if it plainly is not: the schema the scripts
/// point editors to is the one found there.
pub fn not_a_script(text: &str) -> Option<&'static str> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let meta = value.get("$schema")?.as_str()?;
    meta.contains("json-schema.org")
        .then_some("a JSON Schema, not a script")
}
