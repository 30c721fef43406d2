//! `tandem demo`: the whole product on one machine with nothing to configure. A node on the
//! embedded store (or `--redis`), a sample alert, and a call on the dev phone when you press
//! Enter; the terminal is the phone, the browser is the page. The node stays up between calls
//! so the page can finish, and another call (with a new alert) is one key away.

mod timeline;

use std::time::Duration;

use anyhow::Context;
use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines, Stdin},
    net::TcpListener,
};
use tokio_util::sync::CancellationToken;

use tandem::{
    app,
    broker::{Broker, Command},
    config::Config,
    session::alert,
    token,
};

use self::timeline::Timeline;
use crate::phone::{
    Call, CallEvent, Phone, PhoneConfig, Voice,
    cli::run_scenario,
    scenario::{Target, approve_journey},
    terminal::Screen,
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
    /// Run the call's clock this many times faster: silent speech, keypad windows and pauses
    /// (2 halves every wait).
    #[arg(long, default_value_t = 1.0, value_parser = speed)]
    pub speed: f64,
    /// The voice provider the phone plays and the node serves: twilio, signalwire, telnyx,
    /// plivo or vonage.
    #[arg(long, default_value = "twilio", value_parser = crate::phone::provider::parse_dialect)]
    pub provider: crate::phone::Dialect,
}

fn speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.1..=100.0).contains(&f) => Ok(f),
        _ => Err("a factor between 0.1 and 100".into()),
    }
}

pub async fn run(o: DemoOptions) -> anyhow::Result<()> {
    let screen = Screen::new();
    let listener = TcpListener::bind(("127.0.0.1", o.port))
        .await
        .with_context(|| format!("port {} is busy; try --port 0", o.port))?;
    let base = format!("http://{}", listener.local_addr()?);
    let api_listener = TcpListener::bind("127.0.0.1:0").await?;
    let api_base = format!("http://{}", api_listener.local_addr()?);

    // Fresh secrets for this run only; the demo's phone is the only provider there is.
    let account = crate::phone::Account::new(o.provider);
    let api_key = token::generate();
    let config = demo_config(&base, &api_base, &account, &api_key, o.redis.as_deref())?;
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
        voice_path: account.voice_path(),
        status_path: account.status_path(),
        account,
        timeout_scale: 1.0 / o.speed,
        voice: match o.headless {
            true => Voice::Instant,
            false => Voice::aloud_if_possible(!o.mute),
        },
    });
    let api = phone.fake_api();
    tokio::spawn(async move { axum::serve(api_listener, api).await });

    if let Some(url) = &o.redis {
        wait_for_store(&broker, url).await?;
    }
    let store = if o.redis.is_some() {
        "Redis"
    } else {
        "the embedded store"
    };
    screen.info(&format!("tandem is running at {base} on {store}"));

    let result = if o.headless {
        raise_sample_alert(&base, &api_key).await?;
        screen.info("headless: the phone verifies, opens the page and approves by itself");
        let target = Target {
            server: base.clone(),
            public_url: base.clone(),
        };
        let result = run_scenario(&phone, &approve_journey(CUSTOMER), &target, &screen).await;
        if result.is_ok() {
            screen
                .info("demo complete: the charges were approved on the page and heard on the call");
        }
        result
    } else {
        rounds(&phone, &broker, &base, &api_key, &screen).await
    };
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    result
}

/// Calls, one after another, each on a new alert, until the user quits.
async fn rounds(
    phone: &Phone,
    broker: &Broker,
    base: &str,
    api_key: &str,
    screen: &Screen,
) -> anyhow::Result<()> {
    let mut keyboard = Keyboard::new();
    raise_sample_alert(base, api_key).await?;
    screen.info(&format!(
        "a sample alert is raised for Dana Reyes ({CUSTOMER}, card ending 4242): \
         her card is held over two charges"
    ));
    screen.info("press Enter to call the bank from her phone (q and Enter quits)");
    if !keyboard.go_on(screen).await {
        return Ok(());
    }
    loop {
        let call = phone.place_call(CUSTOMER, BANK).await;
        screen.info(
            "calling: type keys and Enter when the keypad opens (the card ends 4242); \
             h and Enter hangs up",
        );
        screen.info("when the text arrives, open its link in a browser on this machine");
        if run_call(phone, broker, call, screen, &mut keyboard).await == Ended::Quit {
            return Ok(());
        }
        screen.info(
            "the call and its session are over, and the page says so; press Enter to call \
             again with a new alert, or q and Enter to quit",
        );
        if !keyboard.go_on(screen).await {
            return Ok(());
        }
        // A newer alert for the same phone supersedes the last one, as the bank's would.
        raise_sample_alert(base, api_key).await?;
        screen.info("a new alert is raised for Dana Reyes");
    }
}

/// The keyboard, read a line at a time.
struct Keyboard {
    lines: Lines<BufReader<Stdin>>,
    open: bool,
}

impl Keyboard {
    fn new() -> Self {
        Self {
            lines: BufReader::new(tokio::io::stdin()).lines(),
            open: true,
        }
    }

    /// The next line typed; `None` once the keyboard is gone (then never again).
    async fn line(&mut self) -> Option<String> {
        if !self.open {
            return std::future::pending().await;
        }
        match self.lines.next_line().await {
            Ok(Some(line)) => Some(line.trim().to_owned()),
            _ => {
                self.open = false;
                None
            }
        }
    }

    /// Waits for Enter; `false` for q, Ctrl-C, or no keyboard at all.
    async fn go_on(&mut self, screen: &Screen) -> bool {
        if !self.open {
            screen.info("no keyboard: run `tandem demo --headless` to watch a call by itself");
            return false;
        }
        tokio::select! {
            line = self.line() => match line {
                Some(line) => !matches!(line.as_str(), "q" | "quit"),
                None => {
                    screen.info("no keyboard: run `tandem demo --headless` to watch a call by itself");
                    false
                }
            },
            _ = tokio::signal::ctrl_c() => false,
        }
    }
}

#[derive(PartialEq, Eq)]
enum Ended {
    Call,
    Quit,
}

/// One call from the keyboard, with the session's log beside it, until the call has ended
/// and its session has closed.
async fn run_call(
    phone: &Phone,
    broker: &Broker,
    mut call: Call,
    screen: &Screen,
    keyboard: &mut Keyboard,
) -> Ended {
    let mut timeline = Timeline::new(broker.clone(), call.sid.clone());
    let mut wakes = broker.wakeups();
    let (mut hanging_up, mut quit) = (false, false);
    let mut agent_offered = false;
    loop {
        tokio::select! {
            event = call.next_event(Duration::from_secs(3600)) => {
                timeline.catch_up(screen).await;
                match event {
                    Some(event) if !phone_event(screen, &event) => {}
                    _ => break,
                }
            }
            sms = phone.next_sms(CUSTOMER, Duration::from_secs(3600)) => {
                if let Some(sms) = sms {
                    // The link's text is sent just before the session records it as sent;
                    // wait (briefly) for that record, so the order is the same every run.
                    let link = sms.body.contains("/s/");
                    timeline
                        .catch_up_until(screen, &mut wakes, Duration::from_secs(2), |t| {
                            !link || t.link_texted
                        })
                        .await;
                    screen.sms(&sms);
                }
            }
            _ = wakes.recv() => timeline.catch_up(screen).await,
            line = keyboard.line() => {
                if let Some(line) = line {
                    match line.as_str() {
                        "" => {}
                        "h" | "hangup" | "q" => {
                            quit |= line == "q";
                            if !hanging_up {
                                hanging_up = true;
                                screen.info("hanging up");
                                call.hang_up().await;
                            }
                        }
                        "a" => join_as_agent(broker, &timeline, screen).await,
                        keys if keys.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#') => {
                            call.press(keys);
                        }
                        _ => screen.error("type keypad keys (0-9 * #) and Enter, a to join as the agent, or h to hang up"),
                    }
                }
            }
            _ = tokio::signal::ctrl_c(), if !hanging_up => {
                hanging_up = true;
                quit = true;
                screen.info("hanging up");
                call.hang_up().await;
            }
        }
        let waits = match (timeline.moved && !agent_offered, timeline.session()) {
            (true, Some(id)) => broker.awaiting_agent(id).await.unwrap_or(false),
            _ => false,
        };
        if waits {
            agent_offered = true;
            screen.info(
                "no representative staffs the demo: type a and Enter to join as one (the call \
                 is then put through to you), or wait 2 minutes for the callback offer",
            );
        }
    }
    // The call is over; its status callback closes the session. Show that too.
    timeline.phone_ended = true;
    timeline
        .catch_up_until(screen, &mut wakes, Duration::from_secs(5), |t| t.closed)
        .await;
    match quit {
        true => Ended::Quit,
        false => Ended::Call,
    }
}

/// What the phone itself shows; `true` once the call has ended. What the IVR said and the
/// keys pressed are the session's own events and come from its log.
fn phone_event(screen: &Screen, event: &CallEvent) -> bool {
    match event {
        CallEvent::Said(_)
        | CallEvent::DigitsSent(_)
        | CallEvent::Spoke(_)
        | CallEvent::Paused(_)
        | CallEvent::LiveUpdate { .. }
        | CallEvent::Webhook { .. } => false,
        other => screen.call_event(other),
    }
}

/// The demo plays the representative too: joining is what an agent desk would do.
async fn join_as_agent(broker: &Broker, timeline: &Timeline, screen: &Screen) {
    let Some(session) = timeline.session() else {
        screen.error("no session yet to join");
        return;
    };
    let joined = broker
        .apply(Command::AgentJoined {
            session,
            name: "You, as the representative".into(),
        })
        .await;
    if let Err(e) = joined {
        screen.error(&format!("could not join: {e}"));
    }
}

fn demo_config(
    base: &str,
    api_base: &str,
    account: &crate::phone::Account,
    key: &str,
    redis: Option<&str>,
) -> anyhow::Result<Config> {
    let scripts = std::env::var("TANDEM_SCRIPTS_DIR").unwrap_or_else(|_| "ivr-scripts".into());
    let mut vars = vec![
        (
            "TANDEM_LISTEN",
            base.trim_start_matches("http://").to_owned(),
        ),
        ("TANDEM_PUBLIC_URL", base.to_owned()),
        ("TANDEM_API_KEY", key.to_owned()),
        ("TANDEM_SMS_FROM", BANK.to_owned()),
        ("TANDEM_AGENT_NUMBER", "+14155550199".to_owned()),
        ("TANDEM_SCRIPTS_DIR", scripts),
        ("TANDEM_REDIS_URL", redis.unwrap_or_default().to_owned()),
    ];
    vars.extend(account.server_env(api_base));
    let lookup = |k: &str| {
        vars.iter()
            .find(|(name, v)| *name == k && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    Ok(Config::from_lookup(lookup)?)
}

/// A plain sentence, not the API's error document, when the Redis asked for is not there.
async fn wait_for_store(broker: &Broker, url: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        match broker.health().await {
            Ok(()) => return Ok(()),
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => anyhow::bail!(
                "Redis at {url} does not answer ({e}); start it, or run the demo without --redis"
            ),
        }
    }
}

async fn raise_sample_alert(base: &str, api_key: &str) -> anyhow::Result<()> {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/alerts"))
        .bearer_auth(api_key)
        .json(&alert::sample(CUSTOMER))
        .send()
        .await
        .context("raising the sample alert")?;
    if res.status() != 201 {
        let status = res.status();
        let body: serde_json::Value = res.json().await.unwrap_or_default();
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("no reason given");
        anyhow::bail!("the sample alert was refused ({status}): {message}");
    }
    Ok(())
}
