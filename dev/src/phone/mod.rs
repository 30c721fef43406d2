//! The dev phone: a faithful stand-in for a provider's side of a call (Twilio, SignalWire,
//! Telnyx, Plivo or Vonage). It places calls by posting webhooks signed as that provider signs
//! them, follows the document it gets back (TwiML, Plivo XML, NCCO) with that provider's
//! semantics, and serves a fake of that provider's REST API so texts and live call updates
//! reach it. Tests and the benchmark drive calls through it.

pub mod call;
pub mod cli;
pub mod fake_api;
pub mod ncco;
pub mod page;
pub mod provider;
mod runner;
pub mod scenario;
pub mod terminal;
pub mod twiml;
pub mod voice;

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::sync::{Notify, mpsc};

pub use call::{Call, CallError, CallEvent, EndReason};
pub use provider::{Account, Dialect};
pub use voice::Voice;

#[derive(Clone, Debug)]
pub struct PhoneConfig {
    /// Where HTTP requests actually go, e.g. `http://127.0.0.1:8080`.
    pub server: String,
    /// The URL the server believes it has: webhooks are signed for it, and TwiML URLs under
    /// it are sent to `server` instead (as a proxy in front of the server would).
    pub public_url: String,
    /// The provider the phone plays and its account there.
    pub account: Account,
    pub voice_path: String,
    pub status_path: String,
    /// Multiplies `<Gather>` timeouts and `<Pause>` lengths; 1.0 is real time.
    pub timeout_scale: f64,
    /// How long speech takes: none in tests, a voice's time in the demo.
    pub voice: Voice,
}

/// A text message the server sent through the fake API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sms {
    pub to: String,
    pub from: String,
    pub body: String,
}

/// A request the fake REST API received, for tests to inspect. Its parameters are named as
/// Twilio names them (`To`, `Body`, `Twiml`, `Url`, `Status`) whatever the provider's own
/// names are, so one test reads any provider's.
#[derive(Clone, Debug)]
pub struct ApiRequest {
    pub kind: ApiKind,
    /// The call it is about, for call updates.
    pub call: Option<String>,
    pub path: String,
    pub form: Vec<(String, String)>,
    pub at: Instant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiKind {
    Message,
    CallUpdate,
}

/// What the fake API tells a call's task.
#[derive(Debug)]
pub(crate) enum Control {
    LiveUpdate {
        twiml: String,
        received: Instant,
    },
    /// A live update by URL: the call fetches its next document from there.
    Redirect {
        url: String,
        method: String,
        received: Instant,
    },
    Complete,
    CallerHangsUp,
}

#[derive(Clone)]
pub struct Phone {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: PhoneConfig,
    pub(crate) http: reqwest::Client,
    pub(crate) calls: Mutex<HashMap<String, mpsc::UnboundedSender<Control>>>,
    inbox: Mutex<HashMap<String, VecDeque<Sms>>>,
    delivered: Notify,
    requests: Mutex<Vec<ApiRequest>>,
}

impl Phone {
    pub fn new(config: PhoneConfig) -> Self {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            // Twilio gives up on a webhook after 15 seconds.
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client builds with static settings");
        let inner = Inner {
            config,
            http,
            calls: Mutex::default(),
            inbox: Mutex::default(),
            delivered: Notify::new(),
            requests: Mutex::default(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    pub fn config(&self) -> &PhoneConfig {
        &self.inner.config
    }

    /// Dials the server from `from` to `to`; the call runs in its own task.
    pub async fn place_call(&self, from: &str, to: &str) -> Call {
        runner::start(self.inner.clone(), from, to)
    }

    /// The next text sent to `to`, waiting up to `within`.
    pub async fn next_sms(&self, to: &str, within: Duration) -> Option<Sms> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.inner.delivered.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(sms) = self
                .inner
                .lock_inbox()
                .get_mut(to)
                .and_then(VecDeque::pop_front)
            {
                return Some(sms);
            }
            tokio::time::timeout_at(deadline, notified).await.ok()?;
        }
    }

    pub fn api_requests(&self) -> Vec<ApiRequest> {
        self.inner
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many texts the server sent with exactly this body.
    pub fn texts_sent(&self, body: &str) -> usize {
        self.api_requests()
            .iter()
            .filter(|r| r.kind == ApiKind::Message)
            .filter(|r| r.form.iter().any(|(k, v)| k == "Body" && v == body))
            .count()
    }

    /// The live updates the server sent to call `sid`.
    pub fn live_updates(&self, sid: &str) -> Vec<ApiRequest> {
        self.api_requests()
            .into_iter()
            .filter(|r| r.kind == ApiKind::CallUpdate && r.call.as_deref() == Some(sid))
            .collect()
    }
}

impl Inner {
    fn lock_inbox(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Sms>>> {
        self.inbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn deliver(&self, sms: Sms) {
        self.lock_inbox()
            .entry(sms.to.clone())
            .or_default()
            .push_back(sms);
        self.delivered.notify_waiters();
    }

    pub(crate) fn record(&self, request: ApiRequest) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: a long benchmark must not grow this forever.
        if requests.len() >= 100_000 {
            requests.drain(..50_000);
        }
        requests.push(request);
    }

    pub(crate) fn control(&self, call_sid: &str) -> Option<mpsc::UnboundedSender<Control>> {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(call_sid)
            .cloned()
    }
}

/// A webhook the server answered: the URL it was signed for, the answer, and how long the
/// server took from the request's sending to the end of its answer.
pub(crate) struct Delivered {
    pub url: String,
    pub status: u16,
    pub body: String,
    pub elapsed: Duration,
}

impl Inner {
    /// Sends a webhook as the provider does: signed for the public URL, delivered to the
    /// server. Errors read like Twilio's debugger.
    pub(crate) async fn signed_request(
        &self,
        url: &str,
        method: &str,
        params: Vec<(String, String)>,
    ) -> Result<Delivered, String> {
        let failure =
            |e: &dyn std::fmt::Display| format!("Error 11200: HTTP retrieval failure ({e})");
        // Vonage posts JSON for the same parameters, with the JWT over its body.
        let json = (self.config.account.dialect == Dialect::Vonage).then(|| {
            let event =
                url::Url::parse(url).is_ok_and(|u| u.path().ends_with(&self.config.status_path));
            ncco::callback(&params, event)
        });
        // GET webhooks carry their parameters in the query, and the signature covers them there.
        let (signed_url, form, body) = match (method, &json) {
            ("GET", _) => {
                let pairs: Vec<(String, String)> = match &json {
                    Some(object) => object
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect(),
                    None => params,
                };
                let mut u = url::Url::parse(url).map_err(|e| failure(&e))?;
                u.query_pairs_mut().extend_pairs(pairs.iter());
                (u.to_string(), vec![], String::new())
            }
            (_, Some(object)) => (url.to_owned(), vec![], object.to_string()),
            (_, None) => {
                let body = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(params.iter())
                    .finish();
                (url.to_owned(), params, body)
            }
        };
        let headers = self.config.account.sign_request(
            method,
            &signed_url,
            &form,
            body.as_bytes(),
            chrono::Utc::now().timestamp(),
        );
        let content_type = match json {
            Some(_) => "application/json",
            None => "application/x-www-form-urlencoded",
        };
        let mut request = match method {
            "GET" => self.http.get(self.target(&signed_url)),
            _ => self
                .http
                .post(self.target(&signed_url))
                .header("content-type", content_type)
                .body(body),
        };
        for (name, value) in headers {
            request = request.header(name, value);
        }
        // Timed from here: signing is the provider's work, the answer the server's.
        let sent = Instant::now();
        let response = request.send().await;
        let response = response.map_err(|e| failure(&e.without_url()))?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| failure(&e))?;
        Ok(Delivered {
            url: signed_url,
            status,
            body,
            elapsed: sent.elapsed(),
        })
    }

    /// Where a request to a public URL actually goes, as a proxy in front would send it.
    fn target(&self, public: &str) -> String {
        match public.strip_prefix(self.config.public_url.trim_end_matches('/')) {
            Some(rest) => format!("{}{rest}", self.config.server.trim_end_matches('/')),
            None => public.to_owned(),
        }
    }

    /// Posts a form with the headers given; status and body.
    pub(crate) async fn post_form(
        &self,
        url: &str,
        form: &[(String, String)],
        headers: Vec<(&'static str, String)>,
    ) -> Result<(u16, String), String> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.post(url, "application/x-www-form-urlencoded", body, headers)
            .await
    }

    /// Posts a signed JSON webhook (Telnyx's message events); status and body.
    pub(crate) async fn signed_json(&self, url: &str, body: &str) -> Result<(u16, String), String> {
        let headers = self.config.account.sign(url, &[], body.as_bytes());
        self.post(url, "application/json", body.to_owned(), headers)
            .await
    }

    async fn post(
        &self,
        url: &str,
        content_type: &str,
        body: String,
        headers: Vec<(&'static str, String)>,
    ) -> Result<(u16, String), String> {
        let failure = |e: &dyn std::fmt::Display| format!("HTTP retrieval failure ({e})");
        let mut request = self
            .http
            .post(self.target(url))
            .header("content-type", content_type)
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| failure(&e.without_url()))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| failure(&e))?;
        Ok((status, text))
    }
}

impl Phone {
    /// A text from `from` to the server's number, posted as the provider posts an inbound
    /// text (a TwiML-family form, or Telnyx's `message.received` event). Returns the HTTP
    /// status and the server's response body (TwiML, or nothing for Telnyx).
    pub async fn send_sms(
        &self,
        from: &str,
        to: &str,
        body: &str,
    ) -> Result<(u16, String), String> {
        let account = &self.inner.config.account;
        let public = self.inner.config.public_url.trim_end_matches('/');
        if account.dialect == Dialect::Telnyx {
            return self.telnyx_event(&telnyx_message(from, to, body)).await;
        }
        if account.dialect == Dialect::Vonage {
            return self.vonage_message(&vonage_message(from, to, body)).await;
        }
        let url = format!("{public}/{}/sms", account.dialect.name());
        if account.dialect == Dialect::Plivo {
            // Plivo's message webhook: its own names, signed by V2 (URL and nonce) only.
            let params: Vec<(String, String)> = [
                ("From", from),
                ("To", to),
                ("Text", body),
                ("Type", "sms"),
                ("MessageUUID", &uuid::Uuid::new_v4().to_string()),
                ("TotalRate", "0.00000"),
                ("Units", "1"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
            let headers = account.sign_v2(&url);
            return self.inner.post_form(&url, &params, headers).await;
        }
        let params: Vec<(String, String)> = [
            ("AccountSid", account.account_sid.as_str()),
            ("ApiVersion", "2010-04-01"),
            ("Body", body),
            ("From", from),
            ("MessageSid", &new_sid("SM")),
            ("NumMedia", "0"),
            ("SmsStatus", "received"),
            ("To", to),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let delivered = self.inner.signed_request(&url, "POST", params).await?;
        Ok((delivered.status, delivered.body))
    }

    /// Posts a Telnyx event as Telnyx delivers it (signed now, to `/telnyx/sms`), as often as
    /// asked: Telnyx may deliver one event more than once.
    pub async fn telnyx_event(&self, event: &serde_json::Value) -> Result<(u16, String), String> {
        let public = self.inner.config.public_url.trim_end_matches('/');
        self.inner
            .signed_json(&format!("{public}/telnyx/sms"), &event.to_string())
            .await
    }

    /// Posts an inbound message as Vonage's Messages API delivers it, signed now, to
    /// `/vonage/sms`, as often as asked: Vonage retries a message it could not deliver.
    pub async fn vonage_message(
        &self,
        message: &serde_json::Value,
    ) -> Result<(u16, String), String> {
        let public = self.inner.config.public_url.trim_end_matches('/');
        self.inner
            .signed_json(&format!("{public}/vonage/sms"), &message.to_string())
            .await
    }

    /// Texts the server and returns its answer, however the provider carries it: a
    /// `<Message>` in the webhook's response, or (Telnyx, Vonage) a text sent back through
    /// the API before the webhook was answered. `None` when it answered nothing.
    pub async fn text(&self, from: &str, to: &str, body: &str) -> Result<Option<String>, String> {
        // Texts already waiting for `from` are not the answer to this one.
        let waiting = self.inner.lock_inbox().get(from).map_or(0, VecDeque::len);
        let (status, answer) = self.send_sms(from, to, body).await?;
        if status != 200 {
            return Err(format!("HTTP {status}: {answer}"));
        }
        let dialect = self.inner.config.account.dialect;
        if matches!(dialect, Dialect::Telnyx | Dialect::Vonage) {
            if !answer.is_empty() {
                return Err(format!(
                    "{} reads no answer from a message webhook: {answer}",
                    dialect.name()
                ));
            }
            return Ok(self
                .inner
                .lock_inbox()
                .get_mut(from)
                .and_then(|inbox| inbox.remove(waiting))
                .map(|sms| sms.body));
        }
        let verbs = twiml::parse_messages(&answer).map_err(|e| format!("{e}: {answer}"))?;
        match verbs.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.clone())),
            more => Err(format!("{} messages in one answer: {answer}", more.len())),
        }
    }
}

/// A document in the dialect the phone plays, read into the phone's verbs: Plivo XML and
/// NCCO have their own, every other dialect is TwiML.
pub fn parse_document(dialect: Dialect, doc: &str) -> Result<Vec<twiml::Verb>, twiml::TwimlError> {
    match dialect {
        Dialect::Plivo => twiml::parse_plivo(doc),
        Dialect::Vonage => ncco::parse(doc),
        _ => twiml::parse(doc),
    }
}

/// Telnyx's `message.received` event for a text from `from` to `to`.
pub fn telnyx_message(from: &str, to: &str, body: &str) -> serde_json::Value {
    let now = chrono::Utc::now().to_rfc3339();
    serde_json::json!({
        "data": {
            "event_type": "message.received",
            "id": uuid::Uuid::new_v4(),
            "occurred_at": now,
            "payload": {
                "direction": "inbound",
                "from": {"carrier": "Telnyx", "line_type": "Wireless", "phone_number": from},
                "id": uuid::Uuid::new_v4(),
                "messaging_profile_id": uuid::Uuid::new_v4(),
                "parts": 1,
                "received_at": now,
                "record_type": "message",
                "text": body,
                "to": [{"phone_number": to, "status": "webhook_delivered"}],
                "type": "SMS",
            },
            "record_type": "event",
        },
        "meta": {"attempt": 1},
    })
}

/// The Messages API's inbound SMS for a text from `from` to `to`: numbers without `+`.
pub fn vonage_message(from: &str, to: &str, body: &str) -> serde_json::Value {
    serde_json::json!({
        "channel": "sms",
        "message_uuid": uuid::Uuid::new_v4(),
        "to": to.trim_start_matches('+'),
        "from": from.trim_start_matches('+'),
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "text": body,
        "sms": { "num_messages": "1" },
        "message_type": "text",
    })
}

/// A fresh Twilio-style call id.
pub fn new_call_sid() -> String {
    new_sid("CA")
}

/// The parameters the provider posts about an inbound call in status `status`: Twilio's,
/// which SignalWire and Telnyx's TeXML send too (Telnyx adds its own ids).
pub fn call_params(
    account: &Account,
    call_sid: &str,
    status: &str,
    from: &str,
    to: &str,
) -> Vec<(String, String)> {
    if account.dialect == Dialect::Plivo {
        let request = uuid::Uuid::new_v4().to_string();
        return [
            ("ALegRequestUUID", request.as_str()),
            ("ALegUUID", call_sid),
            ("BillRate", "0.0085"),
            ("CallStatus", status),
            ("CallUUID", call_sid),
            ("CallerName", from),
            ("Direction", "inbound"),
            ("Event", "StartApp"),
            ("From", from),
            ("RequestUUID", request.as_str()),
            ("SessionStart", "2026-12-07 21:00:00.000000"),
            ("STIRAttestation", "Not Applicable"),
            ("To", to),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    }
    let mut params: Vec<(String, String)> = [
        ("AccountSid", account.account_sid.as_str()),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", call_sid),
        ("CallStatus", status),
        ("Called", to),
        ("Caller", from),
        ("Direction", "inbound"),
        ("From", from),
        ("To", to),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    if account.dialect == Dialect::Telnyx {
        params.push((
            "CallSidLegacy".into(),
            format!("v3:{}", uuid::Uuid::new_v4()),
        ));
        params.push(("ConnectionId".into(), "1684641123236054244".into()));
    }
    params
}

impl Phone {
    /// Posts one signed webhook to `url` (a public URL) with `params`; status and body.
    pub async fn webhook(
        &self,
        url: &str,
        params: Vec<(String, String)>,
    ) -> Result<(u16, String), String> {
        let (status, body, _) = self.timed_webhook(url, params).await?;
        Ok((status, body))
    }

    /// [`Phone::webhook`], with the time the server took to answer it.
    pub async fn timed_webhook(
        &self,
        url: &str,
        params: Vec<(String, String)>,
    ) -> Result<(u16, String, Duration), String> {
        let d = self.inner.signed_request(url, "POST", params).await?;
        Ok((d.status, d.body, d.elapsed))
    }
}

/// `CA` or `SM` plus 32 hex digits, like Twilio's ids.
pub(crate) fn new_sid(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}
