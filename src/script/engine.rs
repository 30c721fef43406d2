//! The flow engine: a pure function from (script, session, position, input) to the next step.
//! Side effects are returned as [`Effect`]s for the caller to perform and report back.

use crate::session::{Decision, EventKind, Position, Prompt, Session, Then};

use super::{
    model::{ActionKind, Choice, DEFAULT_LINK_TEXT, Gather, Script, StateKind, Trigger},
    speech,
};

/// Longest chain of states entered without waiting for the caller; a longer one is a loop.
const MAX_HOPS: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    Start,
    /// Keys from a gather; empty when the caller pressed nothing.
    Keys(&'a str),
    /// What speech recognition heard during a gather.
    Words(&'a str),
    /// Something happened on another channel.
    Trigger(Trigger),
    WaitOver,
    Done(Outcome),
}

/// How an [`Effect`] went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The text (with or without a link) left.
    Sent,
    Failed,
    Decided(Decision),
    /// Another channel decided first; the caller hears that decision instead.
    AlreadyDecided(Decision),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Text the page link; `text` has `{link}` where the address goes.
    SendLink {
        text: String,
    },
    /// Text these words.
    SendSms {
        text: String,
    },
    Decide(Decision),
}

impl Effect {
    /// Whether performing it needs the outside world (the provider), not just the session.
    pub fn is_io(&self) -> bool {
        !matches!(self, Effect::Decide(_))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub position: Position,
    pub speech: Vec<Prompt>,
    pub next: Next,
    /// Events this step adds to the session's log (keys pressed, verification).
    pub log: Vec<EventKind>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    Reply { then: Then, wait_secs: Option<u32> },
    Effect(Effect),
}

/// Advances the flow; `None` means the input means nothing where the call is now.
pub fn step(script: &Script, session: &Session, at: &Position, input: Input) -> Option<Step> {
    let mut out = Builder::default();
    if input == Input::Start {
        return Some(out.enter(script, session, &script.start));
    }
    let state = script.states.get(&at.state)?;
    match (input, &state.kind) {
        (Input::Keys(keys), StateKind::Gather(g)) => Some(out.keys(script, session, at, g, keys)),
        (Input::Words(words), StateKind::Gather(g)) => {
            Some(out.words(script, session, at, g, words))
        }
        (Input::Trigger(t), _) => {
            let target = state.on.get(&t).or_else(|| script.anywhere.on.get(&t))?;
            Some(out.enter(script, session, target))
        }
        (Input::WaitOver, StateKind::Wait(w)) => Some(out.enter(script, session, &w.on_timeout)),
        // An effect that never reported back (its node died) counts as failed.
        (Input::WaitOver, StateKind::Action { on_error, .. }) => {
            Some(out.enter(script, session, on_error))
        }
        (Input::Done(Outcome::Sent | Outcome::Decided(_)), StateKind::Action { on_ok, .. }) => {
            Some(out.enter(script, session, on_ok))
        }
        (
            Input::Done(Outcome::Failed | Outcome::AlreadyDecided(_)),
            StateKind::Action { on_error, .. },
        ) => Some(out.enter(script, session, on_error)),
        (Input::Done(Outcome::Decided(d)), StateKind::Gather(_)) => {
            Some(out.enter(script, session, state.on.get(&Trigger::Decided(d))?))
        }
        (Input::Done(Outcome::AlreadyDecided(d)), StateKind::Gather(_)) => {
            // The decision that stands is the one reported, whatever this copy of the session says.
            let said = script
                .messages
                .already_decided
                .pick(script.locale_for(session))
                .replace("{decision}", d.past_tense_in(script.locale_for(session)));
            out.speech.push(speech::render(&said, session).into());
            Some(out.enter(script, session, state.on.get(&Trigger::Decided(d))?))
        }
        _ => None,
    }
}

/// The effect of the action state the call stands in (to perform it after a pause).
pub fn effect_at(script: &Script, session: &Session, at: &Position) -> Option<Effect> {
    match &script.states.get(&at.state)?.kind {
        StateKind::Action { .. } => match Builder::default().enter(script, session, &at.state) {
            Step {
                next: Next::Effect(effect),
                ..
            } => Some(effect),
            _ => None,
        },
        _ => None,
    }
}

/// A step being built: what is said and logged on the way to where the call stops.
#[derive(Default)]
pub(super) struct Builder {
    pub(super) speech: Vec<Prompt>,
    pub(super) log: Vec<EventKind>,
    /// The screen this walk last put on the page, once it has named one.
    screen: Option<String>,
}

impl Builder {
    pub(super) fn finish(self, state: &str, tries: u8, next: Next) -> Step {
        Step {
            position: Position {
                state: state.to_owned(),
                tries,
            },
            speech: self.speech,
            next,
            log: self.log,
        }
    }

    /// Enters `name` and follows the flow until it needs the caller, another channel or an effect.
    pub(super) fn enter(mut self, script: &Script, s: &Session, name: &str) -> Step {
        let mut name = name;
        for _ in 0..MAX_HOPS {
            let Some(state) = script.states.get(name) else {
                break;
            };
            // An event that already happened counts: the page may have opened before we got here.
            if let Some(target) = state.on.iter().find(|(t, _)| already(t, s)).map(|(_, n)| n) {
                name = target;
                continue;
            }
            if let Some(screen) = &state.screen {
                let showing = self
                    .screen
                    .as_deref()
                    .or(s.screen.as_ref().map(|at| at.name.as_str()));
                if showing != Some(screen.as_str()) {
                    self.log.push(EventKind::ScreenShown {
                        screen: screen.clone(),
                    });
                    self.screen = Some(screen.clone());
                }
            }
            if let Some(say) = &state.say {
                self.speech.push(script.words(say, s).into());
            }
            if let Some(url) = &state.play {
                self.speech.push(Prompt::Play { play: url.clone() });
            }
            if let Some(secs) = state.pause {
                self.speech.push(Prompt::Pause { pause: secs });
            }
            if let Some(case) = &state.open_case {
                let (note, expectation) = (
                    speech::render_with(&case.note, s, script),
                    speech::render_with(&case.expectation, s, script),
                );
                self.log.push(EventKind::CaseOpened { note, expectation });
            }
            let (then, wait_secs) = match &state.kind {
                StateKind::Next(next) => {
                    name = next;
                    continue;
                }
                StateKind::Branch { arms, otherwise } => {
                    name = arms
                        .iter()
                        .find(|a| a.condition.holds(s))
                        .map_or(otherwise, |a| &a.then);
                    continue;
                }
                StateKind::Gather(g) => (gather(script, g, script.words(&g.prompt, s)), None),
                StateKind::Wait(w) => (
                    Then::Hold {
                        hold_prompt: script.words(&w.hold_prompt, s),
                    },
                    Some(w.timeout),
                ),
                StateKind::Action { action, sms, .. } => {
                    let text = sms.as_ref().map(|t| script.words(t, s));
                    let effect = match action {
                        ActionKind::SendLink => Effect::SendLink {
                            text: text.unwrap_or_else(|| DEFAULT_LINK_TEXT.into()),
                        },
                        ActionKind::SendSms => Effect::SendSms {
                            text: text.unwrap_or_default(),
                        },
                        ActionKind::Approve => Effect::Decide(Decision::Approve),
                        ActionKind::Decline => Effect::Decide(Decision::Decline),
                    };
                    return self.finish(name, 0, Next::Effect(effect));
                }
                StateKind::Hangup => (Then::Hangup, None),
                StateKind::Transfer { queue } => (
                    Then::Transfer {
                        queue: queue.clone(),
                    },
                    None,
                ),
            };
            return self.finish(name, 0, Next::Reply { then, wait_secs });
        }
        // Only a script whose `next` chain loops gets here; the caller still gets a way out.
        self.speech
            .push("Sorry, something went wrong on our side.".into());
        self.finish(
            name,
            0,
            Next::Reply {
                then: Then::Transfer { queue: None },
                wait_secs: None,
            },
        )
    }
}

fn already(trigger: &Trigger, s: &Session) -> bool {
    match trigger {
        Trigger::PageOpened => s.page_opened,
        Trigger::AgentRequested => s.agent_requested,
        // An agent who joined earlier was waiting for someone else's request; not this one.
        Trigger::AgentJoined => false,
        Trigger::Decided(d) => s.decision.map(|r| r.decision) == Some(*d),
        // A text answers the question asked when it arrives, not one asked later.
        Trigger::SmsReply => false,
        // A form answered (on the page or by voice) stays answered; a tap answers the screen
        // it was made on.
        Trigger::PageSubmit(form) => s.answers.contains_key(form),
        Trigger::PageAction(_) => false,
    }
}

/// What the call does for a gather.
pub(super) fn gather(script: &Script, g: &Gather, prompt: String) -> Then {
    Then::Gather {
        prompt,
        digits: g.digits,
        finish_on_key: g.finish_on_key.clone(),
        timeout_secs: g.timeout,
        hints: hints(script, g),
    }
}

/// A gather listens for its own answer words and the script's `anywhere.words`, except when
/// it asks for a secret.
fn hints(script: &Script, g: &Gather) -> Vec<String> {
    if g.secret {
        return Vec::new();
    }
    let own: Vec<&String> = match &g.choice {
        Choice::Options(map) => map.keys().collect(),
        Choice::Decide(map) => map.keys().collect(),
        Choice::Fill { values, .. } => values.keys().collect(),
        Choice::Expect { .. } => Vec::new(),
    };
    own.into_iter()
        .filter(|k| is_word(k))
        .chain(script.anywhere.words.keys())
        .cloned()
        .collect()
}

pub(super) fn is_word(answer: &str) -> bool {
    answer.chars().any(char::is_alphabetic)
}
