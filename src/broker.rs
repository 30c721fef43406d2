//! Applies a command from any channel to a session atomically (load, change, compare-and-set
//! commit with its events), lets the call react to what other channels did, and pushes that
//! reaction to a busy call through the provider's live update.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    hub::{Hub, Listener},
    providers::VoiceProvider,
    script::{self, Input, Scripts, Trigger},
    session::{AlertStatus, Channel, Decision, Draft, EventKind, Reply, Session, history::Record},
    store::{Commit, Store, StoreError, Versioned},
};

/// Commits lost to concurrent writers before giving up; each retry re-reads the session.
const MAX_ATTEMPTS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no such session")]
    NotFound,
    #[error("the session kept changing under us")]
    Contended,
}

#[derive(Clone)]
pub struct Broker {
    pub store: Arc<dyn Store>,
    pub scripts: Arc<Scripts>,
    pub provider: Arc<dyn VoiceProvider>,
    pub hub: Arc<Hub>,
    pub session_ttl: Duration,
    /// How long a finished session's record stays in its customer's history.
    pub history_keep: Duration,
}

/// A reply that must reach a call that is busy speaking or gathering.
struct LivePush {
    call_id: String,
    session: Uuid,
    turn: u32,
    reply: Reply,
}

impl Broker {
    pub fn new(
        store: Arc<dyn Store>,
        scripts: Arc<Scripts>,
        provider: Arc<dyn VoiceProvider>,
        session_ttl: Duration,
    ) -> Self {
        let hub = Arc::new(Hub::default());
        hub.start(store.wakeups());
        Self {
            store,
            scripts,
            provider,
            hub,
            session_ttl,
            history_keep: Duration::from_secs(400 * 24 * 3600),
        }
    }

    pub fn listen(&self, id: Uuid) -> Listener {
        self.hub.listen(id)
    }

    pub async fn load(&self, id: Uuid) -> Result<Session, BrokerError> {
        Ok(self
            .store
            .load(id)
            .await?
            .ok_or(BrokerError::NotFound)?
            .session)
    }

    /// The session with the version a commit must name; hand it to [`Broker::transact_from`]
    /// when the caller needs the session before deciding what to change.
    pub async fn load_versioned(&self, id: Uuid) -> Result<Versioned, BrokerError> {
        self.store.load(id).await?.ok_or(BrokerError::NotFound)
    }

    /// Stores a brand-new session; `false` if one with this id already exists.
    pub async fn create(&self, draft: &Draft) -> Result<bool, BrokerError> {
        Ok(matches!(
            self.store.commit(draft, 0, self.session_ttl).await?,
            Commit::Done { .. }
        ))
    }

    /// Runs `change` on the current session and commits it, retrying on a concurrent write.
    /// `change` may run several times, so it must only touch the draft.
    pub async fn transact<T>(
        &self,
        id: Uuid,
        change: impl FnMut(&mut Draft) -> T,
    ) -> Result<T, BrokerError> {
        let current = self.load_versioned(id).await?;
        self.transact_from(current, change).await
    }

    /// [`Broker::transact`] starting from a session already loaded, which saves a round trip
    /// when it is still current (a conflict reloads it).
    pub async fn transact_from<T>(
        &self,
        loaded: Versioned,
        mut change: impl FnMut(&mut Draft) -> T,
    ) -> Result<T, BrokerError> {
        let id = loaded.session.id;
        let mut loaded = Some(loaded);
        for _ in 0..MAX_ATTEMPTS {
            let current = match loaded.take() {
                Some(current) => current,
                None => self.load_versioned(id).await?,
            };
            let mut draft = Draft::new(current.session.clone(), Utc::now());
            let out = change(&mut draft);
            if draft.events.is_empty() && draft.session == current.session {
                return Ok(out);
            }
            let push = self.react(&mut draft);
            match self
                .store
                .commit(&draft, current.version, self.session_ttl)
                .await?
            {
                Commit::Done { .. } => {
                    self.after_commit(&draft, push).await;
                    return Ok(out);
                }
                Commit::Conflict => continue,
            }
        }
        Err(BrokerError::Contended)
    }

    /// The call hears what other channels did: each event it has not acted on goes through
    /// its script; a parked call gets the reply from the hold loop, a busy one by live update.
    fn react(&self, draft: &mut Draft) -> Option<LivePush> {
        let voice = draft.session.voice.as_ref().filter(|v| v.is_live())?;
        let (acted, parked) = (voice.acted, voice.parked);
        let triggers: Vec<Trigger> = draft
            .events
            .iter()
            .filter(|e| e.seq > acted)
            .filter_map(|e| trigger(&e.event))
            .collect();
        let script = self.scripts.get(&draft.session.script)?;
        let mut given = None;
        for t in triggers {
            let voice = draft.session.voice.as_ref()?;
            // A call parked for an effect hears the next event once the effect is done.
            if voice.effect_due {
                break;
            }
            let position = voice.position.clone();
            let Some(step) = script::step(&script, &draft.session, &position, Input::Trigger(t))
            else {
                continue;
            };
            let by = match t {
                Trigger::SmsReply => Channel::Sms,
                _ => Channel::Voice,
            };
            if let Some((_, reply)) = script::follow(draft, &script, step, by) {
                given = Some(reply);
            }
        }
        let seq = draft.session.seq;
        let voice = draft.session.voice.as_mut()?;
        voice.acted = seq;
        let reply = given?;
        if parked {
            voice.parked = true;
            voice.pending = Some(reply);
            return None;
        }
        Some(LivePush {
            call_id: voice.call_id.clone(),
            session: draft.session.id,
            turn: voice.turn,
            reply,
        })
    }

    async fn after_commit(&self, draft: &Draft, push: Option<LivePush>) {
        // The bank's record first: by the time the caller hears the outcome, the alert reads it.
        for event in &draft.events {
            if let EventKind::Decided { decision, .. } = event.event {
                let status = match decision {
                    Decision::Approve => AlertStatus::Approved,
                    Decision::Decline => AlertStatus::Declined,
                };
                let s = &draft.session;
                if let Err(e) = self
                    .store
                    .set_alert_status(s.alert_id, &s.case.customer.phone, status)
                    .await
                {
                    tracing::warn!(session_id = %s.id, error = %e, "could not mark the alert resolved");
                }
            }
        }
        if let Some(push) = push {
            let span =
                tracing::info_span!("live_update", session_id = %push.session, turn = push.turn);
            if let Err(e) = self
                .provider
                .update_call(&push.call_id, push.session, push.turn, &push.reply)
                .instrument(span)
                .await
            {
                // The call still gets this reply: a late webhook is answered with `last_reply`.
                tracing::warn!(session_id = %push.session, error = %e, "live update failed");
            }
        }
        if draft.events.iter().any(|e| Record::due(&e.event)) {
            let s = &draft.session;
            for record in Record::all_of(s, draft.now) {
                if let Err(e) = self
                    .store
                    .append_history(&s.case.customer.id, &record, self.history_keep)
                    .await
                {
                    tracing::warn!(session_id = %s.id, error = %e, "could not add the session to the customer's history");
                }
            }
        }
    }
}

fn trigger(event: &EventKind) -> Option<Trigger> {
    match event {
        EventKind::PageOpened => Some(Trigger::PageOpened),
        EventKind::Decided { decision, .. } => Some(Trigger::Decided(*decision)),
        EventKind::AgentRequested { .. } => Some(Trigger::AgentRequested),
        EventKind::AgentJoined { .. } => Some(Trigger::AgentJoined),
        EventKind::SmsReceived { .. } => Some(Trigger::SmsReply),
        _ => None,
    }
}
