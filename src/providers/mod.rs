//! Telephony providers at the edge: each parses its webhooks into the telephony boundary's
//! facts, hands them to the broker as commands, renders the answers as its markup, and
//! implements [`crate::telephony::Telephony`] with its REST API. Nothing below imports these.

pub mod dialect;
pub mod markup;
pub mod plivo;
pub mod replay;
pub mod signalwire;
pub mod telnyx;
pub mod twilio;
pub mod vonage;

pub use dialect::Dialect;

use std::time::Duration;

use crate::telephony::{CallStatus, ProviderError};

/// The client every provider's REST API is called with: a short connect timeout and a
/// bounded whole request, so a provider that stalls costs a live update, not the node.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(64)
        .build()
        .expect("the HTTP client builds with static settings")
}

/// Sends a request; success, or the provider's refusal with the start of its body.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, ProviderError> {
    let response = request
        .send()
        .await
        .map_err(|e| ProviderError::Transport(e.without_url().to_string()))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let mut body = response.text().await.unwrap_or_default();
    body.truncate(300);
    Err(ProviderError::Refused {
        status: status.as_u16(),
        body,
    })
}

/// A call resource's `status` in Twilio's words (SignalWire and Telnyx TeXML use them too);
/// a call the provider does not know (404) is `None`.
pub(crate) async fn twiml_call_status(
    request: reqwest::RequestBuilder,
) -> Result<Option<CallStatus>, ProviderError> {
    fetched_call_status(request, twilio::webhook::call_status).await
}

/// A call resource's `status` (or `data.status`), read by `words`; a call the provider does
/// not know (404) is `None`.
pub(crate) async fn fetched_call_status(
    request: reqwest::RequestBuilder,
    words: impl Fn(&str) -> Option<CallStatus>,
) -> Result<Option<CallStatus>, ProviderError> {
    let response = match send(request).await {
        Err(ProviderError::Refused { status: 404, .. }) => return Ok(None),
        other => other?,
    };
    let call: serde_json::Value = response
        .json()
        .await
        .map_err(|e| ProviderError::Transport(e.without_url().to_string()))?;
    let status = call["status"]
        .as_str()
        .or_else(|| call["data"]["status"].as_str());
    Ok(status.and_then(words))
}
