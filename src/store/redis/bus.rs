//! The wake-up bus: one Pub/Sub subscription per node, kept alive across Redis restarts.

use std::time::Duration;

use futures_util::StreamExt;
use redis::Client;
use tokio::sync::broadcast;

use super::{COMMAND_TIMEOUT, CONNECT_TIMEOUT, MAX_BACKOFF};
use crate::store::Wake;

/// How often the subscription is probed.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Keeps one subscription per node alive across Redis restarts. After every (re)subscribe it
/// broadcasts `Resync`, because messages published while it was away are gone for good. In a
/// cluster every node sees every message, so one subscription anywhere is enough: it moves to
/// the next seed node when the one it is on goes away.
pub(super) async fn listen(
    clients: Vec<Client>,
    channel: String,
    bus: broadcast::Sender<Wake>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut backoff = Duration::from_millis(20);
    for client in clients.iter().cycle() {
        let subscribed = async {
            let mut pubsub = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub())
                .await
                .ok()?
                .ok()?;
            tokio::time::timeout(COMMAND_TIMEOUT, pubsub.subscribe(&channel))
                .await
                .ok()?
                .ok()?;
            Some(pubsub)
        };
        let pubsub = tokio::select! {
            p = subscribed => p,
            () = shutdown.cancelled() => return,
        };
        if let Some(pubsub) = pubsub {
            let since = tokio::time::Instant::now();
            let _ = bus.send(Wake::Resync);
            tracing::info!(channel, "subscribed to the wake-up bus");
            let (mut sink, mut messages) = pubsub.split();
            // A subscription only ever receives: a peer gone silent without closing would go
            // unnoticed for good. PING works in subscribed mode; one unanswered ends it.
            let silent = async move {
                loop {
                    tokio::time::sleep(PROBE_EVERY).await;
                    let pong = tokio::time::timeout(COMMAND_TIMEOUT, sink.ping::<redis::Value>());
                    if !matches!(pong.await, Ok(Ok(_))) {
                        return;
                    }
                }
            };
            tokio::pin!(silent);
            loop {
                tokio::select! {
                    msg = messages.next() => match msg {
                        Some(msg) => {
                            if let Some(wake) = parse_wake(msg.get_payload_bytes()) {
                                let _ = bus.send(wake);
                            }
                        }
                        None => break,
                    },
                    () = &mut silent => {
                        tracing::warn!("the wake-up bus stopped answering its probe");
                        break;
                    }
                    () = shutdown.cancelled() => return,
                }
            }
            tracing::warn!("lost the wake-up bus; reconnecting");
            // Only a subscription that held for a while resets the backoff: one dropped at
            // once must not have every waiting call and page reload many times a second.
            if since.elapsed() >= Duration::from_secs(1) {
                backoff = Duration::from_millis(20);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn parse_wake(payload: &[u8]) -> Option<Wake> {
    let text = std::str::from_utf8(payload).ok()?;
    let (id, seq) = text.split_once(' ')?;
    Some(Wake::Session {
        id: id.parse().ok()?,
        seq: seq.parse().ok()?,
    })
}
