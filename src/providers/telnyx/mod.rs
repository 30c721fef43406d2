//! Telnyx with TeXML, a TwiML dialect: its call webhooks are served by the TwiML routes in the
//! Telnyx dialect (`/telnyx/…`, Ed25519-signed), its texts arrive as signed JSON events
//! (`/telnyx/sms`) and are answered through its Messaging API.

pub mod rest;
pub mod signature;
pub mod sms;

pub use rest::Telnyx;
