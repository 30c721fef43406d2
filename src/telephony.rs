//! The provider-neutral telephony boundary. A provider adapter (`providers/twilio`, and the
//! next ones) parses its webhooks into these facts, hands them to the broker, and renders the
//! [`Answer`] it gets back as its own markup; the broker reaches the live call and texts the
//! customer through [`Telephony`]. Nothing here knows any provider's words.

use std::sync::Arc;

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
    /// The provider it came through, which the session's later texts go out by.
    pub provider: &'static str,
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
    #[error("this node does not serve the provider {0:?}")]
    NotServed(String),
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

/// The providers a node serves, by name: a call's live updates go through the provider that
/// carries it, a session's texts through the one its customer reached us by.
#[derive(Clone)]
pub struct Carriers {
    /// In configured order; the first sends what nothing ties to a provider.
    by_name: Vec<(&'static str, Arc<dyn Telephony>)>,
}

impl Carriers {
    pub fn new(by_name: Vec<(&'static str, Arc<dyn Telephony>)>) -> Self {
        assert!(!by_name.is_empty(), "a node serves at least one provider");
        Self { by_name }
    }

    /// The provider named, when this node serves it.
    pub fn get(&self, name: &str) -> Result<&dyn Telephony, ProviderError> {
        self.by_name
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.as_ref())
            .ok_or_else(|| ProviderError::NotServed(name.to_owned()))
    }

    /// The provider to text by: the one named (a call's or an inbound text's) when served,
    /// else the first configured.
    pub fn for_texts(&self, name: Option<&str>) -> &dyn Telephony {
        name.and_then(|n| self.get(n).ok())
            .unwrap_or_else(|| self.by_name[0].1.as_ref())
    }

    /// The name [`Carriers::for_texts`] picks.
    pub fn texts_name(&self, name: Option<&str>) -> &'static str {
        name.and_then(|n| self.by_name.iter().find(|(p, _)| *p == n))
            .unwrap_or(&self.by_name[0])
            .0
    }
}
