//! Requests taken once: a provider request whose signature may be replayed (Plivo's nonces,
//! Vonage's token ids), or a text a provider may deliver twice (Telnyx's message events,
//! Vonage's messages), is remembered by its key in the store for a while, on every node, and
//! refused or ignored when it comes again.

use std::time::Duration;

use crate::state::AppState;

/// How long a key is remembered: far beyond any retry of the same request.
const KEPT: Duration = Duration::from_secs(15 * 60);

/// How long `key` is remembered: a Vonage token is refused anyway once its 300 s are up, so
/// its id is kept that long and a minute for clocks that disagree; anything else, [`KEPT`].
fn kept(key: &str) -> Duration {
    match key.starts_with("vonage:") && !key.starts_with("vonage:message:") {
        true => Duration::from_secs(crate::providers::vonage::signature::MAX_AGE_SECS as u64 + 60),
        false => KEPT,
    }
}

/// The longest a check or a write may hold a webhook: the call's own work needs the rest.
const PATIENCE: Duration = Duration::from_millis(250);

/// Whether `key` was taken before. Checked by a read, which never waits behind writes the
/// store is holding. When the store cannot say at once, the request is taken as new: a
/// replay within an outage finds every turn of its call already answered, while refusing, or
/// waiting out the outage here, would leave every call of it worse off.
pub async fn seen(app: &AppState, key: &str) -> bool {
    match tokio::time::timeout(PATIENCE, app.broker.nonce_seen(key)).await {
        Ok(Ok(seen)) => seen,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not check whether a request came before; taken as new");
            false
        }
        Err(_) => {
            tracing::warn!("could not check in time whether a request came before; taken as new");
            false
        }
    }
}

/// Remembers `key` once its request's answer is ready and before it is sent, so a replay that
/// follows the answer finds it. Written earlier, it would queue ahead of the request's own
/// reads on the store's connection while the store holds writes; it waits at most
/// [`PATIENCE`] for a store that does not answer, then is left to land on its own.
pub async fn remember(app: &AppState, key: String) {
    let broker = app.broker.clone();
    let write = tokio::spawn(async move { broker.remember_nonce(&key, kept(&key)).await });
    match tokio::time::timeout(PATIENCE, write).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "could not remember a request"),
        Ok(Err(_)) | Err(_) => tracing::warn!("a request is not remembered yet"),
    }
}

/// Answers an inbound text through its provider's API once, however often the provider
/// delivers it: `key` names the delivery (Telnyx's event id, Vonage's message id).
pub async fn answer_text_once(app: &AppState, key: String, text: crate::telephony::InboundSms) {
    if seen(app, &key).await {
        tracing::info!(
            provider = text.provider,
            "a text came again; already answered"
        );
        return;
    }
    crate::channels::sms::answer_by_api(app, text).await;
    remember(app, key).await;
}
