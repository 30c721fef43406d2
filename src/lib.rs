//! tandem keeps a caller's phone call and the same caller's browser page in one live session.
//!
//! A tour, from the middle out:
//! - [`session`]: the domain — a session, its legs and its ordered event log. No I/O.
//! - [`script`]: IVR flows as data, and the pure engine that steps a call through them.
//! - [`store`]: where sessions live (embedded memory or Redis) and the bus between nodes.
//! - [`broker`]: applies a command atomically and lets the call react to other channels.
//! - [`hub`]: this node's fan-out of wake-ups to its sockets and parked calls.
//! - [`channels`]: the voice, web and bank-API adapters.
//! - [`telephony`]: the provider-neutral boundary: call facts in, answers out, live updates
//!   and texts through the [`telephony::Telephony`] trait.
//! - [`providers`]: Twilio (signatures, markup, REST), an adapter at the edge.
//! - [`state`]: what every handler shares (configuration, broker, shutdown).
//! - [`app`], [`config`], [`cli`]: wiring, typed configuration and the node's commands.
//!
//! The dev phone, the demo and the benchmark live in the `tandem-dev` crate, above this one.

pub mod agents;
pub mod app;
pub mod broker;
pub mod channels;
pub mod cli;
pub mod config;
pub mod hub;
pub mod providers;
pub mod script;
pub mod serve;
pub mod session;
pub mod state;
pub mod store;
pub mod telephony;
pub mod token;
