//! The agent's view: everything a representative needs when a caller is handed over (who, why,
//! what happened on this call, what the page shows), and recording requests as cases.

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    error::{ApiError, ApiJson, ApiKey, MAX_BODY, text_field},
    protocol::PageView,
};
use crate::{
    broker::{Command, Outcome},
    session::Session,
    state::AppState,
};

/// Events included in the context; enough for a whole call.
const HISTORY: usize = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sessions/{id}", get(context))
        .route("/api/v1/sessions/{id}/cases", post(open_case))
        .route("/api/v1/sessions/{id}/agent", post(joined))
        .route("/api/v1/calls/{call_sid}/session", get(context_by_call))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

async fn context(
    State(app): State<AppState>,
    _key: ApiKey,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let session = app.broker.session(id).await?;
    let events = app.broker.events_after(id, 0, HISTORY).await?;
    let screen = app.broker.screen(&session);
    Ok(Json(view(&session, screen, json!(events))).into_response())
}

/// The agent's phone knows the call, not the session.
async fn context_by_call(
    State(app): State<AppState>,
    key: ApiKey,
    Path(call_sid): Path<String>,
) -> Result<Response, ApiError> {
    if call_sid.len() > 64 {
        return Err(ApiError::NotFound);
    }
    let id = app
        .broker
        .session_for_call(&call_sid)
        .await?
        .ok_or(ApiError::NotFound)?;
    context(State(app), key, Path(id)).await
}

pub(crate) fn view(s: &Session, screen: Option<Value>, events: Value) -> Value {
    let page = PageView::of(s, screen);
    json!({
        "id": s.id,
        "status": s.status,
        "created_at": s.created_at,
        "alert_id": s.alert_id,
        "kind": s.case.kind,
        "customer": { "id": s.case.customer.id, "name": s.case.customer.name, "phone": s.case.customer.phone },
        "card": s.case.card().map(|c| json!({ "brand": c.brand, "masked": format!("•••• {}", c.last4) })),
        "charges": s.case.charges(),
        "data": s.case.data,
        "answers": s.answers,
        "decision": page.decision,
        "agent_requested": s.agent_requested,
        "call": s.voice.as_ref().map(|v| json!({
            "call_id": v.call_id, "from": v.from, "to": v.to, "status": v.status,
            "script": s.script, "state": v.position.state,
        })),
        "page": { "link_sent": s.link.is_some(), "opened": s.page_opened, "screen": page.screen },
        "cases": s.cases,
        "events": events,
    })
}

/// A case as asked for: the note and what the customer was promised.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCase {
    pub(crate) note: String,
    pub(crate) expectation: String,
}

impl NewCase {
    /// Its fields, each checked as free text.
    pub(crate) fn checked(&self) -> Result<(String, String), ApiError> {
        let note = text_field("note", &self.note, 500)?;
        let expectation = text_field("expectation", &self.expectation, 200)?;
        Ok((note.to_owned(), expectation.to_owned()))
    }
}

async fn open_case(
    State(app): State<AppState>,
    _: ApiKey,
    Path(id): Path<Uuid>,
    ApiJson(case): ApiJson<NewCase>,
) -> Result<Response, ApiError> {
    let (note, expectation) = case.checked()?;
    let command = Command::OpenCase {
        session: id,
        note,
        expectation,
    };
    match app.broker.apply(command).await? {
        Outcome::CaseOpened { cases } => {
            Ok((StatusCode::CREATED, Json(json!({ "cases": cases }))).into_response())
        }
        other => Err(ApiError::unexpected(other)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Joined {
    name: String,
}

/// A representative is ready for the caller (their desktop took the call); a call waiting
/// for a person moves on at once.
async fn joined(
    State(app): State<AppState>,
    _: ApiKey,
    Path(id): Path<Uuid>,
    ApiJson(who): ApiJson<Joined>,
) -> Result<Response, ApiError> {
    let name = text_field("name", &who.name, 100)?.to_owned();
    let command = Command::AgentJoined {
        session: id,
        name: name.clone(),
    };
    match app.broker.apply(command).await? {
        Outcome::Applied => {
            Ok((StatusCode::ACCEPTED, Json(json!({ "joined": name }))).into_response())
        }
        Outcome::Refused { .. } => Err(ApiError::BadRequest("the session has ended".into())),
        other => Err(ApiError::unexpected(other)),
    }
}
