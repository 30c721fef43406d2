//! The SMS channel, provider-neutral: a provider's route hands an inbound text here and
//! answers with the text that comes back (or none).

use crate::{
    broker::{BrokerError, Command, Outcome},
    state::AppState,
    telephony::InboundSms,
};

/// An inbound text; the text to answer with, if any.
pub async fn text(app: &AppState, sms: InboundSms) -> Result<Option<String>, BrokerError> {
    match app.broker.apply(Command::TextReceived(sms)).await? {
        Outcome::Text(answer) => Ok(answer),
        _ => Ok(None),
    }
}
