//! The scenarios: each sets up its sessions on the rig, drives them and records the figures.

use std::sync::{Arc, atomic::Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use tokio::sync::Semaphore;

use super::{
    BANK, NEXT_CUSTOMER, Options, RAMP_P99_MS, Rig, customer, journey,
    journey::{Live, STEP},
    progress, stats,
    stats::Recorder,
};
use crate::phone::page::Device;

/// Approves at the page; a failure is counted, not fatal.
async fn approve(rig: &Rig, rec: &Recorder, live: journey::Live) {
    if let Err(e) = journey::approve(rig, rec, live, false).await {
        rec.error(format!("{e:#}"));
    }
}

/// Brings `n` sessions to the decision step, `concurrency` at a time.
async fn set_up(
    rig: &Arc<Rig>,
    rec: &Recorder,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Live>> {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let bar = progress(n as u64, "setting up");
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (rig, gate, rec, bar) = (rig.clone(), gate.clone(), rec.clone(), bar.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let live = journey::to_decision(&rig, &rec, &customer(i))
                .await
                .with_context(|| format!("session {i}"));
            bar.inc(1);
            live
        }));
    }
    let mut lives = Vec::with_capacity(n);
    for task in tasks {
        lives.push(task.await??);
    }
    bar.finish_and_clear();
    Ok(lives)
}

pub(super) async fn live(
    rig: &Arc<Rig>,
    rec: &Recorder,
    options: &Options,
    extra: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<usize> {
    let started = Instant::now();
    let lives = set_up(rig, rec, options.sessions, options.concurrency).await?;
    extra.insert(
        "setup_seconds".into(),
        started.elapsed().as_secs_f64().into(),
    );
    extra.insert("live_sessions".into(), lives.len().into());
    let bar = progress(lives.len() as u64, "clicking");
    for live in lives {
        approve(rig, rec, live).await;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(options.sessions)
}

/// `--desks` agents, each signed in at node A and following one live session's timeline there,
/// while the session's page taps approve on another node: the tap to the decision on the desk.
pub(super) async fn desk(
    rig: &Arc<Rig>,
    rec: &Recorder,
    options: &Options,
    extra: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<usize> {
    let lives = set_up(rig, rec, options.sessions, options.concurrency).await?;
    extra.insert("live_sessions".into(), lives.len().into());
    extra.insert("open_desks".into(), options.desks.min(lives.len()).into());
    let mut desks = Vec::new();
    for (i, live) in lives.iter().take(options.desks).enumerate() {
        let cookie = desk_sign_in(rig, &format!("agent{i}")).await?;
        let url = format!(
            "{}/desk/api/sessions/{}/ws?after={}",
            rig.public.replacen("http", "ws", 1),
            live.page.session,
            live.page.last_seq
        );
        let origin = rig.public.trim_end_matches('/').to_owned();
        let ws = crate::phone::page::connect(&url, Some(&cookie), Some(&origin))
            .await
            .map_err(|e| anyhow!("desk {i} could not follow its session: {e}"))?;
        desks.push(ws);
    }
    let bar = progress(lives.len() as u64, "clicking");
    let mut desks = desks.into_iter();
    for live in lives {
        match desks.next() {
            Some(ws) => {
                // The desk listens before the tap, so its event cannot slip past.
                let seen = tokio::spawn(decision_seen(ws));
                let clicked = Instant::now();
                approve(rig, rec, live).await;
                match seen.await? {
                    Ok(at) => rec.record(
                        stats::CLICK_TO_DESK,
                        at,
                        at.saturating_duration_since(clicked),
                    ),
                    Err(e) => rec.error(format!("a desk: {e:#}")),
                }
            }
            None => approve(rig, rec, live).await,
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(options.sessions)
}

/// An agent account of the fraud team (whose script the sessions run), signed in at node A;
/// the desk cookie.
async fn desk_sign_in(rig: &Rig, login: &str) -> anyhow::Result<String> {
    let password = "bench desk password";
    let res = rig
        .http
        .post(format!("{}/api/v1/agents", rig.public))
        .bearer_auth(super::API_KEY)
        .json(
            &serde_json::json!({ "login": login, "name": "Bench Agent", "team": "fraud",
            "role": "agent", "password": password }),
        )
        .send()
        .await?;
    ensure!(
        res.status() == 201,
        "provisioning {login} answered {}",
        res.status()
    );
    let res = rig
        .http
        .post(format!("{}/desk/api/sign-in", rig.public))
        .header("origin", rig.public.trim_end_matches('/'))
        .json(&serde_json::json!({ "login": login, "password": password }))
        .send()
        .await?;
    ensure!(
        res.status() == 200,
        "signing {login} in answered {}",
        res.status()
    );
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("no desk cookie")?;
    Ok(cookie.to_owned())
}

/// When the desk's timeline brought the decision.
async fn decision_seen(
    mut ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> anyhow::Result<Instant> {
    use futures_util::StreamExt;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| anyhow!("no decision on the desk within 10 s"))?
            .context("the desk's socket closed")??;
        let at = Instant::now();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = msg {
            let event: serde_json::Value = serde_json::from_str(text.as_str())?;
            if event["event"]["event"]["kind"] == "decided" {
                return Ok(at);
            }
        }
    }
}

pub(super) async fn burst(
    rig: &Arc<Rig>,
    rec: &Recorder,
    options: &Options,
    extra: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<usize> {
    let lives = set_up(rig, rec, options.sessions, options.concurrency).await?;
    extra.insert("live_sessions".into(), lives.len().into());
    let n = lives.len();
    let started = Instant::now();
    // Every tap waits on one gate, so they leave together.
    let gate = Arc::new(tokio::sync::Barrier::new(lives.len()));
    let mut tasks = Vec::new();
    for live in lives {
        let (rig, rec, gate) = (rig.clone(), rec.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            gate.wait().await;
            approve(&rig, &rec, live).await;
        }));
    }
    for task in tasks {
        task.await?;
    }
    let took = started.elapsed().as_secs_f64();
    extra.insert("burst_seconds".into(), took.into());
    extra.insert("decisions_per_second".into(), (n as f64 / took).into());
    Ok(options.sessions)
}

/// Starts `rate` journeys a second for `secs` seconds and waits for all of them.
pub(super) async fn steady(
    rig: &Arc<Rig>,
    rec: &Recorder,
    rate: f64,
    secs: u64,
) -> anyhow::Result<usize> {
    ensure!(rate > 0.0, "--rate must be above 0");
    let total = (rate * secs as f64).round().max(1.0) as usize;
    let bar = progress(total as u64, &format!("{rate:.0}/s"));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total);
    for _ in 0..total {
        tick.tick().await;
        let (rig, rec, bar) = (rig.clone(), rec.clone(), bar.clone());
        let from = customer(NEXT_CUSTOMER.fetch_add(1, Ordering::Relaxed));
        tasks.push(tokio::spawn(async move {
            if let Err(e) = journey::full(&rig, &rec, &from).await {
                rec.error(format!("{e:#}"));
            }
            bar.inc(1);
        }));
    }
    for task in tasks {
        task.await?;
    }
    bar.finish_and_clear();
    Ok(total)
}

pub(super) async fn ramp(
    rig: &Arc<Rig>,
    rec: &Recorder,
    options: &Options,
    extra: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<usize> {
    let mut rate = options.rate;
    let mut steps = Vec::new();
    let mut best = None;
    let mut planned = 0;
    loop {
        let since = rec.elapsed().as_secs_f64();
        let errors_before = rec.counts().1;
        planned += steady(rig, rec, rate, options.duration).await?;
        let clicks = rec.since(stats::CLICK_TO_SPEECH, since);
        let p99 = stats::p99(&clicks);
        let ok = rec.counts().1 == errors_before && p99 <= RAMP_P99_MS;
        eprintln!(
            "  {rate:>7.1} journeys/s: click-to-speech p99 {p99:.3} ms {}",
            if ok { "ok" } else { "over" }
        );
        steps.push(serde_json::json!({ "rate": rate, "click_to_speech_p99_ms": p99, "ok": ok }));
        if !ok {
            break;
        }
        best = Some(rate);
        rate *= 1.5;
        // The next step must fit in what is left of the time cap.
        if rec.elapsed().as_secs_f64() + (options.duration as f64) * 3.0 > options.max_secs as f64 {
            break;
        }
    }
    extra.insert("ramp_steps".into(), steps.into());
    extra.insert("highest_rate_within_bar".into(), best.into());
    Ok(planned)
}

/// Opens idle pages: an SMS confirmation alert per customer (a session with a page link and no
/// call), the link claimed on node B, the websocket held open on node A.
pub(super) async fn idle(
    rig: &Arc<Rig>,
    rec: &Recorder,
    options: &Options,
    extra: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<usize> {
    let node_a = &rig.nodes[0];
    let n = options.sessions;
    let before = stats::proc_sample(node_a.pid()).ok_or_else(|| anyhow!("cannot read node A"))?;
    let gate = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let bar = progress(n as u64, "connecting");
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (rig, gate, bar, rec) = (rig.clone(), gate.clone(), bar.clone(), rec.clone());
        let node_a = rig.nodes[0].base.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let from = customer(5_000_000 + i);
            journey::raise_alert(&rig, &from, Some("confirm_purchase")).await?;
            let sms = rig
                .phone
                .next_sms(&from, STEP)
                .await
                .ok_or_else(|| anyhow!("no text"))?;
            let link = crate::phone::page::link_in(&sms.body).ok_or_else(|| anyhow!("no link"))?;
            let mut device = Device::new();
            let path = device
                .open_link(&link.replacen(&rig.public, rig.page_node(&from), 1))
                .await?;
            // As a browser does: the page (with its first screen) from node A, then its socket.
            let started = Instant::now();
            let html = device.load(&node_a, &path).await?;
            let screen = crate::phone::page::first_screen(&html);
            anyhow::ensure!(!screen.is_null(), "the page came without its screen");
            let page = device
                .connect_having(&node_a, &path, &rig.public, 0, screen)
                .await?;
            rec.record("page_connect", Instant::now(), started.elapsed());
            bar.inc(1);
            anyhow::Ok(page)
        }));
    }
    let mut pages = Vec::with_capacity(n);
    for task in tasks {
        pages.push(task.await??);
    }
    bar.finish_and_clear();
    let after = stats::proc_sample(node_a.pid()).ok_or_else(|| anyhow!("cannot read node A"))?;
    let per = (after.rss_bytes.saturating_sub(before.rss_bytes)) as f64 / n.max(1) as f64;
    extra.insert("idle_websockets".into(), pages.len().into());
    extra.insert(
        "node_a_rss_before_mib".into(),
        (before.rss_bytes as f64 / 1_048_576.0).into(),
    );
    extra.insert(
        "node_a_rss_after_mib".into(),
        (after.rss_bytes as f64 / 1_048_576.0).into(),
    );
    extra.insert("rss_per_websocket_bytes".into(), per.into());
    for _ in 0..pages.len() {
        rec.completed();
    }
    drop(pages);
    Ok(n)
}

/// Signed "incoming call" webhooks at a fixed rate on one node, each for a customer with an
/// open alert (so each starts a session), followed by that call's "completed" callback.
pub(super) async fn webhooks(
    rig: &Arc<Rig>,
    rec: &Recorder,
    options: &Options,
) -> anyhow::Result<usize> {
    let pairs = ((options.rate * options.duration as f64) / 2.0).ceil() as usize;
    let gate = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let bar = progress(pairs as u64, "alerts");
    let mut tasks = Vec::new();
    for i in 0..pairs {
        let (rig, gate, bar) = (rig.clone(), gate.clone(), bar.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            journey::raise_alert(&rig, &customer(7_000_000 + i), None).await?;
            bar.inc(1);
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    bar.finish_and_clear();
    let account = rig.phone.config().account.clone();
    let voice = format!("{}{}", rig.public, account.voice_path());
    let status = format!("{}{}", rig.public, account.status_path());
    let bar = progress((pairs * 2) as u64, "webhooks");
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / options.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(pairs * 2);
    let mut sids = Vec::with_capacity(pairs);
    for i in 0..pairs * 2 {
        tick.tick().await;
        let (rig, rec, bar, account) = (rig.clone(), rec.clone(), bar.clone(), account.clone());
        // Incoming calls first; each call's completion follows half the run later.
        let (url, sid, call_status, from) = if i < pairs {
            let sid = account.new_call_id();
            sids.push(sid.clone());
            (voice.clone(), sid, "ringing", customer(7_000_000 + i))
        } else {
            let j = i - pairs;
            (
                status.clone(),
                sids[j].clone(),
                "completed",
                customer(7_000_000 + j),
            )
        };
        let event = call_status == "completed";
        tasks.push(tokio::spawn(async move {
            let params = crate::phone::call_params(&account, &sid, call_status, &from, BANK);
            match rig.phone.timed_webhook(&url, params).await {
                Ok((200, body, elapsed)) if answered(account.dialect, &body, event) => {
                    rec.record(stats::WEBHOOK, Instant::now(), elapsed);
                    rec.completed();
                }
                Ok((code, body, _)) => rec.error(format!("{url} answered {code}: {body}")),
                Err(e) => rec.error(e),
            }
            bar.inc(1);
        }));
    }
    for task in tasks {
        task.await?;
    }
    bar.finish_and_clear();
    Ok(pairs * 2)
}

/// Whether `body` has the shape of the provider's answer: a document (an XML `<Response>`, an
/// NCCO array), or for a Vonage status event, nothing.
fn answered(dialect: crate::phone::Dialect, body: &str, event: bool) -> bool {
    match dialect {
        crate::phone::Dialect::Vonage => body.starts_with('[') || (event && body.is_empty()),
        _ => body.contains("<Response>"),
    }
}
