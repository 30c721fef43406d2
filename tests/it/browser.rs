//! The page in a real browser: Debian's Chromium, headless, phone-sized, driven by playwright-core
//! (`tests/browser/driver.mjs`), against two real nodes behind a TCP balancer, with the dev phone
//! on the call. Each state is screenshotted into `tests/artifacts/screenshots/` and checked with
//! axe-core; a serious or critical violation fails the test.

use std::{path::PathBuf, process::Stdio, time::Duration};

use serde_json::{Value, json};
use tandem_dev::{bench::local::LocalNode, phone::Phone};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout},
};

use crate::{helpers::*, redis::RedisServer};

/// One browser process; each named page is its own device (its own cookies).
struct Browser {
    _child: Child,
    stdin: ChildStdin,
    out: Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

impl Browser {
    async fn start() -> Self {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/..", "/tests/browser"));
        assert!(
            dir.join("node_modules/playwright-core").exists(),
            "the browser tests' packages are missing: ./scripts/test.sh installs them \
             (npm ci in tests/browser) and Chromium"
        );
        let mut child = tokio::process::Command::new("node")
            .arg("driver.mjs")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs (./scripts/test.sh installs it)");
        let stdin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(90), out.next_line())
            .await
            .expect("Chromium starts within 90 s")
            .unwrap()
            .expect("the driver says it is ready");
        let ready: Value = serde_json::from_str(&ready).unwrap();
        assert_eq!(ready["ready"], true, "{ready}");
        Self {
            _child: child,
            stdin,
            out,
            next_id: 0,
        }
    }

    /// Runs `op` with `args` in the browser; its answer, or what went wrong there.
    async fn try_op(&mut self, op: &str, mut args: Value) -> Result<Value, String> {
        self.next_id += 1;
        args["id"] = json!(self.next_id);
        args["op"] = json!(op);
        let mut line = args.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(30), self.out.next_line())
            .await
            .map_err(|_| format!("{op}: no answer from the browser in 30 s"))?
            .unwrap()
            .ok_or("the browser driver exited")?;
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["id"], self.next_id, "answers come in order");
        match answer["error"].as_str() {
            Some(e) => Err(format!("{op}: {e}")),
            None => Ok(answer),
        }
    }

    async fn op(&mut self, op: &str, args: Value) -> Value {
        let asked = args.to_string();
        self.try_op(op, args)
            .await
            .unwrap_or_else(|e| panic!("{e} (asked {asked})"))
    }

    async fn open(&mut self, device: &str, url: &str) -> Value {
        self.op("open", json!({ "name": device, "url": url })).await
    }

    async fn wait_text(&mut self, device: &str, selector: &str, text: &str) -> String {
        let args = json!({ "name": device, "selector": selector, "text": text });
        self.op("wait_text", args).await["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn count(&mut self, device: &str, selector: &str, text: &str) -> u64 {
        let args = json!({ "name": device, "selector": selector, "text": text });
        self.op("count", args).await["count"].as_u64().unwrap()
    }

    async fn visible(&mut self, device: &str, selector: &str) -> bool {
        let args = json!({ "name": device, "selector": selector });
        self.op("visible", args).await["visible"].as_bool().unwrap()
    }

    async fn press(&mut self, device: &str, selector: &str, key: &str) {
        self.op(
            "press",
            json!({ "name": device, "selector": selector, "key": key }),
        )
        .await;
    }

    async fn focused(&mut self, device: &str) -> String {
        let out = self.op("focused", json!({ "name": device })).await;
        out["focused"].as_str().unwrap_or_default().to_owned()
    }

    async fn fill(&mut self, device: &str, selector: &str, value: &str) {
        self.op(
            "fill",
            json!({ "name": device, "selector": selector, "value": value }),
        )
        .await;
    }

    async fn check(&mut self, device: &str, selector: &str) {
        self.op("check", json!({ "name": device, "selector": selector }))
            .await;
    }

    async fn tap(&mut self, device: &str, selector: &str) {
        self.op("tap", json!({ "name": device, "selector": selector }))
            .await;
    }

    /// Saves the page as `tests/artifacts/screenshots/<file>` (and `<file>-dark.png` as a phone
    /// in dark mode shows it) and checks it with axe-core in both colour schemes.
    async fn record(&mut self, device: &str, file: &str) {
        let dir = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/..",
            "/tests/artifacts/screenshots"
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(file).display().to_string();
        self.op("screenshot", json!({ "name": device, "path": path }))
            .await;
        let dark = dir
            .join(file.replace(".png", "-dark.png"))
            .display()
            .to_string();
        let axe = self
            .op("axe", json!({ "name": device, "dark_path": dark }))
            .await;
        assert_eq!(
            axe["violations"],
            json!([]),
            "serious or critical accessibility violations on {file}, light or dark"
        );
    }
}

/// Two nodes on one Redis behind a TCP balancer (A first) that is also the public address: the
/// browser, the customer's texts and Twilio all go through it.
struct Rig {
    _redis: RedisServer,
    a: LocalNode,
    _b: LocalNode,
    phone: Phone,
    public: String,
}

async fn rig() -> Rig {
    rig_with(vec![]).await
}

/// [`rig`], its nodes given `more` settings.
async fn rig_with(more: Vec<(&'static str, String)>) -> Rig {
    let redis = RedisServer::start();
    let (port_a, port_b) = (crate::redis::free_port(), crate::redis::free_port());
    let public = tcp_failover(vec![
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    ])
    .await;
    let phone = Phone::new(phone_config(&public));
    let api_base = serve_fake_api(&phone).await;
    let a = node_with(port_a, &redis, &api_base, &public, more.clone());
    let b = node_with(port_b, &redis, &api_base, &public, more);
    Rig {
        _redis: redis,
        a,
        _b: b,
        phone,
        public,
    }
}

impl Rig {
    /// An alert, the call, the caller verified and texted the link; the call then holds.
    async fn call_for_link(&self) -> (tandem_dev::phone::Call, String) {
        let from = caller();
        let res = http_client()
            .post(format!("{}/api/v1/alerts", self.public))
            .bearer_auth(API_KEY)
            .json(&alert_json(&from))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let mut call = self.phone.place_call(&from, BANK_NUMBER).await;
        let link = to_link(&self.phone, &mut call, &from).await;
        (call, link)
    }

    /// A journey started by script name with its data, and the customer's call to it.
    async fn journey(&self, script: &str, customer: Value, data: Value) -> tandem_dev::phone::Call {
        let from = customer["phone"].as_str().unwrap().to_owned();
        let res = http_client()
            .post(format!("{}/api/v1/journeys", self.public))
            .bearer_auth(API_KEY)
            .json(&json!({ "script": script, "customer": customer, "data": data }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        self.phone.place_call(&from, BANK_NUMBER).await
    }

    /// The session as the bank's API shows it.
    async fn session(&self, call: &tandem_dev::phone::Call) -> Value {
        api_get(&format!(
            "{}/api/v1/calls/{}/session",
            self.public, call.sid
        ))
        .await
    }
}

/// Opens the link on `device` and waits until the charges show and the page is live; the
/// page's address.
async fn open_charges(browser: &mut Browser, device: &str, link: &str) -> String {
    // Fetching a texted link claims nothing (a previewer does the same): one tap on Open
    // does. The page's own address opens directly.
    let shown = browser.open(device, link).await;
    assert_eq!(shown["status"], 200, "{shown}");
    let page_url = match link.contains("/s/") {
        true => {
            assert_eq!(shown["title"], "Your secure page", "{shown}");
            let opened = browser
                .op("submit", json!({ "name": device, "selector": "#open" }))
                .await;
            assert_eq!(opened["status"], 303, "{opened}");
            opened["at"].as_str().unwrap().to_owned()
        }
        false => shown["url"].as_str().unwrap().to_owned(),
    };
    assert!(page_url.contains("/p/"), "{page_url}");
    browser.wait_text(device, "#card-line", "4242").await;
    browser
        .wait_text(device, "#charges", "Skyline Electronics")
        .await;
    browser
        .wait_text(device, "#charges", "Bistro Lumiere")
        .await;
    browser.wait_text(device, "#link-state", "Live").await;
    page_url
}

#[tokio::test]
async fn on_a_phone_the_customer_sees_the_charges_approves_and_both_sides_confirm() {
    let rig = rig().await;
    let mut browser = Browser::start().await;
    let (mut call, link) = rig.call_for_link().await;

    // What the link shows before it is claimed, checked like every other page.
    let shown = browser.open("phone", &link).await;
    assert_eq!(shown["title"], "Your secure page", "{shown}");
    browser.record("phone", "page-open.png").await;
    open_charges(&mut browser, "phone", &link).await;
    // The call knows the page is open and waits on it.
    call.expect_said("I see you have the charges", SOON)
        .await
        .unwrap();
    call.expect_gathering(SOON).await.unwrap();
    assert!(browser.visible("phone", "#approve").await);
    // The call log follows the call but is not announced: a phone's screen reader would talk
    // over the IVR. Only the outcome (a status) and refusals (an alert) are.
    assert_eq!(browser.count("phone", "#call-log[aria-live]", "").await, 0);
    browser.record("phone", "page-charges.png").await;

    browser.tap("phone", "#approve").await;
    browser.wait_text("phone", "#outcome", "approved").await;
    browser
        .wait_text("phone", "#call-log", "Approved on this page")
        .await;
    call.expect_said("approved", SOON).await.unwrap();
    browser.record("phone", "page-approved.png").await;

    call.expect_ended(SOON).await.unwrap();
    browser
        .wait_text("phone", "#outcome", "This call has ended")
        .await;
    assert!(!browser.visible("phone", "#actions").await);
    let session = rig.session(&call).await;
    assert_eq!(session["decision"]["decision"], "approve", "{session}");
    assert_eq!(session["decision"]["by"], "web", "{session}");
}

#[tokio::test]
async fn a_link_opened_on_a_second_phone_is_refused_and_the_first_keeps_working() {
    let rig = rig().await;
    let mut browser = Browser::start().await;
    let (mut call, link) = rig.call_for_link().await;
    open_charges(&mut browser, "phone", &link).await;

    let other = browser.open("other", &link).await;
    assert_eq!(other["status"], 404, "{other}");
    assert_eq!(other["title"], "This link can't be opened here", "{other}");
    assert_eq!(
        browser.count("other", "body", "Skyline Electronics").await,
        0,
        "the second phone sees no charge"
    );
    browser.record("other", "page-refused.png").await;

    // With the keyboard this time: the focus follows the buttons to the outcome.
    browser.press("phone", "#decline", "Enter").await;
    browser.wait_text("phone", "#outcome", "declined").await;
    assert_eq!(browser.focused("phone").await, "outcome");
    call.expect_said("declined", SOON).await.unwrap();
}

#[tokio::test]
async fn the_page_reconnects_to_the_other_node_when_its_node_is_killed() {
    let mut rig = rig().await;
    let mut browser = Browser::start().await;
    let (mut call, link) = rig.call_for_link().await;
    open_charges(&mut browser, "phone", &link).await;
    call.expect_said("I see you have the charges", SOON)
        .await
        .unwrap();
    call.expect_gathering(SOON).await.unwrap();

    // A served everything so far (the balancer tries it first); now it dies.
    rig.a.kill();
    browser
        .wait_text("phone", "#link-state", "Reconnecting")
        .await;
    browser.wait_text("phone", "#link-state", "Live").await;
    browser.record("phone", "page-reconnected.png").await;

    browser.tap("phone", "#approve").await;
    browser.wait_text("phone", "#outcome", "approved").await;
    call.expect_said("approved", SOON).await.unwrap();
    browser
        .wait_text("phone", "#call-log", "Approved on this page")
        .await;
    // Resumed from the last event seen: nothing shown twice.
    for line in [
        "Page opened",
        "Approved on this page",
        "Link sent by text message",
    ] {
        assert_eq!(
            browser.count("phone", "#call-log li", line).await,
            1,
            "{line:?} once in the page's call log"
        );
    }
}

#[tokio::test]
async fn a_call_that_ends_before_a_decision_leaves_the_page_in_its_ended_state() {
    let rig = rig().await;
    let mut browser = Browser::start().await;
    let (mut call, link) = rig.call_for_link().await;
    open_charges(&mut browser, "phone", &link).await;
    call.expect_said("I see you have the charges", SOON)
        .await
        .unwrap();

    call.hang_up().await;
    browser
        .wait_text("phone", "#link-state", "Call ended")
        .await;
    browser
        .wait_text("phone", "#outcome", "This call has ended")
        .await;
    assert!(!browser.visible("phone", "#actions").await);
    assert!(!browser.visible("phone", "#talk").await);
    browser.record("phone", "page-ended.png").await;
    let session = rig.session(&call).await;
    assert_eq!(session["status"], "closed", "{session}");
    assert_eq!(session["decision"], Value::Null, "{session}");
}

/// Another site's page, on another origin of the same host (so the browser even sends the
/// customer's SameSite cookie along): a form that posts a decision to the page's address, and a
/// script that opens the page's socket and sends one.
async fn attacker_site(public: &str, page_path: &str) -> String {
    let target = format!("{public}{page_path}");
    let socket = format!("{}{page_path}/ws", public.replacen("http", "ws", 1));
    let form = format!(
        r#"<!doctype html><html lang="en"><head><title>Win a prize</title></head><body><main>
<form method="post" action="{target}"><input type="hidden" name="decision" value="approve">
<button id="go">Claim your prize</button></form></main></body></html>"#
    );
    let script = format!(
        r#"<!doctype html><html lang="en"><head><title>Win a prize</title></head><body><main>
<p id="r">waiting</p><script>
const r = document.getElementById('r');
const ws = new WebSocket('{socket}');
ws.onopen = () => {{ r.textContent = 'opened'; ws.send(JSON.stringify({{type: 'decide', decision: 'approve'}})); }};
ws.onmessage = (m) => {{ r.textContent += ' message ' + m.data; }};
ws.onclose = (e) => {{ r.textContent += ' closed ' + e.code; }};
</script></main></body></html>"#
    );
    let app = axum::Router::new()
        .route(
            "/form",
            axum::routing::get(move || async move { axum::response::Html(form) }),
        )
        .route(
            "/socket",
            axum::routing::get(move || async move { axum::response::Html(script) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn another_site_cannot_decide_for_the_customer() {
    let rig = rig().await;
    let mut browser = Browser::start().await;
    let (mut call, link) = rig.call_for_link().await;
    let page_url = open_charges(&mut browser, "phone", &link).await;
    call.expect_said("I see you have the charges", SOON)
        .await
        .unwrap();
    let page_path = page_url.trim_start_matches(&rig.public).to_owned();

    // The same phone (same cookies) visits another site, which tries both ways in.
    let evil = attacker_site(&rig.public, &page_path).await;
    browser.open("phone", &format!("{evil}/socket")).await;
    let outcome = browser.wait_text("phone", "#r", "closed").await;
    assert!(
        !outcome.contains("opened") && !outcome.contains("message"),
        "the socket from another origin was refused before it opened: {outcome}"
    );
    browser.open("phone", &format!("{evil}/form")).await;
    let posted = browser
        .op("submit", json!({ "name": "phone", "selector": "#go" }))
        .await;
    assert_eq!(posted["status"], 405, "the page takes no posts: {posted}");

    let session = rig.session(&call).await;
    assert_eq!(session["decision"], Value::Null, "{session}");
    assert!(
        !session["events"].to_string().contains("decided"),
        "{session}"
    );

    // The customer, on the bank's page, still decides.
    open_charges(&mut browser, "phone", &page_url).await;
    browser.tap("phone", "#approve").await;
    call.expect_said("approved", SOON).await.unwrap();
}

/// Opens a texted link on `device`: one tap on Open claims it, then the page goes live.
async fn open_texted(browser: &mut Browser, rig: &Rig, device: &str, from: &str) {
    let sms = rig
        .phone
        .next_sms(from, SOON)
        .await
        .expect("the link is texted");
    let link = link_in(&sms.body);
    let shown = browser.open(device, &link).await;
    assert_eq!(shown["title"], "Your secure page", "{shown}");
    browser
        .op("submit", json!({ "name": device, "selector": "#open" }))
        .await;
    browser.wait_text(device, "#link-state", "").await;
    browser.wait_text(device, "#screen", "").await;
}

#[tokio::test]
async fn an_address_change_in_spanish_with_errors_then_confirmed_on_a_phone() {
    let rig = rig().await;
    let mut browser = Browser::start().await;
    let from = caller();
    let who = crate::screens::customer(&from, "Ana", json!({"ssn_last4": "6789"}), Some("es"));
    let mut call = rig
        .journey(
            "address-change",
            who,
            crate::screens::address("12 Mission St", "San Francisco"),
        )
        .await;
    call.expect_said("Hola Ana", SOON).await.unwrap();
    call.press("6789");
    open_texted(&mut browser, &rig, "phone", &from).await;
    browser
        .wait_text("phone", "#title", "Cambie su dirección postal")
        .await;
    browser.wait_text("phone", "#link-state", "En vivo").await;
    browser
        .wait_text("phone", "#current", "12 Mission St")
        .await;
    assert_eq!(
        browser
            .op("text", json!({"name": "phone", "selector": "html"}))
            .await["text"]
            .as_str()
            .map(|t| t.contains("6789")),
        Some(false),
        "the credential never reaches the page"
    );
    browser.record("phone", "journey-address.png").await;

    // Sent empty: the page says what to fix, in Spanish, and takes the focus to the summary.
    browser
        .tap("phone", "#form-address button[type=submit]")
        .await;
    browser
        .wait_text("phone", "#form-address .summary", "Hay un problema")
        .await;
    browser
        .wait_text("phone", "#f-address-zip-error", "Ingrese su código postal")
        .await;
    assert_eq!(
        browser.count("phone", "#form-address .summary a", "").await,
        4
    );
    browser.record("phone", "journey-address-errors.png").await;

    browser
        .fill("phone", "#f-address-line1", "500 Oak St")
        .await;
    browser.fill("phone", "#f-address-city", "Daly City").await;
    browser.fill("phone", "#f-address-state", "CA").await;
    browser.fill("phone", "#f-address-zip", "94014").await;
    browser
        .tap("phone", "#form-address button[type=submit]")
        .await;
    browser
        .wait_text("phone", "#title", "Revise su dirección nueva")
        .await;
    assert_eq!(
        browser.focused("phone").await,
        "title",
        "focus moves to the new screen"
    );
    browser.wait_text("phone", "#new", "500 Oak St").await;
    call.expect_said("La dirección nueva es 500 Oak St", SOON)
        .await
        .unwrap();
    browser.record("phone", "journey-address-check.png").await;

    browser.tap("phone", "#confirm").await;
    browser
        .wait_text("phone", "#title", "Dirección cambiada")
        .await;
    call.expect_said("quedó guardada", SOON).await.unwrap();
    call.expect_ended(SOON).await.unwrap();
    browser
        .wait_text("phone", "#outcome", "Esta llamada terminó")
        .await;
    browser.record("phone", "journey-address-done.png").await;
}

#[tokio::test]
async fn a_payment_plan_chosen_on_the_keypad_and_paid_on_the_page_of_a_phone() {
    let rig = rig().await;
    let mut browser = Browser::start().await;
    let from = caller();
    let who = crate::screens::customer(&from, "Dana", json!({"zip": "94110"}), None);
    let mut call = rig
        .journey("payment-arrangement", who, crate::screens::plans())
        .await;
    call.expect_said("balance of $1,200.00", SOON)
        .await
        .unwrap();
    call.press("94110");
    open_texted(&mut browser, &rig, "phone", &from).await;
    browser
        .wait_text("phone", "#title", "Choose a payment plan")
        .await;
    browser
        .wait_text("phone", "#form-plan", "6 months, $200.00 a month")
        .await;
    browser.wait_text("phone", "#account", "$1,200.00").await;
    browser.record("phone", "journey-plans.png").await;

    // The keypad answers the page's question; the page follows the call.
    call.expect_gathering(SOON).await.unwrap();
    call.press("2");
    browser
        .wait_text("phone", "#title", "Your first payment")
        .await;
    call.expect_said("You chose 6 months", SOON).await.unwrap();
    browser.record("phone", "journey-payment.png").await;

    browser.fill("phone", "#f-payment-amount", "5").await;
    browser
        .tap("phone", "#form-payment button[type=submit]")
        .await;
    browser
        .wait_text(
            "phone",
            "#f-payment-amount-error",
            "must be between $25.00 and $1,200.00",
        )
        .await;
    let start = (chrono::Utc::now().date_naive() + chrono::Days::new(3)).to_string();
    browser.fill("phone", "#f-payment-amount", "250").await;
    browser.fill("phone", "#f-payment-start", &start).await;
    browser.check("phone", "#f-payment-agree").await;
    browser
        .tap("phone", "#form-payment button[type=submit]")
        .await;
    browser
        .wait_text("phone", "#title", "Check your plan")
        .await;
    browser.wait_text("phone", "#summary", "$250.00").await;
    call.expect_said("with a first payment of $250.00", SOON)
        .await
        .unwrap();
    browser.record("phone", "journey-plan-review.png").await;

    browser.tap("phone", "#confirm").await;
    browser.wait_text("phone", "#title", "Plan set up").await;
    call.expect_said("Your plan is set up", SOON).await.unwrap();
    browser.record("phone", "journey-plan-done.png").await;
}

#[tokio::test]
async fn a_dispute_chosen_and_explained_on_a_phone_opens_a_case() {
    let rig = rig().await;
    let mut browser = Browser::start().await;
    let from = caller();
    let who = crate::screens::customer(&from, "Dana", json!({"card_last4": "1881"}), None);
    let mut call = rig
        .journey("dispute-intake", who, crate::screens::transactions())
        .await;
    call.expect_said("dispute a charge", SOON).await.unwrap();
    call.press("1881");
    open_texted(&mut browser, &rig, "phone", &from).await;
    browser
        .wait_text("phone", "#title", "Dispute a charge")
        .await;
    browser
        .wait_text("phone", "#form-dispute", "Skyline Electronics, $1,299.00")
        .await;
    browser.record("phone", "journey-dispute.png").await;

    browser.check("phone", "#f-dispute-charge-1").await;
    browser.check("phone", "#f-dispute-reason-2").await;
    browser
        .fill(
            "phone",
            "#f-dispute-note",
            "Ordered a TV <script>alert(1)</script>, never came",
        )
        .await;
    browser
        .tap("phone", "#form-dispute button[type=submit]")
        .await;
    browser
        .wait_text("phone", "#title", "Dispute received")
        .await;
    browser
        .wait_text(
            "phone",
            "#received",
            "Skyline Electronics, $1,299.00, Nov 22, 2026: I didn't receive what I paid for",
        )
        .await;
    call.expect_said("We've opened a dispute for Skyline Electronics", SOON)
        .await
        .unwrap();
    browser.record("phone", "journey-dispute-filed.png").await;
    let session = rig.session(&call).await;
    assert!(
        session["cases"][0]["note"]
            .as_str()
            .unwrap()
            .contains("<script>alert(1)</script>"),
        "{session}"
    );
}

#[tokio::test]
async fn the_screens_a_journey_ends_on_when_the_customer_says_no_are_clean_too() {
    let rig = rig().await;
    let mut browser = Browser::start().await;
    // Ben keeps his address: he answers the page's question on the keypad.
    let ben = caller();
    let who = crate::screens::customer(&ben, "Ben", json!({"ssn_last4": "1111"}), None);
    let mut call = rig
        .journey(
            "address-change",
            who,
            crate::screens::address("99 Pine Rd", "Oakland"),
        )
        .await;
    call.expect_said("Hello Ben", SOON).await.unwrap();
    call.press("1111");
    open_texted(&mut browser, &rig, "ben", &ben).await;
    browser.fill("ben", "#f-address-line1", "7 Elm Ct").await;
    browser.fill("ben", "#f-address-city", "Berkeley").await;
    browser.fill("ben", "#f-address-state", "CA").await;
    browser.fill("ben", "#f-address-zip", "94704").await;
    browser
        .tap("ben", "#form-address button[type=submit]")
        .await;
    browser
        .wait_text("ben", "#title", "Check your new address")
        .await;
    call.expect_gathering(SOON).await.unwrap();
    call.press("2");
    browser.wait_text("ben", "#title", "Nothing changed").await;
    browser
        .wait_text("ben", "#unchanged", "We kept the address we had")
        .await;
    browser.record("ben", "journey-address-kept.png").await;

    // Dana does not set up the plan she chose.
    let dana = caller();
    let who = crate::screens::customer(&dana, "Dana", json!({"zip": "94110"}), None);
    let mut call = rig
        .journey("payment-arrangement", who, crate::screens::plans())
        .await;
    call.expect_said("balance of", SOON).await.unwrap();
    call.press("94110");
    open_texted(&mut browser, &rig, "dana", &dana).await;
    browser.check("dana", "#f-plan-plan-0").await;
    browser.tap("dana", "#form-plan button[type=submit]").await;
    browser
        .wait_text("dana", "#title", "Your first payment")
        .await;
    let start = chrono::Utc::now().date_naive().to_string();
    browser.fill("dana", "#f-payment-amount", "25").await;
    browser.fill("dana", "#f-payment-start", &start).await;
    browser.check("dana", "#f-payment-agree").await;
    browser
        .tap("dana", "#form-payment button[type=submit]")
        .await;
    browser.wait_text("dana", "#title", "Check your plan").await;
    browser.tap("dana", "#cancel").await;
    browser.wait_text("dana", "#title", "No plan set up").await;
    call.expect_said("we haven't set up a plan", SOON)
        .await
        .unwrap();
    browser.record("dana", "journey-plan-cancelled.png").await;

    // The texted purchase question's page, with no call at all.
    let eve = caller();
    let mut alert = alert_json(&eve);
    alert["kind"] = json!("confirm_purchase");
    let res = http_client()
        .post(format!("{}/api/v1/alerts", rig.public))
        .bearer_auth(API_KEY)
        .json(&alert)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    open_texted(&mut browser, &rig, "eve", &eve).await;
    browser
        .wait_text("eve", "#title", "Confirm a purchase")
        .await;
    browser.wait_text("eve", "#charges", "Bistro Lumiere").await;
    browser.record("eve", "purchase-confirm.png").await;
    browser.tap("eve", "#approve").await;
    browser
        .wait_text("eve", "#outcome", "The purchase is approved")
        .await;
}

/// The customer's page on a phone and the agent's desk on a laptop, side by side on one
/// session across two nodes: what the agent does reaches the page and the call once.
#[tokio::test]
async fn the_agent_at_the_desk_and_the_customer_on_the_page_work_on_one_session() {
    const PASSWORD: &str = "a long desk password 1";
    let rig = rig_with(vec![("TANDEM_AGENT_NUMBER", AGENT_NUMBER.to_owned())]).await;
    let mut browser = Browser::start().await;
    for (login, name, role) in [
        ("ana", "Ana Lee", "agent"),
        ("sue", "Sue Park", "supervisor"),
    ] {
        let res = http_client()
            .post(format!("{}/api/v1/agents", rig.public))
            .bearer_auth(API_KEY)
            .json(&json!({ "login": login, "name": name, "team": "fraud", "role": role, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let (mut call, link) = rig.call_for_link().await;
    open_charges(&mut browser, "phone", &link).await;
    call.expect_said("I see you have the charges", SOON)
        .await
        .unwrap();
    call.expect_gathering(SOON).await.unwrap();
    // The customer would rather talk to someone.
    call.press("0");
    call.expect_said("Connecting you with a representative", SOON)
        .await
        .unwrap();

    // Ana signs in at the desk and finds the caller waiting.
    let desk = format!("{}/desk", rig.public);
    let sign = |who: &'static str| json!({ "name": who, "url": desk, "laptop": true });
    assert_eq!(browser.op("open", sign("desk")).await["status"], 200);
    browser.record("desk", "desk-sign-in.png").await;
    browser.fill("desk", "#login", "ana").await;
    browser.fill("desk", "#password", PASSWORD).await;
    click(&mut browser, "desk", "#sign-in button").await;
    browser.wait_text("desk", "#who", "Ana Lee").await;
    browser.wait_text("desk", "#queue", "Dana Reyes").await;
    browser.wait_text("desk", "#queue", "keypad").await;
    browser.record("desk", "desk-queue.png").await;
    click(&mut browser, "desk", "#queue button").await;
    browser
        .wait_text("desk", "#session-title", "Dana Reyes")
        .await;
    browser.wait_text("desk", "#timeline", "Pressed 0").await;
    browser
        .wait_text("desk", "#page", "Review suspected charges")
        .await;
    browser
        .wait_text("desk", "#facts", "yes, on the call")
        .await;
    browser.record("desk", "desk-session.png").await;

    // She takes the call: the caller is put through and their page says who is with them.
    click(&mut browser, "desk", "#take").await;
    browser
        .wait_text("phone", "#call-log", "Ana from Fraud is with you")
        .await;
    assert_eq!(transferred(&mut call).await, AGENT_NUMBER);

    // She puts another of the script's screens on the customer's page.
    browser
        .wait_text("desk", "#facts dd:last-of-type", "ana")
        .await;
    browser
        .op(
            "select",
            json!({ "name": "desk", "selector": "#screen-name", "value": "with_agent" }),
        )
        .await;
    click(&mut browser, "desk", "#screen-form button").await;
    browser
        .wait_text("phone", "#screen", "Someone from our fraud team")
        .await;
    browser
        .wait_text("desk", "#page", "Reviewing with our team")
        .await;

    // She records the customer's decision with a reason: the page hears it once.
    browser
        .fill("desk", "#reason", "the customer made both purchases")
        .await;
    click(&mut browser, "desk", "#decide button[value=approve]").await;
    browser.wait_text("phone", "#outcome", "approved").await;
    browser
        .wait_text("desk", "#timeline", "ana at the desk: decide")
        .await;
    browser.wait_text("desk", "#facts", "approve (desk)").await;
    browser.wait_text("desk", "#page", "$1,299.00").await;
    browser
        .wait_text("desk", "#queue-empty", "Nobody is waiting")
        .await;
    browser.record("desk", "desk-decided.png").await;
    let session = rig.session(&call).await;
    assert_eq!(session["decision"]["by"], "desk", "{session}");
    let decided = session["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["kind"] == "decided")
        .count();
    assert_eq!(decided, 1);
    assert_eq!(
        browser
            .count("desk", "#timeline li[data-kind=decided]", "")
            .await,
        1
    );

    // A supervisor sees the live session and the trail of who looked and acted.
    assert_eq!(browser.op("open", sign("supervisor")).await["status"], 200);
    browser.fill("supervisor", "#login", "sue").await;
    browser.fill("supervisor", "#password", PASSWORD).await;
    click(&mut browser, "supervisor", "#sign-in button").await;
    browser.wait_text("supervisor", "#live", "Dana Reyes").await;
    browser.wait_text("supervisor", "#audit", "ana take").await;
    assert!(!browser.visible("supervisor", "#actions").await);
    browser.record("supervisor", "desk-supervisor.png").await;
}

async fn click(browser: &mut Browser, device: &str, selector: &str) {
    browser
        .op("click", json!({ "name": device, "selector": selector }))
        .await;
}
