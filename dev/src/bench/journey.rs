//! One customer's journey as the benchmark drives it, timing each part: the call on one node
//! (the dev phone following TwiML for real), the page on another.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};

use super::{
    API_KEY, BANK, Rig,
    stats::{self, Recorder},
};
use crate::phone::{Call, CallEvent, page::Device, page::PageSocket};

/// Deadline for one step of one journey; only reached when something is broken.
pub const STEP: Duration = Duration::from_secs(30);

/// A call whose webhook answer times are recorded as its events go by. Hold-loop requests
/// are long polls by design (answered when something happens), so they are not answer times.
pub struct Tracked {
    pub call: Call,
    rec: Recorder,
}

impl Tracked {
    pub fn new(call: Call, rec: &Recorder) -> Self {
        Self {
            call,
            rec: rec.clone(),
        }
    }

    /// Follows the call until `hit` matches an event; returns what it returned and when.
    async fn until<T>(
        &mut self,
        wanted: &str,
        mut hit: impl FnMut(&CallEvent) -> Option<T>,
    ) -> anyhow::Result<(T, Instant)> {
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event =
                self.call.next_event(left).await.ok_or_else(|| {
                    anyhow!("expected {wanted}, heard {:?}", self.call.transcript())
                })?;
            let now = Instant::now();
            match &event {
                CallEvent::Webhook {
                    url,
                    status,
                    elapsed,
                } => {
                    ensure!(*status == 200, "webhook {url} answered {status}");
                    if !url.contains("/hold") {
                        self.rec.record(stats::WEBHOOK, now, *elapsed);
                    }
                }
                CallEvent::Error(e) => bail!("the call failed: {e}"),
                CallEvent::Ended(reason) if !wanted.contains("end") => {
                    bail!("the call ended ({reason:?}) while expecting {wanted}")
                }
                _ => {}
            }
            if let Some(found) = hit(&event) {
                return Ok((found, now));
            }
        }
    }

    pub async fn said(&mut self, phrase: &str) -> anyhow::Result<Instant> {
        let wanted = phrase.to_lowercase();
        let (_, at) = self
            .until(&format!("to hear {phrase:?}"), |e| match e {
                CallEvent::Said(text) if text.to_lowercase().contains(&wanted) => Some(()),
                _ => None,
            })
            .await?;
        Ok(at)
    }

    pub async fn gathering(&mut self) -> anyhow::Result<()> {
        self.until("a gather", |e| {
            matches!(e, CallEvent::Gathering { .. }).then_some(())
        })
        .await
        .map(|_| ())
    }

    /// The live update that tells the busy call the outcome; when "Twilio" received it.
    pub async fn live_update(&mut self, must_say: &str) -> anyhow::Result<Instant> {
        let (twiml, received) = self
            .until("a live update", |e| match e {
                CallEvent::LiveUpdate { twiml, received } => Some((twiml.clone(), *received)),
                _ => None,
            })
            .await?
            .0;
        ensure!(
            twiml.contains(must_say),
            "the live update did not say {must_say}: {twiml}"
        );
        Ok(received)
    }

    pub async fn ended(&mut self) -> anyhow::Result<Instant> {
        let (_, at) = self
            .until("the call to end", |e| {
                matches!(e, CallEvent::Ended(_)).then_some(())
            })
            .await?;
        Ok(at)
    }
}

/// A session brought to the decision step: the call gathering on node A, the page on node B.
pub struct Live {
    pub call: Tracked,
    pub page: PageSocket,
    pub alert: String,
    pub started: Instant,
}

/// Posts an alert for `from` (on the page node) and returns its id.
pub async fn raise_alert(rig: &Rig, from: &str, kind: Option<&str>) -> anyhow::Result<String> {
    let mut alert = serde_json::to_value(tandem::session::alert::sample(from))?;
    if let Some(kind) = kind {
        alert["kind"] = kind.into();
    }
    let res = rig
        .http
        .post(format!("{}/api/v1/alerts", rig.page_node(from)))
        .bearer_auth(API_KEY)
        .json(&alert)
        .send()
        .await?;
    ensure!(res.status() == 201, "alert refused: {}", res.status());
    let body: serde_json::Value = res.json().await?;
    body["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no alert id"))
}

/// Alert, call, card digits, text, page opened on the other node, call at the decision.
pub async fn to_decision(rig: &Rig, rec: &Recorder, from: &str) -> anyhow::Result<Live> {
    let started = Instant::now();
    let alert = raise_alert(rig, from, None).await?;
    let mut call = Tracked::new(rig.phone.place_call(from, BANK).await, rec);
    call.said("last four digits").await?;
    call.call.press("4242");
    call.said("to get a text message with a link").await?;
    call.call.press("1");
    let sms = rig
        .phone
        .next_sms(from, STEP)
        .await
        .ok_or_else(|| anyhow!("no text arrived"))?;
    let link = crate::phone::page::link_in(&sms.body).ok_or_else(|| anyhow!("no link"))?;
    call.said("on its way").await?;
    let page_node = rig.page_node(from);
    let via_page_node = link.replacen(&rig.public, page_node, 1);
    let opened = Instant::now();
    let page = Device::new()
        .open_page(&via_page_node, page_node, &rig.public)
        .await
        .context("opening the page")?;
    let reacted = call.said("I see you have the charges").await?;
    rec.record(stats::LINK_TO_IVR, reacted, reacted - opened);
    call.gathering().await?;
    Ok(Live {
        call,
        page,
        alert,
        started,
    })
}

/// Taps approve on the page and times it to the call's live update; then checks the call
/// ends and the alert reads approved (a lost decision is an error, not a number).
/// `journey` records the whole journey's time; not for sessions that waited for others.
pub async fn approve(
    rig: &Rig,
    rec: &Recorder,
    mut live: Live,
    journey: bool,
) -> anyhow::Result<()> {
    let clicked = Instant::now();
    live.page.tap("approve").await?;
    let received = live.call.live_update("approved").await?;
    rec.record(
        stats::CLICK_TO_SPEECH,
        received,
        received.saturating_duration_since(clicked),
    );
    live.call.said("approved").await?;
    let ended = live.call.ended().await?;
    if journey {
        rec.record(stats::JOURNEY, ended, ended - live.started);
    }
    let status = alert_status(rig, &live.alert).await?;
    ensure!(
        status == "approved",
        "the alert reads {status} after approval"
    );
    rec.completed();
    Ok(())
}

pub async fn alert_status(rig: &Rig, id: &str) -> anyhow::Result<String> {
    let res = rig
        .http
        .get(format!("{}/api/v1/alerts/{id}", rig.page_node("")))
        .bearer_auth(API_KEY)
        .send()
        .await?;
    let code = res.status();
    let text = res.text().await?;
    ensure!(code == 200, "reading the alert answered {code}: {text}");
    let body: serde_json::Value = serde_json::from_str(&text)?;
    Ok(body["status"].as_str().unwrap_or_default().to_owned())
}

/// The whole journey for one customer.
pub async fn full(rig: &Rig, rec: &Recorder, from: &str) -> anyhow::Result<()> {
    let live = to_decision(rig, rec, from).await?;
    approve(rig, rec, live, true).await
}
