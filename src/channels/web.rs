//! The web channel: the texted link, the page it opens and the page's live websocket.
//!
//! `/s/{token}` claims the link for the device (a cookie) and redirects to `/p/{session}`, so
//! the token leaves the address bar at once; the page and its socket then need that cookie.

use std::net::IpAddr;

use axum::{
    Router,
    extract::{
        ConnectInfo, Path, Query, State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use uuid::Uuid;

use super::protocol::{ByeReason, ClientMsg, PageView, RefusalReason, ServerMsg};
use crate::{
    app::AppState,
    broker::BrokerError,
    session::{Channel, Decision, EventKind, Refusal},
    store::{Index, Versioned},
    token,
};

const DEVICE_COOKIE: &str = "tandem_device";
const PAGE: &str = include_str!("../../web/index.html");
const SCRIPT: &str = include_str!("../../web/app.js");
const STYLE: &str = include_str!("../../web/app.css");
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// Small: the page only ever sends one short command at a time.
const MAX_MESSAGE: usize = 4 * 1024;
/// What each idle socket keeps for reading: most of its memory, times thousands of sockets.
const READ_BUFFER: usize = 512;
/// Links or pages a client may fail to open in a window before it is refused outright: a
/// customer mistypes a few times, a guesser needs billions.
const MAX_FAILURES: u64 = 10;
const FAILURE_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Events replayed to a page that (re)connects.
const REPLAY_LIMIT: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/s/{token}", get(open_link))
        .route("/p/{id}", get(page))
        .route("/p/{id}/ws", get(socket))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route(
            "/assets/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    SCRIPT,
                )
            }),
        )
        .route(
            "/assets/app.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }),
        )
        .layer(middleware::from_fn(security_headers))
}

async fn security_headers(req: axum::extract::Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Every refusal of a link looks the same, so a guesser learns nothing from the answer.
fn notice(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title><link rel=\"stylesheet\" href=\"/assets/app.css\"></head>\
         <body><main class=\"notice\"><h1>{title}</h1><p>{text}</p></main></body></html>"
    );
    (status, Html(body)).into_response()
}

/// The one answer to a link or page that does not open, whatever the reason (unknown,
/// malformed, expired, closed, or claimed by another device), so a guesser learns nothing.
fn invalid_link() -> Response {
    notice(
        StatusCode::NOT_FOUND,
        "This link can't be opened here",
        "It may have expired or its call may have ended. For your security a link works only \
         on the device that opened it first.",
    )
}

fn too_many_failures() -> Response {
    let mut res = notice(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        "Please wait a few minutes before opening a link again.",
    );
    res.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(FAILURE_WINDOW.as_secs()),
    );
    res
}

/// Who is asking, for counting failures: the connection's address, or the address the load
/// balancer reports in the configured header (its last entry, the one the balancer added).
/// Extracting it refuses a client that has failed too often to be let in at all.
struct Client(String);

impl axum::extract::FromRequestParts<AppState> for Client {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &AppState,
    ) -> Result<Self, Response> {
        let forwarded = app.config.client_ip_header.as_deref().and_then(|name| {
            let value = parts.headers.get(name)?.to_str().ok()?;
            value.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
        });
        let peer = parts
            .extensions
            .get::<ConnectInfo<crate::app::Peer>>()
            .map(|c| c.0.0.ip());
        let client = forwarded
            .or(peer)
            .map_or_else(|| "unknown".into(), |ip| ip.to_string());
        match app.broker.store.failures(&client).await {
            Ok(n) if n >= MAX_FAILURES => Err(too_many_failures()),
            // Without the store nothing opens anyway; the request fails on its own.
            _ => Ok(Client(client)),
        }
    }
}

/// Counts a refusal against the client and answers with the refusal.
async fn failed(app: &AppState, client: &Client, refusal: Response) -> Response {
    if let Err(e) = app
        .broker
        .store
        .add_failure(&client.0, FAILURE_WINDOW)
        .await
    {
        tracing::warn!(error = %e, "could not count a failed link");
    }
    refusal
}

fn unavailable() -> Response {
    notice(
        StatusCode::SERVICE_UNAVAILABLE,
        "Please try again",
        "We can't open your charges right now. Try again in a moment.",
    )
}

fn device_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == DEVICE_COOKIE && token::well_formed(value))
        .map(|(_, value)| value.to_owned())
}

async fn open_link(
    State(app): State<AppState>,
    Path(secret): Path<String>,
    client: Client,
    headers: HeaderMap,
) -> Response {
    if !token::well_formed(&secret) {
        return failed(&app, &client, invalid_link()).await;
    }
    let token_hash = token::hash(&secret);
    let id = match app.broker.store.lookup(Index::Token, &token_hash).await {
        Ok(Some(id)) => id,
        Ok(None) => return failed(&app, &client, invalid_link()).await,
        Err(e) => {
            tracing::error!(error = %e, "link lookup failed");
            return unavailable();
        }
    };
    let device = device_cookie(&headers).unwrap_or_else(token::generate);
    let device_hash = token::hash(&device);
    match app
        .broker
        .transact(id, |d| d.claim_link(&token_hash, &device_hash))
        .await
    {
        Ok(Ok(())) => {
            // Browsers keep Secure cookies only over https, or on localhost for local trials.
            let cookie = format!(
                "{DEVICE_COOKIE}={device}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=86400"
            );
            let location = app.config.public_url.join(&format!("/p/{id}"));
            (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, location), (header::SET_COOKIE, cookie)],
            )
                .into_response()
        }
        Ok(Err(_)) | Err(BrokerError::NotFound) => failed(&app, &client, invalid_link()).await,
        Err(e) => {
            tracing::error!(session_id = %id, error = %e, "could not claim the link");
            unavailable()
        }
    }
}

/// The session, if the request comes from the device its link is bound to.
async fn bound(
    app: &AppState,
    id: Uuid,
    headers: &HeaderMap,
) -> Result<Option<Versioned>, BrokerError> {
    let Some(device) = device_cookie(headers) else {
        return Ok(None);
    };
    let loaded = app.broker.load_versioned(id).await?;
    Ok(loaded
        .session
        .is_bound_to(&token::hash(&device))
        .then_some(loaded))
}

async fn page(
    State(app): State<AppState>,
    Path(id): Path<Uuid>,
    client: Client,
    headers: HeaderMap,
) -> Response {
    match bound(&app, id, &headers).await {
        Ok(Some(_)) => Html(PAGE).into_response(),
        Ok(None) | Err(BrokerError::NotFound) => failed(&app, &client, invalid_link()).await,
        Err(_) => unavailable(),
    }
}

#[derive(Deserialize)]
struct Resume {
    #[serde(default)]
    after: u64,
}

async fn socket(
    State(app): State<AppState>,
    Path(id): Path<Uuid>,
    Query(resume): Query<Resume>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if origin != Some(app.config.public_url.origin()) {
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let loaded = match bound(&app, id, &headers).await {
        Ok(Some(loaded)) => loaded,
        Ok(None) | Err(BrokerError::NotFound) => {
            return (StatusCode::FORBIDDEN, "not this device's session").into_response();
        }
        Err(_) => return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response(),
    };
    upgrade
        // Pages send a few hundred bytes at most; the buffer grows for a larger frame.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |ws| live(app, Box::new(loaded), resume.after, Box::new(ws)))
}

#[tracing::instrument(skip_all, fields(session_id = %loaded.session.id))]
async fn live(app: AppState, loaded: Box<Versioned>, after: u64, ws: Box<WebSocket>) {
    let id = loaded.session.id;
    let (mut tx, mut rx) = (*ws).split();
    // Listening starts after the upgrade's load, so events between the two are read back
    // from the log below, from the snapshot's sequence number.
    let mut listener = app.broker.listen(id);
    // Thousands of these wait idle at once, so the waiting state must stay small: the work
    // between waits runs boxed, and the session document is gone once the snapshot is sent.
    let Some(mut cursor) = Box::pin(greet(&app, loaded, after, &mut tx)).await else {
        return;
    };
    loop {
        match Box::pin(forward(&app, id, &mut cursor, &mut tx)).await {
            Ok(false) => {}
            Ok(true) => return Box::pin(close(tx, rx, ByeReason::SessionClosed)).await,
            Err(()) => return,
        }
        tokio::select! {
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    let answer = Box::pin(command(&app, id, text.as_str())).await;
                    // The page learns what its command changed before any refusal of it.
                    let Ok(closed) = Box::pin(forward(&app, id, &mut cursor, &mut tx)).await else { return };
                    if let Some(answer) = answer
                        && tx.send(Message::text(answer)).await.is_err()
                    {
                        return;
                    }
                    if closed {
                        return Box::pin(close(tx, rx, ByeReason::SessionClosed)).await;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            () = listener.news_after(cursor) => {}
            () = app.shutdown.cancelled() => return Box::pin(close(tx, rx, ByeReason::Shutdown)).await,
        }
    }
}

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

/// Sends the snapshot and records the page as opened; the cursor to forward events from.
async fn greet(app: &AppState, loaded: Box<Versioned>, after: u64, tx: &mut Sink) -> Option<u64> {
    let session = &loaded.session;
    let snapshot = ServerMsg::Snapshot {
        session: PageView::of(session),
        last_seq: session.seq,
    }
    .to_json();
    tx.send(Message::text(snapshot)).await.ok()?;
    let cursor = after.min(session.seq);
    if !session.page_opened
        && let Err(e) = app.broker.transact_from(*loaded, |d| d.open_page()).await
    {
        tracing::warn!(error = %e, "could not record the page opening");
    }
    Some(cursor)
}

/// Sends the events after `cursor`; `true` once the session has closed.
async fn forward(app: &AppState, id: Uuid, cursor: &mut u64, tx: &mut Sink) -> Result<bool, ()> {
    let events = match app
        .broker
        .store
        .events_after(id, *cursor, REPLAY_LIMIT)
        .await
    {
        Ok(events) => events,
        // The store is away: keep the socket, the next wake-up (a resync) retries.
        Err(_) => return Ok(false),
    };
    let mut closed = false;
    for event in &events {
        tx.send(Message::text(ServerMsg::Event(event).to_json()))
            .await
            .map_err(drop)?;
        *cursor = event.seq;
        closed |= matches!(event.event, EventKind::SessionClosed { .. });
    }
    Ok(closed)
}

/// Applies one message from the page; returns the answer to send, if any.
async fn command(app: &AppState, id: Uuid, text: &str) -> Option<String> {
    let decision = match ClientMsg::parse(text) {
        Some(ClientMsg::Decide { decision }) => decision,
        Some(ClientMsg::TalkToSomeone) => return talk_to_someone(app, id).await,
        None => {
            let msg = ServerMsg::Error {
                message: "unknown message; expected {\"type\":\"decide\",\"decision\":\"approve\"|\"decline\"} or {\"type\":\"talk_to_someone\"}",
            };
            return Some(msg.to_json());
        }
    };
    let refused = match app
        .broker
        .transact(id, |d| d.decide(decision, Channel::Web))
        .await
    {
        Ok(Ok(())) => return None,
        Ok(Err(Refusal::AlreadyDecided(existing))) => ServerMsg::DecisionRefused {
            reason: RefusalReason::AlreadyDecided,
            message: match existing.decision {
                Decision::Approve => "These charges were already approved.",
                Decision::Decline => "These charges were already declined.",
            },
            decision: Some(existing.into()),
        },
        Ok(Err(_)) | Err(BrokerError::NotFound) => ServerMsg::DecisionRefused {
            reason: RefusalReason::SessionClosed,
            message: "This session has ended, so nothing was changed.",
            decision: None,
        },
        Err(e) => {
            tracing::warn!(error = %e, "decision not recorded");
            ServerMsg::DecisionRefused {
                reason: RefusalReason::Unavailable,
                message: "We couldn't record that just now. Nothing was changed; please try again.",
                decision: None,
            }
        }
    };
    Some(refused.to_json())
}

/// Asks for a person; the call hears it through its script and the page sees the event.
async fn talk_to_someone(app: &AppState, id: Uuid) -> Option<String> {
    let message = match app
        .broker
        .transact(id, |d| d.request_agent(Channel::Web))
        .await
    {
        Ok(Ok(())) => return None,
        Ok(Err(_)) | Err(BrokerError::NotFound) => "This session has ended; please call us again.",
        Err(e) => {
            tracing::warn!(error = %e, "agent request not recorded");
            "We couldn't reach a representative just now. Please try again, or press 0 on the call."
        }
    };
    Some(ServerMsg::Error { message }.to_json())
}

/// Says goodbye and completes the close handshake: dropping the socket while the page still
/// has frames in flight would reset the connection and lose the goodbye.
async fn close(
    mut tx: Sink,
    mut rx: futures_util::stream::SplitStream<WebSocket>,
    reason: ByeReason,
) {
    let _ = tx
        .send(Message::text(ServerMsg::Bye { reason }.to_json()))
        .await;
    let _ = tx.send(Message::Close(None)).await;
    let drain = async {
        while let Some(Ok(msg)) = rx.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
}
