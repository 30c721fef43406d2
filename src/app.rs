//! Wiring: the shared state, the router made of each module's routes, and `run`.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;

use crate::{
    broker::Broker,
    channels,
    config::Config,
    providers::twilio::{self, Twilio},
    script::Scripts,
    store::{MemoryStore, RedisStore, Store},
};

/// Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub broker: Broker,
    /// Fires when the node is shutting down; long waits (hold loop, sockets) end early.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// Opens the configured store and loads the scripts; fails with a plain reason.
    pub fn build(config: Config, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let scripts =
            Arc::new(Scripts::load_dir(&config.scripts_dir).context("loading IVR scripts")?);
        crate::script::reload::spawn(scripts.clone(), shutdown.clone());
        let store: Arc<dyn Store> = match &config.redis_url {
            Some(url) => Arc::new(
                RedisStore::connect(url, "tandem", shutdown.clone()).context("TANDEM_REDIS_URL")?,
            ),
            None => Arc::new(MemoryStore::default()),
        };
        let provider = Arc::new(Twilio::new(&config));
        let mut broker = Broker::new(store, scripts, provider, config.session_ttl);
        broker.history_keep = config.history_keep;
        Ok(Self {
            config: Arc::new(config),
            broker,
            shutdown,
        })
    }
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .merge(channels::api::router())
        .merge(channels::agent::router())
        .merge(channels::history::router())
        .merge(channels::web::router())
        .merge(twilio::routes::router())
        // Above the longest hold-loop wait (12 s), below Twilio's 15 s.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(14),
        ))
        .with_state(state)
}

async fn health(State(app): State<AppState>) -> Response {
    let store = app.broker.store.kind();
    match app.broker.store.ping().await {
        Ok(()) => Json(
            json!({ "status": "ok", "store": store, "scripts": app.broker.scripts.current_keys() }),
        )
        .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "degraded", "store": store, "error": e.to_string() })),
        )
            .into_response(),
    }
}

/// Serves until `shutdown` fires, then stops taking connections and lets in-flight requests end.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let state = AppState::build(config, shutdown.clone())?;
    tracing::info!(addr = %listener.local_addr()?, store = state.broker.store.kind(), "tandem node listening");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("serving HTTP")
}
