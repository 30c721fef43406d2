//! What the page's screen sends: a button's action or a form's answer, taken only for the
//! screen the session shows now and only if that screen offers it. A refused one records
//! nothing and says why; one that passes is an event every channel sees and the call hears.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::{Broker, BrokerError, Outcome};
use crate::{
    script::{Script, form},
    session::{Draft, EventKind, ScreenAt},
};

/// Why the page's action or answer was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PageRefusal {
    /// The page answered a screen the session has moved on from.
    StaleScreen,
    /// The screen shown does not offer that action, form or decision.
    NotOffered,
    /// A field the form does not have.
    UnknownField,
    /// A value longer than any field takes.
    TooLong,
    /// Some fields break their rules; `errors` says which and how.
    Invalid,
    /// The form was answered already (on the page or by voice): the first answer stands.
    AlreadyAnswered,
    SessionClosed,
    /// The store is away: nothing was recorded; the page may send it again.
    Unavailable,
    /// Sent to the store but not confirmed in time: it may still land, and the page will see
    /// it as an event if it does.
    Unconfirmed,
}

impl Broker {
    /// The session's current screen as the page draws it.
    pub fn screen(&self, s: &crate::session::Session) -> Option<serde_json::Value> {
        let script = self.scripts.get(&s.script)?;
        crate::script::view::current(&script, s)
    }

    /// Whether the screen the session shows now offers what `offers` looks for.
    pub(super) fn offered(
        &self,
        s: &crate::session::Session,
        offers: impl Fn(&crate::script::screen::Screen) -> bool,
    ) -> bool {
        self.scripts
            .get(&s.script)
            .and_then(|script| {
                script
                    .current_screen(s)
                    .map(|(_, screen, _)| offers(screen))
            })
            .unwrap_or(false)
    }

    pub(super) async fn page_action(
        &self,
        id: Uuid,
        shown: u64,
        name: &str,
    ) -> Result<Outcome, BrokerError> {
        let script = self.script_of(id).await?;
        self.transact(id, |d| {
            let (screen, seq) = match on_screen(d, script.as_deref(), shown) {
                Ok(found) => found,
                Err(refusal) => return refused(refusal),
            };
            if !screen.actions().any(|a| a == name) {
                return refused(PageRefusal::NotOffered);
            }
            let at = d.session.screen.get_or_insert_with(|| ScreenAt {
                name: script
                    .as_ref()
                    .and_then(|s| s.screen.clone())
                    .unwrap_or_default(),
                seq,
                raised: Vec::new(),
            });
            // A second tap of the same button on the same screen repeats the first.
            if at.raised.iter().any(|r| r == name) {
                return Outcome::Applied;
            }
            d.emit(EventKind::PageAction {
                screen: seq,
                name: name.to_owned(),
            });
            Outcome::Applied
        })
        .await
    }

    pub(super) async fn page_submit(
        &self,
        id: Uuid,
        shown: u64,
        form_id: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<Outcome, BrokerError> {
        let script = self.script_of(id).await?;
        self.transact(id, |d| {
            let (screen, seq) = match on_screen(d, script.as_deref(), shown) {
                Ok(found) => found,
                Err(refusal) => return refused(refusal),
            };
            let (Some(script), Some(form)) = (script.as_deref(), screen.form(form_id)) else {
                return refused(PageRefusal::NotOffered);
            };
            if d.session.answers.contains_key(form_id) {
                return refused(PageRefusal::AlreadyAnswered);
            }
            match form::check(script, form, values, &d.session, d.now.date_naive()) {
                Ok(answer) => {
                    if answer.verified == Some(true) {
                        d.emit(EventKind::Verified);
                    }
                    d.emit(EventKind::PageSubmit {
                        screen: seq,
                        form: form_id.to_owned(),
                        values: answer.values,
                        by: crate::session::Channel::Web,
                    });
                    Outcome::Applied
                }
                Err(form::Refused::UnknownField(_)) => refused(PageRefusal::UnknownField),
                Err(form::Refused::TooLong(_)) => refused(PageRefusal::TooLong),
                Err(form::Refused::Fields(errors)) => {
                    // A credential that did not match is a try, kept like a keypad one.
                    if form
                        .fields
                        .iter()
                        .any(|f| f.expect.is_some() && errors.contains_key(&f.name))
                    {
                        d.emit(EventKind::VerifyFailed { tries: 1 });
                    }
                    Outcome::PageRefused {
                        reason: PageRefusal::Invalid,
                        errors,
                    }
                }
            }
        })
        .await
    }

    async fn script_of(&self, id: Uuid) -> Result<Option<std::sync::Arc<Script>>, BrokerError> {
        let session = self.session(id).await?;
        Ok(self.scripts.get(&session.script))
    }
}

fn refused(reason: PageRefusal) -> Outcome {
    Outcome::PageRefused {
        reason,
        errors: BTreeMap::new(),
    }
}

/// The screen shown now, if the page answered that showing.
fn on_screen<'s>(
    d: &Draft,
    script: Option<&'s Script>,
    shown: u64,
) -> Result<(&'s crate::script::screen::Screen, u64), PageRefusal> {
    if !d.session.is_open(d.now) {
        return Err(PageRefusal::SessionClosed);
    }
    let (_, screen, seq) = script
        .and_then(|s| s.current_screen(&d.session))
        .ok_or(PageRefusal::NotOffered)?;
    match seq == shown {
        true => Ok((screen, seq)),
        false => Err(PageRefusal::StaleScreen),
    }
}
