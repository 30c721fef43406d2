//! One simulated call, as its user holds it: keys and words in, what was heard and how the
//! call ended out. The call itself runs in [`super::runner`].

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::sync::mpsc;

use super::Control;

#[derive(Clone, Debug, PartialEq)]
pub enum CallEvent {
    Webhook {
        url: String,
        status: u16,
        elapsed: Duration,
    },
    Said(String),
    Played(String),
    Paused(u32),
    Gathering {
        num_digits: Option<u32>,
        timeout: u32,
    },
    DigitsSent(String),
    /// What the caller said to a `<Gather>` listening for speech.
    Spoke(String),
    LiveUpdate {
        twiml: String,
        received: Instant,
    },
    Transferred(String),
    Enqueued(String),
    /// Twilio's debugger message, e.g. "Error 12100: Document parse failure".
    Error(String),
    Ended(EndReason),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    ServerHangup,
    CallerHangup,
    Rejected,
    Transferred,
    Error(String),
    LiveUpdateCompleted,
}

#[derive(Debug, thiserror::Error)]
#[error("{wanted}; the call said so far: {transcript:?}")]
pub struct CallError {
    pub wanted: String,
    pub transcript: Vec<String>,
}

/// The test's or user's handle on a call.
pub struct Call {
    pub sid: String,
    pub(super) events: mpsc::UnboundedReceiver<CallEvent>,
    pub(super) keys: mpsc::UnboundedSender<CallerInput>,
    pub(super) control: mpsc::UnboundedSender<Control>,
    pub(super) transcript: Arc<Mutex<Vec<String>>>,
    pub(super) task: tokio::task::JoinHandle<()>,
}

impl Call {
    /// Says something into the phone. A `<Gather>` listening for speech posts it as
    /// `SpeechResult`; one that takes keys only ignores it, as Twilio does.
    pub fn say(&self, words: &str) {
        let _ = self.keys.send(CallerInput::Words(words.to_owned()));
    }

    /// Presses keys. Keys pressed before a `<Gather>` starts wait for it, like type-ahead.
    pub fn press(&self, digits: &str) {
        for key in digits.chars() {
            let _ = self.keys.send(CallerInput::Key(key));
        }
    }

    /// Hangs up if the call is still going, and returns once its status callback has been
    /// delivered, so a program can exit without cutting the call's last word.
    pub async fn finish(self) {
        let _ = self.control.send(Control::CallerHangsUp);
        let _ = self.task.await;
    }

    /// The caller hangs up; the phone then posts the status callback.
    pub async fn hang_up(&self) {
        let _ = self.control.send(Control::CallerHangsUp);
    }

    pub async fn next_event(&mut self, within: Duration) -> Option<CallEvent> {
        tokio::time::timeout(within, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    pub fn transcript(&self) -> Vec<String> {
        self.transcript
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits for the call to say something containing `phrase` (any case); returns it.
    pub async fn expect_said(
        &mut self,
        phrase: &str,
        within: Duration,
    ) -> Result<String, CallError> {
        let wanted = phrase.to_lowercase();
        self.expect(&format!("to hear {phrase:?}"), within, |e| match e {
            CallEvent::Said(text) if text.to_lowercase().contains(&wanted) => Some(text.clone()),
            _ => None,
        })
        .await
    }

    /// Waits for the call to say something containing any of `phrases` (any case); returns it.
    pub async fn expect_said_one_of(
        &mut self,
        phrases: &[&str],
        within: Duration,
    ) -> Result<String, CallError> {
        let wanted: Vec<String> = phrases.iter().map(|p| p.to_lowercase()).collect();
        self.expect(
            &format!("to hear one of {phrases:?}"),
            within,
            |e| match e {
                CallEvent::Said(text) if wanted.iter().any(|w| text.to_lowercase().contains(w)) => {
                    Some(text.clone())
                }
                _ => None,
            },
        )
        .await
    }

    pub async fn expect_gathering(&mut self, within: Duration) -> Result<(), CallError> {
        self.expect("a <Gather>", within, |e| {
            matches!(e, CallEvent::Gathering { .. }).then_some(())
        })
        .await
    }

    pub async fn expect_ended(&mut self, within: Duration) -> Result<EndReason, CallError> {
        self.expect("the call to end", within, |e| match e {
            CallEvent::Ended(reason) => Some(reason.clone()),
            _ => None,
        })
        .await
    }

    async fn expect<T>(
        &mut self,
        wanted: &str,
        within: Duration,
        mut hit: impl FnMut(&CallEvent) -> Option<T>,
    ) -> Result<T, CallError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .ok()
                .flatten();
            let Some(event) = event else {
                return Err(CallError {
                    wanted: format!("expected {wanted}, timed out"),
                    transcript: self.transcript(),
                });
            };
            if let Some(found) = hit(&event) {
                return Ok(found);
            }
            if let CallEvent::Ended(reason) = event {
                return Err(CallError {
                    wanted: format!("expected {wanted}, call ended: {reason:?}"),
                    transcript: self.transcript(),
                });
            }
        }
    }
}

/// What the caller does into the phone.
#[derive(Debug)]
pub(super) enum CallerInput {
    Key(char),
    Words(String),
}
