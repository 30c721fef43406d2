//! Redis dies mid-journey and comes back from its append-only file: what was acknowledged
//! survives, a tap made while it was away is refused clearly rather than lost, and the
//! session goes on once it is back, with no one reconnecting by hand.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::{helpers::*, redis::RedisServer};

/// Waits until the node reports its store healthy again.
async fn healthy(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if app.health().await.status() == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "the node never reconnected");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn redis_restarted_mid_journey_loses_nothing_and_refuses_clearly_while_away() {
    let mut redis = RedisServer::start_with_aof();
    let app = spawn_app_with(Options {
        redis_url: Some(redis.url()),
        ..Options::default()
    })
    .await;
    let from = caller();
    let (alert, mut call, mut page) = app.at_decision(&from).await;
    page.expect("said").await;

    redis.kill();
    // A tap while Redis is away is refused on the page, and nothing reaches the call.
    page.tap("approve").await;
    let refused = page.expect("decision_refused").await;
    assert_eq!(refused["reason"], "unavailable", "{refused}");
    assert_eq!(
        app.health().await.status(),
        503,
        "the balancer is told this node cannot serve"
    );

    redis.restart();
    healthy(&app).await;
    // Everything acknowledged before the crash came back from the append-only file.
    let session = api_get(&format!("{}/api/v1/sessions/{}", app.base, page.session)).await;
    assert_eq!(session["page"]["opened"], true, "{session}");
    assert!(
        session["decision"].is_null(),
        "the refused tap left no decision: {session}"
    );

    // The same socket (never reconnected by hand) taps again: applied once, heard by the call.
    page.tap("approve").await;
    assert_eq!(page.expect("decided").await["event"]["decision"], "approve");
    call.expect_said("approved", SOON).await.unwrap();
    call.expect_ended(SOON).await.unwrap();
    assert_eq!(app.alert_status(&alert).await, "approved");
    let session = api_get(&format!("{}/api/v1/sessions/{}", app.base, page.session)).await;
    let decided = session["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["kind"] == "decided")
        .count();
    assert_eq!(decided, 1, "exactly one decision");
}

#[tokio::test]
async fn while_redis_restarts_calls_hold_and_a_voice_decision_is_asked_again_not_lost() {
    let mut redis = RedisServer::start_with_aof();
    let app = spawn_app_with(Options {
        redis_url: Some(redis.url()),
        agent: true,
        // The hold loop comes back often, so it meets the outage within the test.
        hold_poll_ms: Some(300),
        ..Options::default()
    })
    .await;
    // X holds for the page; Y has the page open and the call asks for a decision.
    let (x, y) = (caller(), caller());
    let alert_x = app.raise_alert(&x).await;
    let alert_y = app.raise_alert(&y).await;
    let mut call_x = app.verified_call(&x).await;
    let link_x = app.request_link(&mut call_x, &x).await;
    let mut call_y = app.verified_call(&y).await;
    let link_y = app.request_link(&mut call_y, &y).await;
    let mut page_y = Device::new()
        .open_page(&link_y, &app.base, &app.origin())
        .await;
    call_y
        .expect_said("I see you have the charges", SOON)
        .await
        .unwrap();
    call_y.expect_gathering(SOON).await.unwrap();
    // Z decided before the crash.
    let z = caller();
    let alert_z = app.raise_alert(&z).await;
    let mut call_z = app.verified_call(&z).await;
    let link_z = app.request_link(&mut call_z, &z).await;
    let page_z = Device::new()
        .open_page(&link_z, &app.base, &app.origin())
        .await;
    call_z
        .expect_said("I see you have the charges", SOON)
        .await
        .unwrap();
    call_z.press("2");
    call_z.expect_said("declined", SOON).await.unwrap();

    redis.kill();
    // Y approves by voice while Redis is away: the call holds, as a holding call does, and
    // is asked again once Redis is back; every webhook answered with a document.
    call_y.press("1");
    call_y
        .expect_said("One moment, please", SOON)
        .await
        .unwrap();
    // The page's tap is refused on the page in the same way.
    page_y.tap("approve").await;
    let refused = page_y.expect("decision_refused").await;
    assert_eq!(refused["reason"], "unavailable", "{refused}");
    // X's hold loop meets the outage and keeps the caller holding.
    call_x
        .expect_said("One moment, please", SOON)
        .await
        .unwrap();

    redis.restart();
    healthy(&app).await;
    // Z's decision, acknowledged before the crash, came back from the append-only file.
    let session_z = api_get(&format!("{}/api/v1/sessions/{}", app.base, page_z.session)).await;
    assert_eq!(session_z["decision"]["decision"], "decline", "{session_z}");
    assert_eq!(app.alert_status(&alert_z).await, "declined");
    // Y's refused decisions left nothing behind.
    let session_y = api_get(&format!("{}/api/v1/sessions/{}", app.base, page_y.session)).await;
    assert!(session_y["decision"].is_null(), "{session_y}");
    assert_eq!(app.alert_status(&alert_y).await, "open");
    // Y is asked again, not sent away, and this time the answer lands.
    call_y
        .expect_said("press 2 or say decline", SOON)
        .await
        .unwrap();
    call_y.press("2");
    call_y.expect_said("declined", SOON).await.unwrap();
    assert_eq!(app.alert_status(&alert_y).await, "declined");
    assert!(
        !call_y
            .transcript()
            .iter()
            .any(|l| l.contains("having a problem")),
        "Y was never sent away: {:?}",
        call_y.transcript()
    );

    // X never left the hold loop: the page opens, the call hears it, and decides.
    let _page_x = Device::new()
        .open_page(&link_x, &app.base, &app.origin())
        .await;
    call_x
        .expect_said("I see you have the charges", SOON)
        .await
        .unwrap();
    call_x.press("1");
    call_x.expect_said("approved", SOON).await.unwrap();
    assert_eq!(app.alert_status(&alert_x).await, "approved");
    assert!(
        !call_x
            .transcript()
            .iter()
            .any(|line| line.contains("having a problem")),
        "X was never sent away: {:?}",
        call_x.transcript()
    );
}

/// The next line of a node's output that holds `part`, within `within`.
async fn line_with(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    part: &str,
    within: Duration,
) -> String {
    let found = tokio::time::timeout(within, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains(part) {
                return line;
            }
        }
        panic!("the node exited before logging {part:?}")
    });
    found
        .await
        .unwrap_or_else(|_| panic!("no {part:?} within {within:?}"))
}

#[tokio::test]
async fn a_node_started_without_its_store_or_credentials_says_why_and_is_ready_once_redis_is() {
    let mut redis = tandem_dev::bench::local::LocalRedis::start().unwrap();
    redis.kill();
    let port = crate::redis::free_port();
    let mut node = tokio::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .arg("serve")
        .env("TANDEM_LISTEN", format!("127.0.0.1:{port}"))
        .env("TANDEM_REDIS_URL", redis.url())
        .env(
            "TANDEM_SCRIPTS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../ivr-scripts"),
        )
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("TANDEM_TWILIO_AUTH_TOKEN")
        .env_remove("TANDEM_TWILIO_ACCOUNT_SID")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = node.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(out));
    let within = SOON;
    line_with(&mut lines, "TANDEM_TWILIO_AUTH_TOKEN", within).await;
    line_with(&mut lines, "the store does not answer", within).await;
    let health = format!("http://127.0.0.1:{port}/healthz");
    assert_eq!(
        http_client().get(&health).send().await.unwrap().status(),
        503
    );

    redis.restart().unwrap();
    line_with(&mut lines, "the store answers now", within).await;
    assert_eq!(
        http_client().get(&health).send().await.unwrap().status(),
        200
    );
}

/// A TCP proxy in front of Redis that can go silent: `freeze` stops every connection open at
/// that moment from carrying bytes while leaving it open (as a NAT's idle timeout, a cloud
/// failover or a pulled cable leaves it: no FIN, no RST); connections made later pass.
struct SilentProxy {
    url: String,
    opened: Arc<AtomicU64>,
    frozen_below: Arc<AtomicU64>,
    freeze: tokio::sync::watch::Sender<()>,
}

impl SilentProxy {
    async fn start(redis_url: &str) -> Self {
        let target = redis_url
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}/", listener.local_addr().unwrap());
        let (opened, frozen_below) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (freeze, frozen) = tokio::sync::watch::channel(());
        let (count, below) = (opened.clone(), frozen_below.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let number = count.fetch_add(1, Ordering::SeqCst);
                let (target, below, mut frozen) = (target.clone(), below.clone(), frozen.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    loop {
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => return,
                            _ = frozen.changed() => {
                                if number < below.load(Ordering::SeqCst) {
                                    break;
                                }
                            }
                        }
                    }
                    // Silent from now on, and never closed.
                    std::future::pending::<()>().await;
                    drop((inbound, outbound));
                });
            }
        });
        Self {
            url,
            opened,
            frozen_below,
            freeze,
        }
    }

    fn freeze(&self) {
        self.frozen_below
            .store(self.opened.load(Ordering::SeqCst), Ordering::SeqCst);
        self.freeze.send_replace(());
    }
}

#[tokio::test]
async fn redis_connections_gone_silent_are_replaced_and_the_page_and_call_carry_on() {
    let redis = RedisServer::start();
    let proxy = SilentProxy::start(&redis.url()).await;
    let app = spawn_app_with(Options {
        redis_url: Some(proxy.url.clone()),
        ..Options::default()
    })
    .await;
    let from = caller();
    app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    // The call holds in the hold loop, waiting for the page, when Redis goes silent.
    let link = app.request_link(&mut call, &from).await;
    proxy.freeze();
    let frozen = Instant::now();
    // The node notices its silent connections and opens new ones.
    loop {
        if app.health().await.status() == 200 && frozen.elapsed() > Duration::from_secs(1) {
            break;
        }
        assert!(
            frozen.elapsed() < Duration::from_secs(10),
            "the node never replaced its redis connections"
        );
    }
    let recovered = frozen.elapsed();
    println!("healthy again {recovered:?} after redis went silent");

    // The holding call carries on (no transfer): it hears the page open, then the decision.
    let mut device = Device::new();
    let mut page = device.open_page(&link, &app.base, &app.origin()).await;
    call.expect_said("I see you have the charges", SOON)
        .await
        .unwrap();
    call.expect_gathering(SOON).await.unwrap();
    // A second tab learns of the tap only through the bus, which was resubscribed too.
    let path = format!("/p/{}", page.session);
    let mut tab = device
        .connect(&app.base, &path, &app.origin(), 0)
        .await
        .unwrap();
    page.tap("approve").await;
    assert_eq!(page.expect("decided").await["event"]["decision"], "approve");
    assert_eq!(tab.expect("decided").await["event"]["decision"], "approve");
    call.expect_said("approved", SOON).await.unwrap();
    call.expect_ended(SOON).await.unwrap();
    assert!(
        recovered < Duration::from_secs(5),
        "recovery took {recovered:?}"
    );
}

/// A connection of the test's own to the app's Redis, to do to it what a fault would.
async fn redis_of(app: &TestApp) -> redis::aio::MultiplexedConnection {
    let url = app
        ._redis
        .as_ref()
        .expect("the app has its own redis")
        .url();
    let client = redis::Client::open(url).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// Holds every write on the app's Redis for `ms` (reads are still served), as a failover or
/// a stalled disk does: commands sent meanwhile are applied only afterwards.
async fn pause_writes(app: &TestApp, ms: u64) {
    let mut c = redis_of(app).await;
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(ms)
        .arg("WRITE")
        .query_async(&mut c)
        .await
        .unwrap();
}

/// Stops the app's Redis answering anything for `secs` (`DEBUG SLEEP`), as a stuck server does;
/// returns once it has stopped answering.
async fn stall(app: &TestApp, secs: u64) {
    let (mut c, mut probe) = (redis_of(app).await, redis_of(app).await);
    // The sleep answers only when it is over: send it and let it run.
    tokio::spawn(async move {
        let _: redis::RedisResult<()> = redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg(secs)
            .query_async(&mut c)
            .await;
    });
    let deadline = Instant::now() + SOON;
    loop {
        let ping = redis::cmd("PING");
        let pong = ping.query_async::<String>(&mut probe);
        if tokio::time::timeout(Duration::from_millis(200), pong)
            .await
            .is_err()
        {
            return;
        }
        assert!(Instant::now() < deadline, "redis never started its sleep");
    }
}

/// Raises a purchase to confirm by text; returns the alert once the question is texted.
async fn texted_question(app: &TestApp, from: &str) -> String {
    let mut alert = alert_json(from);
    alert["kind"] = "confirm_purchase".into();
    let res = app.post_alert(&alert, Some(API_KEY)).await;
    assert_eq!(res.status(), 201);
    let alert: serde_json::Value = res.json().await.unwrap();
    app.phone
        .next_sms(from, SOON)
        .await
        .expect("the question is texted");
    alert["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_tap_while_redis_sleeps_is_applied_or_truthfully_refused_never_both() {
    let app = spawn_app().await;
    let from = caller();
    let (alert, mut call, mut page) = app.at_decision(&from).await;

    stall(&app, 3).await;
    page.tap("approve").await;
    let first = loop {
        let m = page.next().await;
        if m["type"] == "decision_refused" || m["event"]["kind"] == "decided" {
            break m;
        }
    };
    if first["type"] == "decision_refused" {
        // Refused only when nothing was written: once Redis is awake the session has no
        // decision, and the next tap decides.
        assert_eq!(first["reason"], "unavailable", "{first}");
        let path = format!("/api/v1/sessions/{}", page.session);
        let deadline = Instant::now() + SOON;
        let session = loop {
            let (status, session) = context(&app, &path).await;
            if status == 200 {
                break session;
            }
            assert!(Instant::now() < deadline, "redis never woke");
        };
        assert_eq!(
            session["decision"],
            serde_json::Value::Null,
            "refused yet applied"
        );
        page.tap("approve").await;
        page.expect("decided").await;
    }
    call.expect_said("approved", SOON).await.unwrap();
    call.expect_ended(SOON).await.unwrap();
    assert_eq!(app.alert_status(&alert).await, "approved");
}

#[tokio::test]
async fn a_tap_while_redis_holds_writes_is_settled_not_refused_and_every_side_agrees() {
    let app = spawn_app().await;
    let from = caller();
    let (alert, mut call, mut page) = app.at_decision(&from).await;

    pause_writes(&app, 3000).await;
    page.tap("approve").await;
    // The write timed out, but it was sent: the page is never told nothing changed, and sees
    // the decision once Redis applies it.
    let seen = page.collect_until("decided").await;
    assert!(
        !seen.iter().any(|m| m["type"] == "decision_refused"),
        "the page was told its tap was refused: {seen:?}"
    );
    // The call hears it at once too, not when its gather times out.
    call.expect_said("approved", Duration::from_secs(6))
        .await
        .unwrap();
    call.expect_ended(SOON).await.unwrap();
    assert_eq!(app.alert_status(&alert).await, "approved");
}

#[tokio::test]
async fn a_key_press_while_redis_holds_writes_is_heard_as_the_decision_not_an_apology() {
    let app = spawn_app().await;
    let from = caller();
    let (alert, mut call, _page) = app.at_decision(&from).await;

    pause_writes(&app, 3000).await;
    call.press("1");
    call.expect_said("approved", SOON).await.unwrap();
    let said = call.transcript().join(" ");
    assert!(
        !said.contains("problem on our side"),
        "the caller heard an apology: {said}"
    );
    call.expect_ended(SOON).await.unwrap();
    assert_eq!(app.alert_status(&alert).await, "approved");
}

#[tokio::test]
async fn a_texted_yes_while_redis_holds_writes_gets_its_true_answer() {
    texted_yes_gets_its_true_answer_while(|app| Box::pin(pause_writes(app, 3000))).await;
}

/// A texted YES sent just after `fault` strikes the app's Redis is answered "approved", and
/// the bank's alert says so.
async fn texted_yes_gets_its_true_answer_while(
    fault: impl for<'a> FnOnce(&'a TestApp) -> std::pin::Pin<Box<dyn Future<Output = ()> + 'a>>,
) {
    let app = spawn_app().await;
    let from = caller();
    let alert = texted_question(&app, &from).await;

    fault(&app).await;
    let answer = app
        .phone
        .text(&from, BANK_NUMBER, "YES")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(answer.contains("approved"), "{answer}");
    assert_eq!(app.alert_status(&alert).await, "approved");
}

#[tokio::test]
async fn an_alert_whose_decision_never_reached_it_is_repaired_when_the_bank_reads_it() {
    let app = spawn_app().await;
    let from = caller();
    let alert = app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    let link = app.request_link(&mut call, &from).await;
    let mut page = Device::new()
        .open_page(&link, &app.base, &app.origin())
        .await;
    call.expect_said("I see you have the charges", SOON)
        .await
        .unwrap();
    page.tap("approve").await;
    call.expect_said("approved", SOON).await.unwrap();
    call.expect_ended(SOON).await.unwrap();
    // The alert's status write is lost, as when Redis failed just after the decision.
    let mut redis = redis_of(&app).await;
    let key = format!("tandem:alert:{{{alert}}}");
    let () = redis::cmd("HSET")
        .arg(&key)
        .arg("status")
        .arg("open")
        .query_async(&mut redis)
        .await
        .unwrap();
    // The bank reads the truth, and the alert is mended for good.
    assert_eq!(app.alert_status(&alert).await, "approved");
    let stored: String = redis::cmd("HGET")
        .arg(&key)
        .arg("status")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(stored, "approved");
}

#[tokio::test]
async fn a_key_press_while_redis_sleeps_holds_the_call_and_is_then_applied_or_asked_again() {
    let app = spawn_app().await;
    let (alert, mut call, _page) = app.at_decision(&caller()).await;

    stall(&app, 3).await;
    call.press("1");
    // Not the apology and a hang-up: the call holds while Redis sleeps.
    call.expect_said("one moment", SOON).await.unwrap();
    let next = call
        .expect_said_one_of(&["approved", "press 1 or say approve"], SOON)
        .await
        .unwrap();
    if !next.to_lowercase().contains("approved") {
        // The press never landed, and the caller is asked again, not told it did.
        assert_eq!(app.alert_status(&alert).await, "open");
        call.press("1");
        call.expect_said("approved", SOON).await.unwrap();
    }
    let said = call.transcript().join(" ");
    assert!(
        !said.contains("problem on our side"),
        "the caller heard an apology: {said}"
    );
    call.expect_ended(SOON).await.unwrap();
    assert_eq!(app.alert_status(&alert).await, "approved");
}

#[tokio::test]
async fn a_texted_yes_while_redis_sleeps_waits_for_it_and_gets_its_true_answer() {
    texted_yes_gets_its_true_answer_while(|app| Box::pin(stall(app, 3))).await;
}

/// A dispute journey whose page is open on its form: the call, the page and the form's `seq`.
async fn at_dispute_form(app: &TestApp, from: &str) -> (tandem_dev::phone::Call, Page, u64) {
    let who = crate::screens::customer(
        from,
        "Dana",
        serde_json::json!({"card_last4": "1881"}),
        None,
    );
    app.start_journey("dispute-intake", who, crate::screens::transactions())
        .await;
    let mut call = app.place_call(from).await;
    call.expect_said("dispute a charge", SOON).await.unwrap();
    call.press("1881");
    let sms = app
        .phone
        .next_sms(from, SOON)
        .await
        .expect("the link is texted");
    let page = Device::new()
        .open_page(&link_in(&sms.body), &app.base, &app.origin())
        .await;
    call.expect_said("tap Send", SOON).await.unwrap();
    let seq = page.screen()["seq"].as_u64().unwrap();
    (call, page, seq)
}

fn dispute() -> serde_json::Value {
    serde_json::json!({"charge": "t1", "reason": "wrong_amount"})
}

#[tokio::test]
async fn a_form_sent_while_redis_sleeps_is_recorded_or_truthfully_refused_never_both() {
    let app = spawn_app().await;
    let from = caller();
    let (mut call, mut page, seq) = at_dispute_form(&app, &from).await;

    stall(&app, 3).await;
    page.submit(seq, "dispute", dispute()).await;
    let first = loop {
        let m = page.next().await;
        if m["type"] == "refused" || m["event"]["kind"] == "page_submit" {
            break m;
        }
    };
    if first["type"] == "refused" {
        assert!(
            first["reason"] == "unavailable" || first["reason"] == "unconfirmed",
            "{first}"
        );
        let path = format!("/api/v1/sessions/{}", page.session);
        let deadline = Instant::now() + SOON;
        let session = loop {
            let (status, session) = context(&app, &path).await;
            if status == 200 {
                break session;
            }
            assert!(Instant::now() < deadline, "redis never woke");
        };
        // Refused as unavailable means nothing was written; unconfirmed may have landed.
        if first["reason"] == "unavailable" {
            assert_eq!(
                session["answers"],
                serde_json::json!({}),
                "refused yet applied"
            );
        }
        if session["answers"] == serde_json::json!({}) {
            page.submit(seq, "dispute", dispute()).await;
            page.expect("page_submit").await;
        }
    }
    call.expect_said("We've opened a dispute for Bistro Lumiere", SOON)
        .await
        .unwrap();
    call.expect_ended(SOON).await.unwrap();
    let (_, session) = context(&app, &format!("/api/v1/sessions/{}", page.session)).await;
    assert_eq!(
        session["cases"].as_array().unwrap().len(),
        1,
        "one dispute, once"
    );
}

#[tokio::test]
async fn a_form_sent_while_redis_holds_writes_is_settled_not_refused_and_the_call_hears_it() {
    let app = spawn_app().await;
    let from = caller();
    let (mut call, mut page, seq) = at_dispute_form(&app, &from).await;

    pause_writes(&app, 3000).await;
    page.submit(seq, "dispute", dispute()).await;
    let seen = page.collect_until("page_submit").await;
    assert!(
        !seen.iter().any(|m| m["type"] == "refused"),
        "the page was told its answer was refused: {seen:?}"
    );
    call.expect_said(
        "We've opened a dispute for Bistro Lumiere",
        Duration::from_secs(6),
    )
    .await
    .unwrap();
    // Sent again by an impatient customer: the first answer stands.
    page.submit(seq, "dispute", dispute()).await;
    let again = page.expect("refused").await;
    assert!(
        again["reason"] == "stale_screen"
            || again["reason"] == "already_answered"
            || again["reason"] == "session_closed",
        "{again}"
    );
}
