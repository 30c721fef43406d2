//! Typed configuration read once from `TANDEM_*` environment variables and validated at start.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use secrecy::SecretString;

/// Everything a node needs to run; built by [`Config::from_env`] or directly by tests.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address the HTTP server binds (`TANDEM_LISTEN`, default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// Base URL the outside world uses to reach this deployment (`TANDEM_PUBLIC_URL`).
    /// Twilio signs this URL, links are built from it and websocket `Origin` must match it,
    /// so behind a proxy it is the proxy's URL, not the node's.
    pub public_url: PublicUrl,
    /// Redis URL (`TANDEM_REDIS_URL`), or several comma-separated (the seed nodes of a Redis
    /// Cluster); unset means the embedded in-process store.
    pub redis_url: Option<String>,
    /// Bearer key for the bank-facing API (`TANDEM_API_KEY`); unset disables that API.
    pub api_key: Option<SecretString>,
    /// The voice providers this node serves, each under its own path prefix (`/twilio/…`,
    /// `/signalwire/…`, `/telnyx/…`), from `TANDEM_PROVIDERS` (default `twilio`). The first
    /// one sends texts that no call or inbound text ties to a provider.
    pub providers: Vec<&'static str>,
    /// Whether `TANDEM_PROVIDERS` named the providers: then each one's credentials are
    /// required at start. The default Twilio-only node starts without them (and says so).
    pub providers_named: bool,
    pub twilio: TwilioConfig,
    pub signalwire: Option<SignalWireConfig>,
    pub telnyx: Option<TelnyxConfig>,
    pub plivo: Option<PlivoConfig>,
    pub vonage: Option<VonageConfig>,
    /// The header the bank's single sign-on proxy names the signed-in desk account in
    /// (`TANDEM_DESK_AUTH_HEADER`, e.g. `x-auth-request-user`); unset: the desk signs in with
    /// passwords only. Only set it when every request reaches the nodes through that proxy,
    /// which must drop the header from what clients send.
    pub desk_auth_header: Option<String>,
    /// Number texts are sent from (`TANDEM_SMS_FROM`).
    pub sms_from: String,
    /// Number a caller is transferred to when the script or the system gives up (`TANDEM_AGENT_NUMBER`).
    pub agent_number: Option<String>,
    /// Folder holding the IVR flows (`TANDEM_SCRIPTS_DIR`, default `ivr-scripts`).
    pub scripts_dir: PathBuf,
    /// Lifetime of a session, its link and its event log (`TANDEM_SESSION_TTL_SECS`, default 3600).
    pub session_ttl: Duration,
    /// How long an alert stays open waiting for the customer's call (`TANDEM_ALERT_TTL_SECS`, default 7 days).
    pub alert_ttl: Duration,
    /// How long a customer's interaction history is kept (`TANDEM_HISTORY_DAYS`, default 400).
    pub history_keep: Duration,
    /// How long a desk sign-in lasts (`TANDEM_DESK_SIGN_IN_SECS`, default 36000: a working day).
    pub desk_sign_in: Duration,
    /// Longest a hold-loop webhook is held open waiting for an event (`TANDEM_HOLD_POLL_MS`,
    /// default 8000): Twilio gives up on a webhook after 15 s.
    pub hold_poll: Duration,
    /// How long a call this node has answered may send no webhook before the provider is asked
    /// whether it is over (`TANDEM_QUIET_CALL_MS`, default 120000): its status callback may
    /// have been lost. More than any live call is silent — the longest speech and gather, two
    /// hold polls — so a live call is asked about at most this often, a gone one closed.
    pub quiet_call: Duration,
    /// `text` or `json` log lines (`TANDEM_LOG_FORMAT`, default `text`).
    pub log_json: bool,
    /// Header the load balancer puts the client's address in (`TANDEM_CLIENT_IP_HEADER`, e.g.
    /// `x-forwarded-for`, whose last entry is used); unset means the connection's address.
    /// Link failures are limited per client, so only name a header the proxy always sets.
    pub client_ip_header: Option<String>,
    /// How many proxies of the deployment's own stand in front of the nodes
    /// (`TANDEM_TRUSTED_PROXIES`, default 1): each appends the address it was reached from to
    /// `TANDEM_CLIENT_IP_HEADER`, so the client is that many entries from the right. Whatever
    /// the client wrote further left is never read.
    pub trusted_proxies: usize,
    /// How long a client has to send a request's head, and how long a keep-alive connection
    /// may sit idle (`TANDEM_HEADER_TIMEOUT_MS`, default 10000): slow or silent clients are
    /// not held.
    pub header_timeout: Duration,
    /// Connections one node holds at once, websockets included (`TANDEM_MAX_CONNECTIONS`,
    /// default 18000, under the 20,000 files a process may open here); more wait in the
    /// kernel's queue.
    pub max_connections: usize,
}

#[derive(Clone, Debug)]
pub struct TwilioConfig {
    /// `TANDEM_TWILIO_ACCOUNT_SID`.
    pub account_sid: String,
    /// `TANDEM_TWILIO_AUTH_TOKEN`: verifies webhooks and authenticates REST calls.
    pub auth_token: SecretString,
    /// `TANDEM_TWILIO_API_BASE`, default `https://api.twilio.com`.
    pub api_base: String,
}

/// SignalWire's Compatibility (cXML) API, read when `signalwire` is among the providers.
#[derive(Clone, Debug)]
pub struct SignalWireConfig {
    /// `TANDEM_SIGNALWIRE_PROJECT_ID`: the project's id, a UUID (cXML's `AccountSid`).
    pub project_id: String,
    /// `TANDEM_SIGNALWIRE_API_TOKEN`: authenticates REST calls.
    pub api_token: SecretString,
    /// `TANDEM_SIGNALWIRE_SIGNING_KEY`: verifies webhooks.
    pub signing_key: SecretString,
    /// `TANDEM_SIGNALWIRE_SPACE_URL`, e.g. `https://example.signalwire.com`.
    pub space_url: String,
}

/// Telnyx's TeXML, read when `telnyx` is among the providers.
#[derive(Clone, Debug)]
pub struct TelnyxConfig {
    /// `TANDEM_TELNYX_API_KEY`: authenticates REST calls (Bearer).
    pub api_key: SecretString,
    /// `TANDEM_TELNYX_PUBLIC_KEY`: the account's base64 Ed25519 public key; verifies webhooks.
    pub public_key: ed25519_dalek::VerifyingKey,
    /// `TANDEM_TELNYX_ACCOUNT_SID`: the TeXML account id in live-update paths.
    pub account_sid: String,
    /// `TANDEM_TELNYX_MESSAGING_PROFILE_ID`, sent with texts when set.
    pub messaging_profile_id: Option<String>,
    /// `TANDEM_TELNYX_API_BASE`, default `https://api.telnyx.com`.
    pub api_base: String,
}

/// Plivo, read when `plivo` is among the providers.
#[derive(Clone, Debug)]
pub struct PlivoConfig {
    /// `TANDEM_PLIVO_AUTH_ID`: the account (`MA…` or `SA…`).
    pub auth_id: String,
    /// `TANDEM_PLIVO_AUTH_TOKEN`: verifies webhooks and authenticates REST calls.
    pub auth_token: SecretString,
    /// `TANDEM_PLIVO_API_BASE`, default `https://api.plivo.com`.
    pub api_base: String,
}

/// Vonage's Voice and Messages APIs, read when `vonage` is among the providers.
#[derive(Clone, Debug)]
pub struct VonageConfig {
    /// `TANDEM_VONAGE_APPLICATION_ID`: the Vonage application the number is linked to.
    pub application_id: String,
    /// `TANDEM_VONAGE_PRIVATE_KEY`: the application's private key (the PEM, or a path to the
    /// file); signs the JWT that REST calls carry.
    pub private_key: VonagePrivateKey,
    /// `TANDEM_VONAGE_SIGNATURE_SECRET`: the account's signature secret; verifies callbacks.
    pub signature_secret: SecretString,
    /// `TANDEM_VONAGE_ANSWER_SECRET`: the path segment of the answer URL
    /// (`/vonage/answer/{secret}`). Vonage may send the answer webhook unsigned, so only a
    /// request that knows the configured URL can start a call.
    pub answer_secret: SecretString,
    /// `TANDEM_VONAGE_API_BASE`, default `https://api.nexmo.com`.
    pub api_base: String,
}

/// An application's RSA private key, ready to sign; never printed.
#[derive(Clone)]
pub struct VonagePrivateKey(pub std::sync::Arc<jsonwebtoken::EncodingKey>);

impl std::fmt::Debug for VonagePrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VonagePrivateKey(..)")
    }
}

impl VonagePrivateKey {
    /// The key from its PEM, or from the file `value` names; `\n` escapes (a PEM squeezed
    /// into one line) are read as line breaks.
    pub fn read(value: &str) -> Option<Self> {
        let pem = match value.contains("-----BEGIN") {
            true => value.replace("\\n", "\n"),
            false => std::fs::read_to_string(value.trim()).ok()?,
        };
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).ok()?;
        Some(Self(std::sync::Arc::new(key)))
    }
}

/// The providers a node can serve, by the name used in `TANDEM_PROVIDERS` and in paths.
pub const PROVIDERS: [&str; 5] = ["twilio", "signalwire", "telnyx", "plivo", "vonage"];

/// A validated public base URL without a trailing slash, e.g. `https://ivr.bank.example/tandem`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    base: String,
    origin: String,
}

impl PublicUrl {
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let bad = || {
            ConfigError::Invalid(
                "TANDEM_PUBLIC_URL",
                "an http(s) URL such as https://ivr.example.com",
            )
        };
        let url = url::Url::parse(raw).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || url.query().is_some()
        {
            return Err(bad());
        }
        let origin = url.origin().ascii_serialization();
        let base = raw.trim_end_matches('/').to_owned();
        Ok(Self { base, origin })
    }

    /// The full URL for a path on this deployment (`path` starts with `/`).
    pub fn join(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base, path_and_query)
    }

    /// Whether the deployment is reached over https (then browsers are told to stay on it).
    pub fn is_https(&self) -> bool {
        self.base.starts_with("https://")
    }

    /// `scheme://host[:port]`, what a browser sends as `Origin`.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} must be {1}")]
    Invalid(&'static str, &'static str),
    #[error("{0} is not set: {1}")]
    Missing(&'static str, &'static str),
}

/// A base URL setting: http(s), no trailing slash.
fn base_url(key: &'static str, value: String) -> Result<String, ConfigError> {
    match url::Url::parse(&value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Ok(value.trim_end_matches('/').to_owned())
        }
        _ => Err(ConfigError::Invalid(key, "an http(s) URL")),
    }
}

/// An Ed25519 public key from its base64 form (Telnyx's portal shows it so).
pub fn ed25519_public_key(base64: &str) -> Option<ed25519_dalek::VerifyingKey> {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let bytes: [u8; 32] = STANDARD.decode(base64.trim()).ok()?.try_into().ok()?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok()
}

fn is_twilio_account(s: &str) -> bool {
    s.len() == 34 && s.starts_with("AC") && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// `TANDEM_PROVIDERS`: known names, each once, at least one.
fn providers(value: Option<String>) -> Result<(Vec<&'static str>, bool), ConfigError> {
    let Some(value) = value else {
        return Ok((vec!["twilio"], false));
    };
    let bad = ConfigError::Invalid(
        "TANDEM_PROVIDERS",
        "a comma-separated list of twilio, signalwire, telnyx, plivo and vonage, each once",
    );
    let mut list = Vec::new();
    for name in value.split(',').map(str::trim) {
        let known = PROVIDERS
            .iter()
            .find(|p| p.eq_ignore_ascii_case(name))
            .ok_or_else(|| bad.clone())?;
        if list.contains(known) {
            return Err(bad);
        }
        list.push(*known);
    }
    Ok((list, true))
}

impl Config {
    /// Reads the environment; a bad value is reported in plain words.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let listen: SocketAddr = get("TANDEM_LISTEN")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse()
            .map_err(|_| ConfigError::Invalid("TANDEM_LISTEN", "host:port, e.g. 0.0.0.0:8080"))?;
        let public_url = PublicUrl::parse(
            &get("TANDEM_PUBLIC_URL").unwrap_or_else(|| format!("http://{listen}")),
        )?;
        let secs = |key: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match get(key) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Duration::from_secs)
                    .ok_or(ConfigError::Invalid(key, "a positive number of seconds")),
            }
        };
        let hold_poll = match get("TANDEM_HOLD_POLL_MS") {
            None => Duration::from_millis(8000),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|ms| (1..=12_000).contains(ms))
                .map(Duration::from_millis)
                .ok_or(ConfigError::Invalid(
                    "TANDEM_HOLD_POLL_MS",
                    "between 1 and 12000 (Twilio waits 15 s)",
                ))?,
        };
        let quiet_call = match get("TANDEM_QUIET_CALL_MS") {
            None => Duration::from_secs(120),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .map(Duration::from_millis)
                .filter(|q| *q > hold_poll * 2)
                .ok_or(ConfigError::Invalid(
                    "TANDEM_QUIET_CALL_MS",
                    "milliseconds, more than two hold polls (TANDEM_HOLD_POLL_MS)",
                ))?,
        };
        let log_json = match get("TANDEM_LOG_FORMAT").as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(_) => return Err(ConfigError::Invalid("TANDEM_LOG_FORMAT", "text or json")),
        };
        let client_ip_header = get("TANDEM_CLIENT_IP_HEADER")
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty());
        if let Some(h) = &client_ip_header
            && !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ConfigError::Invalid(
                "TANDEM_CLIENT_IP_HEADER",
                "a header name such as x-forwarded-for",
            ));
        }
        let trusted_proxies = match get("TANDEM_TRUSTED_PROXIES") {
            None => 1,
            Some(v) => {
                v.parse()
                    .ok()
                    .filter(|n| (1..=10).contains(n))
                    .ok_or(ConfigError::Invalid(
                        "TANDEM_TRUSTED_PROXIES",
                        "a number of proxies, 1 to 10",
                    ))?
            }
        };
        let header_timeout = match get("TANDEM_HEADER_TIMEOUT_MS") {
            None => Duration::from_secs(10),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|ms| (100..=120_000).contains(ms))
                .map(Duration::from_millis)
                .ok_or(ConfigError::Invalid(
                    "TANDEM_HEADER_TIMEOUT_MS",
                    "between 100 and 120000",
                ))?,
        };
        let max_connections = match get("TANDEM_MAX_CONNECTIONS") {
            None => 18_000,
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or(ConfigError::Invalid(
                    "TANDEM_MAX_CONNECTIONS",
                    "a positive number of connections",
                ))?,
        };
        let agent_number = get("TANDEM_AGENT_NUMBER");
        if let Some(n) = &agent_number
            && !crate::session::alert::is_e164(n)
        {
            return Err(ConfigError::Invalid(
                "TANDEM_AGENT_NUMBER",
                "an E.164 number such as +14155550199",
            ));
        }
        let (providers, providers_named) = providers(get("TANDEM_PROVIDERS"))?;
        let serves = |name: &str| providers.contains(&name);
        // A provider the operator named must have every credential it needs: without one its
        // webhooks would all be refused or its live updates fail, found only when calls come.
        let required = |key: &'static str, what: &'static str| -> Result<String, ConfigError> {
            get(key).ok_or(ConfigError::Missing(key, what))
        };
        let api_base = base_url(
            "TANDEM_TWILIO_API_BASE",
            get("TANDEM_TWILIO_API_BASE").unwrap_or_else(|| "https://api.twilio.com".into()),
        )?;
        let twilio = match providers_named && serves("twilio") {
            true => TwilioConfig {
                account_sid: required(
                    "TANDEM_TWILIO_ACCOUNT_SID",
                    "Twilio needs it for texts and live call updates",
                )?,
                auth_token: required(
                    "TANDEM_TWILIO_AUTH_TOKEN",
                    "Twilio needs it to check webhooks and call its API",
                )?
                .into(),
                api_base,
            },
            false => TwilioConfig {
                account_sid: get("TANDEM_TWILIO_ACCOUNT_SID").unwrap_or_default(),
                auth_token: SecretString::from(get("TANDEM_TWILIO_AUTH_TOKEN").unwrap_or_default()),
                api_base,
            },
        };
        if !twilio.account_sid.is_empty() && !is_twilio_account(&twilio.account_sid) {
            return Err(ConfigError::Invalid(
                "TANDEM_TWILIO_ACCOUNT_SID",
                "AC followed by 32 hex digits, as the Twilio console shows it",
            ));
        }
        let plivo = match serves("plivo") {
            false => None,
            true => {
                let auth_id = required(
                    "TANDEM_PLIVO_AUTH_ID",
                    "Plivo needs it for texts and live call updates",
                )?;
                if !(auth_id.len() == 20 && auth_id.bytes().all(|b| b.is_ascii_alphanumeric())) {
                    return Err(ConfigError::Invalid(
                        "TANDEM_PLIVO_AUTH_ID",
                        "the 20-character auth id the Plivo console shows",
                    ));
                }
                Some(PlivoConfig {
                    auth_id,
                    auth_token: required(
                        "TANDEM_PLIVO_AUTH_TOKEN",
                        "Plivo webhooks cannot be checked without it",
                    )?
                    .into(),
                    api_base: base_url(
                        "TANDEM_PLIVO_API_BASE",
                        get("TANDEM_PLIVO_API_BASE")
                            .unwrap_or_else(|| "https://api.plivo.com".into()),
                    )?,
                })
            }
        };
        let signalwire = match serves("signalwire") {
            false => None,
            true => {
                let project_id = required(
                    "TANDEM_SIGNALWIRE_PROJECT_ID",
                    "SignalWire needs the project id for its API",
                )?;
                if uuid::Uuid::parse_str(&project_id).is_err() {
                    return Err(ConfigError::Invalid(
                        "TANDEM_SIGNALWIRE_PROJECT_ID",
                        "the project's id, a UUID as the SignalWire dashboard shows it",
                    ));
                }
                Some(SignalWireConfig {
                    project_id,
                    api_token: required(
                        "TANDEM_SIGNALWIRE_API_TOKEN",
                        "SignalWire needs it for texts and live call updates",
                    )?
                    .into(),
                    signing_key: required(
                        "TANDEM_SIGNALWIRE_SIGNING_KEY",
                        "SignalWire webhooks cannot be checked without it",
                    )?
                    .into(),
                    space_url: base_url(
                        "TANDEM_SIGNALWIRE_SPACE_URL",
                        required(
                            "TANDEM_SIGNALWIRE_SPACE_URL",
                            "SignalWire's API lives in the project's space, e.g. https://example.signalwire.com",
                        )?,
                    )?,
                })
            }
        };
        let telnyx = match serves("telnyx") {
            false => None,
            true => Some(TelnyxConfig {
                api_key: required(
                    "TANDEM_TELNYX_API_KEY",
                    "Telnyx needs it for texts and live call updates",
                )?
                .into(),
                public_key: ed25519_public_key(&required(
                    "TANDEM_TELNYX_PUBLIC_KEY",
                    "Telnyx webhooks cannot be checked without it",
                )?)
                .ok_or(ConfigError::Invalid(
                    "TANDEM_TELNYX_PUBLIC_KEY",
                    "the account's Ed25519 public key in base64, as the Telnyx portal shows it",
                ))?,
                account_sid: required(
                    "TANDEM_TELNYX_ACCOUNT_SID",
                    "Telnyx's TeXML API names the account in every live call update",
                )?,
                messaging_profile_id: get("TANDEM_TELNYX_MESSAGING_PROFILE_ID"),
                api_base: base_url(
                    "TANDEM_TELNYX_API_BASE",
                    get("TANDEM_TELNYX_API_BASE")
                        .unwrap_or_else(|| "https://api.telnyx.com".into()),
                )?,
            }),
        };
        let desk_auth_header = match get("TANDEM_DESK_AUTH_HEADER") {
            None => None,
            Some(h) => Some(
                axum::http::HeaderName::try_from(h.trim().to_ascii_lowercase())
                    .map(|n| n.as_str().to_owned())
                    .map_err(|_| {
                        ConfigError::Invalid("TANDEM_DESK_AUTH_HEADER", "an HTTP header name")
                    })?,
            ),
        };
        let vonage = match serves("vonage") {
            false => None,
            true => {
                let application_id = required(
                    "TANDEM_VONAGE_APPLICATION_ID",
                    "Vonage's API takes tokens for an application",
                )?;
                if uuid::Uuid::parse_str(&application_id).is_err() {
                    return Err(ConfigError::Invalid(
                        "TANDEM_VONAGE_APPLICATION_ID",
                        "the application's id, a UUID as the Vonage dashboard shows it",
                    ));
                }
                let private_key = VonagePrivateKey::read(&required(
                    "TANDEM_VONAGE_PRIVATE_KEY",
                    "Vonage needs it for texts and live call updates",
                )?)
                .ok_or(ConfigError::Invalid(
                    "TANDEM_VONAGE_PRIVATE_KEY",
                    "the application's RSA private key in PEM, or the path of its file",
                ))?;
                let answer_secret = required(
                    "TANDEM_VONAGE_ANSWER_SECRET",
                    "it guards the answer URL, which Vonage may call unsigned",
                )?;
                if answer_secret.len() < 32
                    || !answer_secret
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
                {
                    return Err(ConfigError::Invalid(
                        "TANDEM_VONAGE_ANSWER_SECRET",
                        "at least 32 letters, digits, '-' or '_' (e.g. from `openssl rand -hex 32`)",
                    ));
                }
                Some(VonageConfig {
                    application_id,
                    private_key,
                    signature_secret: required(
                        "TANDEM_VONAGE_SIGNATURE_SECRET",
                        "Vonage callbacks cannot be checked without it",
                    )?
                    .into(),
                    answer_secret: answer_secret.into(),
                    api_base: base_url(
                        "TANDEM_VONAGE_API_BASE",
                        get("TANDEM_VONAGE_API_BASE")
                            .unwrap_or_else(|| "https://api.nexmo.com".into()),
                    )?,
                })
            }
        };
        Ok(Self {
            listen,
            public_url,
            redis_url: get("TANDEM_REDIS_URL"),
            api_key: get("TANDEM_API_KEY").map(SecretString::from),
            providers,
            providers_named,
            twilio,
            signalwire,
            telnyx,
            plivo,
            vonage,
            desk_auth_header,
            sms_from: get("TANDEM_SMS_FROM").unwrap_or_default(),
            agent_number,
            scripts_dir: get("TANDEM_SCRIPTS_DIR")
                .unwrap_or_else(|| "ivr-scripts".into())
                .into(),
            session_ttl: secs("TANDEM_SESSION_TTL_SECS", 3600)?,
            history_keep: secs("TANDEM_HISTORY_DAYS", 400)? * 24 * 3600,
            desk_sign_in: secs("TANDEM_DESK_SIGN_IN_SECS", 36_000)?,
            alert_ttl: secs("TANDEM_ALERT_TTL_SECS", 7 * 24 * 3600)?,
            hold_poll,
            quiet_call,
            log_json,
            client_ip_header,
            trusted_proxies,
            header_timeout,
            max_connections,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_time_a_holding_call_would_reach_between_polls_is_refused() {
        let err = Config::from_lookup(|k| match k {
            "TANDEM_HOLD_POLL_MS" => Some("8000".into()),
            "TANDEM_QUIET_CALL_MS" => Some("16000".into()),
            _ => None,
        })
        .unwrap_err();
        assert!(err.to_string().contains("TANDEM_QUIET_CALL_MS"), "{err}");
    }

    #[test]
    fn public_url_keeps_its_path_and_reports_the_origin() {
        let url = PublicUrl::parse("https://ivr.example.com:8443/tandem/").unwrap();
        assert_eq!(
            url.join("/twilio/voice"),
            "https://ivr.example.com:8443/tandem/twilio/voice"
        );
        assert_eq!(url.origin(), "https://ivr.example.com:8443");
    }

    fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    const TELNYX_KEY: &str = "/dUyf9cmoIDxzrIol5pnQrBp1U3hcFKNysbHCauy5As=";

    #[test]
    fn a_provider_named_without_a_credential_it_needs_stops_the_node_naming_it() {
        let telnyx = [
            ("TANDEM_PROVIDERS", "telnyx"),
            ("TANDEM_TELNYX_API_KEY", "KEY0123"),
            ("TANDEM_TELNYX_PUBLIC_KEY", TELNYX_KEY),
            ("TANDEM_TELNYX_ACCOUNT_SID", "acc"),
        ];
        let config = with(&telnyx).unwrap();
        assert_eq!(config.providers, ["telnyx"]);
        for missing in 1..telnyx.len() {
            let vars: Vec<_> = telnyx
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != missing)
                .map(|(_, v)| *v)
                .collect();
            let err = with(&vars).unwrap_err().to_string();
            assert!(err.starts_with(telnyx[missing].0), "{err}");
            assert!(err.contains("is not set"), "{err}");
        }
        let err = with(&[("TANDEM_PROVIDERS", "twilio,signalwire")])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("TANDEM_TWILIO_ACCOUNT_SID"), "{err}");
    }

    #[test]
    fn a_malformed_credential_or_provider_list_stops_the_node_naming_it() {
        let cases: [(&[(&str, &str)], &str); 6] = [
            (&[("TANDEM_PROVIDERS", "twilio,nexmo")], "TANDEM_PROVIDERS"),
            (&[("TANDEM_PROVIDERS", "twilio,twilio")], "TANDEM_PROVIDERS"),
            (&[("TANDEM_PROVIDERS", "")], "TANDEM_PROVIDERS"),
            (
                &[("TANDEM_TWILIO_ACCOUNT_SID", "AC123")],
                "TANDEM_TWILIO_ACCOUNT_SID",
            ),
            (
                &[
                    ("TANDEM_PROVIDERS", "telnyx"),
                    ("TANDEM_TELNYX_API_KEY", "KEY0123"),
                    ("TANDEM_TELNYX_PUBLIC_KEY", "bm90IGEga2V5"),
                    ("TANDEM_TELNYX_ACCOUNT_SID", "acc"),
                ],
                "TANDEM_TELNYX_PUBLIC_KEY",
            ),
            (
                &[
                    ("TANDEM_PROVIDERS", "signalwire"),
                    ("TANDEM_SIGNALWIRE_PROJECT_ID", "my-project"),
                    ("TANDEM_SIGNALWIRE_API_TOKEN", "PT1"),
                    ("TANDEM_SIGNALWIRE_SIGNING_KEY", "PSK1"),
                    (
                        "TANDEM_SIGNALWIRE_SPACE_URL",
                        "https://example.signalwire.com",
                    ),
                ],
                "TANDEM_SIGNALWIRE_PROJECT_ID",
            ),
        ];
        for (vars, named) in cases {
            let err = with(vars).unwrap_err().to_string();
            assert!(err.starts_with(named), "{vars:?}: {err}");
        }
    }

    #[test]
    fn plivo_needs_its_auth_id_of_plivos_shape_and_its_token() {
        let plivo = [
            ("TANDEM_PROVIDERS", "plivo"),
            ("TANDEM_PLIVO_AUTH_ID", "MAXXXXXXXXXXXXXXXXXX"),
            ("TANDEM_PLIVO_AUTH_TOKEN", "token"),
        ];
        assert_eq!(with(&plivo).unwrap().providers, ["plivo"]);
        let err = with(&plivo[..2]).unwrap_err().to_string();
        assert!(
            err.starts_with("TANDEM_PLIVO_AUTH_TOKEN is not set"),
            "{err}"
        );
        let err = with(&[plivo[0], ("TANDEM_PLIVO_AUTH_ID", "MA1"), plivo[2]])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("TANDEM_PLIVO_AUTH_ID"), "{err}");
    }

    /// A fresh application key, as the Vonage dashboard hands one out (PKCS#8 PEM).
    fn vonage_key() -> String {
        use aws_lc_rs::{
            encoding::AsDer,
            rsa::{KeyPair, KeySize},
        };
        use base64::{Engine, engine::general_purpose::STANDARD};
        let der = KeyPair::generate(KeySize::Rsa2048)
            .unwrap()
            .as_der()
            .unwrap();
        let body = STANDARD.encode(der.as_ref());
        let lines: Vec<String> = body
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn vonage_needs_its_application_key_secrets_and_a_long_answer_secret() {
        let key = vonage_key();
        let one_line = key.replace('\n', "\\n");
        let app = uuid::Uuid::new_v4().to_string();
        let secret = "a".repeat(40);
        let vonage = |key: &str, answer: &str| {
            with(&[
                ("TANDEM_PROVIDERS", "vonage"),
                ("TANDEM_VONAGE_APPLICATION_ID", &app),
                ("TANDEM_VONAGE_PRIVATE_KEY", key),
                ("TANDEM_VONAGE_SIGNATURE_SECRET", "sig"),
                ("TANDEM_VONAGE_ANSWER_SECRET", answer),
            ])
        };
        let config = vonage(&key, &secret).unwrap();
        assert_eq!(config.providers, ["vonage"]);
        assert_eq!(config.vonage.unwrap().api_base, "https://api.nexmo.com");
        // Squeezed into one line, as some secret stores keep it.
        assert!(vonage(&one_line, &secret).is_ok());
        // Or the path of the file.
        let file = std::env::temp_dir().join(format!("tandem-vonage-{app}.key"));
        std::fs::write(&file, &key).unwrap();
        assert!(vonage(file.to_str().unwrap(), &secret).is_ok());
        std::fs::remove_file(&file).unwrap();
        for (key, answer, named) in [
            ("not a key", secret.as_str(), "TANDEM_VONAGE_PRIVATE_KEY"),
            (
                "/nowhere/private.key",
                secret.as_str(),
                "TANDEM_VONAGE_PRIVATE_KEY",
            ),
            (key.as_str(), "short", "TANDEM_VONAGE_ANSWER_SECRET"),
            (
                key.as_str(),
                &"a/".repeat(20),
                "TANDEM_VONAGE_ANSWER_SECRET",
            ),
        ] {
            let err = vonage(key, answer).unwrap_err().to_string();
            assert!(err.starts_with(named), "{err}");
        }
        let err = with(&[
            ("TANDEM_PROVIDERS", "vonage"),
            ("TANDEM_VONAGE_APPLICATION_ID", &app),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("TANDEM_VONAGE_PRIVATE_KEY is not set"),
            "{err}"
        );
    }

    #[test]
    fn a_default_node_serves_twilio_and_may_start_without_its_credentials() {
        let config = with(&[]).unwrap();
        assert_eq!(config.providers, ["twilio"]);
        assert!(!config.providers_named);
        assert!(config.signalwire.is_none() && config.telnyx.is_none() && config.plivo.is_none());
    }

    #[test]
    fn a_bad_value_is_named_in_the_error() {
        let err = Config::from_lookup(|k| (k == "TANDEM_HOLD_POLL_MS").then(|| "60000".into()))
            .unwrap_err();
        assert!(err.to_string().contains("TANDEM_HOLD_POLL_MS"));
        let err = Config::from_lookup(|k| (k == "TANDEM_PUBLIC_URL").then(|| "ftp://x".into()))
            .unwrap_err();
        assert!(err.to_string().contains("TANDEM_PUBLIC_URL"));
    }
}
