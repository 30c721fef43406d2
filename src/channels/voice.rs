//! The voice channel, provider-neutral: a provider's routes hand their parsed webhook here as
//! a command and render what comes back. Whatever fails, the call gets an [`Answer`]: a
//! webhook answered with an error makes the caller hear the provider's own apology.

use uuid::Uuid;

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

/// What a call sent back by a live update by URL is to do: the reply the session handed it at
/// `turn` (or a later one, when the call has moved on since). Nothing is changed.
pub async fn resume(app: &AppState, session: Uuid, call_id: &str, turn: u32) -> Answer {
    match app.broker.session(session).await {
        Ok(s) => match s.voice {
            Some(voice) if voice.call_id == call_id && voice.turn >= turn => {
                match voice.last_reply {
                    Some(reply) => Answer::Reply {
                        session,
                        turn: voice.turn,
                        reply,
                    },
                    None => Answer::Apology,
                }
            }
            _ => {
                tracing::warn!("a call came back for a reply its session never gave it");
                Answer::Apology
            }
        },
        // The store is away: the hold loop waits for it, as for any call.
        Err(crate::broker::BrokerError::Store(_)) => Answer::StoreWait {
            session,
            turn,
            since: chrono::Utc::now().timestamp_millis(),
        },
        Err(e) => {
            tracing::error!(error = %e, "could not read the reply a call came back for");
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
