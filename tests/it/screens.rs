//! Journeys on screens, each through two nodes sharing one Redis: the bank starts the journey
//! by script name with its data on one node, the call runs on node A and the page on node B.
//! Every answer from the page is checked again by the server; a refused one records nothing.

use serde_json::{Value, json};
use tandem_dev::phone::{Call, Phone};

use crate::{helpers::*, redis::RedisServer};

const PUBLIC: &str = "https://ivr.bank.test";

pub(crate) struct Rig {
    pub(crate) phone: Phone,
    pub(crate) a: tandem_dev::bench::local::LocalNode,
    pub(crate) b: tandem_dev::bench::local::LocalNode,
    _redis: RedisServer,
}

pub(crate) async fn rig() -> Rig {
    let redis = RedisServer::start();
    let (port_a, port_b) = (crate::redis::free_port(), crate::redis::free_port());
    let mut config = phone_config(&format!("http://127.0.0.1:{port_a}"));
    config.public_url = PUBLIC.into();
    let phone = Phone::new(config);
    let api_base = serve_fake_api(&phone).await;
    let (a, b) = (
        node(port_a, &redis, &api_base, PUBLIC),
        node(port_b, &redis, &api_base, PUBLIC),
    );
    Rig {
        phone,
        a,
        b,
        _redis: redis,
    }
}

pub(crate) fn customer(phone: &str, first: &str, verify: Value, locale: Option<&str>) -> Value {
    let mut c = json!({ "id": format!("cust-{}", &phone[phone.len() - 6..]), "name": format!("{first} Example"), "phone": phone, "verify": verify });
    if let Some(l) = locale {
        c["locale"] = json!(l);
    }
    c
}

pub(crate) fn address(line1: &str, city: &str) -> Value {
    json!({ "address": { "line1": line1, "city": city, "state": "CA", "zip": "94110" } })
}

pub(crate) fn plans() -> Value {
    json!({
        "account": { "last4": "7781", "balance": "1200.00", "currency": "USD", "due": "2026-12-20" },
        "plans": [
            { "id": "p3", "name": "3 months", "months": 3, "monthly": "400.00", "currency": "USD" },
            { "id": "p6", "name": "6 months", "months": 6, "monthly": "200.00", "currency": "USD" },
            { "id": "p12", "name": "12 months", "months": 12, "monthly": "100.00", "currency": "USD" }
        ],
        "min_payment": "25.00"
    })
}

pub(crate) fn transactions() -> Value {
    json!({
        "card": { "brand": "Visa", "last4": "1881" },
        "transactions": [
            { "id": "t1", "merchant": "Bistro Lumiere", "amount": "212.40", "currency": "USD", "at": "2026-11-21T19:02:00Z" },
            { "id": "t2", "merchant": "Skyline Electronics", "amount": "1299.00", "currency": "USD", "at": "2026-11-22T10:15:00Z" }
        ]
    })
}

impl Rig {
    /// `POST /api/v1/journeys` on node B: status and body.
    pub(crate) async fn start(&self, body: Value) -> (u16, Value) {
        let res = http_client()
            .post(format!("{}/api/v1/journeys", self.b.base))
            .bearer_auth(API_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            res.status().as_u16(),
            res.json().await.unwrap_or(Value::Null),
        )
    }

    pub(crate) async fn journey(&self, script: &str, customer: Value, data: Value) {
        let (status, body) = self
            .start(json!({ "script": script, "customer": customer, "data": data }))
            .await;
        assert_eq!(status, 201, "{body}");
    }

    /// Waits for the text with the page link and opens it on a new device, through node B.
    pub(crate) async fn open(&self, from: &str) -> Page {
        let sms = self
            .phone
            .next_sms(from, SOON)
            .await
            .expect("the link is texted");
        let link = link_in(&sms.body).replacen(PUBLIC, &self.b.base, 1);
        Device::new().open_page(&link, &self.b.base, PUBLIC).await
    }

    /// The agent's view of the page's session.
    pub(crate) async fn context(&self, page: &Page) -> Value {
        api_get(&format!("{}/api/v1/sessions/{}", self.a.base, page.session)).await
    }

    pub(crate) async fn call(&self, from: &str) -> Call {
        self.phone.place_call(from, BANK_NUMBER).await
    }
}

/// Reads until the server sends a screen; returns it.
pub(crate) async fn next_screen(page: &mut Page) -> Value {
    page.expect("screen").await["screen"].clone()
}

/// Reads until the server refuses something; returns the refusal.
pub(crate) async fn refusal(page: &mut Page) -> Value {
    page.expect("refused").await
}

#[tokio::test]
async fn an_address_change_in_spanish_shows_each_customer_only_their_own_address() {
    let rig = rig().await;
    let (ana, ben) = (caller(), caller());
    rig.journey(
        "address-change",
        customer(&ana, "Ana", json!({"ssn_last4": "6789"}), Some("es-US")),
        address("12 Mission St", "San Francisco"),
    )
    .await;
    rig.journey(
        "address-change",
        customer(&ben, "Ben", json!({"ssn_last4": "1111"}), None),
        address("99 Pine Rd", "Oakland"),
    )
    .await;

    // Both call at once; each is verified on the call before a link is sent.
    let (mut call_a, mut call_b) = (rig.call(&ana).await, rig.call(&ben).await);
    call_a.expect_said("Hola Ana", SOON).await.unwrap();
    call_b.expect_said("Hello Ben", SOON).await.unwrap();
    call_a.press("6789");
    call_b.press("1111");
    call_a
        .expect_said("Le enviamos un enlace", SOON)
        .await
        .unwrap();
    let mut page_a = rig.open(&ana).await;
    let mut page_b = rig.open(&ben).await;

    let (screen_a, screen_b) = (page_a.screen().clone(), page_b.screen().clone());
    assert_eq!(screen_a["lang"], "es");
    assert_eq!(screen_a["title"], "Cambie su dirección postal");
    assert_eq!(
        component(&screen_b, "current")["items"][0]["value"],
        "99 Pine Rd"
    );
    assert_eq!(
        component(&screen_a, "current")["items"][0]["value"],
        "12 Mission St"
    );
    for (screen, stranger) in [(&screen_a, "Pine"), (&screen_b, "Mission")] {
        assert!(!screen.to_string().contains(stranger), "{screen}");
        assert!(!screen.to_string().contains("6789") && !screen.to_string().contains("1111"));
    }
    let form = component(&screen_a, "address");
    assert_eq!(
        form["fields"][4]["invalid"],
        "El código postal debe tener 5 dígitos"
    );

    // A broken answer is refused field by field, in the customer's language, and records nothing.
    let seq = screen_a["seq"].as_u64().unwrap();
    page_a
        .submit(
            seq,
            "address",
            json!({"line1": "500 Oak St", "city": "Daly City", "state": "California", "zip": ""}),
        )
        .await;
    let refused = refusal(&mut page_a).await;
    assert_eq!(refused["reason"], "invalid", "{refused}");
    assert_eq!(refused["errors"]["zip"], "Ingrese su código postal");
    assert_eq!(
        refused["errors"]["state"],
        "El estado debe tener dos letras, como CA"
    );
    assert_eq!(rig.context(&page_a).await["answers"], json!({}));

    page_a
        .submit(
            seq,
            "address",
            json!({"line1": "500 Oak St", "city": "Daly City", "state": "ca", "zip": "94 014"}),
        )
        .await;
    let submitted = page_a.expect("page_submit").await;
    assert_eq!(
        submitted["event"]["values"]["zip"], "94014",
        "digits are kept without spaces"
    );
    let check = next_screen(&mut page_a).await;
    assert_eq!(check["name"], "check");
    assert_eq!(component(&check, "new")["items"][0]["value"], "500 Oak St ");
    call_a
        .expect_said("La dirección nueva es 500 Oak St, Daly City, ca", SOON)
        .await
        .unwrap();
    call_a.expect_gathering(SOON).await.unwrap();

    // The same answer again is refused: the screen moved on.
    page_a
        .submit(
            seq,
            "address",
            json!({"line1": "1 Other St", "city": "X", "state": "CA", "zip": "94110"}),
        )
        .await;
    assert_eq!(refusal(&mut page_a).await["reason"], "stale_screen");

    page_a.act(check["seq"].as_u64().unwrap(), "confirm").await;
    // The last screen comes before the session's end, however close together they are.
    let seen = page_a.collect_until("session_closed").await;
    let done = seen
        .iter()
        .find(|m| m["type"] == "screen")
        .map(|m| m["screen"].clone())
        .unwrap_or_else(|| panic!("no screen before the end: {seen:?}"));
    assert_eq!(done["name"], "done");
    assert!(
        component(&done, "changed")["text"]
            .as_str()
            .unwrap()
            .contains("500 Oak St")
    );
    call_a.expect_said("quedó guardada", SOON).await.unwrap();
    call_a.expect_ended(SOON).await.unwrap();
    let ctx = rig.context(&page_a).await;
    assert!(
        ctx["cases"][0]["note"]
            .as_str()
            .unwrap()
            .contains("500 Oak St"),
        "{ctx}"
    );
    assert_eq!(ctx["answers"]["address"]["city"], "Daly City");

    // Ben keeps his address by keypad: the page follows the call.
    call_b
        .expect_said("Open it and type your new address", SOON)
        .await
        .unwrap();
    let seq_b = screen_b["seq"].as_u64().unwrap();
    page_b
        .submit(seq_b, "address", json!({"line1": "7 Elm Ct", "line2": "Apt 2", "city": "Berkeley", "state": "CA", "zip": "94704"}))
        .await;
    call_b
        .expect_said("The new address is 7 Elm Ct, Berkeley, CA", SOON)
        .await
        .unwrap();
    call_b.expect_gathering(SOON).await.unwrap();
    call_b.press("2");
    call_b
        .expect_said("we kept your old address", SOON)
        .await
        .unwrap();
    let kept = loop {
        let screen = next_screen(&mut page_b).await;
        if screen["name"] == "kept" {
            break screen;
        }
    };
    assert!(!kept.to_string().contains("Oak"), "{kept}");
    assert!(
        rig.context(&page_b).await["cases"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_payment_plan_chosen_by_keypad_moves_the_page_and_the_call_reads_the_plan_back() {
    let rig = rig().await;
    let from = caller();
    rig.journey(
        "payment-arrangement",
        customer(&from, "Dana", json!({"zip": "94110"}), None),
        plans(),
    )
    .await;
    let mut call = rig.call(&from).await;
    call.expect_said("balance of $1,200.00 on your account ending 7 7 8 1", SOON)
        .await
        .unwrap();
    call.press("94110");
    let mut page = rig.open(&from).await;
    let plans_screen = page.screen().clone();
    let options = &component(&plans_screen, "plan")["fields"][0]["options"];
    assert_eq!(
        options[1],
        json!({"value": "p6", "label": "6 months, $200.00 a month"})
    );
    call.expect_gathering(SOON).await.unwrap();

    // The keypad answers the page's question: the first answer wins, once.
    call.press("2");
    let by_voice = page.expect("page_submit").await;
    assert_eq!(by_voice["event"]["by"], "voice");
    assert_eq!(by_voice["event"]["values"], json!({"plan": "p6"}));
    let payment = next_screen(&mut page).await;
    assert_eq!(payment["name"], "payment");
    call.expect_said("You chose 6 months", SOON).await.unwrap();
    page.submit(
        plans_screen["seq"].as_u64().unwrap(),
        "plan",
        json!({"plan": "p3"}),
    )
    .await;
    assert_eq!(refusal(&mut page).await["reason"], "stale_screen");

    let seq = payment["seq"].as_u64().unwrap();
    let fields = &component(&payment, "payment")["fields"];
    assert_eq!(fields[0]["min"], "25.00");
    assert_eq!(fields[0]["max"], "1200.00");
    page.submit(
        seq,
        "payment",
        json!({"amount": "10", "start": "2020-01-01"}),
    )
    .await;
    let refused = refusal(&mut page).await;
    assert_eq!(
        refused["errors"]["amount"],
        "First payment amount must be between $25.00 and $1,200.00"
    );
    assert_eq!(
        refused["errors"]["start"],
        "Date of first payment must be today or within the next 30 days"
    );
    assert_eq!(
        refused["errors"]["agree"],
        "Tick the box to agree to the plan"
    );

    let start = (chrono::Utc::now().date_naive() + chrono::Days::new(3)).to_string();
    page.submit(
        seq,
        "payment",
        json!({"amount": "$1,250", "start": start, "agree": "yes"}),
    )
    .await;
    assert_eq!(
        refusal(&mut page).await["errors"]["amount"],
        "First payment amount must be between $25.00 and $1,200.00"
    );
    page.submit(
        seq,
        "payment",
        json!({"amount": "$250", "start": start, "agree": "yes"}),
    )
    .await;
    let review = next_screen(&mut page).await;
    assert_eq!(review["name"], "review");
    assert_eq!(
        component(&review, "summary")["items"][1]["value"],
        json!([{"money": {"amount": "250.00", "currency": "USD"}}])
    );
    call.expect_said(
        "Here is your plan: 6 months, $200.00 a month, with a first payment of $250.00 on",
        SOON,
    )
    .await
    .unwrap();
    call.expect_gathering(SOON).await.unwrap();
    call.press("1");
    call.expect_said("Your plan is set up", SOON).await.unwrap();
    assert_eq!(next_screen(&mut page).await["name"], "done");
    call.expect_ended(SOON).await.unwrap();
    let ctx = rig.context(&page).await;
    let note = ctx["cases"][0]["note"].as_str().unwrap();
    assert!(
        note.contains("6 months") && note.contains("$250.00"),
        "{note}"
    );
}

#[tokio::test]
async fn a_dispute_is_taken_on_the_page_and_opens_a_case_with_an_expectation() {
    let rig = rig().await;
    let from = caller();
    rig.journey(
        "dispute-intake",
        customer(&from, "Dana", json!({"card_last4": "1881"}), None),
        transactions(),
    )
    .await;
    let mut call = rig.call(&from).await;
    call.expect_said("dispute a charge on your Visa card", SOON)
        .await
        .unwrap();
    call.press("1881");
    let mut page = rig.open(&from).await;
    let screen = page.screen().clone();
    let charge = &component(&screen, "dispute")["fields"][0];
    assert_eq!(
        charge["options"][1]["label"],
        "Skyline Electronics, $1,299.00, Nov 22, 2026"
    );
    let seq = screen["seq"].as_u64().unwrap();

    page.submit(seq, "dispute", json!({"charge": "t9", "reason": "stolen"}))
        .await;
    let refused = refusal(&mut page).await;
    assert!(
        refused["errors"]["charge"]
            .as_str()
            .unwrap()
            .contains("Select one of the options"),
        "{refused}"
    );
    assert!(refused["errors"]["reason"].is_string());

    page.submit(
        seq,
        "dispute",
        json!({"charge": "t2", "reason": "not_received", "note": "Ordered a TV <b>never came</b>"}),
    )
    .await;
    let filed = next_screen(&mut page).await;
    assert_eq!(filed["name"], "filed");
    assert!(
        component(&filed, "received")["text"]
            .as_str()
            .unwrap()
            .starts_with(
                "Skyline Electronics, $1,299.00, Nov 22, 2026: I didn't receive what I paid for."
            ),
        "{filed}"
    );
    call.expect_said("We've opened a dispute for Skyline Electronics", SOON)
        .await
        .unwrap();
    call.expect_ended(SOON).await.unwrap();
    let ctx = rig.context(&page).await;
    assert_eq!(
        ctx["cases"][0]["expectation"],
        "A dispute specialist contacts the customer within two business days"
    );
    assert!(
        ctx["cases"][0]["note"]
            .as_str()
            .unwrap()
            .contains("<b>never came</b>"),
        "{ctx}"
    );
}

#[tokio::test]
async fn journey_data_that_does_not_match_the_script_is_refused_with_the_field_named() {
    let rig = rig().await;
    let from = caller();
    let who = customer(&from, "Dana", json!({"zip": "94110"}), None);
    let mut bad = plans();
    bad["plans"][0]["monthly"] = json!("four hundred");
    let (status, body) = rig
        .start(json!({"script": "payment-arrangement", "customer": who, "data": bad}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("data.plans[0].monthly:"),
        "{body}"
    );
    let (status, body) = rig
        .start(json!({"script": "no-such-script", "customer": who, "data": {}}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no script is named"),
        "{body}"
    );
    let (status, _) = rig
        .start(json!({"script": "payment-arrangement", "kind": "card_hold", "customer": who, "data": plans()}))
        .await;
    assert_eq!(status, 422);
    // Nothing was stored: the customer's call finds no journey.
    let mut call = rig.call(&from).await;
    call.expect_ended(SOON).await.unwrap();
    assert!(call.transcript().iter().all(|l| !l.contains("balance")));
}

/// Ana's call verified and her address page open: the call, the page and its screen's `seq`.
async fn at_address_form(rig: &Rig, from: &str) -> (Call, Page, u64) {
    rig.journey(
        "address-change",
        customer(from, "Ana", json!({"ssn_last4": "6789"}), None),
        address("12 Mission St", "San Francisco"),
    )
    .await;
    let mut call = rig.call(from).await;
    call.expect_said("Hello Ana", SOON).await.unwrap();
    call.press("6789");
    call.expect_said("type your new address", SOON)
        .await
        .unwrap();
    let page = rig.open(from).await;
    let seq = page.screen()["seq"].as_u64().unwrap();
    (call, page, seq)
}

#[tokio::test]
async fn answers_the_session_is_not_asking_for_are_refused_and_record_nothing() {
    let rig = rig().await;
    let from = caller();
    let (_call, mut page, seq) = at_address_form(&rig, &from).await;
    let good = json!({"line1": "500 Oak St", "city": "Daly City", "state": "CA", "zip": "94014"});

    page.submit(seq + 1000, "address", good.clone()).await;
    assert_eq!(refusal(&mut page).await["reason"], "stale_screen");
    page.submit(seq, "dispute", good.clone()).await;
    assert_eq!(refusal(&mut page).await["reason"], "not_offered");
    page.act(seq, "confirm").await;
    assert_eq!(refusal(&mut page).await["reason"], "not_offered");
    page.send_text(r#"{"type":"decide","decision":"approve"}"#)
        .await;
    assert_eq!(refusal(&mut page).await["reason"], "not_offered");
    page.send_text(r#"{"type":"talk_to_someone"}"#).await;
    assert_eq!(refusal(&mut page).await["reason"], "not_offered");
    let mut extra = good.clone();
    extra["is_admin"] = json!("yes");
    page.submit(seq, "address", extra).await;
    assert_eq!(refusal(&mut page).await["reason"], "unknown_field");
    let mut long = good.clone();
    long["line1"] = json!("9".repeat(5_000));
    page.submit(seq, "address", long).await;
    assert_eq!(refusal(&mut page).await["reason"], "too_long");
    // Markup where a number goes is a broken rule like any other.
    let mut marked = good.clone();
    marked["zip"] = json!("<b>94014</b>");
    page.submit(seq, "address", marked).await;
    assert_eq!(
        refusal(&mut page).await["errors"]["zip"],
        "ZIP code must be 5 digits"
    );

    // A 100 KB value is more than any page sends: the socket is closed before it is read.
    let mut huge = good.clone();
    huge["line1"] = json!("x".repeat(100 * 1024));
    page.submit(seq, "address", huge).await;
    let (_, _) = page.until_closed().await;

    let ctx = rig.context(&page).await;
    assert_eq!(ctx["answers"], json!({}), "{ctx}");
    let kinds: Vec<&str> = ctx["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"]["kind"].as_str())
        .collect();
    assert!(
        !kinds.contains(&"page_submit")
            && !kinds.contains(&"page_action")
            && !kinds.contains(&"decided"),
        "{kinds:?}"
    );
    assert!(!ctx["agent_requested"].as_bool().unwrap());

    // Another customer's page cannot even connect to this session, let alone answer for it.
    let ben = caller();
    let (_call_b, page_b, _) = at_address_form(&rig, &ben).await;
    assert_ne!(page_b.session, page.session);
    let stranger = Device::new();
    let refused = stranger
        .connect(&rig.b.base, &format!("/p/{}", page.session), PUBLIC, 0)
        .await;
    assert_eq!(refused.err(), Some(403));
}

#[tokio::test]
async fn markup_in_an_answer_is_shown_on_the_page_kept_for_the_agent_and_spoken_as_text() {
    let rig = rig().await;
    let from = caller();
    let (mut call, mut page, seq) = at_address_form(&rig, &from).await;
    let line1 = r#"<Say>1 Main</Say> & <b>"Co"</b>"#;
    page.submit(
        seq,
        "address",
        json!({"line1": line1, "city": "Daly City", "state": "CA", "zip": "94014"}),
    )
    .await;
    assert_eq!(
        page.expect("page_submit").await["event"]["values"]["line1"],
        line1
    );
    let check = next_screen(&mut page).await;
    assert_eq!(
        component(&check, "new")["items"][0]["value"],
        format!("{line1} ")
    );
    // The phone parses the TwiML as Twilio does: markup would have been verbs, not words.
    call.expect_said(&format!("The new address is {line1}, Daly City"), SOON)
        .await
        .unwrap();
    assert_eq!(
        rig.context(&page).await["answers"]["address"]["line1"],
        line1
    );
}

#[tokio::test]
async fn the_page_arrives_with_its_screen_and_the_snapshot_carries_it_only_when_the_page_lacks_it()
{
    let rig = rig().await;
    let from = caller();
    let (_call, page, seq) = at_address_form(&rig, &from).await;
    // The page came with the screen; the socket's snapshot did not repeat it.
    assert_eq!(page.screen()["name"], "address");
    assert_eq!(
        page.snapshot["session"]["screen"],
        Value::Null,
        "{}",
        page.snapshot
    );
    // A page holding an older showing, or none, gets the current one in the snapshot.
    let path = format!("/p/{}", page.session);
    for held in [Value::Null, json!({"seq": seq + 7})] {
        let fresh = page.reconnect(&rig.b.base, &path, PUBLIC, held).await;
        assert_eq!(fresh["session"]["screen"]["name"], "address", "{fresh}");
    }
}
