//! SignalWire: cXML is Twilio's TwiML and its form callbacks are signed as Twilio signs them,
//! with the project's signing key, so its webhooks are served by the TwiML routes in the
//! SignalWire dialect (`/signalwire/…`); its REST API is its own.

pub mod rest;
pub mod signature;

pub use rest::SignalWire;
