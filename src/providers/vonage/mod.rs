//! Vonage: NCCO answers, JWT-signed callbacks. What is here so far: checking signatures.

pub mod signature;
