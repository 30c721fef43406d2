//! Committing a change: load, change, compare-and-set with its events, retried on a
//! concurrent write; then the reactions — the call hears what other channels did (from the
//! hold loop, or pushed by live update), the bank's alert and the customer's history follow.

use chrono::Utc;
use tracing::Instrument;
use uuid::Uuid;

use super::{Broker, BrokerError};
use crate::{
    script::{self, Input, Trigger},
    session::{AlertStatus, CallStatus, Channel, Draft, EventKind, Reply, history::Record},
    store::{Commit, StoreError, Versioned},
};

/// Commits lost to concurrent writers before giving up; each retry re-reads the session.
const MAX_ATTEMPTS: usize = 16;
/// How long an unanswered commit is settled before its outcome is reported unknown: within
/// what a page waits for an answer and well within a provider's webhook timeout.
const SETTLE_FOR: std::time::Duration = std::time::Duration::from_secs(8);
const SETTLE_RETRY: std::time::Duration = std::time::Duration::from_millis(100);
/// Beyond two hold polls, before a reply left for a holding call counts as never picked up.
const PARKED_GRACE: std::time::Duration = std::time::Duration::from_secs(2);
/// A decided alert whose status could not be written is retried this often, this many times
/// (a minute in all).
const ALERT_RETRY_EVERY: std::time::Duration = std::time::Duration::from_millis(500);
const ALERT_RETRIES: usize = 120;

/// Why a call that looks live is suspected of having ended unseen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Quiet {
    /// A reply was left for it in the hold loop (checked after two polls).
    Parked,
    /// The provider refused a live update for it (checked at once).
    UpdateFailed,
    /// Nothing heard from it here for `quiet_call`, though nothing may be waiting for it.
    Silent,
}

/// How the call takes what other channels did in a commit.
enum Reaction {
    /// Busy speaking or gathering: the reply is pushed by live update.
    Push(LivePush),
    /// In the hold loop: the reply waits there as `pending`.
    Parked { call_id: String },
}

/// A reply that must reach a call that is busy speaking or gathering.
struct LivePush {
    provider: String,
    call_id: String,
    session: Uuid,
    turn: u32,
    reply: Reply,
}

impl Broker {
    /// The session with the version a commit must name; hand it to [`Broker::transact_from`]
    /// when the caller needs the session before deciding what to change.
    pub(super) async fn load_versioned(&self, id: Uuid) -> Result<Versioned, BrokerError> {
        self.store.load(id).await?.ok_or(BrokerError::NotFound)
    }

    /// Stores a brand-new session; `false` if one with this id already exists.
    pub(super) async fn create(&self, draft: &Draft) -> Result<bool, BrokerError> {
        let created = matches!(
            self.store.commit(draft, 0, self.config.session_ttl).await?,
            Commit::Done { .. }
        );
        if created {
            // The supervisors' list of live sessions learns of it in the background.
            let (broker, session, events) =
                (self.clone(), draft.session.clone(), draft.events.clone());
            tokio::spawn(async move { broker.track(&session, &events).await });
        }
        Ok(created)
    }

    /// Runs `change` on the current session and commits it, retrying on a concurrent write.
    /// `change` may run several times, so it must only touch the draft.
    pub(super) async fn transact<T>(
        &self,
        id: Uuid,
        change: impl FnMut(&mut Draft) -> T,
    ) -> Result<T, BrokerError> {
        let current = self.load_versioned(id).await?;
        self.transact_from(current, change).await
    }

    /// [`Broker::transact`] starting from a session already loaded, which saves a round trip
    /// when it is still current (a conflict reloads it).
    pub(super) async fn transact_from<T>(
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
            let reaction = self.react(&mut draft);
            let queue_moved = self.mark_waiting(&mut draft);
            draft.session.stamp(Uuid::new_v4());
            let committed = match self
                .store
                .commit(&draft, current.version, self.config.session_ttl)
                .await
            {
                Ok(Commit::Done { .. }) => true,
                Ok(Commit::Conflict) => false,
                // Sent, but unanswered: find out before anyone is told anything.
                Err(StoreError::Unknown(reason)) => {
                    tracing::warn!(session_id = %id, %reason, "a commit went unanswered; settling it");
                    self.settle(&draft, current.version).await?
                }
                Err(e) => return Err(e.into()),
            };
            if committed {
                self.after_commit(&draft, reaction).await;
                // The desk's lists follow in the background: no caller waits for them, and
                // their reads drop what has since ended.
                if queue_moved || draft.events.iter().any(|e| super::desk::tracked(&e.event)) {
                    let broker = self.clone();
                    tokio::spawn(async move { broker.track(&draft.session, &draft.events).await });
                }
                return Ok(out);
            }
        }
        Err(BrokerError::Contended)
    }

    /// A call that looks live but may be gone with its status callback lost (Redis away when
    /// it came): a reply left for it in the hold loop that no poll took, a live update the
    /// provider refused, or no webhook from it for longer than a live call is ever silent. The provider says, and an ended call closes the session.
    pub(super) async fn watch_call(&self, id: Uuid, call_id: String, quiet: Quiet) {
        if quiet == Quiet::Parked {
            tokio::select! {
                () = tokio::time::sleep(self.config.hold_poll * 2 + PARKED_GRACE) => {}
                () = self.shutdown.cancelled() => return,
            }
        }
        let Ok(loaded) = self.load_versioned(id).await else {
            return;
        };
        let suspect = loaded.session.voice.as_ref().is_some_and(|v| {
            v.call_id == call_id && v.is_live() && (quiet != Quiet::Parked || v.pending.is_some())
        });
        if !suspect {
            return;
        }
        let provider = loaded
            .session
            .voice
            .as_ref()
            .map_or("", |v| v.provider.as_str());
        let asked = match self.telephony.get(provider) {
            Ok(telephony) => telephony.call_status(&call_id).await,
            Err(e) => Err(e),
        };
        let status = match asked {
            // A call the provider does not know is not live either.
            Ok(status) => status.unwrap_or(CallStatus::Completed),
            Err(e) => {
                tracing::warn!(session_id = %id, error = %e, "could not ask the provider about a quiet call");
                if quiet == Quiet::Silent {
                    self.quiet.heard(&call_id);
                }
                return;
            }
        };
        if status.is_live() {
            // Live, its webhooks reaching other nodes: asked again if it stays quiet here.
            if quiet == Quiet::Silent {
                self.quiet.heard(&call_id);
            }
            return;
        }
        tracing::warn!(session_id = %id, ?status, "the call ended without telling us; closing its session");
        if let Err(e) = self.call_status(&call_id, status).await {
            tracing::warn!(session_id = %id, error = %e, "could not close the quiet call's session");
        }
    }

    /// Whether `draft`, whose commit at version `expected` went unanswered, was applied. A
    /// fence settles it: the session as read, committed at that version under a new id. A
    /// commit still queued in the store lands before the fence, which then conflicts; a fence
    /// that lands means the commit never can. Gives up after `SETTLE_FOR` with `Unknown`.
    async fn settle(&self, draft: &Draft, expected: u64) -> Result<bool, BrokerError> {
        let (id, ours) = (
            draft.session.id,
            draft.session.recent_commits.last().copied(),
        );
        let deadline = tokio::time::Instant::now() + SETTLE_FOR;
        loop {
            if let Ok(Some(current)) = self.store.load(id).await {
                if ours.is_some_and(|c| current.session.recent_commits.contains(&c)) {
                    tracing::info!(session_id = %id, "the unanswered commit was applied");
                    return Ok(true);
                }
                // Someone else's commit took the version ours needed: ours can never land.
                if current.version != expected {
                    return Ok(false);
                }
                let mut fence = Draft::new(current.session, Utc::now());
                fence.session.stamp(Uuid::new_v4());
                if let Ok(Commit::Done { .. }) = self
                    .store
                    .commit(&fence, expected, self.config.session_ttl)
                    .await
                {
                    tracing::info!(session_id = %id, "the unanswered commit was not applied");
                    return Ok(false);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(BrokerError::Unknown);
            }
            // The store is paused or away: ask again shortly, not in a tight loop.
            tokio::time::sleep(SETTLE_RETRY).await;
        }
    }

    /// The call hears what other channels did: each event it has not acted on goes through
    /// its script; a parked call gets the reply from the hold loop, a busy one by live update.
    fn react(&self, draft: &mut Draft) -> Option<Reaction> {
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
            let Some(step) = script::step(
                &script,
                &draft.session,
                &position,
                Input::Trigger(t.clone()),
            ) else {
                continue;
            };
            let by = match t {
                Trigger::SmsReply => Channel::Sms,
                _ => Channel::Voice,
            };
            if let Some((_, reply)) =
                script::drive(draft, &script, step, &mut script::Call::new(by))
            {
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
            return Some(Reaction::Parked {
                call_id: voice.call_id.clone(),
            });
        }
        Some(Reaction::Push(LivePush {
            provider: voice.provider.clone(),
            call_id: voice.call_id.clone(),
            session: draft.session.id,
            turn: voice.turn,
            reply,
        }))
    }

    async fn after_commit(&self, draft: &Draft, reaction: Option<Reaction>) {
        // The bank's record first: by the time the caller hears the outcome, the alert reads it.
        for event in &draft.events {
            if let EventKind::Decided { decision, .. } = event.event {
                let status = AlertStatus::from(decision);
                let s = &draft.session;
                if let Err(e) = self
                    .store
                    .set_alert_status(s.alert_id, &s.case.customer.phone, status)
                    .await
                {
                    // The decision stands; the bank's record must follow it, so keep trying
                    // in the background rather than leave the alert open.
                    tracing::warn!(session_id = %s.id, error = %e, "could not mark the alert resolved; retrying");
                    let (store, alert, phone) = (
                        self.store.clone(),
                        s.alert_id,
                        s.case.customer.phone.clone(),
                    );
                    tokio::spawn(async move {
                        for _ in 0..ALERT_RETRIES {
                            tokio::time::sleep(ALERT_RETRY_EVERY).await;
                            if store.set_alert_status(alert, &phone, status).await.is_ok() {
                                tracing::info!(alert_id = %alert, "alert marked resolved on a retry");
                                return;
                            }
                        }
                        tracing::error!(alert_id = %alert, "gave up marking the alert resolved");
                    });
                }
            }
        }
        let push = match reaction {
            Some(Reaction::Push(push)) => Some(push),
            Some(Reaction::Parked { call_id }) => {
                // The hold loop picks the reply up within a poll; if it never does, the call
                // may have ended with its status callback lost: the provider is asked.
                let _ = self.parked.send((draft.session.id, call_id, Quiet::Parked));
                None
            }
            None => None,
        };
        if let Some(push) = push {
            let span =
                tracing::info_span!("live_update", session_id = %push.session, turn = push.turn);
            let pushed = match self.telephony.get(&push.provider) {
                Ok(telephony) => {
                    telephony
                        .update_call(&push.call_id, push.session, push.turn, &push.reply)
                        .instrument(span)
                        .await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = pushed {
                // The call still gets this reply: a late webhook is answered with `last_reply`.
                // Unless it is over and nobody told us: the provider is asked.
                tracing::warn!(session_id = %push.session, error = %e, "live update failed");
                let _ = self
                    .parked
                    .send((push.session, push.call_id.clone(), Quiet::UpdateFailed));
            }
        }
        if draft.events.iter().any(|e| Record::due(&e.event)) {
            let s = &draft.session;
            let headline = match self.scripts.get(&s.script) {
                Some(script) => script.words(&script.messages.history, s),
                None => script::model::Messages::default()
                    .history
                    .pick("en")
                    .to_owned(),
            };
            for record in Record::all_of(s, draft.now, &headline) {
                if let Err(e) = self
                    .store
                    .append_history(&s.case.customer.id, &record, self.config.history_keep)
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
        EventKind::PageAction { name, .. } => Some(Trigger::PageAction(name.clone())),
        EventKind::PageSubmit { form, .. } => Some(Trigger::PageSubmit(form.clone())),
        _ => None,
    }
}
