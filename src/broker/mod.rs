//! The one way into a session. A channel hands the broker a [`Command`]; the broker applies it
//! atomically (load, change, compare-and-set commit with its events), lets the call react to
//! what other channels did, reaches the outside world through the telephony boundary, and
//! answers with an [`Outcome`]. What channels may read goes through the named queries below.

mod call;
mod command;
mod commit;
mod decide;
mod desk;
mod hold;
mod link;
mod page;
mod quiet;
mod text;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use command::{Command, Outcome};
pub use desk::DeskAction;
pub use link::LinkFor;
pub use page::PageRefusal;

use crate::{
    config::Config,
    hub::{Hub, Listener},
    script::Scripts,
    session::{Alert, AlertStatus, Event, Refusal, Session, history::Record},
    store::{Index, Store, StoreError, Versioned, Wake},
    telephony::Carriers,
};

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no such session")]
    NotFound,
    #[error("the session kept changing under us")]
    Contended,
    #[error("{0}")]
    Unserved(String),
    /// The journey's data does not match what its script declared.
    #[error("{field}: {problem}")]
    InvalidData { field: String, problem: String },
    /// A change was sent but could not be confirmed or ruled out in time: it may still land.
    #[error("the change could not be confirmed yet")]
    Unknown,
    /// What the desk asked cannot be done in this session; nothing changed.
    #[error("{0}")]
    NotAllowed(String),
}

/// Cheap to clone: every part is shared.
#[derive(Clone)]
pub struct Broker {
    store: Arc<dyn Store>,
    scripts: Arc<Scripts>,
    telephony: Arc<Carriers>,
    hub: Arc<Hub>,
    config: Arc<Config>,
    /// Long waits (the hold loop) end early when the node stops.
    shutdown: CancellationToken,
    /// Calls that look live but may have ended unseen, to ask the provider about.
    parked: mpsc::UnboundedSender<(Uuid, String, commit::Quiet)>,
    /// Calls this node has heard from, watched for one that goes quiet.
    quiet: Arc<quiet::QuietCalls>,
}

impl Broker {
    pub fn new(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        scripts: Arc<Scripts>,
        telephony: Arc<Carriers>,
        shutdown: CancellationToken,
    ) -> Self {
        let hub = Arc::new(Hub::default());
        hub.start(store.wakeups());
        let (parked, mut to_watch) = mpsc::unbounded_channel();
        let broker = Self {
            store,
            scripts,
            telephony,
            hub,
            config,
            shutdown,
            parked,
            quiet: Arc::default(),
        };
        // One task hands out the watches: a commit cannot spawn one itself, since a watch may
        // commit in turn.
        let watcher = broker.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    next = to_watch.recv() => match next {
                        Some((id, call_id, quiet)) => {
                            let watcher = watcher.clone();
                            tokio::spawn(async move { watcher.watch_call(id, call_id, quiet).await });
                        }
                        None => return,
                    },
                    () = watcher.shutdown.cancelled() => return,
                }
            }
        });
        let sweeper = broker.clone();
        tokio::spawn(async move { sweeper.sweep_quiet_calls().await });
        broker
    }

    /// Asks the provider about each call that has been quiet here for `quiet_call`: longer
    /// than a live call ever is (its speech and gather, or a hold poll) unless it is gone.
    async fn sweep_quiet_calls(&self) {
        let quiet = self.config.quiet_call;
        let every = (quiet / 4).min(std::time::Duration::from_secs(5));
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = self.shutdown.cancelled() => return,
            }
            for call_id in self.quiet.take_quiet(quiet) {
                let watcher = self.clone();
                tokio::spawn(async move {
                    if let Ok(Some(id)) = watcher.store.lookup(Index::Call, &call_id).await {
                        watcher.watch_call(id, call_id, commit::Quiet::Silent).await;
                    }
                });
            }
        }
    }

    /// Applies one command from any channel.
    pub async fn apply(&self, command: Command) -> Result<Outcome, BrokerError> {
        match &command {
            Command::StartCall(call) => self.quiet.heard(&call.call_id),
            Command::Heard { call_id, .. } | Command::Hold { call_id, .. } => {
                self.quiet.heard(call_id)
            }
            Command::CallStatus { call_id, status } if !status.is_live() => {
                self.quiet.forget(call_id)
            }
            _ => {}
        }
        match command {
            Command::StartCall(call) => Ok(Outcome::Call(self.start_call(call).await)),
            Command::Heard {
                session,
                turn,
                call_id,
                heard,
            } => Ok(Outcome::Call(
                self.heard(session, turn, &call_id, heard).await,
            )),
            Command::Hold {
                session,
                turn,
                call_id,
                outage_since,
                longest,
            } => {
                let poll = longest.map_or(self.config.hold_poll, |l| l.min(self.config.hold_poll));
                Ok(Outcome::Call(
                    self.hold(session, turn, &call_id, outage_since, poll).await,
                ))
            }
            Command::CallStatus { call_id, status } => {
                self.call_status(&call_id, status).await?;
                Ok(Outcome::Applied)
            }
            Command::ClaimLink {
                token_hash,
                device_hash,
            } => self.claim_link(&token_hash, &device_hash).await,
            Command::PageOpened { loaded } => {
                self.transact_from(*loaded, |d| d.open_page()).await?;
                Ok(Outcome::Applied)
            }
            Command::Decide {
                session,
                decision,
                by,
            } => self.decide(session, decision, by).await,
            Command::AskForPerson { session, by } => self.ask_for_person(session, by).await,
            Command::PageAction {
                session,
                screen,
                name,
            } => self.page_action(session, screen, &name).await,
            Command::PageSubmit {
                session,
                screen,
                form,
                values,
            } => self.page_submit(session, screen, &form, &values).await,
            Command::TextReceived(sms) => Ok(Outcome::Text(self.text_received(sms).await?)),
            Command::RaiseAlert(case) => self.raise_alert(case).await,
            Command::AgentJoined { session, name } => self.agent_joined(session, &name).await,
            Command::Desk {
                session,
                agent,
                action,
            } => self.desk_act(session, &agent, action).await,
            Command::OpenCase {
                session,
                note,
                expectation,
            } => self.open_case(session, &note, &expectation).await,
            Command::AddHistory { customer, record } => {
                self.store
                    .append_history(&customer, &record, self.config.history_keep)
                    .await?;
                Ok(Outcome::Applied)
            }
        }
    }

    /// Wakes at each change to the session `id` seen by this node.
    pub fn listen(&self, id: Uuid) -> Listener {
        self.hub.listen(id)
    }

    /// Like [`Broker::listen`], unless the session already has `max` listeners on this node.
    pub fn listen_at_most(&self, id: Uuid, max: usize) -> Option<Listener> {
        self.hub.listen_at_most(id, max)
    }

    /// Every wake-up this node sees, for tools that follow all sessions.
    pub fn wakeups(&self) -> broadcast::Receiver<Wake> {
        self.store.wakeups()
    }

    pub async fn session(&self, id: Uuid) -> Result<Session, BrokerError> {
        Ok(self.load_versioned(id).await?.session)
    }

    /// The session, if `device_hash` is the device its link is bound to; loaded with its
    /// version so the page's first command commits without reading it again.
    pub async fn session_for_device(
        &self,
        id: Uuid,
        device_hash: &str,
    ) -> Result<Option<Versioned>, BrokerError> {
        let loaded = self.load_versioned(id).await?;
        Ok(loaded.session.is_bound_to(device_hash).then_some(loaded))
    }

    /// The session a provider's call belongs to.
    pub async fn session_for_call(&self, call_id: &str) -> Result<Option<Uuid>, BrokerError> {
        Ok(self.store.lookup(Index::Call, call_id).await?)
    }

    /// The session's events after `after`, oldest first, at most `limit`.
    pub async fn events_after(
        &self,
        id: Uuid,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event>, BrokerError> {
        Ok(self.store.events_after(id, after, limit).await?)
    }

    /// The alert, repaired from its session when a decision's status write was lost (the
    /// session is the truth; the bank must never read an alert that disagrees with it).
    pub async fn alert(&self, id: Uuid) -> Result<Option<Alert>, BrokerError> {
        let Some(mut alert) = self.store.alert(id).await? else {
            return Ok(None);
        };
        if alert.status != AlertStatus::Open {
            return Ok(Some(alert));
        }
        let Some(session) = self.store.alert_session(id).await? else {
            return Ok(Some(alert));
        };
        let decided = match self.store.load(session).await? {
            Some(loaded) => loaded.session.decision,
            None => None,
        };
        if let Some(decided) = decided {
            let status = AlertStatus::from(decided.decision);
            tracing::warn!(alert_id = %id, session_id = %session, "repaired an alert its decision never reached");
            self.store
                .set_alert_status(id, &alert.case.customer.phone, status)
                .await?;
            alert.status = status;
        }
        Ok(Some(alert))
    }

    /// A customer's newest `limit` history records, newest first.
    pub async fn history(&self, customer: &str, limit: usize) -> Result<Vec<Record>, BrokerError> {
        Ok(self.store.history(customer, limit).await?)
    }

    /// Counts one more failed link opening against `client`, shared by every node.
    pub async fn count_failure(
        &self,
        client: &str,
        window: std::time::Duration,
    ) -> Result<u64, BrokerError> {
        Ok(self.store.add_failure(client, window).await?)
    }

    /// Whether the store answers.
    /// Whether a signed request carrying `nonce` was already taken, on any node. For
    /// signatures without a time in them (Plivo's), this is what refuses a captured request
    /// sent again. A read: it never waits behind writes the store is holding.
    pub async fn nonce_seen(&self, nonce: &str) -> Result<bool, BrokerError> {
        Ok(self.store.lookup(Index::Nonce, nonce).await?.is_some())
    }

    /// Remembers `nonce` for `keep`, once the request carrying it has been answered.
    pub async fn remember_nonce(
        &self,
        nonce: &str,
        keep: std::time::Duration,
    ) -> Result<(), BrokerError> {
        self.store
            .bind(Index::Nonce, nonce, Uuid::new_v4(), keep)
            .await?;
        Ok(())
    }

    pub async fn health(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// Which store this node runs on (`memory`, `redis`).
    pub fn store_kind(&self) -> &'static str {
        self.store.kind()
    }

    /// `name@version` of every current script.
    pub fn script_keys(&self) -> Vec<String> {
        self.scripts.current_keys()
    }

    /// Whether the session's call stands where its script waits for a representative to join
    /// (what an agent desk, or the demo playing one, acts on).
    pub async fn awaiting_agent(&self, id: Uuid) -> Result<bool, BrokerError> {
        let session = self.session(id).await?;
        let (Some(voice), Some(script)) = (
            session.voice.as_ref().filter(|v| v.is_live()),
            self.scripts.get(&session.script),
        ) else {
            return Ok(false);
        };
        Ok(script
            .states
            .get(&voice.position.state)
            .is_some_and(|state| state.on.contains_key(&crate::script::Trigger::AgentJoined)))
    }

    /// Why a command was refused, in the words of the session's script.
    fn refusal(&self, s: &Session, refusal: Refusal) -> Outcome {
        let script = self.scripts.get(&s.script);
        let default = crate::script::model::Messages::default();
        let messages = script.as_ref().map_or(&default, |m| &m.messages);
        let template = match refusal {
            Refusal::AlreadyDecided(_) => &messages.already_decided,
            Refusal::Closed | Refusal::OtherDevice | Refusal::BadLink => &messages.ended,
        };
        let message = match &script {
            Some(script) => script.words(template, s),
            None => crate::script::speech::render(template.pick("en"), s),
        };
        Outcome::Refused { refusal, message }
    }
}
