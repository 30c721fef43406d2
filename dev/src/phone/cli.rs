//! `tandem phone`: the dev phone on its own, playing a provider (Twilio by default) against
//! any running tandem.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;

use super::{
    Phone, PhoneConfig,
    scenario::{self, Scenario, Target},
    terminal::{self, Screen},
};

#[derive(clap::Args, Debug, Clone)]
pub struct PhoneOptions {
    /// Where the tandem server is reached.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The server's TANDEM_PUBLIC_URL, which webhooks are signed for (default: --server).
    #[arg(long)]
    pub public_url: Option<String>,
    /// The provider to play: twilio, signalwire, telnyx, plivo or vonage. Its credentials are
    /// read from the same variables the server reads (TANDEM_TWILIO_*, TANDEM_SIGNALWIRE_*,
    /// TANDEM_TELNYX_*, TANDEM_PLIVO_*, TANDEM_VONAGE_*) unless given below.
    #[arg(long, default_value = "twilio", value_parser = super::provider::parse_dialect)]
    pub provider: super::Dialect,
    /// The account the server is configured with: Twilio's account SID
    /// (TANDEM_TWILIO_ACCOUNT_SID), SignalWire's project id, Telnyx's TeXML account id,
    /// Plivo's auth id, Vonage's application id.
    #[arg(long)]
    pub account_sid: Option<String>,
    /// The REST credential the server calls the provider with: Twilio's auth token
    /// (TANDEM_TWILIO_AUTH_TOKEN), which every webhook is signed with; SignalWire's API token;
    /// Telnyx's API key; Plivo's auth token; Vonage's application private key (its PEM, or
    /// the path of its file), whose tokens the fake API checks.
    #[arg(long)]
    pub auth_token: Option<String>,
    /// What webhooks are signed with when it is not the auth token: SignalWire's signing key
    /// (TANDEM_SIGNALWIRE_SIGNING_KEY), the base64 seed of the Telnyx key whose public half
    /// the server has (TANDEM_PHONE_TELNYX_PRIVATE_KEY), Vonage's signature secret
    /// (TANDEM_VONAGE_SIGNATURE_SECRET). Vonage's answer URL secret is read from
    /// TANDEM_VONAGE_ANSWER_SECRET.
    #[arg(long)]
    pub signing_key: Option<String>,
    /// Where to serve the fake provider REST API; point the server's API base setting here
    /// (TANDEM_TWILIO_API_BASE, TANDEM_SIGNALWIRE_SPACE_URL, TANDEM_TELNYX_API_BASE,
    /// TANDEM_PLIVO_API_BASE or TANDEM_VONAGE_API_BASE).
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub api_listen: SocketAddr,
    /// The caller's number.
    #[arg(long, default_value = "+14155550100")]
    pub from: String,
    /// The number called.
    #[arg(long, default_value = "+18005550100")]
    pub to: String,
    /// Run this scenario file instead of taking keys from the keyboard.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Send this text to the server from --from, print the answer, and exit.
    #[arg(long)]
    pub sms: Option<String>,
    /// Do not read the IVR aloud even when espeak-ng is installed.
    #[arg(long)]
    pub mute: bool,
}

/// The account to play, from the options or else the provider's own variables.
fn account(o: &PhoneOptions) -> anyhow::Result<super::Account> {
    use super::Dialect;
    let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
    let (sid, token, key) = match o.provider {
        Dialect::Twilio => (
            "TANDEM_TWILIO_ACCOUNT_SID",
            "TANDEM_TWILIO_AUTH_TOKEN",
            "TANDEM_TWILIO_AUTH_TOKEN",
        ),
        Dialect::SignalWire => (
            "TANDEM_SIGNALWIRE_PROJECT_ID",
            "TANDEM_SIGNALWIRE_API_TOKEN",
            "TANDEM_SIGNALWIRE_SIGNING_KEY",
        ),
        Dialect::Plivo => (
            "TANDEM_PLIVO_AUTH_ID",
            "TANDEM_PLIVO_AUTH_TOKEN",
            "TANDEM_PLIVO_AUTH_TOKEN",
        ),
        Dialect::Telnyx => (
            "TANDEM_TELNYX_ACCOUNT_SID",
            "TANDEM_TELNYX_API_KEY",
            "TANDEM_PHONE_TELNYX_PRIVATE_KEY",
        ),
        Dialect::Vonage => (
            "TANDEM_VONAGE_APPLICATION_ID",
            "TANDEM_VONAGE_PRIVATE_KEY",
            "TANDEM_VONAGE_SIGNATURE_SECRET",
        ),
    };
    let pick = |given: &Option<String>, var: &str, flag: &str| {
        given
            .clone()
            .or_else(|| env(var))
            .with_context(|| format!("{flag} or {var} is needed to play {}", o.provider.name()))
    };
    let mut auth_token = pick(&o.auth_token, token, "--auth-token")?;
    // Vonage's private key may be given as the path of its file, as the node takes it.
    if o.provider == Dialect::Vonage && !auth_token.contains("-----BEGIN") {
        auth_token = std::fs::read_to_string(auth_token.trim())
            .with_context(|| format!("reading the Vonage private key {auth_token}"))?;
    }
    let answer_secret = match o.provider {
        Dialect::Vonage => Some(env("TANDEM_VONAGE_ANSWER_SECRET").context(
            "TANDEM_VONAGE_ANSWER_SECRET is needed to play vonage: the answer URL holds it",
        )?),
        _ => None,
    };
    Ok(super::Account {
        dialect: o.provider,
        account_sid: pick(&o.account_sid, sid, "--account-sid")?,
        auth_token,
        answer_secret,
        signing_key: pick(
            &o.signing_key.clone().or_else(|| {
                o.auth_token
                    .clone()
                    .filter(|_| matches!(o.provider, Dialect::Twilio | Dialect::Plivo))
            }),
            key,
            "--signing-key",
        )?,
    })
}

pub async fn run(o: PhoneOptions) -> anyhow::Result<()> {
    let public_url = o.public_url.clone().unwrap_or_else(|| o.server.clone());
    let account = account(&o)?;
    let phone = Phone::new(PhoneConfig {
        server: o.server.clone(),
        public_url: public_url.clone(),
        voice_path: account.voice_path(),
        status_path: account.status_path(),
        account,
        timeout_scale: 1.0,
        // A scripted call or a single text runs at full speed; a person at the keyboard
        // hears the IVR take its time.
        voice: match o.scenario.is_some() || o.sms.is_some() {
            true => super::Voice::Instant,
            false => super::Voice::aloud_if_possible(!o.mute),
        },
    });
    let screen = Screen::new();
    if let Some(body) = &o.sms {
        let (status, answer) = phone
            .send_sms(&o.from, &o.to, body)
            .await
            .map_err(anyhow::Error::msg)?;
        screen.info(&format!(
            "sent; the server answered HTTP {status}: {answer}"
        ));
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(o.api_listen)
        .await
        .with_context(|| format!("binding {}", o.api_listen))?;
    let api = phone.fake_api();
    tokio::spawn(async move { axum::serve(listener, api).await });
    let (provider, setting) = match o.provider {
        super::Dialect::Twilio => ("Twilio", "TANDEM_TWILIO_API_BASE"),
        super::Dialect::SignalWire => ("SignalWire", "TANDEM_SIGNALWIRE_SPACE_URL"),
        super::Dialect::Telnyx => ("Telnyx", "TANDEM_TELNYX_API_BASE"),
        super::Dialect::Plivo => ("Plivo", "TANDEM_PLIVO_API_BASE"),
        super::Dialect::Vonage => ("Vonage", "TANDEM_VONAGE_API_BASE"),
    };
    screen.info(&format!(
        "fake {provider} REST API at http://{} (set {setting} to it)",
        o.api_listen
    ));

    match &o.scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let mut scenario: Scenario = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a scenario", path.display()))?;
            if scenario.from.is_empty() {
                scenario.from = o.from.clone();
            }
            run_scenario(
                &phone,
                &scenario,
                &Target {
                    server: o.server.clone(),
                    public_url,
                },
                &screen,
            )
            .await
        }
        None => {
            screen.info(&format!(
                "calling {} from {}; type keys and Enter, h to hang up, Ctrl-C to end",
                o.to, o.from
            ));
            let call = phone.place_call(&o.from, &o.to).await;
            terminal::interactive(&phone, call, &o.from, &screen, None).await
        }
    }
}

/// Runs a scenario, printing the call's words as it goes.
pub async fn run_scenario(
    phone: &Phone,
    scenario: &Scenario,
    target: &Target,
    screen: &Screen,
) -> anyhow::Result<()> {
    let mut printed = 0;
    let result = scenario::run(phone, scenario, target, |call, step| {
        let transcript = call.transcript();
        for line in transcript.iter().skip(printed) {
            screen.ivr(line);
        }
        printed = transcript.len();
        match step {
            scenario::Step::Press(keys) => screen.you(&format!("pressed {keys}")),
            scenario::Step::OpenLink => screen.you("opened the texted link (headless page)"),
            scenario::Step::Tap(decision) => screen.you(&format!("tapped {decision} on the page")),
            scenario::Step::Act(action) => screen.you(&format!("tapped {action} on the page")),
            scenario::Step::Submit { form, .. } => {
                screen.you(&format!("{form} answered on the page"))
            }
            scenario::Step::PageShows(name) => screen.you(&format!("the page shows {name}")),
            scenario::Step::Hangup => screen.you("hung up"),
            _ => {}
        }
    })
    .await;
    result.map_err(anyhow::Error::from)
}
