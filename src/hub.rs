//! This node's local fan-out: one `watch` per session that has listeners here (page sockets,
//! parked calls), fed by the store's single bus subscription.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use crate::store::Wake;

#[derive(Default)]
pub struct Hub {
    sessions: Mutex<HashMap<Uuid, watch::Sender<Mark>>>,
}

/// The newest wake-up seen for a session, and how many resyncs have asked for a re-read.
#[derive(Clone, Copy, Debug, Default)]
struct Mark {
    seq: u64,
    resyncs: u64,
}

/// A listener's handle; dropping the last one for a session forgets the session here.
pub struct Listener {
    hub: Arc<Hub>,
    id: Uuid,
    rx: watch::Receiver<Mark>,
    resyncs: u64,
}

impl Hub {
    /// Starts feeding listeners from the store's bus.
    pub fn start(self: &Arc<Self>, mut bus: broadcast::Receiver<Wake>) {
        let hub = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let wake = bus.recv().await;
                let Some(hub) = hub.upgrade() else { return };
                match wake {
                    Ok(Wake::Session { id, seq }) => hub.notify(id, seq),
                    // Missed wake-ups (lag, bus outage): everyone re-reads from their cursor.
                    Ok(Wake::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        hub.notify_all()
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    pub fn listen(self: &Arc<Self>, id: Uuid) -> Listener {
        let mut sessions = self.lock();
        let rx = sessions
            .entry(id)
            .or_insert_with(|| watch::channel(Mark::default()).0)
            .subscribe();
        let resyncs = rx.borrow().resyncs;
        Listener {
            hub: self.clone(),
            id,
            rx,
            resyncs,
        }
    }

    /// A listener, unless the session already has `max` on this node.
    pub fn listen_at_most(self: &Arc<Self>, id: Uuid, max: usize) -> Option<Listener> {
        let held = self.lock().get(&id).map_or(0, |tx| tx.receiver_count());
        (held < max).then(|| self.listen(id))
    }

    /// Number of sessions with a listener on this node.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn notify(&self, id: Uuid, seq: u64) {
        if let Some(tx) = self.lock().get(&id) {
            tx.send_modify(|m| m.seq = m.seq.max(seq));
        }
    }

    fn notify_all(&self) {
        for tx in self.lock().values() {
            tx.send_modify(|m| m.resyncs += 1);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, watch::Sender<Mark>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Listener {
    /// Resolves at the next wake-up for this session (or a resync).
    pub async fn changed(&mut self) {
        // The sender lives in the hub's map as long as this listener does.
        let _ = self.rx.changed().await;
    }

    /// Resolves at the first wake-up announcing an event after `cursor`, or a resync. A
    /// reader that has already read its own commit back skips that commit's echo.
    pub async fn news_after(&mut self, cursor: u64) {
        while self.rx.changed().await.is_ok() {
            let mark = *self.rx.borrow_and_update();
            if mark.resyncs != self.resyncs {
                self.resyncs = mark.resyncs;
                return;
            }
            if mark.seq > cursor {
                return;
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let mut sessions = self.hub.lock();
        if sessions
            .get(&self.id)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            sessions.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    /// Whether the wait is over at once: every wake-up here is sent before the wait starts.
    async fn resolves(fut: impl std::future::Future<Output = ()>) -> bool {
        fut.now_or_never().is_some()
    }

    #[tokio::test]
    async fn a_reader_skips_the_echo_of_what_it_has_read_and_wakes_for_news_or_a_resync() {
        let hub = Arc::new(Hub::default());
        let id = Uuid::new_v4();
        let mut listener = hub.listen(id);

        hub.notify(id, 3);
        assert!(
            !resolves(listener.news_after(3)).await,
            "seq 3 is not news after 3"
        );
        hub.notify(id, 2);
        assert!(
            !resolves(listener.news_after(3)).await,
            "an older wake-up is not news"
        );
        hub.notify(id, 4);
        assert!(resolves(listener.news_after(3)).await, "seq 4 is");
        hub.notify_all();
        assert!(
            resolves(listener.news_after(4)).await,
            "a resync always wakes"
        );
        assert!(!resolves(listener.news_after(4)).await, "and only once");
        hub.notify(Uuid::new_v4(), 9);
        assert!(
            !resolves(listener.news_after(4)).await,
            "another session's news is not"
        );
    }
}
