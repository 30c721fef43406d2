//! Twilio Programmable Voice and Messaging: signed webhooks in, TwiML and REST calls out. Its
//! routes and webhook reading serve the whole XML family (SignalWire, Telnyx and Plivo too),
//! each in its [`Dialect`].

pub mod rest;
pub mod routes;
pub mod signature;
pub mod twiml;
pub mod webhook;

pub use crate::providers::dialect::Dialect;
pub use rest::Twilio;

use secrecy::ExposeSecret;

/// What is missing for Twilio to work, said once at start: without the auth token every
/// webhook is refused, without the account id no text or live update can be sent.
pub fn unconfigured(config: &crate::config::Config) -> Option<String> {
    if !config.providers.contains(&"twilio") {
        return None;
    }
    let mut missing = Vec::new();
    if config.twilio.auth_token.expose_secret().is_empty() {
        missing.push("TANDEM_TWILIO_AUTH_TOKEN (every Twilio webhook is refused with 403)");
    }
    if config.twilio.account_sid.is_empty() {
        missing.push("TANDEM_TWILIO_ACCOUNT_SID (no text or live call update can be sent)");
    }
    (!missing.is_empty())
        .then(|| format!("Twilio is not configured: set {}", missing.join(" and ")))
}
