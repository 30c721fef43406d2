//! The agent's view: everything a representative needs when a caller is handed over (who, why,
//! what happened on this call, what the page shows), and recording requests as cases.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    api::{ApiError, authorize, text_field},
    protocol::PageView,
};
use crate::{app::AppState, broker::BrokerError, session::Session, store::Index};

/// Events included in the context; enough for a whole call.
const HISTORY: usize = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sessions/{id}", get(context))
        .route(
            "/api/v1/sessions/{id}/cases",
            axum::routing::post(open_case),
        )
        .route("/api/v1/sessions/{id}/agent", axum::routing::post(joined))
        .route("/api/v1/calls/{call_sid}/session", get(context_by_call))
}

fn unavailable(e: BrokerError) -> ApiError {
    match e {
        BrokerError::NotFound => ApiError::NotFound,
        BrokerError::Store(e) => ApiError::Unavailable(e),
        BrokerError::Contended => {
            ApiError::BadRequest("the session is changing too fast; try again".into())
        }
    }
}

async fn context(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    let session = app.broker.load(id).await.map_err(unavailable)?;
    let events = app
        .broker
        .store
        .events_after(id, 0, HISTORY)
        .await
        .map_err(ApiError::Unavailable)?;
    Ok(Json(view(&session, json!(events))).into_response())
}

/// The agent's phone knows the call, not the session.
async fn context_by_call(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(call_sid): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    if call_sid.len() > 64 {
        return Err(ApiError::NotFound);
    }
    let id = app
        .broker
        .store
        .lookup(Index::Call, &call_sid)
        .await
        .map_err(ApiError::Unavailable)?
        .ok_or(ApiError::NotFound)?;
    context(State(app), headers, Path(id)).await
}

fn view(s: &Session, events: Value) -> Value {
    let page = PageView::of(s);
    json!({
        "id": s.id,
        "status": s.status,
        "created_at": s.created_at,
        "alert_id": s.alert_id,
        "customer": { "id": s.case.customer.id, "name": s.case.customer.name, "phone": s.case.customer.phone },
        "card": page.card,
        "charges": page.charges,
        "decision": page.decision,
        "agent_requested": s.agent_requested,
        "call": s.voice.as_ref().map(|v| json!({
            "call_id": v.call_id, "from": v.from, "to": v.to, "status": v.status,
            "script": s.script, "state": v.position.state,
        })),
        "page": { "link_sent": s.link.is_some(), "opened": s.page_opened },
        "cases": s.cases,
        "events": events,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCase {
    note: String,
    expectation: String,
}

async fn open_case(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    let case: NewCase = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("body is not a valid case: {e}")))?;
    let note = text_field("note", &case.note, 500)?;
    let expectation = text_field("expectation", &case.expectation, 200)?;
    let count = app
        .broker
        .transact(id, |d| {
            d.open_case(note, expectation);
            d.session.cases.len()
        })
        .await
        .map_err(unavailable)?;
    tracing::info!(session_id = %id, "case opened");
    Ok((StatusCode::CREATED, Json(json!({ "cases": count }))).into_response())
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
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    let who: Joined = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("body is not valid: {e}")))?;
    let name = text_field("name", &who.name, 100)?;
    match app
        .broker
        .transact(id, |d| d.agent_joined(name))
        .await
        .map_err(unavailable)?
    {
        Ok(()) => Ok((StatusCode::ACCEPTED, Json(json!({ "joined": name }))).into_response()),
        Err(_) => Err(ApiError::BadRequest("the session has ended".into())),
    }
}
