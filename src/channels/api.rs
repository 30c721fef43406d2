//! The bank-facing API: raise an alert, read it back. Bearer-key protected, JSON in and out.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::Utc;
use secrecy::ExposeSecret;
use serde_json::json;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::{
    app::AppState,
    session::{Alert, AlertStatus, Case, alert::AlertKind},
};

/// Bodies over this are refused before parsing.
pub const MAX_BODY: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/alerts", post(create_alert))
        .route("/api/v1/alerts/{id}", get(read_alert))
}

/// Client faults say what is wrong; internal faults are logged and never echoed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or wrong API key")]
    Unauthorized,
    #[error("the API is disabled: set TANDEM_API_KEY")]
    Disabled,
    #[error("{0}")]
    BadRequest(String),
    #[error("no such alert")]
    NotFound,
    #[error("the store is unavailable")]
    Unavailable(#[source] crate::store::StoreError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Disabled => (StatusCode::SERVICE_UNAVAILABLE, "disabled"),
            ApiError::BadRequest(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_alert"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Unavailable(e) => {
                tracing::error!(error = %e, "api request failed");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
        };
        (
            status,
            Json(json!({ "error": { "code": code, "message": self.to_string() } })),
        )
            .into_response()
    }
}

pub fn authorize(app: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(key) = &app.config.api_key else {
        return Err(ApiError::Disabled);
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match bool::from(given.as_bytes().ct_eq(key.expose_secret().as_bytes())) {
        true => Ok(()),
        false => Err(ApiError::Unauthorized),
    }
}

async fn create_alert(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(ApiError::BadRequest(
            "Content-Type must be application/json".into(),
        ));
    }
    let case: Case = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("body is not a valid alert: {e}")))?;
    case.validate()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let alert = Alert {
        id: Uuid::new_v4(),
        created_at: Utc::now(),
        status: AlertStatus::Open,
        case,
    };
    app.broker
        .store
        .put_alert(&alert, app.config.alert_ttl)
        .await
        .map_err(ApiError::Unavailable)?;
    tracing::info!(alert_id = %alert.id, charges = alert.case.charges.len(), "alert raised");
    let mut answer = json!({ "id": alert.id, "status": alert.status, "kind": alert.case.kind });
    if alert.case.kind == AlertKind::ConfirmPurchase {
        // The alert stands either way; `sms_sent` tells the bank whether the question went out.
        let sent = match crate::channels::sms::start(&app, &alert).await {
            Ok(sent) => sent,
            Err(e) => {
                tracing::error!(alert_id = %alert.id, error = %e, "could not start the text conversation");
                false
            }
        };
        answer["sms_sent"] = json!(sent);
    }
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn read_alert(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    let alert = app
        .broker
        .store
        .alert(id)
        .await
        .map_err(ApiError::Unavailable)?
        .ok_or(ApiError::NotFound)?;
    Ok(
        Json(json!({ "id": alert.id, "status": alert.status, "created_at": alert.created_at }))
            .into_response(),
    )
}

/// A free-text field: trimmed, 1 to `max` characters, no control characters but newlines.
pub fn text_field<'a>(field: &str, value: &'a str, max: usize) -> Result<&'a str, ApiError> {
    let value = value.trim();
    let bad = value.is_empty()
        || value.chars().count() > max
        || value.chars().any(|c| c.is_control() && c != '\n');
    match bad {
        true => Err(ApiError::BadRequest(format!(
            "{field}: must be 1 to {max} characters of text"
        ))),
        false => Ok(value),
    }
}
