//! The Vonage routes of their own: the answer URL, which carries a secret because Vonage may
//! call it unsigned, and inbound texts from the Messages API. Every other call route is the
//! family's ([`crate::providers::twilio::routes`]).

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, RawQuery, State},
    http::{HeaderMap, Method, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use secrecy::ExposeSecret;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{callback, signature};
use crate::{
    providers::{
        Dialect, replay,
        twilio::{routes, webhook::SignedForm},
    },
    state::AppState,
    telephony::InboundSms,
};

/// An answer webhook or a message is a few hundred bytes.
const MAX_BODY: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/vonage/answer/{secret}", get(answer).post(answer))
        .route("/vonage/sms", post(message))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// A call arrives: its parameters in the query (`GET`, Vonage's default) or as a JSON object
/// (`answer_method` POST). Only a request to the configured secret URL starts a call.
async fn answer(
    State(app): State<AppState>,
    Path(secret): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let known = app.config.vonage.as_ref().is_some_and(|c| {
        let expected = c.answer_secret.expose_secret().as_bytes();
        bool::from(expected.ct_eq(secret.as_bytes()))
    });
    if !known {
        tracing::warn!("refused a Vonage answer webhook to an unknown URL");
        return (StatusCode::FORBIDDEN, "unknown answer URL").into_response();
    }
    let pairs: Vec<(String, String)> = match method {
        Method::POST => serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body)
            .map(|object| {
                object
                    .into_iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
                    .collect()
            })
            .unwrap_or_default(),
        _ => form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect(),
    };
    let url = app.config.public_url.join("/vonage/answer");
    let form = SignedForm::trusted(Dialect::Vonage, &url, callback::answer_params(&pairs));
    routes::incoming(app, form).await
}

/// An inbound message from the Messages API.
#[derive(Deserialize)]
struct Message {
    message_uuid: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    message_type: String,
    from: String,
    #[serde(default)]
    text: String,
}

/// A text from the customer, signed like every Vonage callback. Vonage retries a message it
/// could not deliver, so each is read once, by its `message_uuid`; the answer goes back by
/// the Messages API.
#[tracing::instrument(name = "text_received", skip_all, fields(provider = "vonage"))]
async fn message(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let signed = app.config.vonage.as_ref().and_then(|c| {
        signature::verify_callback(
            c.signature_secret.expose_secret(),
            authorization,
            &body,
            chrono::Utc::now().timestamp(),
        )
    });
    if signed.is_none() {
        tracing::warn!("rejected a Vonage message with a bad signature");
        return (StatusCode::FORBIDDEN, "invalid signature").into_response();
    }
    let Some((id, text)) = inbound(&body) else {
        // Not a text from a customer: acknowledged, nothing done.
        return StatusCode::OK.into_response();
    };
    replay::answer_text_once(&app, format!("vonage:message:{id}"), text).await;
    StatusCode::OK.into_response()
}

/// An inbound SMS text with its message id: the sender in E.164, the body bounded.
fn inbound(body: &[u8]) -> Option<(String, InboundSms)> {
    let message: Message = serde_json::from_slice(body).ok()?;
    let from = callback::e164(&message.from);
    if message.channel != "sms"
        || message.message_type != "text"
        || !crate::session::alert::is_e164(&from)
        || message.text.len() > 1600
        || message.message_uuid.is_empty()
        || message.message_uuid.len() > 100
    {
        return None;
    }
    let text = InboundSms {
        provider: "vonage",
        from,
        body: message.text,
    };
    Some((message.message_uuid, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_sms_text_with_a_number_is_read() {
        let message = |channel: &str, from: &str| {
            serde_json::json!({"channel": channel, "message_uuid": "m-1", "message_type": "text",
                "to": "447700900000", "from": from, "text": "YES",
                "timestamp": "2025-02-03T12:14:25Z"})
            .to_string()
        };
        let (id, text) = inbound(message("sms", "447700900001").as_bytes()).unwrap();
        assert_eq!(id, "m-1");
        assert_eq!(
            (text.from.as_str(), text.body.as_str()),
            ("+447700900001", "YES")
        );
        assert!(inbound(message("whatsapp", "447700900001").as_bytes()).is_none());
        assert!(inbound(message("sms", "someone").as_bytes()).is_none());
        assert!(inbound(b"{}").is_none());
    }
}
