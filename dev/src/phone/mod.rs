//! The dev phone: a faithful stand-in for Twilio's side of a call. It places calls by posting
//! signed webhooks, follows the TwiML it gets back, and serves a fake Twilio REST API so
//! texts and live call updates reach it. Tests and the benchmark drive calls through it.

pub mod call;
pub mod cli;
pub mod fake_api;
pub mod page;
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

use tandem::providers::twilio::signature;

pub use call::{Call, CallError, CallEvent, EndReason};
pub use voice::Voice;

#[derive(Clone, Debug)]
pub struct PhoneConfig {
    /// Where HTTP requests actually go, e.g. `http://127.0.0.1:8080`.
    pub server: String,
    /// The URL the server believes it has: webhooks are signed for it, and TwiML URLs under
    /// it are sent to `server` instead (as a proxy in front of the server would).
    pub public_url: String,
    pub account_sid: String,
    pub auth_token: String,
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

/// A request the fake REST API received, for tests to inspect.
#[derive(Clone, Debug)]
pub struct ApiRequest {
    pub path: String,
    pub form: Vec<(String, String)>,
    pub at: Instant,
}

/// What the fake API tells a call's task.
#[derive(Debug)]
pub(crate) enum Control {
    LiveUpdate { twiml: String, received: Instant },
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

impl Inner {
    /// Sends a webhook as Twilio does: signed for the public URL, delivered to the server.
    /// Returns the signed URL, the status and the body; errors read like Twilio's debugger.
    pub(crate) async fn signed_request(
        &self,
        url: &str,
        method: &str,
        params: Vec<(String, String)>,
    ) -> Result<(String, u16, String), String> {
        let failure =
            |e: &dyn std::fmt::Display| format!("Error 11200: HTTP retrieval failure ({e})");
        // GET webhooks carry their parameters in the query, and the signature covers them there.
        let (signed_url, form) = match method {
            "GET" => {
                let mut u = url::Url::parse(url).map_err(|e| failure(&e))?;
                u.query_pairs_mut().extend_pairs(params.iter());
                (u.to_string(), vec![])
            }
            _ => (url.to_owned(), params),
        };
        let signature = signature::sign(&self.config.auth_token, &signed_url, &form);
        let target = match signed_url.strip_prefix(self.config.public_url.trim_end_matches('/')) {
            Some(rest) => format!("{}{rest}", self.config.server.trim_end_matches('/')),
            None => signed_url.clone(),
        };
        let request = match method {
            "GET" => self.http.get(&target),
            _ => self.http.post(&target).form(&form),
        };
        let response = request.header("X-Twilio-Signature", signature).send().await;
        let response = response.map_err(|e| failure(&e.without_url()))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| failure(&e))?;
        Ok((signed_url, status, text))
    }
}

impl Phone {
    /// A text from `from` to the server's number, posted like Twilio's Messaging webhook.
    /// Returns the HTTP status and the server's answer (TwiML).
    pub async fn send_sms(
        &self,
        from: &str,
        to: &str,
        body: &str,
    ) -> Result<(u16, String), String> {
        let params: Vec<(String, String)> = [
            ("AccountSid", self.inner.config.account_sid.as_str()),
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
        let url = format!(
            "{}/twilio/sms",
            self.inner.config.public_url.trim_end_matches('/')
        );
        let (_, status, text) = self.inner.signed_request(&url, "POST", params).await?;
        Ok((status, text))
    }
}

/// A fresh Twilio-style call id.
pub fn new_call_sid() -> String {
    new_sid("CA")
}

/// The parameters Twilio posts about an inbound call in status `status`.
pub fn call_params(
    account_sid: &str,
    call_sid: &str,
    status: &str,
    from: &str,
    to: &str,
) -> Vec<(String, String)> {
    [
        ("AccountSid", account_sid),
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
    .collect()
}

impl Phone {
    /// Posts one signed webhook to `url` (a public URL) with `params`; status and body.
    pub async fn webhook(
        &self,
        url: &str,
        params: Vec<(String, String)>,
    ) -> Result<(u16, String), String> {
        let (_, status, text) = self.inner.signed_request(url, "POST", params).await?;
        Ok((status, text))
    }
}

/// `CA` or `SM` plus 32 hex digits, like Twilio's ids.
pub(crate) fn new_sid(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}
