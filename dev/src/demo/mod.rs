//! `tandem demo`: the whole product on one machine with nothing to configure. A node on the
//! embedded store (or `--redis`), a sample alert, and a call on the dev phone; the terminal is
//! the phone, the browser is the page.

use std::time::Duration;

use anyhow::Context;
use tokio::{net::TcpListener, sync::mpsc};
use tokio_util::sync::CancellationToken;

use tandem::{
    app,
    broker::Broker,
    config::Config,
    session::{EventKind, alert},
    token,
};

use crate::phone::{
    Phone, PhoneConfig,
    cli::run_scenario,
    scenario::{Target, approve_journey},
    terminal::{self, Screen},
};

const CUSTOMER: &str = "+14155550100";
const BANK: &str = "+18005550100";

#[derive(clap::Args, Debug, Clone)]
pub struct DemoOptions {
    /// Port the server listens on, on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Run on this Redis instead of the embedded store.
    #[arg(long)]
    pub redis: Option<String>,
    /// Nobody at the keyboard: verify, open the page headlessly, approve, and exit.
    #[arg(long)]
    pub headless: bool,
    /// Do not read the IVR aloud even when espeak-ng is installed.
    #[arg(long)]
    pub mute: bool,
}

pub async fn run(o: DemoOptions) -> anyhow::Result<()> {
    let screen = Screen::new(!o.mute && !o.headless);
    let listener = TcpListener::bind(("127.0.0.1", o.port))
        .await
        .with_context(|| format!("port {} is busy; try --port 0", o.port))?;
    let base = format!("http://{}", listener.local_addr()?);
    let api_listener = TcpListener::bind("127.0.0.1:0").await?;
    let api_base = format!("http://{}", api_listener.local_addr()?);

    // Fresh secrets for this run only; the demo's phone is the only Twilio there is.
    let account_sid = format!("AC{}", uuid::Uuid::new_v4().simple());
    let (auth_token, api_key) = (token::generate(), token::generate());
    let config = demo_config(
        &base,
        &api_base,
        &account_sid,
        &auth_token,
        &api_key,
        o.redis.as_deref(),
    )?;
    let shutdown = CancellationToken::new();
    let state = app::build(config, shutdown.clone())?;
    let broker = state.broker.clone();
    let limits = tandem::serve::Limits {
        header_timeout: state.config.header_timeout,
        max_connections: state.config.max_connections,
    };
    let server = tokio::spawn(tandem::serve::serve(
        listener,
        app::app(state),
        limits,
        shutdown.clone().cancelled_owned(),
    ));

    let phone = Phone::new(PhoneConfig {
        server: base.clone(),
        public_url: base.clone(),
        account_sid,
        auth_token,
        voice_path: "/twilio/voice".into(),
        status_path: "/twilio/status".into(),
        timeout_scale: 1.0,
    });
    let api = phone.fake_api();
    tokio::spawn(async move { axum::serve(api_listener, api).await });

    raise_sample_alert(&base, &api_key).await?;
    let store = if o.redis.is_some() {
        "Redis"
    } else {
        "the embedded store"
    };
    screen.info(&format!(
        "tandem is running at {base} on {store}, with a sample alert for Dana Reyes ({CUSTOMER})"
    ));

    let result = if o.headless {
        screen.info("headless: the phone verifies, opens the page and approves by itself");
        let target = Target {
            server: base.clone(),
            public_url: base.clone(),
        };
        run_scenario(&phone, &approve_journey(CUSTOMER), &target, &screen).await
    } else {
        screen.info(&format!("calling the bank from {CUSTOMER}. Type keys and Enter (the card ends 4242); h hangs up; Ctrl-C ends"));
        screen.info("when the text arrives, open its link in a browser on this machine");
        let call = phone.place_call(CUSTOMER, BANK).await;
        let timeline = follow(broker.clone(), call.sid.clone());
        terminal::interactive(&phone, call, CUSTOMER, &screen, Some(timeline)).await
    };
    if result.is_ok() && o.headless {
        screen.info("demo complete: the charges were approved on the page and heard on the call");
    }
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    result
}

fn demo_config(
    base: &str,
    api_base: &str,
    sid: &str,
    token: &str,
    key: &str,
    redis: Option<&str>,
) -> anyhow::Result<Config> {
    let scripts = std::env::var("TANDEM_SCRIPTS_DIR").unwrap_or_else(|_| "ivr-scripts".into());
    let vars = [
        (
            "TANDEM_LISTEN",
            base.trim_start_matches("http://").to_owned(),
        ),
        ("TANDEM_PUBLIC_URL", base.to_owned()),
        ("TANDEM_API_KEY", key.to_owned()),
        ("TANDEM_TWILIO_ACCOUNT_SID", sid.to_owned()),
        ("TANDEM_TWILIO_AUTH_TOKEN", token.to_owned()),
        ("TANDEM_TWILIO_API_BASE", api_base.to_owned()),
        ("TANDEM_SMS_FROM", BANK.to_owned()),
        ("TANDEM_AGENT_NUMBER", "+14155550199".to_owned()),
        ("TANDEM_SCRIPTS_DIR", scripts),
        ("TANDEM_REDIS_URL", redis.unwrap_or_default().to_owned()),
    ];
    let lookup = |k: &str| {
        vars.iter()
            .find(|(name, v)| *name == k && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    Ok(Config::from_lookup(lookup)?)
}

async fn raise_sample_alert(base: &str, api_key: &str) -> anyhow::Result<()> {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/alerts"))
        .bearer_auth(api_key)
        .json(&alert::sample(CUSTOMER))
        .send()
        .await
        .context("raising the sample alert")?;
    anyhow::ensure!(
        res.status() == 201,
        "the sample alert was refused: {}",
        res.text().await.unwrap_or_default()
    );
    Ok(())
}

/// The session's event timeline as short lines, once the call has opened a session.
fn follow(broker: Broker, call_sid: String) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        let mut wakes = broker.wakeups();
        let (mut session, mut cursor) = (None, 0);
        loop {
            if session.is_none() {
                session = broker.session_for_call(&call_sid).await.ok().flatten();
            }
            if let Some(id) = session {
                for event in broker
                    .events_after(id, cursor, 100)
                    .await
                    .unwrap_or_default()
                {
                    cursor = event.seq;
                    if let Some(text) = describe(&event.event)
                        && tx.send(format!("#{} {text}", event.seq)).await.is_err()
                    {
                        return;
                    }
                }
            }
            if let Err(tokio::sync::broadcast::error::RecvError::Closed) = wakes.recv().await {
                return;
            }
        }
    });
    rx
}

/// What the session saw; the IVR's words and the keys are already on screen.
fn describe(event: &EventKind) -> Option<String> {
    Some(match event {
        EventKind::Said { .. } | EventKind::Digits { .. } => return None,
        EventKind::SpeechHeard { text } => format!("heard \"{text}\""),
        EventKind::SessionOpened => "session opened".into(),
        EventKind::CallStarted => "call joined the session".into(),
        EventKind::Verified => "caller verified".into(),
        EventKind::VerifyFailed { tries } => format!("verification failed (try {tries})"),
        EventKind::LinkSent => "page link texted".into(),
        EventKind::PageOpened => "page opened in a browser".into(),
        EventKind::Decided { decision, by } => {
            format!("{} by {by:?}", decision.past_tense()).to_lowercase()
        }
        EventKind::AgentRequested { by } => {
            format!("a person was asked for ({by:?})").to_lowercase()
        }
        EventKind::CaseOpened { note, .. } => format!("case opened: {note}"),
        EventKind::AgentJoined { name } => format!("{name} joined"),
        EventKind::SmsSent { text } => format!("text sent: {text}"),
        EventKind::SmsReceived { text } => format!("text received: {text}"),
        EventKind::Transferred => "transferred to an agent".into(),
        EventKind::CallEnded { status } => format!(
            "call ended ({})",
            serde_json::json!(status).as_str().unwrap_or("?")
        ),
        EventKind::SessionClosed { reason } => format!("session closed ({reason})"),
    })
}
