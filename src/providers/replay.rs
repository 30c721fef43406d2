//! Requests taken once: a provider request whose signature carries no time (Plivo's nonces),
//! or an event a provider may deliver twice (Telnyx's message events), is remembered by its
//! key in the store for a while, on every node, and refused or ignored when it comes again.

use std::time::Duration;

use crate::state::AppState;

/// How long a key is remembered: far beyond any retry of the same request.
const KEPT: Duration = Duration::from_secs(15 * 60);

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
    let write = tokio::spawn(async move { broker.remember_nonce(&key, KEPT).await });
    match tokio::time::timeout(PATIENCE, write).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "could not remember a request"),
        Ok(Err(_)) | Err(_) => tracing::warn!("a request is not remembered yet"),
    }
}
