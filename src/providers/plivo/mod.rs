//! Plivo: Plivo XML answers, V3 signatures with a nonce. What is here so far: checking those
//! signatures (a replayed nonce is the adapter's to refuse).

pub mod signature;
