//! Follows a call through its script from one step until it has something to hear: the part
//! every channel that moves a call (its own webhooks, other channels' events) shares.

use crate::session::{Channel, Draft, Refusal, Reply, Then};

use super::{Effect, Input, Next, Outcome, Script, Step, step};

/// Applies `step` and what follows it to the call's leg: logs the events, records decisions
/// (made by `by`), and gives the call its next reply. An effect that needs the outside world
/// stops the walk: the call is parked with `effect_due` and the hold loop performs it, so the
/// effect runs once, outside any transaction. Returns the reply and its turn.
pub fn follow(
    d: &mut Draft,
    script: &Script,
    mut step_: Step,
    by: Channel,
) -> Option<(u32, Reply)> {
    let mut speech = Vec::new();
    loop {
        for event in std::mem::take(&mut step_.log) {
            d.emit(event);
        }
        speech.append(&mut step_.speech);
        let outcome = match step_.next {
            Next::Reply { then, wait_secs } => {
                let reply = Reply { speech, then };
                let turn = d.give_call(step_.position, reply.clone(), wait_secs);
                return Some((turn, reply));
            }
            Next::Effect(Effect::Decide(decision)) => match d.decide(decision, by) {
                Ok(()) => Outcome::Decided(decision),
                Err(Refusal::AlreadyDecided(existing)) => {
                    Outcome::AlreadyDecided(existing.decision)
                }
                Err(_) => return None,
            },
            Next::Effect(_) => {
                let reply = Reply {
                    speech,
                    then: Then::Hold {
                        hold_prompt: String::new(),
                    },
                };
                let turn = d.give_call(step_.position, reply.clone(), None);
                d.session.voice.as_mut()?.effect_due = true;
                return Some((turn, reply));
            }
        };
        step_ = step(script, &d.session, &step_.position, Input::Done(outcome))?;
    }
}
