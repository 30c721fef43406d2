//! One driver for every leg: follows a session's script from a step until the leg has
//! something for the customer (the call's next reply, the texts of a conversation), logging
//! the events and recording decisions on the way. What differs between legs — how a reply is
//! given, what an effect that needs the outside world does — is the [`Leg`]'s to say.

use crate::session::{Channel, Draft, EventKind, Position, Prompt, Refusal, Reply, Then};

use super::{Effect, Input, Next, Outcome, Script, Step, step};

/// How one leg of a session takes what its script does.
pub trait Leg {
    /// What the walk ends with.
    type Given;
    /// Who a decision the script makes is recorded for.
    fn channel(&self) -> Channel;
    /// Whether an event the engine logged belongs in the session's log.
    fn keeps(&self, _event: &EventKind) -> bool {
        true
    }
    /// Words to pass on before whatever comes next.
    fn hear(&mut self, speech: Vec<Prompt>);
    /// The script's language for this session (`en`, `es`), before anything is said.
    fn speak_in(&mut self, _locale: &str) {}
    /// The script wants the customer's answer, or is done: the walk ends here.
    fn reply(
        &mut self,
        d: &mut Draft,
        position: Position,
        then: Then,
        wait_secs: Option<u32>,
    ) -> Option<Self::Given>;
    /// An effect that needs the outside world: performed now (the walk goes on with its
    /// outcome), or left for later (the walk ends with what the leg gives meanwhile).
    fn effect(
        &mut self,
        d: &mut Draft,
        position: &Position,
        effect: Effect,
    ) -> Result<Outcome, Option<Self::Given>>;
}

/// Applies `step` and what follows it to the session through `leg`. `None` when the script
/// leads nowhere from here (the caller answers with its fallback).
pub fn drive<L: Leg>(
    d: &mut Draft,
    script: &Script,
    mut step_: Step,
    leg: &mut L,
) -> Option<L::Given> {
    leg.speak_in(script.locale_for(&d.session));
    loop {
        for event in std::mem::take(&mut step_.log) {
            if leg.keeps(&event) {
                d.emit(event);
            }
        }
        leg.hear(std::mem::take(&mut step_.speech));
        let outcome = match step_.next {
            Next::Reply { then, wait_secs } => {
                return leg.reply(d, step_.position, then, wait_secs);
            }
            Next::Effect(Effect::Decide(decision)) => match d.decide(decision, leg.channel()) {
                Ok(()) => Outcome::Decided(decision),
                Err(Refusal::AlreadyDecided(existing)) => {
                    Outcome::AlreadyDecided(existing.decision)
                }
                Err(_) => return None,
            },
            Next::Effect(effect) => match leg.effect(d, &step_.position, effect) {
                Ok(outcome) => outcome,
                Err(given) => return given,
            },
        };
        step_ = step(script, &d.session, &step_.position, Input::Done(outcome))?;
    }
}

/// The voice leg. An effect stops the walk: the call is parked with `effect_due` and the hold
/// loop performs it, so it runs once, outside any transaction.
pub struct Call {
    by: Channel,
    speech: Vec<Prompt>,
    language: Option<String>,
}

impl Call {
    /// `by`: the channel whose event moved the call, for the decisions it leads to.
    pub fn new(by: Channel) -> Self {
        Self {
            by,
            speech: Vec::new(),
            language: None,
        }
    }
}

impl Leg for Call {
    /// The call's new turn and what it hears.
    type Given = (u32, Reply);

    fn channel(&self) -> Channel {
        self.by
    }

    fn hear(&mut self, mut speech: Vec<Prompt>) {
        self.speech.append(&mut speech);
    }

    fn speak_in(&mut self, locale: &str) {
        self.language = voice_language(locale);
    }

    fn reply(
        &mut self,
        d: &mut Draft,
        position: Position,
        then: Then,
        wait_secs: Option<u32>,
    ) -> Option<Self::Given> {
        let reply = Reply {
            speech: std::mem::take(&mut self.speech),
            then,
            language: self.language.clone(),
        };
        let turn = d.give_call(position, reply.clone(), wait_secs);
        Some((turn, reply))
    }

    fn effect(
        &mut self,
        d: &mut Draft,
        position: &Position,
        _effect: Effect,
    ) -> Result<Outcome, Option<Self::Given>> {
        let parked = self.reply(
            d,
            position.clone(),
            Then::Hold {
                hold_prompt: String::new(),
            },
            None,
        );
        if let Some(voice) = d.session.voice.as_mut() {
            voice.effect_due = true;
        }
        Err(parked)
    }
}

/// The texted conversation. Its reply is itself a text, so a page link is sent at once (at
/// the end, after the question); it is minted before the transaction, which may run again.
pub struct Texts<'a> {
    link: &'a PageLink,
    texts: Vec<String>,
    tail: Vec<String>,
}

/// A page link about to be sent: the hash the session keeps and the address the text holds.
#[derive(Clone, Debug)]
pub struct PageLink {
    pub token_hash: String,
    pub url: String,
}

impl PageLink {
    /// A link text from its template (`{link}` is where the address goes).
    pub fn text(&self, template: &str) -> String {
        template.replace("{link}", &self.url)
    }
}

impl<'a> Texts<'a> {
    pub fn new(link: &'a PageLink) -> Self {
        Self {
            link,
            texts: Vec::new(),
            tail: Vec::new(),
        }
    }
}

impl Leg for Texts<'_> {
    /// The texts to send, in order.
    type Given = Vec<String>;

    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn keeps(&self, event: &EventKind) -> bool {
        // The reply itself was logged as received text; the engine's key log would repeat it.
        !matches!(event, EventKind::Digits { .. })
    }

    fn hear(&mut self, speech: Vec<Prompt>) {
        // Texts carry words only; audio and pauses mean nothing in a message.
        self.texts
            .extend(speech.iter().filter_map(|p| p.said().map(str::to_owned)));
    }

    fn reply(
        &mut self,
        d: &mut Draft,
        position: Position,
        then: Then,
        _wait_secs: Option<u32>,
    ) -> Option<Self::Given> {
        let open = match then {
            Then::Gather { prompt, .. } => {
                self.texts.push(prompt);
                true
            }
            _ => false,
        };
        let leg = d.session.sms.as_mut()?;
        leg.position = position;
        leg.open = open;
        for text in &self.texts {
            d.emit(EventKind::SmsSent { text: text.clone() });
        }
        if !open {
            d.close("conversation ended");
        }
        let mut texts = std::mem::take(&mut self.texts);
        texts.append(&mut self.tail);
        Some(texts)
    }

    fn effect(
        &mut self,
        d: &mut Draft,
        _position: &Position,
        effect: Effect,
    ) -> Result<Outcome, Option<Self::Given>> {
        match effect {
            Effect::SendLink { text } => {
                // One link per session: a second would leave two valid tokens.
                if d.session.link.is_none() {
                    d.session.link = Some(crate::session::Link {
                        token_hash: self.link.token_hash.clone(),
                        device_hash: None,
                    });
                    d.emit(EventKind::LinkSent);
                    self.tail.push(self.link.text(&text));
                }
                Ok(Outcome::Sent)
            }
            // Loading refuses plain texts inside a texted conversation: every text is a reply.
            Effect::SendSms { .. } | Effect::Decide(_) => Err(None),
        }
    }
}

/// The language tag a voice provider speaks and listens in for a script locale; `None` for
/// English, the providers' default, so English replies stay as they always were.
pub fn voice_language(locale: &str) -> Option<String> {
    match locale {
        "en" | "en-US" => None,
        l if l.len() == 2 => Some(format!("{l}-US")),
        l => Some(l.to_owned()),
    }
}
