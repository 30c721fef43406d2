//! Plivo: Plivo XML answers (`Speak`, `GetInput`, `Redirect`, `Dial`, `Wait`), V3-signed
//! callbacks whose nonces are remembered so a replay is refused, and live updates by
//! `aleg_url` (a URL, not a document). Its webhooks are served by the XML family's routes in
//! the Plivo dialect (`/plivo/…`); its markup and REST API are here.

pub mod rest;
pub mod signature;
pub mod xml;

pub use rest::Plivo;
