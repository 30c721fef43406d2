//! The voice channel, provider-neutral: a call arrives, keys come in, the call waits in the
//! hold loop, the call ends. Each returns an [`Answer`] that a provider renders as markup.

use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;
use uuid::Uuid;

use crate::{
    app::AppState,
    broker::BrokerError,
    providers::OutboundSms,
    script::{self, Effect, Input, Outcome, Script, Scripts, Step},
    session::{Channel, Draft, EventKind, Link, Position, Reply, Session, VoiceLeg},
    store::{Index, StoreError},
    token,
};

/// A call as the provider describes it in a webhook.
#[derive(Clone, Debug)]
pub struct CallInfo {
    pub provider: &'static str,
    pub call_id: String,
    pub from: String,
    pub to: String,
    pub status: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Reply {
        session: Uuid,
        turn: u32,
        reply: Reply,
    },
    /// Nothing happened during a hold-loop wait: keep the caller company and go round again.
    Holding {
        session: Uuid,
        turn: u32,
        hold_prompt: String,
    },
    /// The store is away while the call holds: a moment's pause, then the hold loop again,
    /// carrying when the outage was first seen (`since`, unix ms). A Redis restart takes
    /// seconds; sending every holding caller to a person for it would flood the agents.
    StoreWait {
        session: Uuid,
        turn: u32,
        since: i64,
    },
    UnknownCaller,
    /// Something failed on our side; the provider apologises and offers a person.
    Apology,
}

/// How long a holding call waits for the store to come back before it is offered a person.
const OUTAGE_HOLD_MS: i64 = 20_000;

/// What a holding call hears when the store failed it: a short wait while the outage is young
/// and the store merely unavailable, else the apology.
fn wait_for_store(e: BrokerError, id: Uuid, turn: u32, since: Option<i64>) -> Answer {
    let now = Utc::now().timestamp_millis();
    // Another node's clock may run ahead; never count from the future.
    let since = since.map_or(now, |s| s.min(now));
    match e {
        BrokerError::Store(StoreError::Unavailable(reason)) if now - since < OUTAGE_HOLD_MS => {
            tracing::warn!(%reason, waited_ms = now - since, "store away; the call keeps holding");
            Answer::StoreWait {
                session: id,
                turn,
                since,
            }
        }
        e => settle(Err(e)),
    }
}

pub async fn incoming(app: &AppState, call: CallInfo) -> Answer {
    match try_incoming(app, &call).await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::error!(error = %e, "could not start the call's session");
            Answer::Apology
        }
    }
}

async fn try_incoming(app: &AppState, call: &CallInfo) -> Result<Answer, BrokerError> {
    let store = &app.broker.store;
    // A retried webhook for a call we already know is answered as before, not started again.
    if let Some(id) = store.lookup(Index::Call, &call.call_id).await? {
        return replay(app, id).await;
    }
    let Some(alert) = store.open_alert_for_phone(&call.from).await? else {
        return Ok(Answer::UnknownCaller);
    };
    // Memory across calls: the flow and its words may depend on what happened before.
    let history = match store.history(&alert.case.customer.id, 20).await {
        Ok(history) => history,
        Err(e) => {
            tracing::warn!(error = %e, "history unavailable; the call goes on without it");
            Vec::new()
        }
    };
    let script = app
        .broker
        .scripts
        .for_call(&history, Utc::now())
        .ok_or(BrokerError::NotFound)?;
    let id = Uuid::new_v4();
    if let Some(existing) = store
        .bind(Index::Call, &call.call_id, id, app.config.session_ttl)
        .await?
    {
        return replay(app, existing).await;
    }
    tracing::Span::current().record("session_id", tracing::field::display(id));
    let now = Utc::now();
    let ttl =
        chrono::Duration::from_std(app.config.session_ttl).unwrap_or(chrono::Duration::hours(1));
    let mut draft = Draft::new(Session::open(id, &alert, &script.key(), now, ttl), now);
    draft.session.voice = Some(new_leg(call));
    draft.session.history = history;
    draft.emit(EventKind::SessionOpened);
    draft.emit(EventKind::CallStarted);
    let Some(step) = script::step(&script, &draft.session, &Position::default(), Input::Start)
    else {
        return Ok(Answer::Apology);
    };
    let Some(answer) = advance(&mut draft, &script, step) else {
        return Ok(Answer::Apology);
    };
    app.broker.create(&draft).await?;
    tracing::info!("call started");
    Ok(answer)
}

fn new_leg(call: &CallInfo) -> VoiceLeg {
    VoiceLeg {
        provider: call.provider.into(),
        call_id: call.call_id.clone(),
        from: call.from.clone(),
        to: call.to.clone(),
        status: call.status.clone(),
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

/// What a gather brought back.
#[derive(Clone, Copy, Debug)]
pub enum Heard<'a> {
    Keys(&'a str),
    Words(&'a str),
}

impl<'a> Heard<'a> {
    fn input(self) -> Input<'a> {
        match self {
            Heard::Keys(keys) => Input::Keys(keys),
            Heard::Words(words) => Input::Words(words),
        }
    }
}

/// What the caller pressed or said in answer to the gather of `turn`.
pub async fn keys(app: &AppState, id: Uuid, turn: u32, call_id: &str, heard: Heard<'_>) -> Answer {
    let result = async {
        let loaded = app.broker.load_versioned(id).await?;
        let script = app
            .broker
            .scripts
            .get(&loaded.session.script)
            .ok_or(BrokerError::NotFound)?;
        app.broker
            .transact_from(loaded, |d| {
                let voice = d.session.voice.as_ref().filter(|v| v.call_id == call_id)?;
                if voice.turn != turn {
                    return stale(d, matches!(heard, Heard::Keys(k) if !k.is_empty()));
                }
                let position = voice.position.clone();
                match script::step(&script, &d.session, &position, heard.input()) {
                    Some(step) => advance(d, &script, step),
                    None => stale(d, false),
                }
            })
            .await
    }
    .await;
    settle(result)
}

/// Follows the script until the call has a reply, and gives it.
fn advance(d: &mut Draft, script: &Script, step: Step) -> Option<Answer> {
    let (turn, reply) = script::follow(d, script, step, Channel::Voice)?;
    Some(Answer::Reply {
        session: d.session.id,
        turn,
        reply,
    })
}

/// What performing an effect gave, to record in the commit that moves the call on.
struct Performed {
    outcome: Outcome,
    /// The hash of the link's token, when a link was texted.
    token_hash: Option<String>,
    /// What was texted, for the log (a link's text is not logged: it holds the token).
    logged: Option<String>,
}

/// Texts the customer for the call's script. Replies to the text reach the call.
async fn perform(app: &AppState, s: &Session, effect: &Effect) -> Result<Performed, BrokerError> {
    let to = s
        .voice
        .as_ref()
        .map_or(s.case.customer.phone.as_str(), |v| v.from.as_str());
    let (body, token_hash, logged) = match effect {
        Effect::SendLink { text } => {
            let secret = token::generate();
            let token_hash = token::hash(&secret);
            app.broker
                .store
                .bind(Index::Token, &token_hash, s.id, app.config.session_ttl)
                .await?;
            let url = app.config.public_url.join(&format!("/s/{secret}"));
            let body = match text {
                Some(text) => text.replace("{link}", &url),
                None => format!(
                    "Your {} card ending {}: review the held charges here {url} (works on this phone only, until the call ends)",
                    s.case.card.brand, s.case.card.last4
                ),
            };
            (body, Some(token_hash), None)
        }
        Effect::SendSms { text } => (text.clone(), None, Some(text.clone())),
        Effect::Decide(_) => unreachable!("decisions are made inside the transaction"),
    };
    let outcome = match app
        .broker
        .provider
        .send_sms(OutboundSms { to, body: &body })
        .await
    {
        Ok(()) => {
            // A reply to this text belongs to this session (and its call) from now on.
            if let Err(e) = app
                .broker
                .store
                .point(Index::SmsThread, to, s.id, app.config.session_ttl)
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
        token_hash,
        logged,
    })
}

/// Performs the effect the call was parked for, then moves the call on with its outcome.
async fn run_effect(
    app: &AppState,
    id: Uuid,
    call_id: &str,
    position: Position,
) -> Result<Option<Answer>, BrokerError> {
    let session = app.broker.load(id).await?;
    let script = app
        .broker
        .scripts
        .get(&session.script)
        .ok_or(BrokerError::NotFound)?;
    let Some(effect) = script::effect_at(&script, &session, &position) else {
        return Ok(None);
    };
    let done = perform(app, &session, &effect).await?;
    app.broker
        .transact(id, |d| {
            let voice = d.session.voice.as_ref().filter(|v| v.call_id == call_id)?;
            // The grace for this effect ran out and the call went on without it.
            if voice.position != position || voice.effect_due {
                return stale(d, false);
            }
            if done.outcome == Outcome::Sent {
                if let Some(token_hash) = &done.token_hash {
                    d.session.link = Some(Link {
                        token_hash: token_hash.clone(),
                        device_hash: None,
                    });
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

/// A webhook for a turn the call has moved past (a retry, or keys racing a page tap):
/// it changes nothing and hears the call's latest reply again.
fn stale(d: &Draft, pressed: bool) -> Option<Answer> {
    let voice = d.session.voice.as_ref()?;
    let mut reply = voice.last_reply.clone()?;
    if let (true, Some(decision)) = (pressed, d.session.decision) {
        reply.speech.insert(
            0,
            format!(
                "These charges were already {}.",
                decision.decision.past_tense()
            )
            .into(),
        );
    }
    Some(Answer::Reply {
        session: d.session.id,
        turn: voice.turn,
        reply,
    })
}

fn settle(result: Result<Option<Answer>, BrokerError>) -> Answer {
    match result {
        Ok(Some(answer)) => answer,
        Ok(None) => Answer::Apology,
        Err(e) => {
            tracing::error!(error = %e, "could not advance the call");
            Answer::Apology
        }
    }
}

async fn replay(app: &AppState, id: Uuid) -> Result<Answer, BrokerError> {
    let session = app.broker.load(id).await?;
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

enum Pickup {
    Ready(Option<Answer>),
    Wait {
        until: Option<i64>,
    },
    /// This request performs the effect the call is parked for.
    Effect(Position),
}

/// How long a claimed effect may take before the call takes the action's error path.
const EFFECT_GRACE_MS: i64 = 15_000;

/// The hold loop: answers as soon as the call has something new to hear, or after
/// `hold_poll` with the hold prompt so the provider comes back.
pub async fn hold(
    app: &AppState,
    id: Uuid,
    turn: u32,
    call_id: &str,
    mut outage_since: Option<i64>,
) -> Answer {
    // Listen before the first read, so an event landing in between still wakes us.
    let mut listener = app.broker.listen(id);
    let deadline = Instant::now() + app.config.hold_poll;
    loop {
        let until = match app
            .broker
            .transact(id, |d| pickup(d, turn, call_id, &app.broker.scripts))
            .await
        {
            Ok(Pickup::Ready(answer)) => return settle(Ok(answer)),
            Ok(Pickup::Effect(position)) => {
                return settle(run_effect(app, id, call_id, position).await);
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
                    return holding(app, id, turn, outage_since).await;
                }
            }
            () = app.shutdown.cancelled() => return holding(app, id, turn, outage_since).await,
        }
    }
}

fn pickup(d: &mut Draft, turn: u32, call_id: &str, scripts: &Scripts) -> Pickup {
    let now_ms = d.now.timestamp_millis();
    let Some(voice) = d.session.voice.as_mut().filter(|v| v.call_id == call_id) else {
        return Pickup::Ready(None);
    };
    // Claimed in this commit, so only one request ever performs it.
    if voice.effect_due {
        voice.effect_due = false;
        voice.pending = None;
        voice.wait_until = Some(now_ms + EFFECT_GRACE_MS);
        return Pickup::Effect(voice.position.clone());
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
        return Pickup::Ready(stale(d, false));
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

async fn holding(app: &AppState, id: Uuid, turn: u32, outage_since: Option<i64>) -> Answer {
    let session = match app.broker.load(id).await {
        Ok(session) => session,
        Err(e) => return wait_for_store(e, id, turn, outage_since),
    };
    let hold_prompt = session
        .voice
        .and_then(|v| v.last_reply)
        .and_then(|r| match r.then {
            crate::session::Then::Hold { hold_prompt } => Some(hold_prompt),
            _ => None,
        });
    match hold_prompt {
        Some(hold_prompt) => Answer::Holding {
            session: id,
            turn,
            hold_prompt,
        },
        None => Answer::Apology,
    }
}

fn instant_at(unix_ms: i64) -> Instant {
    let from_now = unix_ms - Utc::now().timestamp_millis();
    Instant::now() + Duration::from_millis(from_now.max(0) as u64)
}

/// The provider reports the call's status; a finished call closes the session.
pub async fn status(app: &AppState, call_id: &str, status: &str) {
    let result = async {
        let Some(id) = app.broker.store.lookup(Index::Call, call_id).await? else {
            return Ok(());
        };
        tracing::Span::current().record("session_id", tracing::field::display(id));
        app.broker
            .transact(id, |d| {
                let Some(voice) = d.session.voice.as_mut().filter(|v| v.is_live()) else {
                    return;
                };
                voice.status = status.to_owned();
                if !voice.is_live() {
                    d.emit(EventKind::CallEnded {
                        status: status.to_owned(),
                    });
                    d.close("call ended");
                }
            })
            .await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "could not record the call status");
    }
}
