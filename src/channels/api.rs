//! The bank-facing API: start a journey (a held-card alert, or any script with its data), read
//! it back. Bearer-key protected, JSON in and out.

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
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{
    broker::{Command, Outcome},
    session::{
        Case,
        alert::{AlertKind, CardAlert, Customer},
    },
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/alerts", post(create_alert))
        .route("/api/v1/alerts/{id}", get(read_alert))
        .route("/api/v1/journeys", post(start_journey))
        .route("/api/v1/journeys/{id}", get(read_alert))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// A journey by the script's name (or a kind a script serves), with the data it declared.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Journey {
    script: Option<String>,
    kind: Option<AlertKind>,
    customer: Customer,
    #[serde(default)]
    data: Map<String, Value>,
}

/// The held-card alert: its card and charges are that journey's data.
async fn create_alert(
    State(app): State<AppState>,
    _: ApiKey,
    ApiJson(alert): ApiJson<CardAlert>,
) -> Result<Response, ApiError> {
    alert
        .validate()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    raise(&app, alert.into_case()).await
}

async fn start_journey(
    State(app): State<AppState>,
    _: ApiKey,
    ApiJson(journey): ApiJson<Journey>,
) -> Result<Response, ApiError> {
    journey
        .customer
        .validate()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let kind = match (&journey.script, journey.kind) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "name the `script` or the `kind`, not both".into(),
            ));
        }
        (None, None) => {
            return Err(ApiError::BadRequest(
                "name the `script` (or the `kind`) to run".into(),
            ));
        }
        (Some(name), None) => {
            let ok = (1..=64).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(ApiError::BadRequest(
                    "script: no script has that name".into(),
                ));
            }
            AlertKind::from(name.replace('-', "_").to_lowercase().as_str())
        }
        (None, Some(kind)) => kind,
    };
    let case = Case {
        kind,
        script: journey.script,
        customer: journey.customer,
        data: journey.data,
    };
    raise(&app, case).await
}

async fn raise(app: &AppState, case: Case) -> Result<Response, ApiError> {
    let (alert, texted) = match app.broker.apply(Command::RaiseAlert(case)).await? {
        Outcome::AlertRaised { alert, texted } => (alert, texted),
        other => return Err(ApiError::unexpected(other)),
    };
    let mut answer = json!({ "id": alert.id, "status": alert.status, "kind": alert.case.kind });
    if let Some(script) = &alert.case.script {
        answer["script"] = json!(script);
    }
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
