//! A session's live timeline at the desk: every event after the cursor the desk names, as it
//! happens, over a websocket that resumes from where it left off after a reconnect. It is
//! opened only by a signed-in person who may see the session, from the desk's own page.

use axum::{
    extract::{
        Path, Query, State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{AtDesk, SameOrigin, audit_line, visible};
use crate::{hub::Listener, state::AppState};

/// Events sent in one go; a desk far behind gets the rest on the next round.
const BATCH: usize = 200;
/// Open timelines one session may have on this node: a desk or two, and a supervisor.
const MAX_PER_SESSION: usize = 8;

#[derive(Deserialize)]
pub struct Resume {
    #[serde(default)]
    after: u64,
}

pub async fn timeline(
    State(app): State<AppState>,
    _: SameOrigin,
    AtDesk(agent): AtDesk,
    Path(id): Path<Uuid>,
    Query(resume): Query<Resume>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Err(denied) = visible(&app, &agent, id).await {
        return denied.into_response();
    }
    let Some(listener) = app.broker.listen_at_most(id, MAX_PER_SESSION) else {
        return super::conflict("this session has too many open timelines");
    };
    audit_line(&app, &agent.login, "view", Some(id)).await;
    upgrade
        .max_message_size(4 * 1024)
        .on_upgrade(move |ws| follow(app, id, resume.after, ws, listener))
}

#[tracing::instrument(skip_all, fields(session_id = %id))]
async fn follow(app: AppState, id: Uuid, mut cursor: u64, ws: WebSocket, mut listener: Listener) {
    let (mut tx, mut rx) = ws.split();
    loop {
        match app.broker.events_after(id, cursor, BATCH).await {
            Ok(events) => {
                for event in events {
                    cursor = event.seq;
                    let msg = json!({ "type": "event", "event": event }).to_string();
                    if tx.send(Message::text(msg)).await.is_err() {
                        return;
                    }
                }
            }
            // The store is away: the next wake-up (a resync when the bus is back) retries.
            Err(e) => tracing::warn!(error = %e, "could not read a session for the desk"),
        }
        tokio::select! {
            msg = rx.next() => match msg {
                // The desk only listens here; anything it says is ignored, closing ends it.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            () = listener.news_after(cursor) => {}
            () = app.shutdown.cancelled() => {
                let _ = tx.send(Message::Close(None)).await;
                return;
            }
        }
    }
}
