//! The bank-facing API: raise an alert, read it back. Bearer-key protected, JSON in and out.

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::json;
use uuid::Uuid;

use super::error::{ApiError, ApiJson, ApiKey, MAX_BODY};
use crate::{
    broker::{Command, Outcome},
    session::Case,
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/alerts", post(create_alert))
        .route("/api/v1/alerts/{id}", get(read_alert))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

async fn create_alert(
    State(app): State<AppState>,
    _: ApiKey,
    ApiJson(case): ApiJson<Case>,
) -> Result<Response, ApiError> {
    case.validate()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (alert, texted) = match app.broker.apply(Command::RaiseAlert(case)).await? {
        Outcome::AlertRaised { alert, texted } => (alert, texted),
        other => return Err(ApiError::unexpected(other)),
    };
    let mut answer = json!({ "id": alert.id, "status": alert.status, "kind": alert.case.kind });
    if let Some(sent) = texted {
        answer["sms_sent"] = json!(sent);
    }
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn read_alert(
    State(app): State<AppState>,
    _: ApiKey,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let alert = app.broker.alert(id).await?.ok_or(ApiError::NotFound)?;
    Ok(
        Json(json!({ "id": alert.id, "status": alert.status, "created_at": alert.created_at }))
            .into_response(),
    )
}
