//! The texted conversation: a question texted to the customer and answered by reply, run by
//! an SMS script (`"channel": "sms"`) through the same driver as calls. A reply to a text a
//! call sent reaches that call instead.

use std::sync::Arc;

use uuid::Uuid;

use super::{Broker, BrokerError};
use crate::{
    script::{self, Input, Script, Texts},
    session::{Alert, EventKind, SmsLeg},
    store::{Index, StoreError},
    telephony::{InboundSms, OutboundSms},
};

/// Longest reply kept; a text is at most ten segments.
const MAX_REPLY: usize = 1600;
/// How long a text waits for an away store before it is answered with an apology: well
/// within the 15 s a provider waits for the answer.
const TEXT_WAITS_FOR_STORE: std::time::Duration = std::time::Duration::from_secs(8);
const STORE_RETRY: std::time::Duration = std::time::Duration::from_millis(250);

/// What a reply led to.
enum Answered {
    /// The conversation's next texts, and whether they hold a new link.
    Texts(Vec<String>, bool),
    /// The reply went to a call waiting on it; the call answers, not a text.
    ToCall,
    /// Nothing is waiting for a reply any more: the script's word for that.
    Closed(String),
}

impl Broker {
    /// Opens the conversation for an alert and texts its first question; whether it went out.
    pub(super) async fn start_text(
        &self,
        alert: &Alert,
        script: &Arc<Script>,
    ) -> Result<bool, BrokerError> {
        let id = Uuid::new_v4();
        let phone = alert.case.customer.phone.clone();
        let mut draft = self.open_session(id, alert, script);
        draft.session.sms = Some(SmsLeg {
            provider: Some(self.telephony.texts_name(None).to_owned()),
            to: phone.clone(),
            position: Default::default(),
            open: false,
        });
        let first = script::step(script, &draft.session, &Default::default(), Input::Start)
            .ok_or(BrokerError::NotFound)?;
        let link = self.mint_link();
        let texts =
            script::drive(&mut draft, script, first, &mut Texts::new(&link)).unwrap_or_default();
        let (created, attached) =
            tokio::join!(self.create(&draft), self.store.attach_session(alert.id, id));
        created?;
        if let Err(e) = attached {
            tracing::warn!(error = %e, "the alert does not know its session");
        }
        if draft.session.link.is_some() {
            self.bind_link(&link, id).await?;
        }
        self.store
            .point(Index::SmsThread, &phone, id, self.config.session_ttl)
            .await?;
        let sent = self
            .telephony
            .for_texts(None)
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

    /// A text from the customer; the text to answer with, if any. While the store is away
    /// with nothing sent to it, the text is tried again for a few seconds (the provider waits
    /// 15 s for the answer), so a short stall gets the true answer, not an apology.
    pub(super) async fn text_received(
        &self,
        sms: InboundSms,
    ) -> Result<Option<String>, BrokerError> {
        let deadline = tokio::time::Instant::now() + TEXT_WAITS_FOR_STORE;
        loop {
            match self.try_text_received(&sms).await {
                Err(BrokerError::Store(StoreError::Unavailable(_) | StoreError::Unknown(_)))
                    if tokio::time::Instant::now() < deadline =>
                {
                    tokio::select! {
                        () = tokio::time::sleep(STORE_RETRY) => {}
                        () = self.shutdown.cancelled() => return Err(BrokerError::Unknown),
                    }
                }
                result => return result,
            }
        }
    }

    async fn try_text_received(&self, sms: &InboundSms) -> Result<Option<String>, BrokerError> {
        let Some(id) = self.store.lookup(Index::SmsThread, &sms.from).await? else {
            return Ok(None);
        };
        tracing::Span::current().record("session_id", tracing::field::display(id));
        let text = clean(&sms.body);
        let link = self.mint_link();
        let answer = self
            .transact(id, |d| {
                let ended = |d: &crate::session::Draft| {
                    let message = match self.scripts.get(&d.session.script) {
                        Some(s) => s.words(&s.messages.texted_after_end, &d.session),
                        None => script::speech::render(
                            script::model::Messages::default()
                                .texted_after_end
                                .pick("en"),
                            &d.session,
                        ),
                    };
                    Answered::Closed(message)
                };
                if !d.session.is_open(d.now) {
                    return ended(d);
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
                    return ended(d);
                };
                let Some(script) = self.scripts.get(&d.session.script) else {
                    return ended(d);
                };
                let position = leg.position.clone();
                if let Some(leg) = d.session.sms.as_mut() {
                    // Replies to this text go back the way it came.
                    leg.provider = Some(sms.provider.to_owned());
                }
                d.session.sms_reply = Some(upper.clone());
                d.emit(EventKind::SmsReceived { text: text.clone() });
                let linked = d.session.link.is_some();
                match script::step(&script, &d.session, &position, Input::Keys(&upper))
                    .and_then(|step| script::drive(d, &script, step, &mut Texts::new(&link)))
                {
                    Some(texts) => Answered::Texts(texts, !linked && d.session.link.is_some()),
                    None => ended(d),
                }
            })
            .await;
        match answer {
            Ok(Answered::Texts(texts, new_link)) => {
                if new_link {
                    // After the commit: the text was applied, so this is not tried again.
                    if let Err(e) = self.bind_link(&link, id).await {
                        tracing::warn!(session_id = %id, error = %e, "could not save the texted link");
                        return Err(BrokerError::Unknown);
                    }
                }
                Ok(Some(texts.join(" ")))
            }
            Ok(Answered::ToCall) => Ok(None),
            Ok(Answered::Closed(message)) => Ok(Some(message)),
            Err(BrokerError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
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
