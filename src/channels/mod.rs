//! Channel adapters: how each of a session's legs (voice, web page, bank API, agents) meets
//! it. Each parses its input, applies a broker command and renders the outcome.

pub mod agent;
pub mod api;
pub mod desk;
pub mod error;
pub mod headers;
pub mod history;
pub mod protocol;
pub mod sms;
pub mod voice;
pub mod web;
