//! What every request handler shares: the configuration, the broker and the shutdown signal.
//! Built by [`crate::app::build`]; channels and providers read it, never the reverse.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::{broker::Broker, config::Config, telephony::Carriers};

/// Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub broker: Broker,
    /// The providers' REST APIs, for an adapter that answers by API rather than in markup.
    pub telephony: Arc<Carriers>,
    /// Fires when the node is shutting down; long waits (hold loop, sockets) end early.
    pub shutdown: CancellationToken,
}

/// The address a connection came from, for per-client limits.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub std::net::SocketAddr);
