//! Channel adapters: how each of a session's legs (voice, web page, bank API) meets it.

pub mod agent;
pub mod api;
pub mod history;
pub mod protocol;
pub mod sms;
pub mod voice;
pub mod web;
