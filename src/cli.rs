//! The node's own commands (`serve`, `check`), shared by the server binary and the full
//! command line in `dev`, so both run a node exactly the same way.

use std::{io::Write, path::PathBuf};

use anyhow::Context;
use clap::Subcommand;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// Run a node (configured by TANDEM_* environment variables).
    #[command(after_help = SERVE_ENV)]
    Serve,
    /// Check IVR scripts and report every problem found.
    Check {
        /// Script files; defaults to every script in TANDEM_SCRIPTS_DIR.
        files: Vec<PathBuf>,
    },
}

/// What `serve --help` lists: every setting, its default, in one screen. The README's
/// configuration table says more of each.
const SERVE_ENV: &str = "\
Environment (defaults in brackets):
  TANDEM_LISTEN                address to bind [127.0.0.1:8080]
  TANDEM_PUBLIC_URL            URL browsers and the provider reach [http://LISTEN]
  TANDEM_REDIS_URL             Redis URL, or comma-separated cluster seeds [embedded store]
  TANDEM_API_KEY               bearer key for the bank's API [API off]
  TANDEM_PROVIDERS             voice providers served, comma-separated [twilio]
  TANDEM_TWILIO_ACCOUNT_SID    Twilio account (required for webhooks to be accepted)
  TANDEM_TWILIO_AUTH_TOKEN     Twilio auth token, which signs every webhook
  TANDEM_TWILIO_API_BASE       Twilio REST API [https://api.twilio.com]
  TANDEM_SIGNALWIRE_PROJECT_ID SignalWire project id
  TANDEM_SIGNALWIRE_API_TOKEN  SignalWire API token, for texts and live updates
  TANDEM_SIGNALWIRE_SIGNING_KEY  SignalWire signing key, which signs every webhook
  TANDEM_SIGNALWIRE_SPACE_URL  SignalWire space, e.g. https://example.signalwire.com
  TANDEM_TELNYX_API_KEY        Telnyx API key, for texts and live updates
  TANDEM_TELNYX_PUBLIC_KEY     Telnyx public key (base64), which checks every webhook
  TANDEM_TELNYX_ACCOUNT_SID    Telnyx TeXML account id
  TANDEM_TELNYX_MESSAGING_PROFILE_ID  sent with Telnyx texts [none]
  TANDEM_TELNYX_API_BASE       Telnyx REST API [https://api.telnyx.com]
  TANDEM_PLIVO_AUTH_ID         Plivo auth id
  TANDEM_PLIVO_AUTH_TOKEN      Plivo auth token, which signs every webhook
  TANDEM_PLIVO_API_BASE        Plivo REST API [https://api.plivo.com]
  TANDEM_VONAGE_APPLICATION_ID Vonage application id
  TANDEM_VONAGE_PRIVATE_KEY    Vonage application private key (PEM, or its file's path)
  TANDEM_VONAGE_SIGNATURE_SECRET  Vonage signature secret, which signs every callback
  TANDEM_VONAGE_ANSWER_SECRET  secret last part of the Vonage answer URL (32+ characters)
  TANDEM_VONAGE_API_BASE       Vonage REST API [https://api.nexmo.com]
  TANDEM_DESK_AUTH_HEADER      header a sign-on proxy names desk accounts in [passwords]
  TANDEM_DESK_SIGN_IN_SECS     how long a desk sign-in lasts [36000]
  TANDEM_SMS_FROM              number texts are sent from
  TANDEM_AGENT_NUMBER          where callers are transferred to a person [none]
  TANDEM_SCRIPTS_DIR           folder of IVR scripts [ivr-scripts]
  TANDEM_SESSION_TTL_SECS      a session's lifetime [3600]
  TANDEM_ALERT_TTL_SECS        how long an alert waits for the call [604800]
  TANDEM_HISTORY_DAYS          how long a customer's history is kept [400]
  TANDEM_HOLD_POLL_MS          longest a hold webhook is held open [8000]
  TANDEM_QUIET_CALL_MS         silence before the provider is asked about a call [120000]
  TANDEM_CLIENT_IP_HEADER      header the balancer puts the client address in [none]
  TANDEM_TRUSTED_PROXIES       proxies of your own in front of the nodes [1]
  TANDEM_HEADER_TIMEOUT_MS     time to send a request head; idle keep-alive [10000]
  TANDEM_MAX_CONNECTIONS       connections one node holds at once [18000]
  TANDEM_LOG_FORMAT            text or json [text]
  RUST_LOG                     log filter [info]
  NO_COLOR                     set: no colour in logs, even on a terminal";

impl NodeCommand {
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            NodeCommand::Serve => serve(),
            NodeCommand::Check { files } => check(files),
        }
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn serve() -> anyhow::Result<()> {
    let config = crate::config::Config::from_env()?;
    init_tracing(config.log_json);
    // Every page is an open socket: take all the files the system allows this process.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(files) => tracing::info!(files, "open-files limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-files limit"),
    }
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        crate::app::run(config, listener, shutdown).await
    })
}

async fn stop_on_signal(shutdown: CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
    shutdown.cancel();
    // In-flight requests get a bounded grace period, then the process exits regardless.
    tokio::time::sleep(std::time::Duration::from_secs(15)).await;
    tracing::warn!("shutdown grace period over; exiting");
    std::process::exit(0);
}

fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour_for(&std::io::stdout()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Colour only for a person at a terminal: never into a file or a pipe, never with `NO_COLOR`.
pub fn colour_for(stream: &impl std::io::IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn check(files: Vec<PathBuf>) -> anyhow::Result<()> {
    let files = if files.is_empty() {
        let dir = crate::config::Config::from_env()?.scripts_dir;
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        found.sort();
        found
    } else {
        files
    };
    let (mut failed, mut checked) = (0, 0);
    // A closed pipe (`| head`) ends the listing quietly instead of panicking.
    let mut out = std::io::stdout().lock();
    for file in &files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let shown = file.display();
        let lines = match crate::script::file::not_a_script(&text) {
            Some(why) => vec![format!("skip  {shown} ({why})")],
            None => {
                checked += 1;
                match crate::script::Script::parse_all(&shown.to_string(), &text) {
                    Ok(script) => vec![format!("ok    {shown} ({} states)", script.states.len())],
                    Err(problems) => {
                        failed += 1;
                        problems.iter().map(|p| format!("error {p}")).collect()
                    }
                }
            }
        };
        for line in lines {
            if writeln!(out, "{line}").is_err() {
                break;
            }
        }
    }
    anyhow::ensure!(failed == 0, "{failed} of {checked} scripts have errors");
    Ok(())
}
