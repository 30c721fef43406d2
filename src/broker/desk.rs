//! The desk's side of the broker: accounts and their sign-ins, the audit trail of who saw and
//! did what, the queue of callers waiting for a person and the sessions that are live, and
//! what a representative does in a session, applied like any channel's command.

use std::time::Duration;

use chrono::Utc;
use uuid::Uuid;

use super::{Broker, BrokerError, Outcome};
use crate::{
    agents::{Agent, AuditEntry},
    session::{Channel, Decision, EventKind, Refusal, Session},
    store::{Doc, decode, encode},
};

/// How many audit entries are kept (the newest).
const AUDIT_CAP: usize = 100_000;
const AUDIT_LOG: &str = "audit";
/// The ranked set of live sessions, by when they opened.
const LIVE: &str = "live";

/// What a representative does in a session.
#[derive(Debug)]
pub enum DeskAction {
    /// Takes the caller: the call is put through as when any person joins, and the page says
    /// who is with them.
    Take,
    /// Records the customer's decision for them; the first decision from any channel wins.
    Decide {
        decision: Decision,
        reason: String,
    },
    OpenCase {
        note: String,
        expectation: String,
    },
    /// Puts one of the script's screens on the customer's page.
    ShowScreen {
        screen: String,
    },
    /// Ends the session: the page says so and the link stops working.
    End,
    /// Texts the customer the page link anew, in the words the script texts it with; the new
    /// link opens only on the device that opened the page before, if one did.
    TextLink,
}

impl DeskAction {
    pub fn name(&self) -> &'static str {
        match self {
            DeskAction::Take => "take",
            DeskAction::Decide { .. } => "decide",
            DeskAction::OpenCase { .. } => "case",
            DeskAction::ShowScreen { .. } => "screen",
            DeskAction::End => "end",
            DeskAction::TextLink => "text",
        }
    }
}

/// Whether an event changes the desk's list of live sessions.
pub(super) fn tracked(event: &EventKind) -> bool {
    matches!(
        event,
        EventKind::SessionOpened | EventKind::SessionClosed { .. }
    )
}

/// The set a team's waiting callers are ranked in, oldest first.
fn queue_set(team: &str) -> String {
    format!("queue:{team}")
}

impl Broker {
    pub async fn put_agent(&self, agent: &Agent) -> Result<(), BrokerError> {
        Ok(self
            .store
            .put_doc(Doc::Agent, &agent.login, &encode(agent), None)
            .await?)
    }

    pub async fn agent(&self, login: &str) -> Result<Option<Agent>, BrokerError> {
        match self.store.doc(Doc::Agent, login).await? {
            Some(raw) => Ok(Some(decode(&raw)?)),
            None => Ok(None),
        }
    }

    /// Signs `login` in for `ttl`: the cookie's secret, returned once; only its hash is kept.
    pub async fn sign_in(&self, login: &str, ttl: Duration) -> Result<String, BrokerError> {
        let token = crate::token::generate();
        self.store
            .put_doc(
                Doc::DeskLogin,
                &crate::token::hash(&token),
                login,
                Some(ttl),
            )
            .await?;
        Ok(token)
    }

    /// The account a desk cookie's secret signs in, while the sign-in lasts.
    pub async fn signed_in(&self, token: &str) -> Result<Option<Agent>, BrokerError> {
        if !crate::token::well_formed(token) {
            return Ok(None);
        }
        match self
            .store
            .doc(Doc::DeskLogin, &crate::token::hash(token))
            .await?
        {
            Some(login) => self.agent(&login).await,
            None => Ok(None),
        }
    }

    pub async fn sign_out(&self, token: &str) -> Result<(), BrokerError> {
        if crate::token::well_formed(token) {
            self.store
                .remove_doc(Doc::DeskLogin, &crate::token::hash(token))
                .await?;
        }
        Ok(())
    }

    /// Failed sign-ins for `login` in its current window.
    pub async fn sign_in_failures(&self, login: &str) -> Result<u64, BrokerError> {
        Ok(self.store.failures(&format!("desk:{login}")).await?)
    }

    pub async fn add_sign_in_failure(
        &self,
        login: &str,
        window: Duration,
    ) -> Result<u64, BrokerError> {
        Ok(self
            .store
            .add_failure(&format!("desk:{login}"), window)
            .await?)
    }

    /// Writes down who saw or did what.
    pub async fn audit(&self, entry: &AuditEntry) -> Result<(), BrokerError> {
        Ok(self
            .store
            .log_push(AUDIT_LOG, &encode(entry), AUDIT_CAP)
            .await?)
    }

    /// The newest `limit` audit entries, newest first.
    pub async fn audit_trail(&self, limit: usize) -> Result<Vec<AuditEntry>, BrokerError> {
        let raw = self.store.log(AUDIT_LOG, limit).await?;
        Ok(raw.iter().map(|r| decode(r)).collect::<Result<_, _>>()?)
    }

    /// The teams callers may be queued for.
    pub fn teams(&self) -> Vec<String> {
        self.scripts.teams()
    }

    /// The screens a representative may put on the session's page: its script's.
    pub fn screens_of(&self, session: &Session) -> Vec<String> {
        self.scripts
            .get(&session.script)
            .map(|s| s.screens.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The team a session's callers are queued for: its script's.
    pub fn team_of(&self, session: &Session) -> String {
        self.scripts.get(&session.script).map_or_else(
            || crate::script::DEFAULT_TEAM.to_owned(),
            |s| s.team.clone(),
        )
    }

    /// Sessions waiting for a person in `team`, oldest first, with when they began waiting
    /// (unix ms). Entries for sessions that ended or expired are dropped as they are found.
    pub async fn queue(&self, team: &str) -> Result<Vec<(Session, i64)>, BrokerError> {
        self.ranked_sessions(&queue_set(team), |s| {
            s.waiting.is_some() && s.taken_by.is_none()
        })
        .await
    }

    /// Every live session, oldest first.
    pub async fn live_sessions(&self) -> Result<Vec<Session>, BrokerError> {
        let live = self.ranked_sessions(LIVE, |_| true).await?;
        Ok(live.into_iter().map(|(s, _)| s).collect())
    }

    async fn ranked_sessions(
        &self,
        set: &str,
        keep: impl Fn(&Session) -> bool,
    ) -> Result<Vec<(Session, i64)>, BrokerError> {
        let now = Utc::now();
        let mut found = Vec::new();
        for (member, score) in self.store.ranked(set, 1000).await? {
            let id = member.parse::<Uuid>().ok();
            let loaded = match id {
                Some(id) => self.store.load(id).await?,
                None => None,
            };
            match loaded {
                Some(v) if v.session.is_open(now) && keep(&v.session) => {
                    found.push((v.session, score))
                }
                _ => self.store.unrank(set, &member).await?,
            }
        }
        Ok(found)
    }

    /// Marks in the draft whether its caller now waits for a person (their call stands where
    /// the script waits for a representative, and nobody has taken them); whether that changed.
    pub(super) fn mark_waiting(&self, d: &mut crate::session::Draft) -> bool {
        let s = &d.session;
        let script = self.scripts.get(&s.script);
        let waits = s.is_open(d.now)
            && s.taken_by.is_none()
            && s.voice.as_ref().filter(|v| v.is_live()).is_some_and(|v| {
                script
                    .as_ref()
                    .and_then(|sc| sc.states.get(&v.position.state))
                    .is_some_and(|st| st.on.contains_key(&crate::script::Trigger::AgentJoined))
            });
        match (waits, d.session.waiting.is_some()) {
            (true, false) => {
                // How they came to wait: what this commit heard from them, if anything.
                let asked_by = d
                    .events
                    .iter()
                    .rev()
                    .find_map(|e| match &e.event {
                        EventKind::AgentRequested { by: Channel::Web } => Some("page"),
                        EventKind::SpeechHeard { .. } => Some("voice"),
                        EventKind::Digits { .. } => Some("key"),
                        _ => None,
                    })
                    .unwrap_or("script");
                d.session.waiting = Some(crate::session::Waiting {
                    since: d.now,
                    asked_by: asked_by.to_owned(),
                });
                true
            }
            (false, true) => {
                d.session.waiting = None;
                true
            }
            _ => false,
        }
    }

    /// Keeps the queue and the live set in step with what a commit recorded. Best effort: a
    /// queue read drops what no longer waits, and a session is found by id whatever the sets
    /// say.
    pub(super) async fn track(&self, session: &Session, events: &[crate::session::Event]) {
        let id = session.id.to_string();
        let queue = queue_set(&self.team_of(session));
        let queued = match &session.waiting {
            Some(w) => {
                self.store
                    .rank(&queue, &id, w.since.timestamp_millis())
                    .await
            }
            None => self.store.unrank(&queue, &id).await,
        };
        let mut done = vec![queued];
        for event in events {
            done.push(match &event.event {
                EventKind::SessionOpened => {
                    self.store
                        .rank(LIVE, &id, event.at.timestamp_millis())
                        .await
                }
                EventKind::SessionClosed { .. } => self.store.unrank(LIVE, &id).await,
                _ => Ok(()),
            });
        }
        if let Some(Err(e)) = done.into_iter().find(Result::is_err) {
            tracing::warn!(session_id = %session.id, error = %e, "the desk's lists missed a change");
        }
    }

    /// Applies what `agent` does in session `id`, with their identity in the session's log.
    pub async fn desk_act(
        &self,
        id: Uuid,
        agent: &Agent,
        action: DeskAction,
    ) -> Result<Outcome, BrokerError> {
        if matches!(action, DeskAction::TextLink) {
            return self.text_link(id, agent).await;
        }
        let script = self.scripts.get(&self.session(id).await?.script);
        let joined = format!("{} from {}", agent.first_name(), team_title(&agent.team));
        let outcome = self
            .transact(id, |d| {
                if let Some(other) = d.session.taken_by.as_ref().filter(|o| **o != agent.login) {
                    return Err(format!("{other} has taken this session"));
                }
                let reason = match &action {
                    DeskAction::Decide { reason, .. } => Some(reason.clone()),
                    _ => None,
                };
                let result = match &action {
                    DeskAction::Take => {
                        d.session.taken_by = Some(agent.login.clone());
                        d.agent_joined(&joined)
                    }
                    DeskAction::Decide { decision, .. } => d.decide(*decision, Channel::Desk),
                    DeskAction::OpenCase { note, expectation } => {
                        d.open_case(note, expectation);
                        Ok(())
                    }
                    DeskAction::TextLink => unreachable!("texted above"),
                    DeskAction::End => match d.session.is_open(d.now) {
                        true => {
                            d.close("ended at the desk");
                            Ok(())
                        }
                        false => Err(Refusal::Closed),
                    },
                    DeskAction::ShowScreen { screen } => {
                        let known = script
                            .as_ref()
                            .is_some_and(|s| s.screens.contains_key(screen));
                        if !known {
                            return Err(format!("the script has no screen {screen:?}"));
                        }
                        match d.session.is_open(d.now) {
                            true => {
                                d.emit(EventKind::ScreenShown {
                                    screen: screen.clone(),
                                });
                                Ok(())
                            }
                            false => Err(Refusal::Closed),
                        }
                    }
                };
                match result {
                    Ok(()) => {
                        // Recorded after the change it names, in the same commit.
                        d.emit(EventKind::DeskAction {
                            agent: agent.login.clone(),
                            action: action.name().to_owned(),
                            reason,
                        });
                        Ok(Outcome::Applied)
                    }
                    Err(refusal) => Ok(self.refusal(&d.session, refusal)),
                }
            })
            .await?;
        outcome.map_err(BrokerError::NotAllowed)
    }
}

impl Broker {
    /// Mints a new page link, records it in the session (keeping the device that opened the
    /// page, if one did) and texts it in the script's words, by the provider the customer
    /// reached us by. The link leads to the session before the text leaves.
    async fn text_link(&self, id: Uuid, agent: &Agent) -> Result<Outcome, BrokerError> {
        let session = self.session(id).await?;
        let script = self
            .scripts
            .get(&session.script)
            .ok_or(BrokerError::NotFound)?;
        let template = script.states.values().find_map(|state| match &state.kind {
            crate::script::model::StateKind::Action {
                action: crate::script::model::ActionKind::SendLink,
                sms: Some(text),
                ..
            } => Some(text),
            _ => None,
        });
        let Some(template) = template else {
            return Err(BrokerError::NotAllowed(
                "this session's script texts no page link".into(),
            ));
        };
        let link = self.mint_link();
        self.bind_link(&link, id).await?;
        let outcome = self
            .transact(id, |d| {
                if !d.session.is_open(d.now) {
                    return Ok(self.refusal(&d.session, Refusal::Closed));
                }
                if let Some(other) = d.session.taken_by.as_ref().filter(|o| **o != agent.login) {
                    return Err(format!("{other} has taken this session"));
                }
                let device_hash = d.session.link.as_ref().and_then(|l| l.device_hash.clone());
                d.session.link = Some(crate::session::Link {
                    token_hash: link.token_hash.clone(),
                    device_hash,
                });
                d.emit(EventKind::LinkSent);
                d.emit(EventKind::DeskAction {
                    agent: agent.login.clone(),
                    action: DeskAction::TextLink.name().to_owned(),
                    reason: None,
                });
                Ok(Outcome::Applied)
            })
            .await?
            .map_err(BrokerError::NotAllowed)?;
        if !matches!(outcome, Outcome::Applied) {
            return Ok(outcome);
        }
        let session = self.session(id).await?;
        let to = session
            .voice
            .as_ref()
            .map_or(session.case.customer.phone.as_str(), |v| v.from.as_str());
        let provider = session
            .voice
            .as_ref()
            .map(|v| v.provider.as_str())
            .or_else(|| session.sms.as_ref().and_then(|l| l.provider.as_deref()));
        let body = link.text(&script.words(template, &session));
        self.telephony
            .for_texts(provider)
            .send_sms(crate::telephony::OutboundSms { to, body: &body })
            .await
            .map_err(|e| {
                tracing::warn!(session_id = %id, error = %e, "could not text the page link from the desk");
                BrokerError::NotAllowed("the text could not be sent; try again".into())
            })?;
        Ok(Outcome::Applied)
    }
}

/// A team's name as the customer hears it: `fraud` is "Fraud", `card-services` "Card services".
fn team_title(team: &str) -> String {
    let spaced = team.replace(['-', '_'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}
