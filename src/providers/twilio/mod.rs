//! Twilio Programmable Voice and Messaging: signed webhooks in, TwiML and REST calls out.

pub mod rest;
pub mod routes;
pub mod signature;
pub mod twiml;
pub mod webhook;

pub use rest::Twilio;
