//! The SMS channel: a question texted to the customer and answered by reply, run by an SMS
//! script (`"channel": "sms"`) through the same engine as calls.

use chrono::Utc;
use uuid::Uuid;

use crate::{
    app::AppState,
    broker::BrokerError,
    providers::OutboundSms,
    script::{self, Effect, Input, Next, Outcome, Script, Step},
    session::{Alert, Channel, Draft, EventKind, Link, Refusal, Session, SmsLeg, Then},
    store::Index,
    token,
};

/// The flow `confirm_purchase` alerts run.
pub const CONFIRM_PURCHASE: &str = "purchase-confirm-sms";
/// Longest reply kept; a text is at most ten segments.
const MAX_REPLY: usize = 1600;

/// A page link minted before a transaction that may text it (the transaction may run more
/// than once, the token must not change between runs).
struct NewLink {
    token_hash: String,
    url: String,
}

impl NewLink {
    fn mint(app: &AppState) -> Self {
        let secret = token::generate();
        Self {
            token_hash: token::hash(&secret),
            url: app.config.public_url.join(&format!("/s/{secret}")),
        }
    }

    /// Points the token at the session once the commit that holds it landed.
    async fn bind(&self, app: &AppState, id: Uuid) -> Result<(), BrokerError> {
        app.broker
            .store
            .bind(Index::Token, &self.token_hash, id, app.config.session_ttl)
            .await?;
        Ok(())
    }
}

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
    let link = NewLink::mint(app);
    let texts = advance(&mut draft, &script, first, &link).unwrap_or_default();
    app.broker.create(&draft).await?;
    if draft.session.link.is_some() {
        link.bind(app, id).await?;
    }
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

/// What a reply led to.
enum Answered {
    /// The conversation's next texts.
    Texts(Vec<String>, bool),
    /// The reply went to a call waiting on it; the call answers, not a text.
    ToCall,
    /// Nothing is waiting for a reply any more.
    Closed,
}

/// A reply from `from`; returns the text to answer with, if any.
pub async fn reply(app: &AppState, from: &str, body: &str) -> Result<Option<String>, BrokerError> {
    let Some(id) = app.broker.store.lookup(Index::SmsThread, from).await? else {
        return Ok(None);
    };
    tracing::Span::current().record("session_id", tracing::field::display(id));
    let text = clean(body);
    let link = NewLink::mint(app);
    let answer = app
        .broker
        .transact(id, |d| {
            if !d.session.is_open(d.now) {
                return Answered::Closed;
            }
            let upper = text.to_uppercase();
            let call_waits = d.session.voice.as_ref().is_some_and(|v| v.is_live());
            let Some(leg) = d.session.sms.as_ref().filter(|l| l.open) else {
                if call_waits {
                    // The call's script hears it as an `sms_reply` event.
                    d.session.sms_reply = Some(upper);
                    d.emit(EventKind::SmsReceived { text: text.clone() });
                    return Answered::ToCall;
                }
                return Answered::Closed;
            };
            let Some(script) = app.broker.scripts.get(&d.session.script) else {
                return Answered::Closed;
            };
            let position = leg.position.clone();
            d.session.sms_reply = Some(upper.clone());
            d.emit(EventKind::SmsReceived { text: text.clone() });
            let linked = d.session.link.is_some();
            match script::step(&script, &d.session, &position, Input::Keys(&upper))
                .and_then(|step| advance(d, &script, step, &link))
            {
                Some(texts) => Answered::Texts(texts, !linked && d.session.link.is_some()),
                None => Answered::Closed,
            }
        })
        .await;
    match answer {
        Ok(Answered::Texts(texts, new_link)) => {
            if new_link {
                link.bind(app, id).await?;
            }
            Ok(Some(texts.join(" ")))
        }
        Ok(Answered::ToCall) => Ok(None),
        Ok(Answered::Closed) => Ok(Some(
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

/// Follows the script until it asks something or ends; records every text it sends. A page
/// link goes at the end of the text, after the question.
fn advance(d: &mut Draft, script: &Script, mut step: Step, link: &NewLink) -> Option<Vec<String>> {
    let mut texts = Vec::new();
    let mut tail = Vec::new();
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
                texts.append(&mut tail);
                return Some(texts);
            }
            Next::Effect(Effect::Decide(decision)) => match d.decide(decision, Channel::Sms) {
                Ok(()) => Outcome::Decided(decision),
                Err(Refusal::AlreadyDecided(existing)) => {
                    Outcome::AlreadyDecided(existing.decision)
                }
                Err(_) => return None,
            },
            Next::Effect(Effect::SendLink { text }) => {
                // One link per session: a second would leave two valid tokens.
                if d.session.link.is_none() {
                    d.session.link = Some(Link {
                        token_hash: link.token_hash.clone(),
                        device_hash: None,
                    });
                    d.emit(EventKind::LinkSent);
                    tail.push(match text {
                        Some(text) => text.replace("{link}", &link.url),
                        None => format!("Review it securely here: {}", link.url),
                    });
                }
                Outcome::Sent
            }
            // Loading refuses plain texts inside a texted conversation: every text is a reply.
            Next::Effect(Effect::SendSms { .. }) => return None,
        };
        step = script::step(script, &d.session, &step.position, Input::Done(outcome))?;
    }
}
