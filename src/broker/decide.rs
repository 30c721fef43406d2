//! What the customer and the people serving them ask of a session from outside the call: a
//! decision, a person, a representative ready, a case opened; and the bank's alerts.

use chrono::Utc;
use uuid::Uuid;

use super::{Broker, BrokerError, Outcome};
use crate::session::{Alert, AlertStatus, Case, Channel, Decision};

impl Broker {
    /// First writer wins: a second decision, from any channel, is refused in the script's words.
    pub(super) async fn decide(
        &self,
        id: Uuid,
        decision: Decision,
        by: Channel,
    ) -> Result<Outcome, BrokerError> {
        self.transact(id, |d| {
            // The page decides only where its screen asks for a decision.
            if by == Channel::Web
                && d.session.is_open(d.now)
                && d.session.decision.is_none()
                && !self.offered(&d.session, |s| s.offers_decision())
            {
                return Outcome::PageRefused {
                    reason: super::PageRefusal::NotOffered,
                    errors: Default::default(),
                };
            }
            match d.decide(decision, by) {
                Ok(()) => Outcome::Applied,
                Err(refusal) => self.refusal(&d.session, refusal),
            }
        })
        .await
    }

    /// Asks for a person once; the call hears it through its script.
    pub(super) async fn ask_for_person(
        &self,
        id: Uuid,
        by: Channel,
    ) -> Result<Outcome, BrokerError> {
        self.transact(id, |d| {
            if by == Channel::Web
                && d.session.is_open(d.now)
                && !self.offered(&d.session, |s| s.offers_agent())
            {
                return Outcome::PageRefused {
                    reason: super::PageRefusal::NotOffered,
                    errors: Default::default(),
                };
            }
            match d.request_agent(by) {
                Ok(()) => Outcome::Applied,
                Err(refusal) => self.refusal(&d.session, refusal),
            }
        })
        .await
    }

    /// A representative is ready; a call waiting for a person moves on at once.
    pub(super) async fn agent_joined(&self, id: Uuid, name: &str) -> Result<Outcome, BrokerError> {
        self.transact(id, |d| match d.agent_joined(name) {
            Ok(()) => Outcome::Applied,
            Err(refusal) => self.refusal(&d.session, refusal),
        })
        .await
    }

    pub(super) async fn open_case(
        &self,
        id: Uuid,
        note: &str,
        expectation: &str,
    ) -> Result<Outcome, BrokerError> {
        let cases = self
            .transact(id, |d| {
                d.open_case(note, expectation);
                d.session.cases.len()
            })
            .await?;
        tracing::info!(session_id = %id, "case opened");
        Ok(Outcome::CaseOpened { cases })
    }

    /// Stores the alert; when a text conversation serves its kind, that journey starts now.
    /// An alert no script serves is refused before anything is stored.
    pub(super) async fn raise_alert(&self, case: Case) -> Result<Outcome, BrokerError> {
        let text = self.scripts.for_text(&case);
        let call = self.scripts.for_call(&case, &[], Utc::now());
        if text.is_none() && call.is_none() {
            return Err(BrokerError::Unserved(match &case.script {
                Some(name) => format!("no script is named `{name}`"),
                None => format!("no script serves {} alerts", case.kind),
            }));
        }
        // The data must be what the journey's script reads; nothing is stored otherwise.
        let data = serde_json::Value::Object(case.data.clone());
        for script in text.iter().chain(call.iter()) {
            if let Err((field, problem)) = script.check_data(&data) {
                return Err(BrokerError::InvalidData { field, problem });
            }
        }
        let alert = Alert {
            id: Uuid::new_v4(),
            created_at: Utc::now(),
            status: AlertStatus::Open,
            case,
        };
        self.store.put_alert(&alert, self.config.alert_ttl).await?;
        tracing::info!(alert_id = %alert.id, kind = %alert.case.kind, "alert raised");
        let texted = match text {
            // The alert stands either way; `texted` tells the bank whether the question went out.
            Some(script) => Some(match self.start_text(&alert, &script).await {
                Ok(sent) => sent,
                Err(e) => {
                    tracing::error!(alert_id = %alert.id, error = %e, "could not start the text conversation");
                    false
                }
            }),
            None => None,
        };
        Ok(Outcome::AlertRaised { alert, texted })
    }
}
