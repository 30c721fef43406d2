//! `tandem bench`: latency and load across tandem nodes sharing one Redis.
//!
//! It starts a redis-server (unless given one on loopback), one or two `tandem serve`
//! processes and the dev phone's fake Twilio API, then drives simulated customers: each call
//! is the dev phone following TwiML for real on node A, each page a websocket client on node B.
//! Every scenario stops by itself (`--max-secs`), and any journey that fails or loses its
//! decision makes the run fail: the figures are only printed for a correct run.

pub mod journey;
pub mod local;
mod report;
mod scenarios;
pub mod stats;

use std::{
    path::PathBuf,
    sync::{Arc, atomic::AtomicUsize},
    time::Duration,
};

use anyhow::{Context, anyhow, ensure};
use indicatif::{ProgressBar, ProgressStyle};

use self::{
    local::{LocalNode, LocalRedis, free_port},
    stats::{Recorder, Sampler},
};
use crate::phone::{Phone, PhoneConfig};

pub(crate) const ACCOUNT_SID: &str = "ACbe0c4f5e00000000000000000000be0c";
pub(crate) const AUTH_TOKEN: &str = "bench-auth-token";
pub(crate) const API_KEY: &str = "bench-api-key";
pub(crate) const BANK: &str = "+18005550100";
/// The click-to-speech p99 a `ramp` step must keep, in milliseconds.
const RAMP_P99_MS: f64 = 5.0;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// `--sessions` live sessions at the decision step, then approved one at a time.
    Live,
    /// `--rate` new journeys per second for `--duration` seconds, each start to end.
    Steady,
    /// Steady steps from `--rate`, ×1.5 each, until click-to-speech p99 passes 5 ms.
    Ramp,
    /// `--sessions` idle page websockets on node A; server memory per connection.
    Idle,
    /// `--sessions` live sessions, then every page taps approve at once.
    Burst,
    /// Signed call webhooks at `--rate` per second on node A alone, for `--duration` seconds.
    Webhooks,
    /// `--sessions` live sessions, `--desks` of them followed by an agent's desk on node A
    /// while their pages tap on another node: from the tap to the event on the desk.
    Desk,
}

#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    #[arg(value_enum, default_value_t = Scenario::Live)]
    pub scenario: Scenario,
    /// Live sessions (live, burst) or idle websockets (idle).
    #[arg(long, default_value_t = 1000)]
    pub sessions: usize,
    /// Sessions being set up at once.
    #[arg(long, default_value_t = 100)]
    pub concurrency: usize,
    /// Open agent desks, each following one live session (desk).
    #[arg(long, default_value_t = 50)]
    pub desks: usize,
    /// New journeys (steady, ramp) or webhooks (webhooks) per second.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Seconds of load (steady, webhooks) or per step (ramp).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Nodes to start: calls go to the first, pages and the bank's API to the others
    /// (default: two, one for `webhooks`).
    #[arg(long)]
    pub nodes: Option<usize>,
    /// Use this Redis (loopback only) instead of starting a private redis-server.
    #[arg(long)]
    pub redis: Option<String>,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Render latency-over-time and percentile charts (SVG) into this folder.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Stop with an error if the run takes longer than this many seconds.
    #[arg(long, default_value_t = 900)]
    pub max_secs: u64,
    /// The voice provider the phone plays and the nodes serve: twilio, signalwire, telnyx,
    /// plivo or vonage.
    #[arg(long, default_value = "twilio", value_parser = crate::phone::provider::parse_dialect)]
    pub provider: crate::phone::Dialect,
}

/// The processes under test and the simulated outside world.
pub struct Rig {
    pub phone: Phone,
    pub http: reqwest::Client,
    /// The public URL Twilio signs webhooks for; node A serves it.
    pub public: String,
    /// Where pages (and the bank's API calls) go: every node but A, or A when alone.
    page_nodes: Vec<String>,
    nodes: Vec<LocalNode>,
    redis_url: String,
    _redis: Option<LocalRedis>,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let limit = rlimit::increase_nofile_limit(u64::MAX).context("raising the open-files limit")?;
    if let Some(url) = &options.redis {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        ensure!(
            matches!(host.as_deref(), Some("127.0.0.1" | "localhost" | "[::1]")),
            "the benchmark only targets loopback; --redis must be a 127.0.0.1 or localhost URL"
        );
    }
    let deadline = Duration::from_secs(options.max_secs);
    tokio::time::timeout(deadline, measure(options, limit))
        .await
        .map_err(|_| anyhow!("the benchmark ran over its time cap (--max-secs)"))?
}

async fn measure(options: Options, open_files: u64) -> anyhow::Result<()> {
    let node_count = match (options.scenario, options.nodes) {
        (_, Some(n)) => n,
        (Scenario::Webhooks, None) => 1,
        (_, None) => 2,
    };
    ensure!(
        (1..=26).contains(&node_count),
        "--nodes must be between 1 and 26"
    );
    let rig = Arc::new(start(&options, node_count).await?);
    eprintln!(
        "{:?}: redis {}, nodes {} (calls) {}, open files {open_files}",
        options.scenario,
        rig.redis_url,
        rig.public,
        if node_count > 1 {
            format!("and {} (pages)", rig.page_nodes.join(", "))
        } else {
            "alone".into()
        },
    );
    let round_trips = match options.scenario {
        Scenario::Steady | Scenario::Live => Some(report::round_trips(&rig).await?),
        _ => None,
    };
    let rec = Recorder::new();
    let redis = redis::Client::open(rig.redis_url.as_str())?
        .get_multiplexed_async_connection()
        .await
        .ok();
    // The driver and Redis share the machine's cores with the nodes, so they are watched too.
    let mut processes: Vec<(String, u32)> = rig
        .nodes
        .iter()
        .zip('A'..='Z')
        .map(|(n, letter)| (format!("node {letter}"), n.pid()))
        .collect();
    if let Some(local) = &rig._redis {
        processes.push(("redis-server".into(), local.pid()));
    }
    processes.push(("driver".into(), std::process::id()));
    let sampler = Sampler::start(&rec, processes, redis);
    let mut extra = serde_json::Map::new();
    // Each scenario says how many journeys (or sockets, or webhooks) it started.
    let planned = match options.scenario {
        Scenario::Live => scenarios::live(&rig, &rec, &options, &mut extra).await?,
        Scenario::Burst => scenarios::burst(&rig, &rec, &options, &mut extra).await?,
        Scenario::Steady => scenarios::steady(&rig, &rec, options.rate, options.duration).await?,
        Scenario::Ramp => scenarios::ramp(&rig, &rec, &options, &mut extra).await?,
        Scenario::Idle => scenarios::idle(&rig, &rec, &options, &mut extra).await?,
        Scenario::Webhooks => scenarios::webhooks(&rig, &rec, &options).await?,
        Scenario::Desk => scenarios::desk(&rig, &rec, &options, &mut extra).await?,
    };
    let resources = sampler.finish();
    let measured = rec.finish();
    let report = report::Report::new(
        &options,
        node_count,
        measured,
        resources,
        round_trips,
        extra,
    );
    report.print();
    if let Some(path) = &options.json {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(dir) = &options.plot {
        report.plot(dir)?;
    }
    ensure!(
        report.measured.errors.is_empty(),
        "{} journeys failed; first: {}",
        report.measured.errors.len(),
        report.measured.errors[0]
    );
    ensure!(
        report.measured.completed == planned as u64,
        "{} of {planned} completed",
        report.measured.completed
    );
    println!("all {planned} completed, no errors");
    Ok(())
}

async fn start(options: &Options, node_count: usize) -> anyhow::Result<Rig> {
    let local_redis = match &options.redis {
        Some(_) => None,
        None => Some(LocalRedis::start()?),
    };
    let redis_url = options
        .redis
        .clone()
        .or_else(|| local_redis.as_ref().map(LocalRedis::url))
        .unwrap_or_default();
    let ports: Vec<u16> = (0..node_count)
        .map(|_| free_port())
        .collect::<Result<_, _>>()?;
    let public = format!("http://127.0.0.1:{}", ports[0]);
    let account = match options.provider {
        crate::phone::Dialect::Twilio => crate::phone::Account::twilio(ACCOUNT_SID, AUTH_TOKEN),
        other => crate::phone::Account::new(other),
    };
    let phone = Phone::new(PhoneConfig {
        server: public.clone(),
        public_url: public.clone(),
        voice_path: account.voice_path(),
        status_path: account.status_path(),
        account: account.clone(),
        // Gathers never time out while thousands of sessions wait for their click.
        timeout_scale: 1000.0,
        voice: crate::phone::Voice::Instant,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api_base = format!("http://{}", listener.local_addr()?);
    let api = phone.fake_api();
    tokio::spawn(async move { axum::serve(listener, api).await });
    let exe = std::env::current_exe().context("finding the tandem binary")?;
    let scripts = std::env::var("TANDEM_SCRIPTS_DIR").unwrap_or_else(|_| "ivr-scripts".into());
    let mut env = vec![
        ("TANDEM_PUBLIC_URL", public.clone()),
        ("TANDEM_REDIS_URL", redis_url.clone()),
        ("TANDEM_API_KEY", API_KEY.into()),
        ("TANDEM_SMS_FROM", BANK.into()),
        ("TANDEM_SCRIPTS_DIR", scripts),
    ];
    env.extend(account.server_env(&api_base));
    let nodes = ports
        .iter()
        .map(|port| LocalNode::start(&exe, *port, &env))
        .collect::<Result<Vec<_>, _>>()?;
    let page_nodes = nodes
        .iter()
        .skip(usize::from(nodes.len() > 1))
        .map(|n| n.base.clone())
        .collect();
    Ok(Rig {
        phone,
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?,
        public,
        page_nodes,
        nodes,
        redis_url,
        _redis: local_redis,
    })
}

impl Rig {
    /// The node serving `customer`'s page: the same one for the whole journey.
    pub fn page_node(&self, customer: &str) -> &str {
        let n = self.page_nodes.len().max(1);
        let i = customer
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
        self.page_nodes
            .get(i % n)
            .map_or(&self.public, String::as_str)
    }
}

fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// Customers of `steady` and `ramp`, numbered across steps so no two journeys share a phone.
static NEXT_CUSTOMER: AtomicUsize = AtomicUsize::new(2_000_000);

/// A distinct customer phone number per journey of a run.
fn customer(i: usize) -> String {
    format!("+1555{:07}", i % 10_000_000)
}
