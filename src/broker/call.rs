//! The voice leg's commands: a call arrives, keys or words come in, the provider reports the
//! call's status. Every one ends in an [`Answer`], failures included: a provider's webhook
//! must always get valid markup.

use chrono::Utc;
use uuid::Uuid;

use super::{Broker, BrokerError};
use crate::{
    script::{self, Input, Script, Step},
    session::{Alert, CallStatus, Channel, Draft, EventKind, Position, Session, VoiceLeg},
    store::{Index, StoreError},
    telephony::{Answer, CallInfo, Heard},
};

impl Broker {
    pub(super) async fn start_call(&self, call: CallInfo) -> Answer {
        match self.try_start_call(&call).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::error!(error = %e, "could not start the call's session");
                Answer::Apology
            }
        }
    }

    async fn try_start_call(&self, call: &CallInfo) -> Result<Answer, BrokerError> {
        // A retried webhook for a call we already know is answered as before, not started again.
        if let Some(id) = self.store.lookup(Index::Call, &call.call_id).await? {
            return self.replay(id).await;
        }
        let Some(alert) = self.store.open_alert_for_phone(&call.from).await? else {
            return Ok(Answer::UnknownCaller);
        };
        // Memory across calls: the flow and its words may depend on what happened before.
        let history = match self.store.history(&alert.case.customer.id, 20).await {
            Ok(history) => history,
            Err(e) => {
                tracing::warn!(error = %e, "history unavailable; the call goes on without it");
                Vec::new()
            }
        };
        let Some(script) = self.scripts.for_call(&alert.case, &history, Utc::now()) else {
            tracing::warn!(
                kind = alert.case.kind.as_str(),
                "no voice script serves the alert"
            );
            return Ok(Answer::UnknownCaller);
        };
        let id = Uuid::new_v4();
        if let Some(existing) = self
            .store
            .bind(Index::Call, &call.call_id, id, self.config.session_ttl)
            .await?
        {
            return self.replay(existing).await;
        }
        tracing::Span::current().record("session_id", tracing::field::display(id));
        let mut draft = self.open_session(id, &alert, &script);
        draft.session.voice = Some(new_leg(call));
        draft.session.history = history;
        draft.emit(EventKind::CallStarted);
        let Some(step) = script::step(&script, &draft.session, &Position::default(), Input::Start)
        else {
            return Ok(Answer::Apology);
        };
        let Some(answer) = advance(&mut draft, &script, step) else {
            return Ok(Answer::Apology);
        };
        // Sent together: the alert learns its session in the same round trip.
        let (created, attached) =
            tokio::join!(self.create(&draft), self.store.attach_session(alert.id, id));
        created?;
        if let Err(e) = attached {
            tracing::warn!(error = %e, "the alert does not know its session");
        }
        tracing::info!("call started");
        Ok(answer)
    }

    /// A new session for `alert` run by `script`, with its opening event: the one place a
    /// session is opened, whichever leg starts it.
    pub(super) fn open_session(&self, id: Uuid, alert: &Alert, script: &Script) -> Draft {
        let now = Utc::now();
        let ttl = chrono::Duration::from_std(self.config.session_ttl)
            .unwrap_or(chrono::Duration::hours(1));
        let mut draft = Draft::new(Session::open(id, alert, &script.key(), now, ttl), now);
        draft.emit(EventKind::SessionOpened);
        draft
    }

    /// What the caller pressed or said in answer to the gather of `turn`.
    pub(super) async fn heard(&self, id: Uuid, turn: u32, call_id: &str, heard: Heard) -> Answer {
        let result = async {
            let loaded = self.load_versioned(id).await?;
            let script = self
                .scripts
                .get(&loaded.session.script)
                .ok_or(BrokerError::NotFound)?;
            let input = match &heard {
                Heard::Keys(keys) => Input::Keys(keys),
                Heard::Words(words) => Input::Words(words),
            };
            let pressed = matches!(&heard, Heard::Keys(k) if !k.is_empty());
            self.transact_from(loaded, |d| {
                let voice = d.session.voice.as_ref().filter(|v| v.call_id == call_id)?;
                if voice.turn != turn {
                    return stale(d, pressed.then_some(&*script));
                }
                let position = voice.position.clone();
                match script::step(&script, &d.session, &position, input.clone()) {
                    Some(step) => advance(d, &script, step),
                    None => stale(d, None),
                }
            })
            .await
        }
        .await;
        match result {
            // The store is away, or the keys may yet be applied: the call holds, and the hold
            // loop either tells what they did or, if they never landed, asks again.
            Err(e) => wait_for_store(e, id, turn, None),
            result => settle(result),
        }
    }

    /// The provider reports the call's status; a finished call closes the session.
    pub(super) async fn call_status(
        &self,
        call_id: &str,
        status: CallStatus,
    ) -> Result<(), BrokerError> {
        let Some(id) = self.store.lookup(Index::Call, call_id).await? else {
            return Ok(());
        };
        tracing::Span::current().record("session_id", tracing::field::display(id));
        self.transact(id, |d| {
            let Some(voice) = d.session.voice.as_mut().filter(|v| v.is_live()) else {
                return;
            };
            voice.status = status;
            if !status.is_live() {
                d.emit(EventKind::CallEnded { status });
                // A session a representative took stays open for them (a decision, a case, a
                // screen after the caller hung up) until they end it, or it expires.
                if d.session.taken_by.is_none() {
                    d.close("call ended");
                }
            }
        })
        .await
    }

    /// A repeated first webhook hears what the call was first told.
    pub(super) async fn replay(&self, id: Uuid) -> Result<Answer, BrokerError> {
        let session = self.load_versioned(id).await?.session;
        let voice = session.voice.as_ref().ok_or(BrokerError::NotFound)?;
        Ok(match &voice.last_reply {
            Some(reply) => Answer::Reply {
                session: id,
                turn: voice.turn,
                reply: reply.clone(),
            },
            None => Answer::Apology,
        })
    }
}

fn new_leg(call: &CallInfo) -> VoiceLeg {
    VoiceLeg {
        provider: call.provider.into(),
        call_id: call.call_id.clone(),
        from: call.from.clone(),
        to: call.to.clone(),
        status: call.status.unwrap_or(CallStatus::InProgress),
        position: Position::default(),
        turn: 0,
        acted: 0,
        parked: false,
        pending: None,
        last_reply: None,
        wait_until: None,
        effect_due: false,
    }
}

/// Follows the script until the call has a reply, and gives it.
pub(super) fn advance(d: &mut Draft, script: &Script, step: Step) -> Option<Answer> {
    let (turn, reply) = script::drive(d, script, step, &mut script::Call::new(Channel::Voice))?;
    Some(Answer::Reply {
        session: d.session.id,
        turn,
        reply,
    })
}

/// A webhook for a turn the call has moved past (a retry, or keys racing a page tap):
/// it changes nothing and hears the call's latest reply again. Keys pressed (`pressed_in`,
/// the call's script) after a decision first hear the script's word that it was made.
pub(super) fn stale(d: &Draft, pressed_in: Option<&Script>) -> Option<Answer> {
    let voice = d.session.voice.as_ref()?;
    let mut reply = voice.last_reply.clone()?;
    if let (Some(script), Some(_)) = (pressed_in, d.session.decision) {
        let said = script.words(&script.messages.already_decided, &d.session);
        reply.speech.insert(0, said.into());
    }
    Some(Answer::Reply {
        session: d.session.id,
        turn: voice.turn,
        reply,
    })
}

pub(super) fn settle(result: Result<Option<Answer>, BrokerError>) -> Answer {
    match result {
        Ok(Some(answer)) => answer,
        Ok(None) => Answer::Apology,
        Err(e) => {
            tracing::error!(error = %e, "could not advance the call");
            Answer::Apology
        }
    }
}

/// How long a holding call waits for the store to come back before it is offered a person.
const OUTAGE_HOLD_MS: i64 = 20_000;

/// What a holding call hears when the store failed it: a short wait while the outage is young
/// and the store merely unavailable (or its answer unknown), else the apology.
pub(super) fn wait_for_store(e: BrokerError, id: Uuid, turn: u32, since: Option<i64>) -> Answer {
    let now = Utc::now().timestamp_millis();
    // Another node's clock may run ahead; never count from the future.
    let since = since.map_or(now, |s| s.min(now));
    let away = matches!(
        e,
        BrokerError::Unknown
            | BrokerError::Store(StoreError::Unavailable(_) | StoreError::Unknown(_))
    );
    match away && now - since < OUTAGE_HOLD_MS {
        true => {
            tracing::warn!(error = %e, waited_ms = now - since, "store away; the call keeps holding");
            Answer::StoreWait {
                session: id,
                turn,
                since,
            }
        }
        false => settle(Err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn away() -> BrokerError {
        BrokerError::Store(StoreError::Unavailable("connection refused".into()))
    }

    #[test]
    fn a_call_holds_through_a_young_outage_and_is_offered_a_person_after_twenty_seconds() {
        let (id, now) = (Uuid::new_v4(), Utc::now().timestamp_millis());
        assert!(matches!(
            wait_for_store(away(), id, 3, None),
            Answer::StoreWait { turn: 3, since, .. } if since >= now
        ));
        assert!(matches!(
            wait_for_store(away(), id, 3, Some(now - 19_000)),
            Answer::StoreWait { since, .. } if since == now - 19_000
        ));
        assert!(matches!(
            wait_for_store(away(), id, 3, Some(now - 21_000)),
            Answer::Apology
        ));
        // Another node's clock ahead of ours never stretches the wait.
        assert!(matches!(
            wait_for_store(away(), id, 3, Some(now + 60_000)),
            Answer::StoreWait { since, .. } if since <= Utc::now().timestamp_millis()
        ));
        // A failure that is not the store being away is apologised for at once.
        assert!(matches!(
            wait_for_store(BrokerError::NotFound, id, 3, None),
            Answer::Apology
        ));
    }
}
