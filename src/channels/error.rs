//! The bank-facing API's edge: one error type with our JSON body, the bearer key and JSON
//! bodies as extractors, and broker failures mapped once (a server-side failure is a 503,
//! never the client's fault).

use axum::{
    Json,
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::{broker::BrokerError, state::AppState};

/// Bodies over this are refused (413) before parsing: an alert of 20 charges is under 8 KiB.
pub const MAX_BODY: usize = 64 * 1024;

/// Client faults say what is wrong; internal faults are logged and never echoed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or wrong API key")]
    Unauthorized,
    #[error("the API is disabled: set TANDEM_API_KEY")]
    Disabled,
    #[error("{0}")]
    BadRequest(String),
    #[error("not found")]
    NotFound,
    #[error("the body is over {MAX_BODY} bytes")]
    TooLarge,
    #[error("the service is unavailable; try again")]
    Unavailable(#[source] BrokerError),
    /// A command came back with an outcome its handler does not expect: our bug.
    #[error("internal error")]
    Unexpected(String),
}

impl ApiError {
    pub fn unexpected(outcome: crate::broker::Outcome) -> Self {
        ApiError::Unexpected(format!("{outcome:?}"))
    }
}

impl From<BrokerError> for ApiError {
    fn from(e: BrokerError) -> Self {
        match e {
            BrokerError::NotFound => ApiError::NotFound,
            BrokerError::Unserved(_)
            | BrokerError::InvalidData { .. }
            | BrokerError::NotAllowed(_) => ApiError::BadRequest(e.to_string()),
            BrokerError::Store(_) | BrokerError::Contended | BrokerError::Unknown => {
                ApiError::Unavailable(e)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Disabled => (StatusCode::SERVICE_UNAVAILABLE, "disabled"),
            ApiError::BadRequest(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Unavailable(e) => {
                tracing::error!(error = %e, "api request failed");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            ApiError::Unexpected(outcome) => {
                tracing::error!(%outcome, "unexpected outcome");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        (
            status,
            Json(json!({ "error": { "code": code, "message": self.to_string() } })),
        )
            .into_response()
    }
}

/// A request that carried the configured bearer key (compared in constant time).
pub struct ApiKey;

impl FromRequestParts<AppState> for ApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let Some(key) = &app.config.api_key else {
            return Err(ApiError::Disabled);
        };
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        match bool::from(given.as_bytes().ct_eq(key.expose_secret().as_bytes())) {
            true => Ok(ApiKey),
            false => Err(ApiError::Unauthorized),
        }
    }
}

/// A JSON body of type `T`, refused with our error body (and the parser's reason) when it is
/// not JSON or not a `T`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(ApiError::BadRequest(
                "Content-Type must be application/json".into(),
            ));
        }
        let body = Bytes::from_request(req, app)
            .await
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge,
                _ => ApiError::BadRequest(format!("body could not be read: {e}")),
            })?;
        serde_json::from_slice(&body)
            .map(ApiJson)
            .map_err(|e| ApiError::BadRequest(format!("body is not valid: {e}")))
    }
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
