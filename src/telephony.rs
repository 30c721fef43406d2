//! The provider-neutral telephony boundary. A provider adapter (`providers/twilio`, and the
//! next ones) parses its webhooks into these facts, hands them to the broker, and renders the
//! [`Answer`] it gets back as its own markup; the broker reaches the live call and texts the
//! customer through [`Telephony`]. Nothing here knows any provider's words.

use async_trait::async_trait;
use uuid::Uuid;

pub use crate::session::CallStatus;
use crate::session::Reply;

/// A call as a provider's webhook describes it.
#[derive(Clone, Debug)]
pub struct CallInfo {
    /// The provider's name, kept on the session's voice leg.
    pub provider: &'static str,
    pub call_id: String,
    pub from: String,
    pub to: String,
    /// `None` when the webhook did not say; a call that reaches us is taken to be live.
    pub status: Option<CallStatus>,
}

/// What a gather brought back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    /// Keys pressed: digits, `*` and `#`; empty when the caller pressed nothing.
    Keys(String),
    /// What speech recognition heard.
    Words(String),
}

/// A text the customer sent.
#[derive(Clone, Debug)]
pub struct InboundSms {
    /// The sender, in E.164.
    pub from: String,
    pub body: String,
}

/// A text to the customer.
#[derive(Debug)]
pub struct OutboundSms<'a> {
    pub to: &'a str,
    pub body: &'a str,
}

/// What a call webhook is answered with, for the provider to render as its markup.
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
        /// The language of the hold prompt, when not English.
        language: Option<String>,
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

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("provider request failed: {0}")]
    Transport(String),
    #[error("provider refused the request with HTTP {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("provider credentials are not configured")]
    NotConfigured,
}

/// What the broker needs from a provider, whatever its protocol.
#[async_trait]
pub trait Telephony: Send + Sync + 'static {
    /// Replaces whatever a live call is doing with `reply` at once (Twilio: a Calls update).
    async fn update_call(
        &self,
        call_id: &str,
        session: Uuid,
        turn: u32,
        reply: &Reply,
    ) -> Result<(), ProviderError>;
    async fn send_sms(&self, sms: OutboundSms<'_>) -> Result<(), ProviderError>;
    /// Where the provider says the call is; `None` when it does not know the call.
    async fn call_status(&self, call_id: &str) -> Result<Option<CallStatus>, ProviderError>;
}
