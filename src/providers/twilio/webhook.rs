//! Twilio webhooks at the boundary: the signature is checked against the configured public
//! URL, then the form becomes a typed call event.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::{Dialect, signature};
use crate::{
    providers::{
        plivo::signature as plivo,
        replay,
        signalwire::signature as signalwire,
        telnyx::signature as telnyx,
        vonage::{callback as vonage_callback, signature as vonage},
    },
    state::AppState,
    telephony::{CallInfo, CallStatus, Heard, InboundSms},
};

/// Webhook bodies are small forms (or Vonage's small JSON); anything bigger is not a provider.
pub const MAX_BODY: usize = 16 * 1024;

/// A form whose signature matched, in the dialect of the route it came to. Anything else is
/// refused with 403 before a byte of it is read.
pub struct SignedForm {
    pub dialect: Dialect,
    /// What the request is remembered by once answered, so a replay of it is refused: Plivo's
    /// nonce, Vonage's token id.
    pub replay_key: Option<String>,
    pub params: Vec<(String, String)>,
    /// `session` and `turn` from our own follow-up URLs, when present.
    pub query: Vec<(String, String)>,
}

impl SignedForm {
    /// Reads and checks a webhook to one of `dialect`'s routes.
    pub async fn read(dialect: Dialect, app: &AppState, req: Request) -> Result<Self, Response> {
        let path_and_query = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        // Headers, not the request, are borrowed: the request's body is not `Sync`, so a
        // borrow of it held over the body's read below would make the handler not `Send`.
        let headers = req.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        // cXML requests carry the signature under both names; SignalWire's own is checked.
        let hmac = match dialect {
            Dialect::SignalWire => header("x-signalwire-signature"),
            _ => header("x-twilio-signature"),
        };
        let (ed25519, timestamp) = (
            header("telnyx-signature-ed25519"),
            header("telnyx-timestamp"),
        );
        let plivo_v3 = (
            header("x-plivo-signature-v3"),
            header("x-plivo-signature-v3-nonce"),
        );
        let plivo_v2 = (
            header("x-plivo-signature-v2"),
            header("x-plivo-signature-v2-nonce"),
        );
        let bearer = header("authorization");
        let body = Bytes::from_request(req, app)
            .await
            .map_err(|_| forbidden())?;
        let url = app.config.public_url.join(&path_and_query);
        let path = req_path(&path_and_query);
        let config = &app.config;
        let form = match dialect {
            Dialect::Twilio => {
                let token = config.twilio.auth_token.expose_secret();
                if token.is_empty() {
                    tracing::warn!(
                        path,
                        "rejected a webhook: TANDEM_TWILIO_AUTH_TOKEN is not set, so no signature can be checked"
                    );
                    return Err(forbidden());
                }
                Self::verify(token, &url, &body, &hmac)
            }
            Dialect::SignalWire => config.signalwire.as_ref().and_then(|c| {
                let params = form(&body);
                signalwire::validate_form(c.signing_key.expose_secret(), &url, &params, &hmac)
                    .then(|| Self::unchecked(dialect, &url, params))
            }),
            Dialect::Telnyx => config.telnyx.as_ref().and_then(|c| {
                let now = chrono::Utc::now().timestamp();
                telnyx::validate(&c.public_key, &timestamp, &ed25519, &body, now)
                    .then(|| Self::unchecked(dialect, &url, form(&body)))
            }),
            Dialect::Plivo => match config.plivo.as_ref() {
                Some(c) => {
                    let token = c.auth_token.expose_secret();
                    let params = form(&body);
                    // Voice callbacks carry V3 (URL and parameters); messaging ones may carry
                    // only V2, which covers the URL and nonce alone: taken for texts only.
                    let (signed, nonce) = match (&plivo_v3, &plivo_v2) {
                        ((sig, nonce), _) if !sig.is_empty() => (
                            plivo::validate_v3(token, "POST", &url, &params, nonce, sig),
                            nonce,
                        ),
                        (_, (sig, nonce)) if path.ends_with("/plivo/sms") => {
                            (plivo::validate_v2(token, &url, nonce, sig), nonce)
                        }
                        _ => (false, &plivo_v3.1),
                    };
                    match signed && !nonce.is_empty() {
                        true if replay::seen(app, &format!("plivo:{nonce}")).await => {
                            tracing::warn!(path, "rejected a replayed Plivo webhook");
                            return Err(forbidden());
                        }
                        true => Some(Self {
                            replay_key: Some(format!("plivo:{nonce}")),
                            ..Self::unchecked(dialect, &url, params)
                        }),
                        false => None,
                    }
                }
                None => None,
            },
            Dialect::Vonage => match config.vonage.as_ref() {
                Some(c) => {
                    let now = chrono::Utc::now().timestamp();
                    let token = vonage::verify_callback(
                        c.signature_secret.expose_secret(),
                        &bearer,
                        &body,
                        now,
                    );
                    match token {
                        Some(token) => {
                            // A hold-loop notify changes nothing when repeated (it reads what
                            // the call is to hear, and an effect is claimed once by the
                            // session), and comes every few seconds from every waiting call:
                            // its token is not worth a record.
                            let key = token
                                .jti
                                .filter(|_| !path.ends_with("/vonage/hold"))
                                .map(|jti| format!("vonage:{jti}"));
                            if let Some(key) = &key
                                && replay::seen(app, key).await
                            {
                                tracing::warn!(path, "rejected a replayed Vonage callback");
                                return Err(forbidden());
                            }
                            vonage_callback::params(&body, &query_of(&url)).map(|params| Self {
                                replay_key: key,
                                ..Self::unchecked(dialect, &url, params)
                            })
                        }
                        None => None,
                    }
                }
                None => None,
            },
        };
        form.ok_or_else(|| {
            tracing::warn!(
                path,
                provider = dialect.name(),
                "rejected a webhook with a bad signature"
            );
            forbidden()
        })
    }

    /// The form, when `signature` is Twilio's for the request's public `url` (query included)
    /// and the form `body`; nothing is read from a form that is not signed.
    pub fn verify(auth_token: &str, url: &str, body: &[u8], signature: &str) -> Option<Self> {
        let params = form(body);
        if auth_token.is_empty()
            || signature.is_empty()
            || !signature::validate(auth_token, url, &params, signature)
        {
            return None;
        }
        Some(Self::unchecked(Dialect::Twilio, url, params))
    }

    /// A form whose signature has been checked.
    fn unchecked(dialect: Dialect, url: &str, params: Vec<(String, String)>) -> Self {
        Self {
            dialect,
            replay_key: None,
            params,
            query: query_of(url),
        }
    }

    /// A request whose origin was checked otherwise (Vonage's answer webhook, by the secret
    /// in its path), with the parameters it carries.
    pub fn trusted(dialect: Dialect, url: &str, params: Vec<(String, String)>) -> Self {
        Self::unchecked(dialect, url, params)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The call this webhook is about; `None` when the form is not a call webhook.
    pub fn call(&self) -> Option<CallInfo> {
        let call_id = self
            .get(self.dialect.call_id_param())
            .filter(|s| self.dialect.is_call_id(s))?;
        let bounded = |k: &str| {
            self.get(k)
                .filter(|v| v.len() <= 64)
                .unwrap_or_default()
                .to_owned()
        };
        Some(CallInfo {
            provider: self.dialect.name(),
            call_id: call_id.to_owned(),
            from: bounded("From"),
            to: bounded("To"),
            status: self.get("CallStatus").and_then(call_status),
        })
    }

    /// An inbound text: the sender (E.164) and the body (bounded).
    pub fn sms(&self) -> Option<InboundSms> {
        let from = self
            .get("From")
            .filter(|f| crate::session::alert::is_e164(f))?;
        let body = self.get(self.dialect.text_param()).unwrap_or_default();
        (body.len() <= 1600).then(|| InboundSms {
            provider: self.dialect.name(),
            from: from.to_owned(),
            body: body.to_owned(),
        })
    }

    /// What the caller answered a gather with: speech when recognised, else the keys.
    pub fn heard(&self) -> Option<Heard> {
        let digits = self.digits()?;
        Some(match self.speech() {
            Some(words) => Heard::Words(words.to_owned()),
            None => Heard::Keys(digits.to_owned()),
        })
    }

    /// Keys pressed; only digits, `*` and `#` count, at most 32 of them.
    pub fn digits(&self) -> Option<&str> {
        let d = self.get("Digits").unwrap_or_default();
        (d.len() <= 32
            && d.bytes()
                .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#'))
        .then_some(d)
    }

    /// What speech recognition heard, when the gather listened for speech.
    pub fn speech(&self) -> Option<&str> {
        self.get(self.dialect.speech_param())
            .filter(|s| !s.trim().is_empty() && s.len() <= 500)
    }

    /// When the store was first seen away, from our own hold-loop URL during an outage.
    pub fn outage_since(&self) -> Option<i64> {
        self.query
            .iter()
            .find(|(k, _)| k == "outage")
            .and_then(|(_, v)| v.parse().ok())
    }

    /// The session and turn our own follow-up URL carries.
    pub fn turn(&self) -> Option<(Uuid, u32)> {
        let get = |key: &str| {
            self.query
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        Some((get("session")?.parse().ok()?, get("turn")?.parse().ok()?))
    }
}

/// The parameters of `url`'s query: our own follow-up URLs' `session`, `turn`, `call`.
fn query_of(url: &str) -> Vec<(String, String)> {
    url.split_once('?')
        .map(|(_, q)| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn req_path(path_and_query: &str) -> &str {
    path_and_query.split('?').next().unwrap_or_default()
}

/// 403, as Twilio, SignalWire and Telnyx expect for a request that is not theirs.
fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, "invalid signature").into_response()
}

/// Twilio's `CallStatus` values; anything else is not a status we act on.
pub(crate) fn call_status(s: &str) -> Option<CallStatus> {
    Some(match s {
        "queued" => CallStatus::Queued,
        "ringing" => CallStatus::Ringing,
        "in-progress" => CallStatus::InProgress,
        "completed" => CallStatus::Completed,
        "busy" => CallStatus::Busy,
        "failed" => CallStatus::Failed,
        "no-answer" => CallStatus::NoAnswer,
        "canceled" => CallStatus::Canceled,
        // Plivo's words for the same ends.
        "timeout" => CallStatus::NoAnswer,
        "cancel" => CallStatus::Canceled,
        _ => return None,
    })
}
