//! `tandem phone`: the dev phone on its own, playing Twilio against any running tandem.

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
    /// The Twilio account SID the server is configured with; the phone signs as that account.
    #[arg(long, env = "TANDEM_TWILIO_ACCOUNT_SID", hide_env_values = true)]
    pub account_sid: String,
    /// The Twilio auth token the server is configured with, which every webhook is signed with.
    #[arg(long, env = "TANDEM_TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: String,
    /// Where to serve the fake Twilio REST API; point the server's TANDEM_TWILIO_API_BASE here.
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

pub async fn run(o: PhoneOptions) -> anyhow::Result<()> {
    let public_url = o.public_url.clone().unwrap_or_else(|| o.server.clone());
    let phone = Phone::new(PhoneConfig {
        server: o.server.clone(),
        public_url: public_url.clone(),
        account_sid: o.account_sid.clone(),
        auth_token: o.auth_token.clone(),
        voice_path: "/twilio/voice".into(),
        status_path: "/twilio/status".into(),
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
    screen.info(&format!(
        "fake Twilio REST API at http://{} (set TANDEM_TWILIO_API_BASE to it)",
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
