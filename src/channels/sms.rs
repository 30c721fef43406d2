//! The SMS channel: a question texted to the customer and answered by reply, run by an SMS
//! script (`"channel": "sms"`) through the same engine as calls.

use chrono::Utc;
use uuid::Uuid;

use crate::{
    app::AppState,
    broker::BrokerError,
    providers::OutboundSms,
    script::{self, Effect, Input, Next, Outcome, Script, Step},
    session::{Alert, Channel, Draft, EventKind, Refusal, Session, SmsLeg, Then},
    store::Index,
};

/// The flow `confirm_purchase` alerts run.
pub const CONFIRM_PURCHASE: &str = "purchase-confirm-sms";
/// Longest reply kept; a text is at most ten segments.
const MAX_REPLY: usize = 1600;

/// Opens the conversation for an alert and texts its first question.
pub async fn start(app: &AppState, alert: &Alert) -> Result<bool, BrokerError> {
    let script = app
        .broker
        .scripts
        .get(CONFIRM_PURCHASE)
        .ok_or(BrokerError::NotFound)?;
    let id = Uuid::new_v4();
    let now = Utc::now();
    let ttl =
        chrono::Duration::from_std(app.config.session_ttl).unwrap_or(chrono::Duration::hours(1));
    let phone = alert.case.customer.phone.clone();
    let mut draft = Draft::new(Session::open(id, alert, &script.key(), now, ttl), now);
    draft.session.sms = Some(SmsLeg {
        to: phone.clone(),
        position: Default::default(),
        open: false,
    });
    draft.emit(EventKind::SessionOpened);
    let first = script::step(&script, &draft.session, &Default::default(), Input::Start)
        .ok_or(BrokerError::NotFound)?;
    let texts = advance(&mut draft, &script, first).unwrap_or_default();
    app.broker.create(&draft).await?;
    app.broker
        .store
        .point(Index::SmsThread, &phone, id, app.config.session_ttl)
        .await?;
    let sent = app
        .broker
        .provider
        .send_sms(OutboundSms {
            to: &phone,
            body: &texts.join(" "),
        })
        .await;
    if let Err(e) = &sent {
        tracing::warn!(session_id = %id, error = %e, "could not text the question");
    }
    Ok(sent.is_ok())
}

/// A reply from `from`; returns the text to answer with, if any.
pub async fn reply(app: &AppState, from: &str, body: &str) -> Result<Option<String>, BrokerError> {
    let Some(id) = app.broker.store.lookup(Index::SmsThread, from).await? else {
        return Ok(None);
    };
    let text = clean(body);
    let answer = app
        .broker
        .transact(id, |d| {
            let script = app.broker.scripts.get(&d.session.script)?;
            let leg = d.session.sms.as_ref().filter(|l| l.open)?;
            let position = leg.position.clone();
            d.emit(EventKind::SmsReceived { text: text.clone() });
            let step = script::step(
                &script,
                &d.session,
                &position,
                Input::Keys(&text.to_uppercase()),
            )?;
            advance(d, &script, step)
        })
        .await;
    match answer {
        Ok(Some(texts)) => Ok(Some(texts.join(" "))),
        Ok(None) => Ok(Some(
            "This question has already been answered. Thank you.".into(),
        )),
        Err(BrokerError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Control characters out, whitespace trimmed, length bounded.
fn clean(body: &str) -> String {
    let text: String = body
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REPLY)
        .collect();
    text.trim().to_owned()
}

/// Follows the script until it asks something or ends; records every text it sends.
fn advance(d: &mut Draft, script: &Script, mut step: Step) -> Option<Vec<String>> {
    let mut texts = Vec::new();
    loop {
        for event in std::mem::take(&mut step.log) {
            // The reply itself was logged as received text; the engine's key log would repeat it.
            if !matches!(event, EventKind::Digits { .. }) {
                d.emit(event);
            }
        }
        // Texts carry words only; audio and pauses mean nothing in a message.
        texts.extend(
            step.speech
                .drain(..)
                .filter_map(|p| p.said().map(str::to_owned)),
        );
        let outcome = match step.next {
            Next::Reply { then, .. } => {
                let open = match then {
                    Then::Gather { prompt, .. } => {
                        texts.push(prompt);
                        true
                    }
                    _ => false,
                };
                let leg = d.session.sms.as_mut()?;
                leg.position = step.position;
                leg.open = open;
                for text in &texts {
                    d.emit(EventKind::SmsSent { text: text.clone() });
                }
                if !open {
                    d.close("conversation ended");
                }
                return Some(texts);
            }
            Next::Effect(Effect::Decide(decision)) => match d.decide(decision, Channel::Sms) {
                Ok(()) => Outcome::Decided(decision),
                Err(Refusal::AlreadyDecided(existing)) => {
                    Outcome::AlreadyDecided(existing.decision)
                }
                Err(_) => return None,
            },
            // Loading refuses actions in SMS scripts.
            Next::Effect(Effect::SendLink) => return None,
        };
        step = script::step(script, &d.session, &step.position, Input::Done(outcome))?;
    }
}
