//! Wiring: the state built from the configuration, the router made of each module's routes,
//! and `run`.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Json, Router,
    extract::{MatchedPath, State},
    http::StatusCode,
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::{timeout::TimeoutLayer, trace::TraceLayer};

pub use crate::state::{AppState, Peer};
use crate::{
    broker::Broker,
    channels,
    config::Config,
    providers::{
        plivo::Plivo,
        signalwire::SignalWire,
        telnyx::{self, Telnyx},
        twilio::{self, Dialect, Twilio},
        vonage::{self, Vonage},
    },
    script::Scripts,
    store::{MemoryStore, RedisStore, Store},
    telephony::{Carriers, Telephony},
};

/// Opens the configured store and provider and loads the scripts; fails with a plain reason.
pub fn build(config: Config, shutdown: CancellationToken) -> anyhow::Result<AppState> {
    let scripts = Arc::new(Scripts::load_dir(&config.scripts_dir).context("loading IVR scripts")?);
    crate::script::reload::spawn(scripts.clone(), shutdown.clone());
    let store: Arc<dyn Store> = match &config.redis_url {
        Some(url) => Arc::new(
            RedisStore::connect(url, "tandem", shutdown.clone()).context("TANDEM_REDIS_URL")?,
        ),
        None => Arc::new(MemoryStore::default()),
    };
    let telephony = Arc::new(carriers(&config));
    let config = Arc::new(config);
    let broker = Broker::new(
        config.clone(),
        store,
        scripts,
        telephony.clone(),
        shutdown.clone(),
    );
    Ok(AppState {
        config,
        broker,
        telephony,
        shutdown,
    })
}

/// Each configured provider's REST API, by name, in the configured order.
fn carriers(config: &Config) -> Carriers {
    let by_name = config
        .providers
        .iter()
        .map(|&name| {
            // A provider named is configured: `Config` refuses one without its settings.
            let telephony: Arc<dyn Telephony> = match name {
                "signalwire" if let Some(c) = &config.signalwire => {
                    Arc::new(SignalWire::new(config, c))
                }
                "telnyx" if let Some(c) = &config.telnyx => Arc::new(Telnyx::new(config, c)),
                "plivo" if let Some(c) = &config.plivo => Arc::new(Plivo::new(config, c)),
                "vonage" if let Some(c) = &config.vonage => Arc::new(Vonage::new(config, c)),
                _ => Arc::new(Twilio::new(config)),
            };
            (name, telephony)
        })
        .collect();
    Carriers::new(by_name)
}

/// The webhook routes of each configured provider, each under its own prefix.
fn provider_routes(config: &Config) -> Router<AppState> {
    config
        .providers
        .iter()
        .fold(Router::new(), |router, &name| match name {
            "signalwire" => router.merge(twilio::routes::router(Dialect::SignalWire)),
            "plivo" => router.merge(twilio::routes::router(Dialect::Plivo)),
            "telnyx" => router
                .merge(twilio::routes::router(Dialect::Telnyx))
                .merge(telnyx::sms::router()),
            "vonage" => router
                .merge(twilio::routes::router(Dialect::Vonage))
                .merge(vonage::routes::router()),
            _ => router.merge(twilio::routes::router(Dialect::Twilio)),
        })
}

pub fn app(state: AppState) -> Router {
    let providers = provider_routes(&state.config);
    Router::new()
        .route("/healthz", get(health))
        .merge(channels::api::router())
        .merge(channels::agent::router())
        .merge(channels::desk::router())
        .merge(channels::history::router())
        .merge(channels::web::router())
        .merge(providers)
        // Above the longest hold-loop wait (12 s), below Twilio's 15 s.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(14),
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            channels::headers::security_headers,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// One span per request: the matched route (never the raw path, which holds tokens) and,
/// where the request names one, the session. Handlers record the session when they learn it.
fn request_span(req: &axum::extract::Request) -> tracing::Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        route,
        session_id = tracing::field::Empty,
    );
    if let Some(id) = session_named(route, req.uri()) {
        span.record("session_id", tracing::field::display(id));
    }
    span
}

/// The session a request names: a path parameter of a session route, or our own follow-up
/// URLs' `session` query parameter (provider webhooks).
fn session_named(route: &str, uri: &axum::http::Uri) -> Option<uuid::Uuid> {
    let from_path = match route {
        "/p/{id}" | "/p/{id}/ws" | "/api/v1/sessions/{id}" => uri.path().split('/').nth(2),
        "/api/v1/sessions/{id}/cases" | "/api/v1/sessions/{id}/agent" => {
            uri.path().split('/').nth(4)
        }
        _ => None,
    };
    let from_query = || {
        form_urlencoded::parse(uri.query()?.as_bytes())
            .find(|(k, _)| k == "session")
            .map(|(_, v)| v.into_owned())
    };
    match from_path {
        Some(id) => id.parse().ok(),
        None => from_query()?.parse().ok(),
    }
}

async fn health(State(app): State<AppState>) -> Response {
    let store = app.broker.store_kind();
    match app.broker.health().await {
        Ok(()) => {
            Json(json!({ "status": "ok", "store": store, "scripts": app.broker.script_keys() }))
                .into_response()
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "degraded", "store": store, "error": e.to_string() })),
        )
            .into_response(),
    }
}

/// Says plainly, once, when the store does not answer at start: the node listens but is not
/// ready (`/healthz` answers 503) until it does, and says so again when it comes.
async fn report_store(state: AppState, stop: CancellationToken) {
    let mut failed = false;
    loop {
        match state.broker.health().await {
            Ok(()) if failed => {
                tracing::info!("the store answers now; this node is ready");
                return;
            }
            Ok(()) => return,
            Err(e) if !failed => {
                failed = true;
                tracing::error!(
                    error = %e,
                    store = state.broker.store_kind(),
                    "the store does not answer; this node is not ready (/healthz answers 503) until it does"
                );
            }
            Err(_) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// How long connections accepted before the listening socket closed have to send their request.
const LAST_REQUESTS_GRACE: Duration = Duration::from_millis(500);

/// Serves until `shutdown` fires, then stops taking connections and lets in-flight requests end.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Held webhooks and page sockets are released only once the listening socket is closed:
    // what they do next (the call's redirect, the page's reconnect) then meets a refused
    // connection, which every balancer retries elsewhere, instead of a half-open one here.
    let released = CancellationToken::new();
    let state = build(config, released.clone())?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, store = state.broker.store_kind(), "tandem node listening");
    if let Some(problem) = twilio::unconfigured(&state.config) {
        tracing::error!("{problem}");
    }
    tokio::spawn(report_store(state.clone(), released.clone()));
    let listener = Closing {
        state: Listening::Open(listener),
        addr,
        stop: shutdown,
        closed: released.clone(),
    };
    let limits = crate::serve::Limits {
        header_timeout: state.config.header_timeout,
        max_connections: state.config.max_connections,
    };
    crate::serve::serve(listener, app(state), limits, async move {
        released.cancelled().await;
        // Graceful shutdown closes connections that have no request yet; one accepted just
        // before the close has its request on the way, so it gets a moment to arrive.
        tokio::time::sleep(LAST_REQUESTS_GRACE).await;
    })
    .await;
    Ok(())
}

/// A listener that, once `stop` fires, takes the connections the kernel has already queued,
/// closes its socket, then says so through `closed`.
pub struct Closing {
    state: Listening,
    addr: std::net::SocketAddr,
    stop: CancellationToken,
    closed: CancellationToken,
}

/// At most this many queued connections are taken after `stop`: arrivals that keep coming
/// must not hold the socket open.
const MAX_DRAINED: usize = 1024;

enum Listening {
    Open(TcpListener),
    /// Stopped: taking what the kernel has already queued, straight from the socket (the
    /// reactor may not have heard of it yet), then closing.
    Draining {
        inner: std::net::TcpListener,
        left: usize,
    },
    Closed,
}

impl axum::serve::Listener for Closing {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        if let Listening::Open(inner) = &mut self.state {
            tokio::select! {
                biased;
                accepted = axum::serve::Listener::accept(inner) => return accepted,
                () = self.stop.cancelled() => {}
            }
            let Listening::Open(inner) = std::mem::replace(&mut self.state, Listening::Closed)
            else {
                unreachable!("matched above")
            };
            match inner.into_std() {
                Ok(inner) => {
                    self.state = Listening::Draining {
                        inner,
                        left: MAX_DRAINED,
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not take the queued connections"),
            }
        }
        if let Listening::Draining { inner, left } = &mut self.state {
            while *left > 0 {
                *left -= 1;
                match inner.accept() {
                    Ok((stream, addr)) => {
                        let stream = stream
                            .set_nonblocking(true)
                            .and_then(|()| tokio::net::TcpStream::from_std(stream));
                        match stream {
                            Ok(stream) => return (stream, addr),
                            Err(e) => tracing::warn!(error = %e, "dropped a queued connection"),
                        }
                    }
                    // The client gave up, or a signal: the next one may be there.
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::Interrupted
                        ) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "stopped taking queued connections");
                        break;
                    }
                }
            }
            self.state = Listening::Closed;
        }
        // The socket is closed (dropped above); held requests may now be released.
        self.closed.cancel();
        // axum stops asking once `closed` has fired.
        std::future::pending().await
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_its_session_by_path_or_by_our_follow_up_query() {
        let id = uuid::Uuid::new_v4();
        let uri = |s: String| s.parse::<axum::http::Uri>().unwrap();
        assert_eq!(
            session_named("/p/{id}/ws", &uri(format!("/p/{id}/ws"))),
            Some(id)
        );
        let cases = format!("/api/v1/sessions/{id}/cases");
        assert_eq!(
            session_named("/api/v1/sessions/{id}/cases", &uri(cases)),
            Some(id)
        );
        let hold = format!("/twilio/hold?session={id}&turn=3");
        assert_eq!(session_named("/twilio/hold", &uri(hold)), Some(id));
        assert_eq!(session_named("/s/{token}", &uri("/s/abc".into())), None);
        assert_eq!(session_named("/p/{id}", &uri("/p/not-a-uuid".into())), None);
    }
}
