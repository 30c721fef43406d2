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
    sessions: Mutex<HashMap<Uuid, watch::Sender<u64>>>,
}

/// A listener's handle; dropping the last one for a session forgets the session here.
pub struct Listener {
    hub: Arc<Hub>,
    id: Uuid,
    rx: watch::Receiver<u64>,
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
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        Listener {
            hub: self.clone(),
            id,
            rx,
        }
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
            tx.send_modify(|v| *v = (*v).max(seq));
        }
    }

    fn notify_all(&self) {
        for tx in self.lock().values() {
            tx.send_modify(|_| {});
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, watch::Sender<u64>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Listener {
    /// Resolves at the next wake-up for this session (or a resync).
    pub async fn changed(&mut self) {
        // The sender lives in the hub's map as long as this listener does.
        let _ = self.rx.changed().await;
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
