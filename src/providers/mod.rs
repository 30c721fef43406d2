//! Telephony providers behind one boundary: parse their webhooks into call events, render the
//! session's next step as their markup, push live updates, send texts.

pub mod twilio;

use async_trait::async_trait;
use uuid::Uuid;

use crate::session::Reply;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("provider request failed: {0}")]
    Transport(String),
    #[error("provider refused the request with HTTP {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("provider credentials are not configured")]
    NotConfigured,
}

/// What the broker and the voice channel need from a provider, whatever its protocol.
#[derive(Debug)]
pub struct OutboundSms<'a> {
    pub to: &'a str,
    pub body: &'a str,
}

#[async_trait]
pub trait VoiceProvider: Send + Sync + 'static {
    /// Replaces whatever a live call is doing with `reply` (Twilio: Calls update with `Twiml`).
    async fn update_call(
        &self,
        call_id: &str,
        session: Uuid,
        turn: u32,
        reply: &Reply,
    ) -> Result<(), ProviderError>;
    async fn send_sms(&self, sms: OutboundSms<'_>) -> Result<(), ProviderError>;
}
