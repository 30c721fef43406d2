//! The embedded store: everything in this process, for a single node with no setup.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{Commit, Doc, HISTORY_CAP, Index, Store, StoreError, Versioned, Wake};
use crate::session::{Alert, AlertStatus, Draft, Event, Session, history::Record};

/// Entries carry their own deadline, like Redis keys with a TTL.
struct Expiring<T> {
    value: T,
    until: Instant,
}

struct Stored {
    session: Session,
    version: u64,
    events: Vec<Event>,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<Uuid, Expiring<Stored>>,
    alerts: HashMap<Uuid, Expiring<Alert>>,
    /// The session serving each alert.
    alert_sessions: HashMap<Uuid, Uuid>,
    phones: HashMap<String, Expiring<Uuid>>,
    indexes: HashMap<(Index, String), Expiring<Uuid>>,
    histories: HashMap<String, Expiring<Vec<Record>>>,
    failures: HashMap<String, Expiring<u64>>,
    docs: HashMap<(Doc, String), Expiring<String>>,
    sets: HashMap<String, HashMap<String, i64>>,
    logs: HashMap<String, std::collections::VecDeque<String>>,
    writes: u64,
}

pub struct MemoryStore {
    inner: Mutex<Inner>,
    bus: broadcast::Sender<Wake>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            bus: broadcast::channel(4096).0,
        }
    }
}

impl MemoryStore {
    fn with<R>(&self, f: impl FnOnce(&mut Inner, Instant) -> R) -> R {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut inner, Instant::now())
    }
}

impl Inner {
    /// Drops expired entries now and then, so a long-running node does not grow forever.
    fn sweep(&mut self, now: Instant) {
        self.writes += 1;
        if !self.writes.is_multiple_of(1024) {
            return;
        }
        self.sessions.retain(|_, e| e.until > now);
        self.alerts.retain(|_, e| e.until > now);
        let alerts = &self.alerts;
        self.alert_sessions.retain(|a, _| alerts.contains_key(a));
        self.phones.retain(|_, e| e.until > now);
        self.indexes.retain(|_, e| e.until > now);
        self.failures.retain(|_, e| e.until > now);
        self.docs.retain(|_, e| e.until > now);
    }
}

fn fresh<T>(entry: Option<&Expiring<T>>, now: Instant) -> Option<&T> {
    entry.filter(|e| e.until > now).map(|e| &e.value)
}

#[async_trait]
impl Store for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn put_alert(&self, alert: &Alert, ttl: Duration) -> Result<(), StoreError> {
        self.with(|inner, now| {
            inner.sweep(now);
            let until = now + ttl;
            inner.alerts.insert(
                alert.id,
                Expiring {
                    value: alert.clone(),
                    until,
                },
            );
            let replaced = inner.phones.insert(
                alert.case.customer.phone.clone(),
                Expiring {
                    value: alert.id,
                    until,
                },
            );
            // The alert this one replaces for the phone, unless it was already decided.
            if let Some(old) = replaced.filter(|r| r.value != alert.id)
                && let Some(old) = inner.alerts.get_mut(&old.value)
                && old.value.status == AlertStatus::Open
            {
                old.value.status = AlertStatus::Superseded;
            }
        });
        Ok(())
    }

    async fn alert(&self, id: Uuid) -> Result<Option<Alert>, StoreError> {
        Ok(self.with(|inner, now| fresh(inner.alerts.get(&id), now).cloned()))
    }

    async fn attach_session(&self, alert: Uuid, session: Uuid) -> Result<(), StoreError> {
        self.with(|inner, now| {
            if fresh(inner.alerts.get(&alert), now).is_some() {
                inner.alert_sessions.insert(alert, session);
            }
        });
        Ok(())
    }

    async fn alert_session(&self, alert: Uuid) -> Result<Option<Uuid>, StoreError> {
        Ok(self.with(|inner, now| {
            fresh(inner.alerts.get(&alert), now)?;
            inner.alert_sessions.get(&alert).copied()
        }))
    }

    async fn open_alert_for_phone(&self, phone: &str) -> Result<Option<Alert>, StoreError> {
        Ok(self.with(|inner, now| {
            let id = fresh(inner.phones.get(phone), now)?;
            fresh(inner.alerts.get(id), now)
                .filter(|a| a.status == AlertStatus::Open)
                .cloned()
        }))
    }

    async fn set_alert_status(
        &self,
        id: Uuid,
        _phone: &str,
        status: AlertStatus,
    ) -> Result<(), StoreError> {
        self.with(|inner, now| {
            let Some(entry) = inner.alerts.get_mut(&id).filter(|e| e.until > now) else {
                return;
            };
            entry.value.status = status;
            let phone = entry.value.case.customer.phone.clone();
            if status != AlertStatus::Open && fresh(inner.phones.get(&phone), now) == Some(&id) {
                inner.phones.remove(&phone);
            }
        });
        Ok(())
    }

    async fn load(&self, id: Uuid) -> Result<Option<Versioned>, StoreError> {
        Ok(self.with(|inner, now| {
            fresh(inner.sessions.get(&id), now).map(|s| Versioned {
                session: s.session.clone(),
                version: s.version,
            })
        }))
    }

    async fn commit(
        &self,
        draft: &Draft,
        expected: u64,
        ttl: Duration,
    ) -> Result<Commit, StoreError> {
        let id = draft.session.id;
        let outcome = self.with(|inner, now| {
            inner.sweep(now);
            let current = fresh(inner.sessions.get(&id), now).map_or(0, |s| s.version);
            if current != expected {
                return Commit::Conflict;
            }
            let mut events = match inner.sessions.remove(&id) {
                Some(e) if e.until > now => e.value.events,
                _ => Vec::new(),
            };
            events.extend(draft.events.iter().cloned());
            let version = expected + 1;
            let stored = Stored {
                session: draft.session.clone(),
                version,
                events,
            };
            inner.sessions.insert(
                id,
                Expiring {
                    value: stored,
                    until: now + ttl,
                },
            );
            Commit::Done { version }
        });
        if let (Commit::Done { .. }, Some(last)) = (outcome, draft.events.last()) {
            let _ = self.bus.send(Wake::Session { id, seq: last.seq });
        }
        Ok(outcome)
    }

    async fn events_after(
        &self,
        id: Uuid,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        Ok(self.with(|inner, now| {
            fresh(inner.sessions.get(&id), now).map_or_else(Vec::new, |s| {
                s.events
                    .iter()
                    .filter(|e| e.seq > after)
                    .take(limit)
                    .cloned()
                    .collect()
            })
        }))
    }

    async fn bind(
        &self,
        index: Index,
        key: &str,
        id: Uuid,
        ttl: Duration,
    ) -> Result<Option<Uuid>, StoreError> {
        Ok(self.with(|inner, now| {
            inner.sweep(now);
            let slot = (index, key.to_owned());
            if let Some(existing) = fresh(inner.indexes.get(&slot), now) {
                return Some(*existing);
            }
            inner.indexes.insert(
                slot,
                Expiring {
                    value: id,
                    until: now + ttl,
                },
            );
            None
        }))
    }

    async fn point(
        &self,
        index: Index,
        key: &str,
        id: Uuid,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.with(|inner, now| {
            inner.indexes.insert(
                (index, key.to_owned()),
                Expiring {
                    value: id,
                    until: now + ttl,
                },
            );
        });
        Ok(())
    }

    async fn failures(&self, client: &str) -> Result<u64, StoreError> {
        Ok(self.with(|inner, now| fresh(inner.failures.get(client), now).copied().unwrap_or(0)))
    }

    async fn add_failure(&self, client: &str, window: Duration) -> Result<u64, StoreError> {
        Ok(self.with(|inner, now| {
            inner.sweep(now);
            let entry = inner.failures.entry(client.to_owned()).or_insert(Expiring {
                value: 0,
                until: now,
            });
            if entry.until <= now {
                *entry = Expiring {
                    value: 0,
                    until: now + window,
                };
            }
            entry.value += 1;
            entry.value
        }))
    }

    async fn lookup(&self, index: Index, key: &str) -> Result<Option<Uuid>, StoreError> {
        Ok(
            self.with(|inner, now| {
                fresh(inner.indexes.get(&(index, key.to_owned())), now).copied()
            }),
        )
    }

    async fn append_history(
        &self,
        customer: &str,
        record: &Record,
        keep: Duration,
    ) -> Result<(), StoreError> {
        self.with(|inner, now| {
            let entry = inner
                .histories
                .entry(customer.to_owned())
                .or_insert(Expiring {
                    value: Vec::new(),
                    until: now,
                });
            if entry.until <= now {
                entry.value.clear();
            }
            entry.value.push(record.clone());
            if entry.value.len() > HISTORY_CAP {
                entry.value.remove(0);
            }
            entry.until = now + keep;
        });
        Ok(())
    }

    async fn history(&self, customer: &str, limit: usize) -> Result<Vec<Record>, StoreError> {
        Ok(self.with(|inner, now| {
            fresh(inner.histories.get(customer), now)
                .map_or_else(Vec::new, |h| h.iter().rev().take(limit).cloned().collect())
        }))
    }

    async fn put_doc(
        &self,
        doc: Doc,
        key: &str,
        value: &str,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        self.with(|inner, now| {
            inner.sweep(now);
            // "For good" is as long as this process lives.
            let until = ttl.map_or(now + Duration::from_secs(100 * 365 * 24 * 3600), |t| {
                now + t
            });
            inner.docs.insert(
                (doc, key.to_owned()),
                Expiring {
                    value: value.to_owned(),
                    until,
                },
            );
        });
        Ok(())
    }

    async fn doc(&self, doc: Doc, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.with(|inner, now| fresh(inner.docs.get(&(doc, key.to_owned())), now).cloned()))
    }

    async fn remove_doc(&self, doc: Doc, key: &str) -> Result<(), StoreError> {
        self.with(|inner, _| inner.docs.remove(&(doc, key.to_owned())));
        Ok(())
    }

    async fn rank(&self, set: &str, member: &str, score: i64) -> Result<(), StoreError> {
        self.with(|inner, _| {
            inner
                .sets
                .entry(set.to_owned())
                .or_default()
                .insert(member.to_owned(), score)
        });
        Ok(())
    }

    async fn unrank(&self, set: &str, member: &str) -> Result<(), StoreError> {
        self.with(|inner, _| inner.sets.get_mut(set).map(|s| s.remove(member)));
        Ok(())
    }

    async fn ranked(&self, set: &str, limit: usize) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(self.with(|inner, _| {
            let mut members: Vec<(String, i64)> = inner
                .sets
                .get(set)
                .map(|s| s.iter().map(|(m, score)| (m.clone(), *score)).collect())
                .unwrap_or_default();
            members.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
            members.truncate(limit);
            members
        }))
    }

    async fn log_push(&self, name: &str, entry: &str, cap: usize) -> Result<(), StoreError> {
        self.with(|inner, _| {
            let log = inner.logs.entry(name.to_owned()).or_default();
            log.push_front(entry.to_owned());
            log.truncate(cap.max(1));
        });
        Ok(())
    }

    async fn log(&self, name: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        Ok(self.with(|inner, _| {
            inner
                .logs
                .get(name)
                .map(|l| l.iter().take(limit).cloned().collect())
                .unwrap_or_default()
        }))
    }

    fn wakeups(&self) -> broadcast::Receiver<Wake> {
        self.bus.subscribe()
    }
}
