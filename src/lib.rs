//! tandem keeps a caller's phone call and the same caller's browser page in one live session.
//!
//! A tour, from the middle out:
//! - [`session`]: the domain — a session, its legs and its ordered event log. No I/O.
//! - [`script`]: IVR flows as data, and the pure engine that steps a call through them.
//! - [`store`]: where sessions live (embedded memory or Redis) and the bus between nodes.
//! - [`broker`]: applies a command atomically and lets the call react to other channels.
//! - [`hub`]: this node's fan-out of wake-ups to its sockets and parked calls.
//! - [`channels`]: the voice, web and bank-API adapters.
//! - [`providers`]: Twilio (signatures, TwiML, REST) behind a provider boundary.
//! - [`phone`]: a faithful simulated Twilio call, for tests, demos and the benchmark.
//! - [`demo`], [`bench`]: the one-command demo and the latency benchmark.
//! - [`app`], [`config`]: wiring and typed configuration.

pub mod app;
pub mod bench;

pub mod broker;
pub mod channels;
pub mod config;
pub mod demo;
pub mod hub;
pub mod phone;

pub mod providers;
pub mod script;
pub mod session;
pub mod store;
pub mod token;
