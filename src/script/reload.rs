//! Reloading scripts while the node runs: on SIGHUP and whenever a file in the folder changes.
//! Calls in progress keep the version they started with; new calls get the new one.

use std::{sync::Arc, time::Duration};

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Scripts;

/// Editors write a file in several steps; changes this close together are one change.
const SETTLE: Duration = Duration::from_millis(150);

pub fn spawn(scripts: Arc<Scripts>, shutdown: CancellationToken) {
    let Some(dir) = scripts.dir().map(ToOwned::to_owned) else {
        return;
    };
    let (tx, mut changed) = mpsc::channel::<()>(1);
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.try_send(());
        }
    });
    let watcher = match watcher
        .and_then(|mut w| w.watch(&dir, RecursiveMode::NonRecursive).map(|()| w))
    {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, dir = %dir.display(), "not watching the scripts folder; SIGHUP still reloads");
            None
        }
    };
    tokio::spawn(async move {
        let _watcher = watcher;
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        loop {
            tokio::select! {
                _ = hup.recv() => {}
                Some(()) = changed.recv() => {
                    tokio::time::sleep(SETTLE).await;
                    while changed.try_recv().is_ok() {}
                }
                () = shutdown.cancelled() => return,
            }
            match scripts.reload() {
                Ok(keys) => tracing::info!(scripts = ?keys, "scripts reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "scripts not reloaded; the previous versions stay in use")
                }
            }
        }
    });
}
