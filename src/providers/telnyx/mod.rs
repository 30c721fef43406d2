//! Telnyx: TeXML (a TwiML dialect) answers, Ed25519-signed callbacks. What is here so far:
//! checking those signatures.

pub mod signature;
