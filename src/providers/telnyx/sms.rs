//! Telnyx's messaging webhook: `message.received` and the other message events as signed
//! JSON. An inbound text is handed to the SMS channel; its answer goes back by the Messaging
//! API, since Telnyx takes no reply in the webhook's response.

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde::Deserialize;

use super::signature;
use crate::{providers::replay, state::AppState, telephony::InboundSms};

/// A message event is a few KB at most.
const MAX_BODY: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/telnyx/sms", post(message_event))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

#[derive(Deserialize)]
struct Envelope {
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    /// The event's id, the same on every delivery of it.
    id: String,
    event_type: String,
    payload: Message,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    direction: String,
    from: Party,
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
struct Party {
    phone_number: String,
}

#[tracing::instrument(name = "text_received", skip_all, fields(provider = "telnyx"))]
async fn message_event(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let signed = app.config.telnyx.as_ref().is_some_and(|c| {
        signature::validate(
            &c.public_key,
            header("telnyx-timestamp"),
            header("telnyx-signature-ed25519"),
            &body,
            chrono::Utc::now().timestamp(),
        )
    });
    if !signed {
        tracing::warn!("rejected a Telnyx message event with a bad signature");
        return (StatusCode::FORBIDDEN, "invalid signature").into_response();
    }
    let Some((event, text)) = inbound(&body) else {
        // Sent, delivered and finalized events about our own texts, or nothing we read.
        return StatusCode::OK.into_response();
    };
    // Telnyx may deliver one event twice (a slow answer, a retry): the text is read once.
    replay::answer_text_once(&app, format!("telnyx:{event}"), text).await;
    StatusCode::OK.into_response()
}

/// An inbound text from a `message.received` event, with the event's id: the sender in
/// E.164, the body bounded.
fn inbound(body: &[u8]) -> Option<(String, InboundSms)> {
    let event: Envelope = serde_json::from_slice(body).ok()?;
    let message = event.data.payload;
    if event.data.event_type != "message.received" || message.direction != "inbound" {
        return None;
    }
    if !crate::session::alert::is_e164(&message.from.phone_number)
        || message.text.len() > 1600
        || event.data.id.is_empty()
        || event.data.id.len() > 100
    {
        return None;
    }
    let text = InboundSms {
        provider: "telnyx",
        from: message.from.phone_number,
        body: message.text,
    };
    Some((event.data.id, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_inbound_received_text_is_read() {
        let event = |kind: &str, direction: &str, from: &str| {
            serde_json::json!({"data": {"event_type": kind, "id": "e1", "record_type": "event",
                "payload": {"direction": direction, "from": {"phone_number": from},
                    "to": [{"phone_number": "+18005550100"}], "text": "YES", "type": "SMS"}},
                "meta": {"attempt": 1}})
            .to_string()
        };
        let (id, text) =
            inbound(event("message.received", "inbound", "+14155550123").as_bytes()).unwrap();
        assert_eq!(id, "e1");
        assert_eq!(
            (text.from.as_str(), text.body.as_str()),
            ("+14155550123", "YES")
        );
        assert!(inbound(event("message.sent", "outbound", "+18005550100").as_bytes()).is_none());
        assert!(inbound(event("message.received", "inbound", "not a number").as_bytes()).is_none());
        assert!(inbound(b"{not json").is_none());
    }
}
