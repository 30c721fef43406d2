//! The flow engine: a pure function from (script, session, position, input) to the next step.
//! Side effects are returned as [`Effect`]s for the caller to perform and report back.

use crate::session::{Decision, EventKind, Position, Prompt, Session, Then};

use super::{
    model::{ActionKind, Choice, DEFAULT_LINK_TEXT, Gather, Script, StateKind, Trigger},
    speech,
};

/// Longest chain of states entered without waiting for the caller; a longer one is a loop.
const MAX_HOPS: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
                .replace("{decision}", d.past_tense());
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

#[derive(Default)]
struct Builder {
    speech: Vec<Prompt>,
    log: Vec<EventKind>,
}

impl Builder {
    fn finish(self, state: &str, tries: u8, next: Next) -> Step {
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

    fn keys(mut self, script: &Script, s: &Session, at: &Position, g: &Gather, keys: &str) -> Step {
        if keys.is_empty() {
            return self.silence(script, s, at, g);
        }
        let shown = if g.secret {
            "•".repeat(keys.chars().count())
        } else {
            keys.to_owned()
        };
        self.log.push(EventKind::Digits { digits: shown });
        if let Some(target) = script
            .anywhere
            .keys
            .get(keys)
            .filter(|_| !g.choice.uses(keys))
        {
            return self.enter(script, s, target);
        }
        match &g.choice {
            Choice::Expect { path, on_match } => {
                if speech::lookup(path, s) == Some(keys) {
                    self.log.push(EventKind::Verified);
                    self.enter(script, s, on_match)
                } else {
                    self.log.push(EventKind::VerifyFailed {
                        tries: at.tries + 1,
                    });
                    self.retry(script, s, at, g)
                }
            }
            Choice::Options(_) | Choice::Decide(_) => match self.choose(script, s, at, g, keys) {
                Ok(step) => step,
                Err(me) => me.retry(script, s, at, g),
            },
        }
    }

    /// The gather's own answer for `answer` (keys or a word), if it has one.
    fn choose(
        self,
        script: &Script,
        s: &Session,
        at: &Position,
        g: &Gather,
        answer: &str,
    ) -> Result<Step, Self> {
        match &g.choice {
            Choice::Options(map) => match map.get(answer) {
                Some(target) => Ok(self.enter(script, s, target)),
                None => Err(self),
            },
            Choice::Decide(map) => match map.get(answer) {
                Some(d) => Ok(self.finish(&at.state, at.tries, Next::Effect(Effect::Decide(*d)))),
                None => Err(self),
            },
            Choice::Expect { .. } => Err(self),
        }
    }

    /// Spoken input: spoken digits count as keys, then the gather's own words, then an
    /// `anywhere` word; anything else counts as a try.
    fn words(
        mut self,
        script: &Script,
        s: &Session,
        at: &Position,
        g: &Gather,
        words: &str,
    ) -> Step {
        let heard = words.to_lowercase();
        let spoken: Vec<&str> = heard
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        // "4 2 4 2" or "4242": recognisers return numbers as digits.
        let digits: String = spoken.concat();
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            return self.keys(script, s, at, g, &digits);
        }
        if !g.secret {
            self.log.push(EventKind::SpeechHeard {
                text: words.chars().take(200).collect(),
            });
        }
        // A gather's word may be a phrase ("hear them"): look for it word by word.
        let says = |phrase: &str| {
            let phrase: Vec<&str> = phrase.split(' ').filter(|w| !w.is_empty()).collect();
            !phrase.is_empty() && spoken.windows(phrase.len()).any(|w| w == phrase.as_slice())
        };
        let own = match &g.choice {
            Choice::Options(map) => map.keys().find(|k| is_word(k) && says(k)),
            Choice::Decide(map) => map.keys().find(|k| is_word(k) && says(k)),
            Choice::Expect { .. } => None,
        };
        let me = match own {
            Some(word) => match self.choose(script, s, at, g, &word.clone()) {
                Ok(step) => return step,
                Err(me) => me,
            },
            None => self,
        };
        let target = script.anywhere.words.iter().find(|(word, _)| says(word));
        match target {
            Some((_, target)) => me.enter(script, s, target),
            None => me.retry(script, s, at, g),
        }
    }

    /// Nothing pressed: the no-input words, or the no-input path after the last try.
    fn silence(self, script: &Script, s: &Session, at: &Position, g: &Gather) -> Step {
        if at.tries + 1 >= g.retries {
            return self.enter(script, s, g.on_no_input.as_deref().unwrap_or(&g.on_fail));
        }
        match &g.no_input {
            Some(words) => {
                let then = gather(script, g, speech::render(words, s));
                self.finish(
                    &at.state,
                    at.tries + 1,
                    Next::Reply {
                        then,
                        wait_secs: None,
                    },
                )
            }
            None => self.retry(script, s, at, g),
        }
    }

    /// Asks again, or gives up after the gather's last try.
    fn retry(self, script: &Script, s: &Session, at: &Position, g: &Gather) -> Step {
        let tries = at.tries + 1;
        if tries >= g.retries {
            return self.enter(script, s, &g.on_fail);
        }
        let then = gather(
            script,
            g,
            speech::render(g.reprompt.as_deref().unwrap_or(&g.prompt), s),
        );
        self.finish(
            &at.state,
            tries,
            Next::Reply {
                then,
                wait_secs: None,
            },
        )
    }

    /// Enters `name` and follows the flow until it needs the caller, another channel or an effect.
    fn enter(mut self, script: &Script, s: &Session, name: &str) -> Step {
        let mut name = name;
        for _ in 0..MAX_HOPS {
            let Some(state) = script.states.get(name) else {
                break;
            };
            // An event that already happened counts: the page may have opened before we got here.
            if let Some(target) = state
                .on
                .iter()
                .find(|(t, _)| already(**t, s))
                .map(|(_, n)| n)
            {
                name = target;
                continue;
            }
            if let Some(say) = &state.say {
                self.speech.push(speech::render(say, s).into());
            }
            if let Some(url) = &state.play {
                self.speech.push(Prompt::Play { play: url.clone() });
            }
            if let Some(secs) = state.pause {
                self.speech.push(Prompt::Pause { pause: secs });
            }
            if let Some(case) = &state.open_case {
                let (note, expectation) = (
                    speech::render(&case.note, s),
                    speech::render(&case.expectation, s),
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
                StateKind::Gather(g) => (gather(script, g, speech::render(&g.prompt, s)), None),
                StateKind::Wait(w) => (
                    Then::Hold {
                        hold_prompt: speech::render(&w.hold_prompt, s),
                    },
                    Some(w.timeout),
                ),
                StateKind::Action { action, sms, .. } => {
                    let text = sms.as_deref().map(|t| speech::render(t, s));
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

/// What the call does for a gather.
fn gather(script: &Script, g: &Gather, prompt: String) -> Then {
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
        Choice::Expect { .. } => Vec::new(),
    };
    own.into_iter()
        .filter(|k| is_word(k))
        .chain(script.anywhere.words.keys())
        .cloned()
        .collect()
}

fn is_word(answer: &str) -> bool {
    answer.chars().any(char::is_alphabetic)
}

fn already(trigger: Trigger, s: &Session) -> bool {
    match trigger {
        Trigger::PageOpened => s.page_opened,
        Trigger::AgentRequested => s.agent_requested,
        // An agent who joined earlier was waiting for someone else's request; not this one.
        Trigger::AgentJoined => false,
        Trigger::Decided(d) => s.decision.map(|r| r.decision) == Some(d),
        // A text answers the question asked when it arrives, not one asked later.
        Trigger::SmsReply => false,
    }
}
