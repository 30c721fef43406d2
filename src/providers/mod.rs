//! Telephony providers at the edge: each parses its webhooks into the telephony boundary's
//! facts, hands them to the broker as commands, renders the answers as its markup, and
//! implements [`crate::telephony::Telephony`] with its REST API. Nothing below imports these.

pub mod plivo;
pub mod signalwire;
pub mod telnyx;
pub mod twilio;
pub mod vonage;
