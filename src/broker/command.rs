//! What any channel may ask of a session, and what came of it. A channel parses its input
//! into a [`Command`], hands it to [`super::Broker::apply`] and renders the [`Outcome`].

use uuid::Uuid;

use crate::{
    session::{Alert, Case, Channel, Decision, Refusal, history::Record},
    store::Versioned,
    telephony::{Answer, CallInfo, CallStatus, Heard, InboundSms},
};

#[derive(Debug)]
pub enum Command {
    /// A call arrived: open its session for the caller's alert and greet them.
    StartCall(CallInfo),
    /// Keys or words in answer to the gather of `turn`.
    Heard {
        session: Uuid,
        turn: u32,
        call_id: String,
        heard: Heard,
    },
    /// The call waits in the hold loop for the session's next event.
    Hold {
        session: Uuid,
        turn: u32,
        call_id: String,
        /// When the store was first seen away (unix ms), carried by the hold loop's URL.
        outage_since: Option<i64>,
        /// The longest the provider lets this webhook be held, when shorter than the node's
        /// hold poll (Vonage wants an NCCO within 5 s).
        longest: Option<std::time::Duration>,
    },
    /// The provider reports where the call is; a finished call closes its session.
    CallStatus { call_id: String, status: CallStatus },
    /// A device presents a texted link (by its token's hash) to claim it.
    ClaimLink {
        token_hash: String,
        device_hash: String,
    },
    /// The bound page has connected and seen the session (loaded just before).
    PageOpened { loaded: Box<Versioned> },
    /// A decision from a channel; the first one wins.
    Decide {
        session: Uuid,
        decision: Decision,
        by: Channel,
    },
    /// The customer asks for a person.
    AskForPerson { session: Uuid, by: Channel },
    /// A button on the page raised `name` on the screen shown at `screen` (its `seq`).
    PageAction {
        session: Uuid,
        screen: u64,
        name: String,
    },
    /// A form answered on the page, on the screen shown at `screen`.
    PageSubmit {
        session: Uuid,
        screen: u64,
        form: String,
        values: std::collections::BTreeMap<String, String>,
    },
    /// The customer texted us.
    TextReceived(InboundSms),
    /// The bank raises an alert; a journey that starts by text starts now.
    RaiseAlert(Case),
    /// A representative is ready for the caller.
    AgentJoined { session: Uuid, name: String },
    /// A request outside the script, kept for follow-up.
    OpenCase {
        session: Uuid,
        note: String,
        expectation: String,
    },
    /// Something another system saw, added to the customer's history.
    AddHistory { customer: String, record: Record },
    /// What a representative does at the desk, with their identity in the session's log.
    Desk {
        session: Uuid,
        agent: crate::agents::Agent,
        action: super::DeskAction,
    },
}

#[derive(Debug)]
pub enum Outcome {
    /// What the call is answered with (voice commands always have one, failures included).
    Call(Answer),
    /// Done; every channel sees the change through the session's log.
    Applied,
    /// Not applied and nothing changed; `message` says why in the script's words.
    Refused { refusal: Refusal, message: String },
    /// The link is this device's now.
    LinkClaimed { session: Uuid },
    /// The answer to a text, when one is due.
    Text(Option<String>),
    /// The alert is stored; `texted` says whether a journey by text started and its first
    /// text went out (`None`: the alert's journey waits for the customer's call).
    AlertRaised { alert: Alert, texted: Option<bool> },
    /// The session now has this many cases.
    CaseOpened { cases: usize },
    /// The page's action or answer was not taken; nothing was recorded but a failed try.
    PageRefused {
        reason: super::PageRefusal,
        errors: std::collections::BTreeMap<String, String>,
    },
}
