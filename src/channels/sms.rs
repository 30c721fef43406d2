//! The SMS channel, provider-neutral: a provider's route hands an inbound text here and
//! answers with the text that comes back (or none).

use crate::{
    broker::{BrokerError, Command, Outcome},
    state::AppState,
    telephony::{InboundSms, OutboundSms},
};

/// An inbound text; the text to answer with, if any.
pub async fn text(app: &AppState, sms: InboundSms) -> Result<Option<String>, BrokerError> {
    match app.broker.apply(Command::TextReceived(sms)).await? {
        Outcome::Text(answer) => Ok(answer),
        _ => Ok(None),
    }
}

/// The text to answer an inbound text with, whatever happened: the script's answer, none, or
/// a plain apology that says whether to send it again.
pub async fn answer(app: &AppState, sms: InboundSms) -> Option<String> {
    match text(app, sms).await {
        Ok(answer) => answer,
        Err(e @ BrokerError::Unknown) => {
            tracing::error!(error = %e, "a text's outcome is not known");
            Some("Sorry, we couldn't confirm your reply just now. Please reply again in a few minutes; if the first one went through, we'll say so.".into())
        }
        Err(e) => {
            tracing::error!(error = %e, "could not handle a text");
            Some(
                "Sorry, we couldn't read your reply just now. Please try again in a few minutes."
                    .into(),
            )
        }
    }
}

/// Answers an inbound text by the REST API of the provider it came through, for providers
/// that take no reply in the webhook's response (Telnyx, Vonage).
pub async fn answer_by_api(app: &AppState, sms: InboundSms) {
    let (provider, to) = (sms.provider, sms.from.clone());
    let Some(answer) = answer(app, sms).await else {
        return;
    };
    let sent = match app.telephony.get(provider) {
        Ok(carrier) => {
            carrier
                .send_sms(OutboundSms {
                    to: &to,
                    body: &answer,
                })
                .await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        tracing::warn!(error = %e, provider, "could not send the answer to a text");
    }
}
