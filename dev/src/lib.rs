//! Tools around a tandem node, never inside it: the server library does not depend on this
//! crate, and the compiler keeps it that way.
//! - [`phone`]: a faithful simulated call on any provider (signed webhooks, its markup followed
//!   verb by verb, a fake REST API), for tests, the demo and the benchmark.
//! - [`demo`]: the one-command demo.
//! - [`bench`]: the latency, load and memory benchmark, and the local processes it (and the
//!   integration tests) start.
//! - [`agent`]: desk accounts, created on a running node.

pub mod agent;
pub mod bench;
pub mod demo;
pub mod phone;
