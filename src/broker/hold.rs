//! The hold loop: a call waits in a long-held webhook that is answered the moment the session
//! has something new for it (a page tap, a texted reply, a person ready), and performs the
//! effects (texts) the call was parked for, once, outside any transaction.

use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;
use uuid::Uuid;

use super::{
    Broker, BrokerError,
    call::{advance, settle, stale, wait_for_store},
};
use crate::{
    script::{self, Effect, Input, Outcome, Scripts, drive::PageLink},
    session::{Draft, EventKind, Link, Position, Reply, Session, Then},
    store::Index,
    telephony::{Answer, OutboundSms},
};

/// How long a claimed effect may take before the call takes the action's error path.
const EFFECT_GRACE_MS: i64 = 15_000;

enum Pickup {
    Ready(Option<Answer>),
    Wait {
        until: Option<i64>,
    },
    /// This request performs the effect the call is parked for; a link it texts is already
    /// in the session, so it opens the instant the text arrives.
    Effect(Position, Option<PageLink>),
}

/// What performing an effect gave, to record in the commit that moves the call on.
struct Performed {
    outcome: Outcome,
    /// Whether the text held the page link.
    linked: bool,
    /// What was texted, for the log (a link's text is not logged: it holds the token).
    logged: Option<String>,
}

impl Broker {
    /// Answers as soon as the call has something new to hear, or after `poll` with the hold
    /// prompt so the provider comes back.
    pub(super) async fn hold(
        &self,
        id: Uuid,
        turn: u32,
        call_id: &str,
        mut outage_since: Option<i64>,
        poll: Duration,
    ) -> Answer {
        // Listen before the first read, so an event landing in between still wakes us.
        let mut listener = self.listen(id);
        let deadline = Instant::now() + poll;
        loop {
            let mint = || self.mint_link();
            let until = match self
                .transact(id, |d| pickup(d, turn, call_id, &self.scripts, &mint))
                .await
            {
                Ok(Pickup::Ready(answer)) => return settle(Ok(answer)),
                Ok(Pickup::Effect(position, link)) => {
                    return settle(self.run_effect(id, call_id, position, link).await);
                }
                Ok(Pickup::Wait { until }) => until,
                Err(e) => return wait_for_store(e, id, turn, outage_since),
            };
            // The store answered: a later failure is a new outage.
            outage_since = None;
            tracing::debug!(turn, "call holding for the session's next event");
            let wake_at = until.map_or(deadline, |ms| deadline.min(instant_at(ms)));
            tokio::select! {
                () = listener.changed() => {}
                () = tokio::time::sleep_until(wake_at) => {
                    if Instant::now() >= deadline {
                        return self.holding(id, turn, outage_since).await;
                    }
                }
                () = self.shutdown.cancelled() => return self.holding(id, turn, outage_since).await,
            }
        }
    }

    pub(super) async fn holding(&self, id: Uuid, turn: u32, outage_since: Option<i64>) -> Answer {
        let session = match self.load_versioned(id).await {
            Ok(loaded) => loaded.session,
            Err(e) => return wait_for_store(e, id, turn, outage_since),
        };
        let Some(voice) = session.voice else {
            return Answer::Apology;
        };
        match voice.last_reply {
            Some(Reply {
                then: Then::Hold { hold_prompt },
                language,
                ..
            }) => Answer::Holding {
                session: id,
                turn,
                hold_prompt,
                language,
            },
            // The call moved on while this poll ran out (a live update raced it): it hears
            // where it is now, never an apology for a wait that ended well.
            Some(reply) if voice.turn >= turn => Answer::Reply {
                session: id,
                turn: voice.turn,
                reply,
            },
            _ => Answer::Apology,
        }
    }

    /// Performs the effect the call was parked for, then moves the call on with its outcome.
    async fn run_effect(
        &self,
        id: Uuid,
        call_id: &str,
        position: Position,
        link: Option<PageLink>,
    ) -> Result<Option<Answer>, BrokerError> {
        let session = self.load_versioned(id).await?.session;
        let script = self
            .scripts
            .get(&session.script)
            .ok_or(BrokerError::NotFound)?;
        let Some(effect) = script::effect_at(&script, &session, &position) else {
            return Ok(None);
        };
        let done = self.perform(&session, &effect, link).await?;
        self.transact(id, |d| {
            let voice = d.session.voice.as_ref().filter(|v| v.call_id == call_id)?;
            // The grace for this effect ran out and the call went on without it.
            if voice.position != position || voice.effect_due {
                return stale(d, None);
            }
            if done.outcome == Outcome::Sent {
                if done.linked {
                    d.emit(EventKind::LinkSent);
                }
                if let Some(text) = &done.logged {
                    d.emit(EventKind::SmsSent { text: text.clone() });
                }
            }
            let step = script::step(&script, &d.session, &position, Input::Done(done.outcome))?;
            advance(d, &script, step)
        })
        .await
    }

    /// Texts the customer for the call's script. Replies to the text reach the call. A link is
    /// bound to the session before the text that carries it leaves.
    async fn perform(
        &self,
        s: &Session,
        effect: &Effect,
        link: Option<PageLink>,
    ) -> Result<Performed, BrokerError> {
        let to = s
            .voice
            .as_ref()
            .map_or(s.case.customer.phone.as_str(), |v| v.from.as_str());
        let (body, linked, logged) = match (effect, link) {
            (Effect::SendLink { text }, Some(link)) => {
                self.bind_link(&link, s.id).await?;
                (link.text(text), true, None)
            }
            // The claim that parked the call recorded no link: nothing may be texted.
            (Effect::SendLink { .. }, None) => return Err(BrokerError::NotFound),
            (Effect::SendSms { text }, _) => (text.clone(), false, Some(text.clone())),
            (Effect::Decide(_), _) => unreachable!("decisions are made inside the transaction"),
        };
        // The customer is texted by the provider they reached us by.
        let provider = s
            .voice
            .as_ref()
            .map(|v| v.provider.as_str())
            .or_else(|| s.sms.as_ref().and_then(|l| l.provider.as_deref()));
        let outcome = match self
            .telephony
            .for_texts(provider)
            .send_sms(OutboundSms { to, body: &body })
            .await
        {
            Ok(()) => {
                // A reply to this text belongs to this session (and its call) from now on.
                if let Err(e) = self
                    .store
                    .point(Index::SmsThread, to, s.id, self.config.session_ttl)
                    .await
                {
                    tracing::warn!(error = %e, "replies to the text will not reach the call");
                }
                Outcome::Sent
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not send the text");
                Outcome::Failed
            }
        };
        Ok(Performed {
            outcome,
            linked,
            logged,
        })
    }
}

fn pickup(
    d: &mut Draft,
    turn: u32,
    call_id: &str,
    scripts: &Scripts,
    mint: &dyn Fn() -> PageLink,
) -> Pickup {
    let now_ms = d.now.timestamp_millis();
    let Some(voice) = d.session.voice.as_mut().filter(|v| v.call_id == call_id) else {
        return Pickup::Ready(None);
    };
    // Claimed in this commit, so only one request ever performs it.
    if voice.effect_due {
        voice.effect_due = false;
        voice.pending = None;
        voice.wait_until = Some(now_ms + EFFECT_GRACE_MS);
        let position = voice.position.clone();
        // Persist, then notify: the link the text will carry is the session's before it leaves.
        let texts_link = scripts
            .get(&d.session.script)
            .and_then(|script| script::effect_at(&script, &d.session, &position))
            .is_some_and(|effect| matches!(effect, Effect::SendLink { .. }));
        if !texts_link {
            return Pickup::Effect(position, None);
        }
        // A commit that loses a race runs this again with a new link: only the one that lands
        // is ever texted.
        let link = mint();
        d.session.link = Some(Link {
            token_hash: link.token_hash.clone(),
            device_hash: None,
        });
        return Pickup::Effect(position, Some(link));
    }
    if let Some(reply) = voice.pending.take() {
        voice.parked = reply.parks();
        return Pickup::Ready(Some(Answer::Reply {
            session: d.session.id,
            turn: voice.turn,
            reply,
        }));
    }
    if voice.turn != turn {
        return Pickup::Ready(stale(d, None));
    }
    // Sent here from a gather by a store outage, with what it heard never applied (the turn
    // did not move): it hears the question again, and the caller answers it again.
    if !voice.parked
        && let Some(reply) = voice.last_reply.clone()
    {
        return Pickup::Ready(Some(Answer::Reply {
            session: d.session.id,
            turn: voice.turn,
            reply,
        }));
    }
    match voice.wait_until {
        Some(until) if until <= now_ms => Pickup::Ready(wait_over(d, scripts)),
        until => Pickup::Wait { until },
    }
}

fn wait_over(d: &mut Draft, scripts: &Scripts) -> Option<Answer> {
    let voice = d.session.voice.as_mut()?;
    voice.wait_until = None;
    let position = voice.position.clone();
    let script = scripts.get(&d.session.script)?;
    let step = script::step(&script, &d.session, &position, Input::WaitOver)?;
    advance(d, &script, step)
}

fn instant_at(unix_ms: i64) -> Instant {
    let from_now = unix_ms - Utc::now().timestamp_millis();
    Instant::now() + Duration::from_millis(from_now.max(0) as u64)
}
