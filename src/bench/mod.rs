//! `tandem bench`: click-to-speech latency across two nodes sharing Redis.
//!
//! It starts a redis-server (unless given one), two `tandem serve` processes and the dev phone's
//! fake Twilio API, brings N sessions to the decision step — each call on node A, each page on
//! node B — and then approves them one at a time, timing from the page's approve message
//! leaving the client to the live call update carrying the answer reaching "Twilio".

pub mod local;

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::Semaphore;

use self::local::{LocalNode, LocalRedis, free_port};
use crate::phone::{Call, CallEvent, Phone, PhoneConfig, page::Device, page::PageSocket};

const ACCOUNT_SID: &str = "ACbe0c4f5e00000000000000000000bench";
const AUTH_TOKEN: &str = "bench-auth-token";
const API_KEY: &str = "bench-api-key";
const BANK: &str = "+18005550100";
/// Deadline for one step of one session; only reached when something is broken.
const STEP: Duration = Duration::from_secs(30);

#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// Live sessions to set up (calls at the decision step, pages open) before clicking.
    #[arg(long, default_value_t = 1000)]
    pub sessions: usize,
    /// Sessions being set up at once.
    #[arg(long, default_value_t = 100)]
    pub concurrency: usize,
    /// Use this Redis instead of starting a private redis-server.
    #[arg(long)]
    pub redis: Option<String>,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Stop with an error if the run takes longer than this many seconds.
    #[arg(long, default_value_t = 900)]
    pub max_secs: u64,
}

/// One session brought to the decision step.
struct Live {
    call: Call,
    page: PageSocket,
}

struct Rig {
    phone: Phone,
    http: reqwest::Client,
    public: String,
    node_b: String,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let limit = rlimit::increase_nofile_limit(u64::MAX).context("raising the open-files limit")?;
    let deadline = Duration::from_secs(options.max_secs);
    tokio::time::timeout(deadline, measure(options, limit))
        .await
        .map_err(|_| anyhow!("the benchmark ran over its time cap"))?
}

async fn measure(options: Options, open_files: u64) -> anyhow::Result<()> {
    let local_redis = match &options.redis {
        Some(_) => None,
        None => Some(LocalRedis::start()?),
    };
    let redis_url = options
        .redis
        .clone()
        .or_else(|| local_redis.as_ref().map(LocalRedis::url))
        .unwrap_or_default();
    let (port_a, port_b) = (free_port()?, free_port()?);
    let public = format!("http://127.0.0.1:{port_a}");
    let phone = Phone::new(PhoneConfig {
        server: public.clone(),
        public_url: public.clone(),
        account_sid: ACCOUNT_SID.into(),
        auth_token: AUTH_TOKEN.into(),
        voice_path: "/twilio/voice".into(),
        status_path: "/twilio/status".into(),
        // Gathers never time out while thousands of sessions are being set up.
        timeout_scale: 1000.0,
    });
    let api_base = serve_fake_api(&phone).await?;
    let exe = std::env::current_exe().context("finding the tandem binary")?;
    let scripts = std::env::var("TANDEM_SCRIPTS_DIR").unwrap_or_else(|_| "ivr-scripts".into());
    let env = [
        ("TANDEM_PUBLIC_URL", public.clone()),
        ("TANDEM_REDIS_URL", redis_url.clone()),
        ("TANDEM_API_KEY", API_KEY.into()),
        ("TANDEM_TWILIO_ACCOUNT_SID", ACCOUNT_SID.into()),
        ("TANDEM_TWILIO_AUTH_TOKEN", AUTH_TOKEN.into()),
        ("TANDEM_TWILIO_API_BASE", api_base),
        ("TANDEM_SMS_FROM", BANK.into()),
        ("TANDEM_SCRIPTS_DIR", scripts),
    ];
    let node_a = LocalNode::start(&exe, port_a, &env)?;
    let node_b = LocalNode::start(&exe, port_b, &env)?;
    eprintln!(
        "redis {redis_url}, node A {} (calls), node B {} (pages), open files {open_files}",
        node_a.base, node_b.base
    );

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let rig = Arc::new(Rig {
        phone,
        http,
        public,
        node_b: node_b.base.clone(),
    });
    let started = Instant::now();
    let lives = set_up(&rig, &options).await?;
    let setup = started.elapsed();
    eprintln!(
        "{} sessions live in {:.1} s; approving them one at a time",
        lives.len(),
        setup.as_secs_f64()
    );

    let clicks = click_all(lives).await?;
    report(&options, setup, &clicks)
}

async fn serve_fake_api(phone: &Phone) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let api = phone.fake_api();
    tokio::spawn(async move { axum::serve(listener, api).await });
    Ok(format!("http://{addr}"))
}

async fn set_up(rig: &Arc<Rig>, options: &Options) -> anyhow::Result<Vec<Live>> {
    let gate = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut tasks = Vec::with_capacity(options.sessions);
    for i in 0..options.sessions {
        let (rig, gate) = (rig.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            session(&rig, i)
                .await
                .with_context(|| format!("session {i}"))
        }));
    }
    let mut lives = Vec::with_capacity(tasks.len());
    let step = (tasks.len() / 10).max(1);
    for (i, task) in tasks.into_iter().enumerate() {
        lives.push(task.await??);
        if (i + 1) % step == 0 {
            eprintln!("  set up {}/{}", i + 1, options.sessions);
        }
    }
    Ok(lives)
}

/// One customer: alert, call, verification, text, page opened on the other node.
async fn session(rig: &Rig, i: usize) -> anyhow::Result<Live> {
    let from = format!("+1555{:07}", i);
    let alert = crate::session::alert::sample(&from);
    let res = rig
        .http
        .post(format!("{}/api/v1/alerts", rig.node_b))
        .bearer_auth(API_KEY)
        .json(&alert)
        .send()
        .await?;
    anyhow::ensure!(res.status() == 201, "alert refused: {}", res.status());
    let mut call = rig.phone.place_call(&from, BANK).await;
    call.expect_said("last four digits", STEP).await?;
    call.press("4242");
    call.expect_said("to get a text message with a link", STEP)
        .await?;
    call.press("1");
    let sms = rig
        .phone
        .next_sms(&from, STEP)
        .await
        .ok_or_else(|| anyhow!("no text arrived"))?;
    let link = sms
        .body
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .ok_or_else(|| anyhow!("no link in the text"))?;
    call.expect_said("on its way", STEP).await?;
    let via_b = link.replacen(&rig.public, &rig.node_b, 1);
    let page = Device::new()
        .open_page(&via_b, &rig.node_b, &rig.public)
        .await?;
    call.expect_said("I see you have the charges", STEP).await?;
    call.expect_gathering(STEP).await?;
    Ok(Live { call, page })
}

/// Approves each session in turn; returns click-to-speech per session.
async fn click_all(lives: Vec<Live>) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(lives.len());
    for mut live in lives {
        let clicked = Instant::now();
        live.page.tap("approve").await?;
        let received = loop {
            match live.call.next_event(STEP).await {
                Some(CallEvent::LiveUpdate { twiml, received }) => {
                    anyhow::ensure!(
                        twiml.contains("approved"),
                        "the live update did not say approved: {twiml}"
                    );
                    break received;
                }
                Some(CallEvent::Ended(reason)) => {
                    anyhow::bail!("call ended before the outcome: {reason:?}")
                }
                Some(_) => continue,
                None => anyhow::bail!("no live update within {STEP:?}"),
            }
        };
        out.push(received.saturating_duration_since(clicked));
        live.call.expect_said("approved", STEP).await?;
    }
    Ok(out)
}

fn report(options: &Options, setup: Duration, clicks: &[Duration]) -> anyhow::Result<()> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for d in clicks {
        hist.record((d.as_micros() as u64).max(1))?;
    }
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let figures = json!({
        "sessions": clicks.len(),
        "nodes": 2,
        "setup_seconds": setup.as_secs_f64(),
        "click_to_speech_ms": {
            "p50": ms(0.50), "p90": ms(0.90), "p99": ms(0.99), "max": hist.max() as f64 / 1000.0,
            "min": hist.min() as f64 / 1000.0, "mean": hist.mean() / 1000.0,
        },
    });
    println!(
        "click-to-speech over {} sessions on 2 nodes sharing Redis (page on B, call on A)",
        clicks.len()
    );
    println!("  p50 {:>8.3} ms   (bar: 1 ms)", ms(0.50));
    println!("  p90 {:>8.3} ms", ms(0.90));
    println!("  p99 {:>8.3} ms   (bar: 5 ms)", ms(0.99));
    println!("  max {:>8.3} ms", hist.max() as f64 / 1000.0);
    if let Some(path) = &options.json {
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
