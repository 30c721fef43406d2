//! A customer's interaction history for the bank: read it, and add what other channels saw
//! (a card reported stolen on the website, a note).

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiJson, ApiKey, MAX_BODY, text_field};
use crate::{
    broker::Command,
    session::history::{Record, RecordKind},
    state::AppState,
};

/// Records returned by one read.
const PAGE: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/customers/{id}/history", get(read).post(add))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

fn valid_customer(id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    ok.then_some(()).ok_or(ApiError::NotFound)
}

async fn read(
    State(app): State<AppState>,
    _: ApiKey,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    valid_customer(&id)?;
    let records = app.broker.history(&id, PAGE).await?;
    Ok(Json(json!({ "customer": id, "records": records })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRecord {
    kind: RecordKind,
    summary: String,
    at: Option<DateTime<Utc>>,
}

async fn add(
    State(app): State<AppState>,
    _: ApiKey,
    Path(id): Path<String>,
    ApiJson(new): ApiJson<NewRecord>,
) -> Result<Response, ApiError> {
    valid_customer(&id)?;
    if !matches!(new.kind, RecordKind::CardReportedStolen | RecordKind::Note) {
        return Err(ApiError::BadRequest("kind: the bank may add card_reported_stolen or note; calls and texts are recorded by tandem".into()));
    }
    let summary = text_field("summary", &new.summary, 200)?;
    let now = Utc::now();
    let at = new.at.unwrap_or(now);
    if at > now {
        return Err(ApiError::BadRequest("at: must not be in the future".into()));
    }
    let record = Record {
        at,
        kind: new.kind,
        summary: summary.to_owned(),
        session: None,
    };
    let command = Command::AddHistory {
        customer: id.clone(),
        record: record.clone(),
    };
    app.broker.apply(command).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "customer": id, "record": record })),
    )
        .into_response())
}
