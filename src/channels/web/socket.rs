//! The page's live websocket: the snapshot, then every event from the page's cursor as it
//! happens (resuming after a reconnect), and the page's commands applied as broker commands.

use axum::{
    extract::{
        Path, Query, State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use uuid::Uuid;

use super::{PageError, bound};
use crate::{
    broker::{BrokerError, Command, Outcome, PageRefusal},
    channels::protocol::{ByeReason, ClientMsg, PageView, RefusalReason, ServerMsg},
    hub::Listener,
    session::{Channel, EventKind, Refusal},
    state::AppState,
    store::Versioned,
};

/// A page sends one command at a time: a form of a few fields of at most 1000 characters each
/// fits well within this. A larger frame closes the socket (1009) before it is read.
const MAX_MESSAGE: usize = 16 * 1024;
/// What each idle socket keeps for reading: most of its memory, times thousands of sockets.
const READ_BUFFER: usize = 512;
/// Events replayed to a page that (re)connects.
const REPLAY_LIMIT: usize = 200;
/// Sockets one session may hold open on one node: a page, its reloads overlapping, a second
/// tab. Each costs a fan-out of every event; hundreds with one device cookie are an attack.
const MAX_SOCKETS_PER_SESSION: usize = 8;
/// A page sends a handful of commands a minute: a burst of this many is let through, then
/// one more each `REFILL`. A socket past that is closed as a policy violation.
const BURST: u8 = 10;
const REFILL: std::time::Duration = std::time::Duration::from_secs(2);

/// What a socket may still send.
struct Budget {
    left: u8,
    since: tokio::time::Instant,
}

impl Budget {
    fn new() -> Self {
        Self {
            left: BURST,
            since: tokio::time::Instant::now(),
        }
    }

    /// Spends one message's worth; `false` when there is none to spend.
    fn spend(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        let earned = (now - self.since).as_millis() / REFILL.as_millis();
        if earned > 0 {
            self.left = (u128::from(self.left) + earned).min(u128::from(BURST)) as u8;
            self.since = now;
        }
        match self.left {
            0 => false,
            _ => {
                self.left -= 1;
                true
            }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct Resume {
    #[serde(default)]
    after: u64,
    /// The `seq` of the screen the page already shows (from the page itself, or drawn before
    /// a reconnect): the snapshot leaves it out when it is still current.
    screen: Option<u64>,
}

pub(super) async fn socket(
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
        Ok(loaded) => loaded,
        Err(PageError::InvalidLink) => {
            return (StatusCode::FORBIDDEN, "not this device's session").into_response();
        }
        Err(_) => return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response(),
    };
    // Listening starts before the upgrade's snapshot is sent, so events from then on are
    // read back from the log, from the snapshot's sequence number.
    let Some(listener) = app.broker.listen_at_most(id, MAX_SOCKETS_PER_SESSION) else {
        tracing::warn!(session_id = %id, "refused a socket: the session has too many open here");
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "too many connections to this session",
        )
            .into_response();
    };
    upgrade
        // Pages send a few hundred bytes at most; the buffer grows for a larger frame.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |ws| live(app, Box::new(loaded), resume, Box::new(ws), listener))
}

#[tracing::instrument(skip_all, fields(session_id = %loaded.session.id))]
async fn live(
    app: AppState,
    loaded: Box<Versioned>,
    resume: Resume,
    ws: Box<WebSocket>,
    mut listener: Listener,
) {
    let id = loaded.session.id;
    let (mut tx, mut rx) = (*ws).split();
    let mut budget = Budget::new();
    // Thousands of these wait idle at once, so the waiting state must stay small: the work
    // between waits runs boxed, and the session document is gone once the snapshot is sent.
    let Some(mut cursor) = Box::pin(greet(&app, loaded, resume, &mut tx)).await else {
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
                Some(Ok(Message::Text(_) | Message::Binary(_))) if !budget.spend() => {
                    tracing::warn!("closed a page socket sending too many messages");
                    return Box::pin(refuse(tx, rx)).await;
                }
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
async fn greet(
    app: &AppState,
    loaded: Box<Versioned>,
    resume: Resume,
    tx: &mut Sink,
) -> Option<u64> {
    let session = &loaded.session;
    let shown = session.screen.as_ref().map_or(0, |at| at.seq);
    let screen = match resume.screen == Some(shown) {
        true => None,
        false => app.broker.screen(session),
    };
    let snapshot = ServerMsg::Snapshot {
        session: PageView::of(session, screen),
        last_seq: session.seq,
    }
    .to_json();
    let after = resume.after;
    tx.send(Message::text(snapshot)).await.ok()?;
    let cursor = after.min(session.seq);
    if !session.page_opened
        && let Err(e) = app.broker.apply(Command::PageOpened { loaded }).await
    {
        tracing::warn!(error = %e, "could not record the page opening");
    }
    Some(cursor)
}

/// Sends the events after `cursor`; `true` once the session has closed.
async fn forward(app: &AppState, id: Uuid, cursor: &mut u64, tx: &mut Sink) -> Result<bool, ()> {
    let events = match app.broker.events_after(id, *cursor, REPLAY_LIMIT).await {
        Ok(events) => events,
        // The store is away: keep the socket, the next wake-up (a resync) retries.
        Err(_) => return Ok(false),
    };
    let mut closed = false;
    let mut redraw = false;
    for event in &events {
        let closing = matches!(event.event, EventKind::SessionClosed { .. });
        // The screen a journey ends on comes before the end: a session that shows its last
        // screen and hangs up in one breath still shows it.
        if closing && redraw {
            redraw = false;
            send_screen(app, id, tx).await?;
        }
        tx.send(Message::text(ServerMsg::Event(event).to_json()))
            .await
            .map_err(drop)?;
        *cursor = event.seq;
        closed |= closing;
        redraw |= matches!(
            event.event,
            EventKind::ScreenShown { .. } | EventKind::PageSubmit { .. }
        );
    }
    // The screen as it stands after these events (a replay of several draws only the last).
    if redraw {
        send_screen(app, id, tx).await?;
    }
    Ok(closed)
}

/// Sends the session's current screen; nothing when the store cannot say (the page keeps
/// what it shows, and the next change redraws it).
async fn send_screen(app: &AppState, id: Uuid, tx: &mut Sink) -> Result<(), ()> {
    let Ok(session) = app.broker.session(id).await else {
        return Ok(());
    };
    if let Some(screen) = app.broker.screen(&session) {
        let msg = ServerMsg::Screen { screen: &screen }.to_json();
        tx.send(Message::text(msg)).await.map_err(drop)?;
    }
    Ok(())
}

/// Applies one message from the page; returns the answer to send, if any.
async fn command(app: &AppState, id: Uuid, text: &str) -> Option<String> {
    let command = match ClientMsg::parse(text) {
        Some(ClientMsg::Decide { decision }) => Command::Decide {
            session: id,
            decision,
            by: Channel::Web,
        },
        Some(ClientMsg::TalkToSomeone) => Command::AskForPerson {
            session: id,
            by: Channel::Web,
        },
        Some(ClientMsg::Action { screen, name }) => Command::PageAction {
            session: id,
            screen,
            name,
        },
        Some(ClientMsg::Submit {
            screen,
            form,
            values,
        }) => Command::PageSubmit {
            session: id,
            screen,
            form,
            values,
        },
        None => {
            let msg = ServerMsg::Error {
                message: "unknown message; expected decide, talk_to_someone, action or submit (see the protocol)",
            };
            return Some(msg.to_json());
        }
    };
    let deciding = matches!(command, Command::Decide { .. });
    let on_screen = matches!(
        command,
        Command::PageAction { .. } | Command::PageSubmit { .. }
    );
    let form = match &command {
        Command::PageSubmit { form, .. } => Some(form.clone()),
        _ => None,
    };
    let outcome = app.broker.apply(command).await;
    // What a screen sends is refused in the screen's terms, whatever went wrong.
    if on_screen && let Err(e) = &outcome {
        let reason = match e {
            BrokerError::NotFound => PageRefusal::SessionClosed,
            BrokerError::Unknown => PageRefusal::Unconfirmed,
            e => {
                tracing::warn!(error = %e, "page answer not recorded");
                PageRefusal::Unavailable
            }
        };
        let msg = ServerMsg::Refused {
            reason,
            form: form.as_deref(),
            errors: &Default::default(),
        };
        return Some(msg.to_json());
    }
    let (reason, message, decision) = match outcome {
        Ok(Outcome::PageRefused { reason, errors }) => {
            let msg = ServerMsg::Refused {
                reason,
                form: form.as_deref(),
                errors: &errors,
            };
            return Some(msg.to_json());
        }
        Ok(Outcome::Refused {
            refusal: Refusal::AlreadyDecided(existing),
            message,
        }) => (
            RefusalReason::AlreadyDecided,
            message,
            Some(existing.into()),
        ),
        Ok(Outcome::Refused { message, .. }) => (RefusalReason::SessionClosed, message, None),
        Ok(_) => return None,
        Err(BrokerError::NotFound) => (
            RefusalReason::SessionClosed,
            crate::script::model::Messages::default()
                .ended
                .pick("en")
                .to_owned(),
            None,
        ),
        // Sent but not confirmed: it may still land, so the page must not say nothing changed;
        // if it lands, the page sees it as an event like any other.
        Err(BrokerError::Unknown) => (
            RefusalReason::Unavailable,
            "We couldn't confirm that just now. If it went through, this page will show it in a moment.".to_owned(),
            None,
        ),
        Err(e) => {
            tracing::warn!(error = %e, "page command not recorded");
            let message = match deciding {
                true => "We couldn't record that just now. Nothing was changed; please try again.",
                false => {
                    "We couldn't reach a representative just now. Please try again, or press 0 on the call."
                }
            };
            (RefusalReason::Unavailable, message.to_owned(), None)
        }
    };
    let msg = match deciding {
        true => ServerMsg::DecisionRefused {
            reason,
            message: &message,
            decision,
        },
        false => ServerMsg::Error { message: &message },
    };
    Some(msg.to_json())
}

/// Closes a socket that broke the page's rules (1008, policy violation).
async fn refuse(mut tx: Sink, rx: futures_util::stream::SplitStream<WebSocket>) {
    let frame = axum::extract::ws::CloseFrame {
        code: axum::extract::ws::close_code::POLICY,
        reason: "too many messages".into(),
    };
    let _ = tx.send(Message::Close(Some(frame))).await;
    drain(rx).await;
}

/// Says goodbye and completes the close handshake: dropping the socket while the page still
/// has frames in flight would reset the connection and lose the goodbye.
async fn close(mut tx: Sink, rx: futures_util::stream::SplitStream<WebSocket>, reason: ByeReason) {
    let _ = tx
        .send(Message::text(ServerMsg::Bye { reason }.to_json()))
        .await;
    let _ = tx.send(Message::Close(None)).await;
    drain(rx).await;
}

/// Waits (briefly) for the page's side of the close handshake, reading what is still in flight.
async fn drain(mut rx: futures_util::stream::SplitStream<WebSocket>) {
    let drain = async {
        while let Some(Ok(msg)) = rx.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
}
