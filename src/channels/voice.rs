//! The voice channel, provider-neutral: a provider's routes hand their parsed webhook here as
//! a command and render what comes back. Whatever fails, the call gets an [`Answer`]: a
//! webhook answered with an error makes the caller hear the provider's own apology.

use crate::{
    broker::{Command, Outcome},
    state::AppState,
    telephony::Answer,
};

/// Applies a call command; the answer the call hears, the fallback if anything failed.
pub async fn answer(app: &AppState, command: Command) -> Answer {
    match app.broker.apply(command).await {
        Ok(Outcome::Call(answer)) => answer,
        Ok(other) => {
            tracing::error!(?other, "a call command came back without an answer");
            Answer::Apology
        }
        Err(e) => {
            tracing::error!(error = %e, "could not advance the call");
            Answer::Apology
        }
    }
}

/// Records what the provider says about the call; status callbacks expect no answer.
pub async fn status(app: &AppState, command: Command) {
    if let Err(e) = app.broker.apply(command).await {
        tracing::error!(error = %e, "could not record the call status");
    }
}
