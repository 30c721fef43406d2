//! Vonage: NCCO answers to JSON webhooks signed with a JWT, live updates by transferring the
//! call to a new NCCO, texts by the Messages API. Its calls run through the same routes as
//! the XML family's ([`crate::providers::twilio::routes`]), its callbacks read as their
//! parameters ([`callback`]) and its answers written as NCCO ([`ncco`]).

pub mod callback;
pub mod ncco;
pub mod rest;
pub mod routes;
pub mod signature;

pub use rest::Vonage;
