//! The simulated call itself: a task that fetches TwiML with signed webhooks and executes it
//! verb by verb, as Twilio does, while a live update may replace the document at any moment.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::sync::mpsc;

use super::{
    Control, Dialect, Inner,
    call::{Call, CallEvent, CallerInput, EndReason},
    twiml::{Gather, Verb},
};

pub(super) fn start(phone: Arc<Inner>, from: &str, to: &str) -> Call {
    let sid = phone.config.account.new_call_id();
    let (events_tx, events) = mpsc::unbounded_channel();
    let (keys, keys_rx) = mpsc::unbounded_channel();
    let (control, control_rx) = mpsc::unbounded_channel();
    phone
        .calls
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(sid.clone(), control.clone());
    let transcript = Arc::new(Mutex::new(Vec::new()));
    let ctx = Ctx {
        phone,
        sid: sid.clone(),
        from: from.to_owned(),
        to: to.to_owned(),
        events: events_tx,
        transcript: transcript.clone(),
        started: Instant::now(),
    };
    let task = spawn(ctx, keys_rx, control_rx);
    Call {
        sid,
        events,
        keys,
        control,
        transcript,
        task,
    }
}

/// Starts the call's task.
fn spawn(
    ctx: Ctx,
    keys: mpsc::UnboundedReceiver<CallerInput>,
    control: mpsc::UnboundedReceiver<Control>,
) -> tokio::task::JoinHandle<()> {
    let task = CallTask {
        ctx: Arc::new(ctx),
        keys,
        control,
        doc_url: String::new(),
        verbs: VecDeque::new(),
        redirect: None,
        status_seq: 0,
    };
    tokio::spawn(task.run())
}

/// What a `<Gather>` collected.
enum Gathered {
    Keys(String, Option<char>),
    Speech(String),
}

/// Where the next document comes from.
#[derive(Default)]
struct Fetch {
    url: String,
    method: String,
    extra: Vec<(String, String)>,
    /// A Vonage `notify`: an answer with no actions lets the current NCCO go on.
    continues: bool,
}

/// What interrupted the current verb.
enum Interrupt {
    Replaced,
    End(EndReason),
}

/// The call's fixed facts, shared with requests in flight.
struct Ctx {
    phone: Arc<Inner>,
    sid: String,
    from: String,
    to: String,
    events: mpsc::UnboundedSender<CallEvent>,
    transcript: Arc<Mutex<Vec<String>>>,
    started: Instant,
}

struct CallTask {
    ctx: Arc<Ctx>,
    keys: mpsc::UnboundedReceiver<CallerInput>,
    control: mpsc::UnboundedReceiver<Control>,
    doc_url: String,
    verbs: VecDeque<Verb>,
    /// A live update by URL waiting to be fetched, with when the update arrived.
    redirect: Option<(Fetch, Instant)>,
    status_seq: u32,
}

impl Ctx {
    fn public(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.phone.config.public_url.trim_end_matches('/')
        )
    }

    fn emit(&self, event: CallEvent) {
        if let CallEvent::Said(text) = &event {
            self.transcript
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(text.clone());
        }
        let _ = self.events.send(event);
    }
}

impl CallTask {
    async fn run(mut self) {
        // Vonage fetches its answer URL by GET unless told otherwise.
        let method = match self.ctx.phone.config.account.dialect {
            Dialect::Vonage => "GET",
            _ => "POST",
        };
        let first = Fetch {
            url: self.ctx.public(&self.ctx.phone.config.voice_path),
            method: method.into(),
            ..Fetch::default()
        };
        let reason = self.execute(Some(first)).await;
        self.emit(CallEvent::Ended(reason.clone()));
        self.ctx
            .phone
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.ctx.sid);
        self.status_callback(&reason).await;
    }

    fn emit(&self, event: CallEvent) {
        self.ctx.emit(event);
    }

    /// Runs documents until the call ends; returns why it ended.
    async fn execute(&mut self, mut fetch: Option<Fetch>) -> EndReason {
        loop {
            let mut update = None;
            if fetch.is_none()
                && let Some((f, received)) = self.redirect.take()
            {
                fetch = Some(f);
                update = Some(received);
            }
            if let Some(f) = fetch.take() {
                let status = if self.doc_url.is_empty() {
                    "ringing"
                } else {
                    "in-progress"
                };
                let ctx = self.ctx.clone();
                let result = tokio::select! {
                    r = ctx.webhook(&f, status) => r,
                    c = self.control.recv() => match self.on_control(c) {
                        Interrupt::Replaced => continue,
                        Interrupt::End(reason) => return reason,
                    },
                };
                let dialect = self.ctx.phone.config.account.dialect;
                let parsed = result.and_then(|doc| {
                    // A notify answered with nothing (an empty body, `[]`) lets the NCCO go on.
                    if f.continues && matches!(doc.trim(), "" | "[]") {
                        return Ok((doc, None));
                    }
                    match super::parse_document(dialect, &doc) {
                        Ok(verbs) => Ok((doc, Some(verbs))),
                        Err(e) => Err(e.to_string()),
                    }
                });
                match parsed {
                    Ok((_, None)) => {}
                    Ok((doc, Some(verbs))) => {
                        if let Some(received) = update {
                            self.emit(CallEvent::LiveUpdate {
                                twiml: doc,
                                received,
                            });
                        }
                        self.doc_url = f.url;
                        self.verbs = verbs.into();
                    }
                    Err(message) => return self.fail(message),
                }
            }
            let Some(verb) = self.verbs.pop_front() else {
                return EndReason::ServerHangup;
            };
            match self.verb(verb).await {
                Ok(next) => fetch = next,
                Err(Interrupt::Replaced) => {}
                Err(Interrupt::End(reason)) => return reason,
            }
        }
    }

    fn fail(&self, message: String) -> EndReason {
        self.emit(CallEvent::Error(message.clone()));
        EndReason::Error(message)
    }

    fn on_control(&mut self, control: Option<Control>) -> Interrupt {
        match control {
            Some(Control::LiveUpdate { twiml, received }) => {
                self.emit(CallEvent::LiveUpdate {
                    twiml: twiml.clone(),
                    received,
                });
                match super::parse_document(self.ctx.phone.config.account.dialect, &twiml) {
                    Ok(verbs) => {
                        self.verbs = verbs.into();
                        Interrupt::Replaced
                    }
                    Err(e) => Interrupt::End(self.fail(e.to_string())),
                }
            }
            Some(Control::Redirect {
                url,
                method,
                received,
            }) => {
                let url = self.resolve(&url);
                self.verbs.clear();
                self.redirect = Some((
                    Fetch {
                        url,
                        method,
                        ..Fetch::default()
                    },
                    received,
                ));
                Interrupt::Replaced
            }
            Some(Control::Complete) => Interrupt::End(EndReason::LiveUpdateCompleted),
            Some(Control::CallerHangsUp) | None => Interrupt::End(EndReason::CallerHangup),
        }
    }

    /// Executes one verb; `Ok(Some(fetch))` when it leads to a new document.
    async fn verb(&mut self, verb: Verb) -> Result<Option<Fetch>, Interrupt> {
        match verb {
            Verb::Say { text, loops } => {
                for _ in 0..loops.clamp(1, 10) {
                    self.emit(CallEvent::Said(text.clone()));
                    let (voice, scale) = (
                        self.ctx.phone.config.voice,
                        self.ctx.phone.config.timeout_scale,
                    );
                    tokio::select! {
                        () = voice.say(&text, scale) => {}
                        c = self.control.recv() => return Err(self.on_control(c)),
                    }
                }
            }
            Verb::Play { url, .. } => self.emit(CallEvent::Played(url)),
            Verb::Pause { length } => self.pause(length).await?,
            Verb::Gather(g) => return self.gather(g).await,
            Verb::Redirect { url, method } => {
                return Ok(Some(Fetch {
                    url: self.resolve(&url),
                    method,
                    ..Fetch::default()
                }));
            }
            Verb::Notify {
                url,
                method,
                payload,
            } => {
                return Ok(Some(Fetch {
                    url: self.resolve(&url),
                    method,
                    extra: vec![("payload".to_owned(), payload)],
                    continues: true,
                }));
            }
            Verb::Hangup => return Err(Interrupt::End(EndReason::ServerHangup)),
            Verb::Reject { .. } => return Err(Interrupt::End(EndReason::Rejected)),
            Verb::Dial { number } => {
                self.emit(CallEvent::Transferred(number));
                return Err(Interrupt::End(EndReason::Transferred));
            }
            Verb::Enqueue { name } => {
                self.emit(CallEvent::Enqueued(name));
                return Err(Interrupt::End(EndReason::Transferred));
            }
        }
        Ok(None)
    }

    fn scaled(&self, secs: u32) -> Duration {
        Duration::from_secs_f64(f64::from(secs) * self.ctx.phone.config.timeout_scale)
    }

    async fn pause(&mut self, length: u32) -> Result<(), Interrupt> {
        self.emit(CallEvent::Paused(length));
        let wait = self.scaled(length);
        tokio::select! {
            () = tokio::time::sleep(wait) => Ok(()),
            c = self.control.recv() => Err(self.on_control(c)),
        }
    }

    async fn gather(&mut self, g: Gather) -> Result<Option<Fetch>, Interrupt> {
        // The timeout runs from the end of the nested speech, as on Twilio; a key or words
        // during it stop the speech and count as the start of the answer (barge-in).
        let mut early = None;
        for child in g.children.clone() {
            early = match child {
                Verb::Pause { length } => {
                    self.pause(length).await?;
                    None
                }
                Verb::Say { text, loops } => self.say_listening(&text, loops).await?,
                other => {
                    Box::pin(self.verb(other)).await?;
                    None
                }
            };
            if early.is_some() {
                break;
            }
        }
        self.emit(CallEvent::Gathering {
            num_digits: g.num_digits,
            timeout: g.timeout,
        });
        let extra = match self.collect(&g, early).await? {
            Gathered::Speech(words) => {
                self.emit(CallEvent::Spoke(words.clone()));
                match self.ctx.phone.config.account.dialect {
                    Dialect::Plivo => vec![
                        ("InputType".to_owned(), "speech".to_owned()),
                        ("Speech".to_owned(), words),
                        ("SpeechConfidenceScore".to_owned(), "0.92".to_owned()),
                    ],
                    _ => vec![
                        ("SpeechResult".to_owned(), words),
                        ("Confidence".to_owned(), "0.92".to_owned()),
                    ],
                }
            }
            // TeXML has no actionOnEmptyResult: a silent gather always runs on.
            Gathered::Keys(digits, _)
                if digits.is_empty()
                    && !(g.action_on_empty_result
                        && self.ctx.phone.config.account.dialect.posts_empty_gathers()) =>
            {
                return Ok(None);
            }
            Gathered::Keys(digits, finished_on) => {
                self.emit(CallEvent::DigitsSent(digits.clone()));
                let mut extra = vec![("Digits".to_owned(), digits)];
                if self.ctx.phone.config.account.dialect == Dialect::Plivo {
                    extra.push(("InputType".to_owned(), "dtmf".to_owned()));
                }
                if let Some(key) = finished_on {
                    extra.push(("FinishedOnKey".into(), key.to_string()));
                }
                extra
            }
        };
        let url = self.resolve(g.action.as_deref().unwrap_or(&self.doc_url.clone()));
        self.verbs.clear();
        Ok(Some(Fetch {
            url,
            method: g.method,
            extra,
            ..Fetch::default()
        }))
    }

    /// Collects keys until numDigits, the finish key, or `timeout` seconds without a key; or
    /// words, when the gather listens for speech.
    async fn collect(
        &mut self,
        g: &Gather,
        mut early: Option<CallerInput>,
    ) -> Result<Gathered, Interrupt> {
        let mut digits = String::new();
        let timeout = self.scaled(g.timeout);
        let listens = g.input.split_whitespace().any(|i| i == "speech");
        loop {
            let input = match early.take() {
                Some(input) => Some(input),
                None => tokio::select! {
                    input = self.keys.recv() => input,
                    () = tokio::time::sleep(timeout) => return Ok(Gathered::Keys(digits, None)),
                    c = self.control.recv() => return Err(self.on_control(c)),
                },
            };
            let key = match input {
                None => return Ok(Gathered::Keys(digits, None)),
                Some(CallerInput::Words(words)) if listens => return Ok(Gathered::Speech(words)),
                Some(CallerInput::Words(_)) => continue,
                Some(CallerInput::Key(key)) => key,
            };
            if g.finish_on_key.contains(key) {
                return Ok(Gathered::Keys(digits, Some(key)));
            }
            digits.push(key);
            if g.num_digits.is_some_and(|n| digits.len() >= n as usize) {
                return Ok(Gathered::Keys(digits, None));
            }
        }
    }

    /// Says a `<Gather>`'s nested text; what the caller pressed or said meanwhile, if anything.
    async fn say_listening(
        &mut self,
        text: &str,
        loops: u32,
    ) -> Result<Option<CallerInput>, Interrupt> {
        let (voice, scale) = (
            self.ctx.phone.config.voice,
            self.ctx.phone.config.timeout_scale,
        );
        for _ in 0..loops.clamp(1, 10) {
            self.emit(CallEvent::Said(text.to_owned()));
            // Speech that takes no time (tests) is over before any key can interrupt it.
            tokio::select! {
                biased;
                () = voice.say(text, scale) => {}
                c = self.control.recv() => return Err(self.on_control(c)),
                Some(input) = self.keys.recv() => return Ok(Some(input)),
            }
        }
        Ok(None)
    }

    /// Resolves a TwiML URL against the current document's URL.
    fn resolve(&self, url: &str) -> String {
        let base = if self.doc_url.is_empty() {
            self.ctx.public("/")
        } else {
            self.doc_url.clone()
        };
        url::Url::parse(&base)
            .and_then(|b| b.join(url))
            .map(String::from)
            .unwrap_or_else(|_| url.to_owned())
    }

    /// Twilio's status callback once the call is over.
    async fn status_callback(&mut self, reason: &EndReason) {
        let status = match reason {
            EndReason::Rejected => "busy",
            _ => "completed",
        };
        self.status_seq += 1;
        let mut params = self.ctx.base_params(status);
        params.push((
            "CallDuration".into(),
            self.ctx.started.elapsed().as_secs().to_string(),
        ));
        params.push(("SequenceNumber".into(), self.status_seq.to_string()));
        params.push(("CallbackSource".into(), "call-progress-events".into()));
        params.push(("Timestamp".into(), chrono::Utc::now().to_rfc2822()));
        let url = self.ctx.public(&self.ctx.phone.config.status_path);
        let _ = self.ctx.send(&url, "POST", params).await;
    }
}

impl Ctx {
    fn base_params(&self, status: &str) -> Vec<(String, String)> {
        super::call_params(
            &self.phone.config.account,
            &self.sid,
            status,
            &self.from,
            &self.to,
        )
    }

    async fn webhook(&self, f: &Fetch, status: &str) -> Result<String, String> {
        let mut params = self.base_params(status);
        params.extend(f.extra.iter().cloned());
        self.send(&f.url, &f.method, params)
            .await
            .map(|(_, text)| text)
    }

    /// Posts (or GETs) a signed webhook; returns the status and body.
    async fn send(
        &self,
        url: &str,
        method: &str,
        params: Vec<(String, String)>,
    ) -> Result<(u16, String), String> {
        let delivered = self.phone.signed_request(url, method, params).await?;
        let (status, text) = (delivered.status, delivered.body);
        self.emit(CallEvent::Webhook {
            url: delivered.url,
            status,
            elapsed: delivered.elapsed,
        });
        if status != 200 {
            return Err(format!(
                "Error 11200: HTTP retrieval failure (HTTP {status})"
            ));
        }
        Ok((status, text))
    }
}
