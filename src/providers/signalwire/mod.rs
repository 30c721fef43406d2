//! SignalWire: cXML is Twilio's TwiML and its form callbacks are signed as Twilio signs them,
//! with the project's signing key; its JSON callbacks (RELAY, SWML) carry their own signature.
//! What is here so far: checking those signatures.

pub mod signature;
