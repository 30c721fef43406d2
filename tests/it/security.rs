//! Bad input changes nothing; forged webhooks, other devices and other sessions get nowhere.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tandem_dev::phone::{Account, Dialect};

use crate::helpers::*;

fn call_form(from: &str, call_sid: &str) -> Vec<(String, String)> {
    tandem_dev::phone::call_params(&account(), call_sid, "ringing", from, BANK_NUMBER)
}

/// The body a form is posted as, byte for byte what is signed: the form, or the JSON Vonage
/// posts for the same parameters.
fn encoded(form: &[(String, String)]) -> String {
    match dialect() {
        Dialect::Vonage => {
            // Made twice (to sign, to send), so with a fixed time to be the same bytes.
            let mut body = tandem_dev::phone::ncco::callback(form, false);
            body["timestamp"] = json!("2026-12-07T12:00:00.000Z");
            body.to_string()
        }
        _ => form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish(),
    }
}

/// The headers `account` signs `form` to `url` with, as its provider would.
fn signed(account: &Account, url: &str, form: &[(String, String)]) -> Vec<(&'static str, String)> {
    account.sign(url, form, encoded(form).as_bytes())
}

async fn post_webhook(
    app: &TestApp,
    path: &str,
    form: &[(String, String)],
    headers: Vec<(&'static str, String)>,
) -> reqwest::Response {
    let content_type = match dialect() {
        Dialect::Vonage => "application/json",
        _ => "application/x-www-form-urlencoded",
    };
    let mut request = app
        .http
        .post(format!("{}{path}", app.base))
        .header("content-type", content_type)
        .body(encoded(form));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

/// Runs for the provider of this pass: only its own signature, for this URL and these
/// parameters (and for Telnyx, made within the last five minutes), gets a request in.
#[tokio::test]
async fn webhooks_with_a_missing_wrong_or_misdirected_signature_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let from = caller();
    app.raise_alert(&from).await;
    let account = account();
    let sid = account.new_call_id();
    let form = call_form(&from, &sid);
    let voice = route("voice");
    let url = format!("{}{voice}", app.base);

    let wrong_key = signed(&Account::new(dialect()), &url, &form);
    let other_url = signed(&account, &format!("{}{}", app.base, route("status")), &form);
    let mut tampered = form.clone();
    let at = tampered.iter().position(|(k, _)| k == "From").unwrap();
    tampered[at].1 = caller();
    let for_other_params = signed(&account, &url, &tampered);
    let body = encoded(&form);
    let stale = account.sign_at(
        &url,
        &form,
        body.as_bytes(),
        chrono::Utc::now().timestamp() - 330,
    );
    let future = account.sign_at(
        &url,
        &form,
        body.as_bytes(),
        chrono::Utc::now().timestamp() + 330,
    );
    let mut cases = vec![
        ("missing", vec![]),
        ("wrong key", wrong_key),
        ("other params", for_other_params),
    ];
    match dialect() {
        // Telnyx and Vonage sign a time and the body, not the URL: a captured request
        // replayed later is refused.
        Dialect::Telnyx | Dialect::Vonage => {
            cases.push(("signed 330 s ago", stale));
            cases.push(("signed 330 s ahead", future));
        }
        _ => cases.push(("other url", other_url)),
    }
    if dialect() == Dialect::Vonage {
        // Vonage may call its answer URL unsigned: the secret in the path keeps strangers out.
        let wrong = format!("/vonage/answer/{}", "0".repeat(64));
        for path in [wrong.as_str(), "/vonage/answer/", "/vonage/voice"] {
            let res = post_webhook(&app, path, &form, vec![]).await;
            assert!(
                matches!(res.status().as_u16(), 403 | 404),
                "{path}: {}",
                res.status()
            );
        }
    }
    // The first webhook of a call, and (below) one in the middle of it, refuse each forgery.
    let signed_first = dialect() != Dialect::Vonage;
    for (what, headers) in cases.iter().filter(|_| signed_first) {
        let res = post_webhook(&app, &voice, &form, headers.clone()).await;
        assert_eq!(res.status(), 403, "{what}");
    }
    // A genuine signature replayed on the same body with another call id.
    let genuine = signed(&account, &url, &form);
    let mut replayed = form.clone();
    let id = dialect().call_id_param();
    let at = replayed.iter().position(|(k, _)| k == id).unwrap();
    replayed[at].1 = account.new_call_id();
    if signed_first {
        let res = post_webhook(&app, &voice, &replayed, genuine).await;
        assert_eq!(res.status(), 403, "replayed with another call id");
    }
    if dialect() == Dialect::Plivo {
        // Plivo signs no time: the nonce, remembered once seen, is what refuses a replay.
        let headers = signed(&account, &url, &form);
        let wrong_call = {
            let mut f = form.clone();
            f[at].1 = account.new_call_id();
            f
        };
        let first = post_webhook(&app, &voice, &wrong_call, headers.clone()).await;
        assert_eq!(first.status(), 403, "signed for another call");
        let genuine = signed(&account, &url, &replayed);
        let res = post_webhook(&app, &voice, &replayed, genuine.clone()).await;
        assert_eq!(res.status(), 200, "the first delivery");
        let res = post_webhook(&app, &voice, &replayed, genuine).await;
        assert_eq!(res.status(), 403, "the same request, nonce and all, again");
    }
    // None of it opened a session for the call.
    let (status, _) = context(&app, &format!("/api/v1/calls/{sid}/session")).await;
    assert_eq!(status, 404, "a refused request recorded nothing");
    // The same call, signed properly, begins from the greeting.
    let res = post_webhook(&app, &voice, &form, signed(&account, &url, &form)).await;
    assert_eq!(res.status(), 200);
    let doc = res.text().await.unwrap();
    let verbs = tandem_dev::phone::parse_document(dialect(), &doc).expect("a valid document");
    assert!(doc.contains("Hello Dana"), "{doc}");
    let action = verbs
        .iter()
        .find_map(|v| match v {
            tandem_dev::phone::twiml::Verb::Gather(g) => g.action.clone(),
            _ => None,
        })
        .expect("the greeting gathers");
    // The gather's answer, forged every way, is refused and changes nothing.
    let gather = action.strip_prefix(&app.base).unwrap_or(&action).to_owned();
    let gather_url = format!("{}{gather}", app.base);
    let mut pressed = form.clone();
    pressed.push(("Digits".to_owned(), "1".to_owned()));
    let before = context(&app, &format!("/api/v1/calls/{sid}/session"))
        .await
        .1;
    let body = encoded(&pressed);
    let at = |secs: i64| chrono::Utc::now().timestamp() + secs;
    let mut tampered = pressed.clone();
    tampered.last_mut().unwrap().1 = "2".to_owned();
    let mut forgeries = vec![
        ("missing", vec![]),
        (
            "wrong key",
            signed(&Account::new(dialect()), &gather_url, &pressed),
        ),
        ("other keys", signed(&account, &gather_url, &tampered)),
    ];
    if matches!(dialect(), Dialect::Telnyx | Dialect::Vonage) {
        forgeries.push((
            "stale",
            account.sign_at(&gather_url, &pressed, body.as_bytes(), at(-330)),
        ));
        forgeries.push((
            "ahead",
            account.sign_at(&gather_url, &pressed, body.as_bytes(), at(330)),
        ));
    }
    for (what, headers) in forgeries {
        let res = post_webhook(&app, &gather, &pressed, headers).await;
        assert_eq!(res.status(), 403, "a forged gather: {what}");
    }
    let after = context(&app, &format!("/api/v1/calls/{sid}/session"))
        .await
        .1;
    assert_eq!(
        after["events"], before["events"],
        "a refused gather recorded nothing"
    );
    let genuine = signed(&account, &gather_url, &pressed);
    let res = post_webhook(&app, &gather, &pressed, genuine.clone()).await;
    assert_eq!(res.status(), 200, "the genuine gather");
    if matches!(dialect(), Dialect::Plivo | Dialect::Vonage) {
        // Signatures whose time does not stop a replay carry an id remembered once seen.
        let res = post_webhook(&app, &gather, &pressed, genuine).await;
        assert_eq!(res.status(), 403, "the same request again");
    }
}

#[tokio::test]
async fn a_signed_webhook_always_gets_valid_twiml_even_for_nonsense() {
    let app = spawn_app().await;
    let path = format!(
        "{}?session=00000000-0000-4000-8000-000000000000&turn=1",
        route("gather")
    );
    for form in [
        call_form(&caller(), &account().new_call_id()),
        vec![("Digits".to_owned(), "1".to_owned())],
        vec![
            ("CallSid".to_owned(), "<not a call>".to_owned()),
            ("Digits".to_owned(), "\u{0}".to_owned()),
        ],
    ] {
        let headers = signed(&account(), &format!("{}{path}", app.base), &form);
        let res = post_webhook(&app, &path, &form, headers).await;
        assert_eq!(res.status(), 200);
        let format = match dialect() {
            Dialect::Vonage => "application/json",
            _ => "text/xml",
        };
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(format)
        );
        let doc = res.text().await.unwrap();
        tandem_dev::phone::parse_document(dialect(), &doc).expect("a valid document");
        assert!(doc.contains("Sorry"), "{doc}");
    }
}

#[tokio::test]
async fn malformed_alerts_are_refused_with_a_reason_and_store_nothing() {
    let app = spawn_app().await;
    let from = caller();
    let mut unknown = alert_json(&from);
    unknown["customer"]["ssn"] = json!("123-45-6789");
    let mut missing = alert_json(&from);
    missing["card"].as_object_mut().unwrap().remove("last4");
    let mut long = alert_json(&from);
    long["charges"][0]["merchant"] = json!("x".repeat(101));
    let mut bad_phone = alert_json(&from);
    bad_phone["customer"]["phone"] = json!("555-0100");
    let cases: Vec<(&str, Value, Option<&str>, u16, &str)> = vec![
        (
            "unknown field",
            unknown,
            Some(API_KEY),
            422,
            "unknown field `ssn`",
        ),
        (
            "missing field",
            missing,
            Some(API_KEY),
            422,
            "missing field `last4`",
        ),
        (
            "over-long value",
            long,
            Some(API_KEY),
            422,
            "charges[0].merchant: is too long",
        ),
        ("bad phone", bad_phone, Some(API_KEY), 422, "customer.phone"),
        ("wrong key", alert_json(&from), Some("nope"), 401, "API key"),
        ("no key", alert_json(&from), None, 401, "API key"),
    ];
    for (what, body, key, status, says) in cases {
        let res = app.post_alert(&body, key).await;
        assert_eq!(res.status(), status, "{what}");
        let err: Value = res.json().await.unwrap();
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{what}: {message}");
    }
    let res = app
        .http
        .post(format!("{}/api/v1/alerts", app.base))
        .bearer_auth(API_KEY)
        .header("Content-Type", "application/json")
        .body("{\"customer\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422, "truncated JSON");
    // None of them stored an alert: the caller is unknown.
    let mut call = app.place_call(&from).await;
    call.expect_said("couldn't find an open alert", SOON)
        .await
        .unwrap();
}

/// One attempt at a link from the client at `ip`, with an optional device cookie.
async fn attempt(url: &str, ip: &str, cookie: Option<&str>) -> (u16, String, Option<String>) {
    let mut req = http_client()
        .get(url)
        .header("X-Forwarded-For", format!("10.9.9.9, {ip}"));
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    let res = req.send().await.unwrap();
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        res.status().as_u16(),
        res.text().await.unwrap(),
        retry_after,
    )
}

#[tokio::test]
async fn guessed_altered_or_claimed_links_are_all_refused_alike_and_a_guesser_is_stopped() {
    let app = spawn_app().await;
    let from = caller();
    app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    let link = app.request_link(&mut call, &from).await;
    let token = link.rsplit('/').next().unwrap().to_owned();
    let mut owner = Device::new();
    owner.open_link(&link).await.unwrap();
    let owner_cookie = owner.cookie().unwrap();
    let at = |t: &str| format!("{}/s/{t}", app.base);

    let mut near_miss = token.clone();
    let last = near_miss.pop().unwrap();
    near_miss.push(if last == 'A' { 'B' } else { 'A' });
    let random = tandem::token::generate();
    let attempts = [
        ("a random well-formed token", at(&random)),
        ("a near miss", at(&near_miss)),
        ("the token in another case", at(&token.to_uppercase())),
        ("the token padded", at(&format!("{token}=="))),
        ("the token with a space", at(&format!("{token}%20"))),
        ("a short token", at(&token[..10])),
        ("the claimed token on a second device", link.clone()),
    ];
    // The guesser is one client; the real customer (another address) is unaffected.
    let mut answers = Vec::new();
    for (what, url) in &attempts {
        let (status, body, _) = attempt(url, "203.0.113.7", None).await;
        assert_eq!(status, 404, "{what}");
        answers.push((what, body));
    }
    for (what, body) in &answers {
        assert_eq!(
            body, &answers[0].1,
            "{what} is refused exactly like a random guess"
        );
    }
    // A page address without the device's cookie is refused the same way, and counts.
    let page = owner.open_link(&link).await.unwrap();
    let (status, body, _) = attempt(&format!("{}{page}", app.base), "203.0.113.7", None).await;
    assert_eq!((status, &body), (404, &answers[0].1));

    // Eight failures so far; two more and the guesser's failures are answered with 429 until
    // the window passes, whatever it writes into the header itself.
    for _ in 0..2 {
        assert_eq!(attempt(&at(&random), "203.0.113.7", None).await.0, 404);
    }
    for spoofed in ["10.0.0.1", "10.0.0.2", "192.0.2.99"] {
        let res = http_client()
            .get(at(&tandem::token::generate()))
            .header("X-Forwarded-For", format!("{spoofed}, 203.0.113.7"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 429, "a guess claiming to come from {spoofed}");
        assert!(
            res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 0
        );
        assert!(res.text().await.unwrap().contains("Too many attempts"));
    }

    // A valid token is its own proof: the customer behind the same address (one carrier NAT,
    // one balancer) opens their link and reloads their page as before.
    let (status, _, _) = attempt(&link, "203.0.113.7", Some(&owner_cookie)).await;
    assert_eq!(
        status, 303,
        "the owner's device is let in from the shared address"
    );
    let (status, _, _) = attempt(
        &format!("{}{page}", app.base),
        "203.0.113.7",
        Some(&owner_cookie),
    )
    .await;
    assert_eq!(status, 200, "and its page reloads");
    // And from its own address, of course.
    let (status, _, _) = attempt(&link, "198.51.100.20", Some(&owner_cookie)).await;
    assert_eq!(status, 303, "the owner's device is let back in");
    let (status, _, _) = attempt(
        &format!("{}{page}", app.base),
        "198.51.100.20",
        Some(&owner_cookie),
    )
    .await;
    assert_eq!(status, 200);

    // Once the call has ended, its link is refused like any other.
    call.hang_up().await;
    call.expect_ended(SOON).await.unwrap();
    let (status, body, _) = attempt(&link, "198.51.100.21", None).await;
    assert_eq!(
        (status, &body),
        (404, &answers[0].1),
        "a closed session's link"
    );
}

#[tokio::test]
async fn one_session_never_reaches_another_sessions_data() {
    let app = spawn_app().await;
    let (from_a, from_b) = (caller(), caller());
    app.raise_alert(&from_a).await;
    let mut other = alert_json(&from_b);
    other["customer"]["name"] = json!("Ravi Okafor");
    other["charges"][0]["merchant"] = json!("Harbor Books");
    assert_eq!(app.post_alert(&other, Some(API_KEY)).await.status(), 201);

    let mut call_a = app.verified_call(&from_a).await;
    let link_a = app.request_link(&mut call_a, &from_a).await;
    let mut call_b = app.place_call(&from_b).await;
    call_b.expect_said("Hello Ravi", SOON).await.unwrap();
    call_b.press("4242");
    call_b.press("1");
    let link_b = link_in(&app.phone.next_sms(&from_b, SOON).await.unwrap().body);

    let mut device_a = Device::new();
    let mut page_a = device_a.open_page(&link_a, &app.base, &app.origin()).await;
    let mut device_b = Device::new();
    let page_b = device_b.open_page(&link_b, &app.base, &app.origin()).await;
    assert!(!page_a.snapshot.to_string().contains("Harbor Books"));
    assert!(!page_b.snapshot.to_string().contains("Bistro Lumiere"));

    // A's device asks for B's page and socket: refused, with or without the right Origin.
    let b_path = format!("/p/{}", page_b.session);
    let res = app
        .http
        .get(format!("{}{b_path}", app.base))
        .header("Cookie", device_a.cookie().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        device_a
            .connect(&app.base, &b_path, &app.origin(), 0)
            .await
            .err(),
        Some(403)
    );
    // A socket without the device cookie, or from another site, is refused too.
    let a_ws = format!(
        "{}/p/{}/ws",
        app.base.replacen("http", "ws", 1),
        page_a.session
    );
    assert_eq!(
        ws_connect(&a_ws, None, Some(&app.origin())).await.err(),
        Some(403)
    );
    assert_eq!(
        ws_connect(
            &a_ws,
            device_a.cookie().as_deref(),
            Some("https://evil.example")
        )
        .await
        .err(),
        Some(403)
    );
    // A link token of one session opens nothing of the other's: guessed tokens are refused alike.
    let forged = format!("{}/s/{}", app.base, tandem::token::generate());
    assert_eq!(Device::new().open_link(&forged).await.unwrap_err().0, 404);

    // B's decision never shows on A's page.
    call_b.expect_said("on its way", SOON).await.unwrap();
    let mut page_b = page_b;
    page_b.tap("decline").await;
    page_b.expect("decided").await;
    page_a.tap("approve").await;
    let decided = page_a.expect("decided").await;
    assert_eq!(
        decided["event"]["decision"], "approve",
        "A sees its own decision, not B's"
    );
    call_a.expect_said("approved", SOON).await.unwrap();
    call_b.expect_said("declined", SOON).await.unwrap();
}

#[tokio::test]
async fn with_redis_gone_webhooks_still_get_valid_twiml_that_apologises_and_offers_a_person() {
    let redis = crate::redis::RedisServer::start();
    let app = spawn_app_with(Options {
        redis_url: Some(redis.url()),
        agent: true,
        ..Options::default()
    })
    .await;
    let from = caller();
    app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    drop(redis);

    call.press("1");
    // A call already under way holds through the outage on valid documents, "One moment,
    // please" again and again (past 20 s it is offered a person: `broker::call::tests`).
    call.expect_said("One moment, please", SOON).await.unwrap();
    call.expect_said("One moment, please", SOON).await.unwrap();
    let mut fresh = app.place_call(&caller()).await;
    fresh
        .expect_said("having a problem on our side", SOON)
        .await
        .unwrap();
    loop {
        match fresh.next_event(SOON).await.expect("the call goes on") {
            tandem_dev::phone::CallEvent::Transferred(to) => break assert_eq!(to, AGENT_NUMBER),
            tandem_dev::phone::CallEvent::Ended(reason) => {
                panic!("ended without a transfer: {reason:?}")
            }
            tandem_dev::phone::CallEvent::Webhook { status, .. } => {
                assert_eq!(status, 200, "never a 5xx")
            }
            _ => {}
        }
    }
    // The held call is still there, on valid documents, not dropped.
    call.expect_said("One moment, please", SOON).await.unwrap();
    let health = app.health().await;
    assert_eq!(health.status(), 503);
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "degraded");
}

#[tokio::test]
async fn hostile_bodies_get_a_clear_refusal_and_the_node_keeps_serving() {
    let app = spawn_app().await;
    let post = |body: Vec<u8>| {
        app.http
            .post(format!("{}/api/v1/alerts", app.base))
            .bearer_auth(API_KEY)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    // Deep nesting within the 64 KiB limit, so the parser's depth limit is what refuses it.
    let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let mut invalid_utf8 = serde_json::to_vec(&alert_json(&caller())).unwrap();
    let at = invalid_utf8.windows(4).position(|w| w == b"Dana").unwrap();
    invalid_utf8[at] = 0xff;
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(8 * 1024 * 1024));
    // Valid JSON, but over the documented 64 KiB: refused before it is parsed.
    let mut padded = alert_json(&caller());
    padded["customer"]["name"] = json!("x".repeat(100 * 1024));
    for (what, body, status) in [
        ("deeply nested JSON", deep.into_bytes(), 422),
        ("invalid UTF-8", invalid_utf8, 422),
        ("a 100 KiB alert", serde_json::to_vec(&padded).unwrap(), 413),
        ("an 8 MiB body", huge.into_bytes(), 413),
    ] {
        let res = post(body).await.unwrap();
        assert_eq!(res.status(), status, "{what}");
    }
    // The node is still serving.
    assert_eq!(
        app.post_alert(&alert_json(&caller()), Some(API_KEY))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn markup_in_a_customer_name_or_merchant_is_spoken_and_shown_as_text() {
    let app = spawn_app().await;
    let from = caller();
    let mut alert = alert_json(&from);
    let name = "Dana</Say><Dial>+19005550000</Dial><Say>";
    alert["customer"]["name"] = json!(format!("{name} Reyes"));
    alert["charges"][0]["merchant"] = json!("<img src=x onerror=alert(1)>");
    assert_eq!(app.post_alert(&alert, Some(API_KEY)).await.status(), 201);

    // The phone runs the TwiML as Twilio would: the name is words, not verbs, so the call
    // greets and asks for the card digits instead of dialling anyone.
    let mut call = app.place_call(&from).await;
    call.expect_said(&format!("Hello {name}"), SOON)
        .await
        .unwrap();
    call.expect_said("last four digits", SOON).await.unwrap();
    call.press("4242");
    let link = app.request_link(&mut call, &from).await;
    let page = Device::new()
        .open_page(&link, &app.base, &app.origin())
        .await;
    // The page receives it as a JSON string, and sets it only as text (no innerHTML).
    assert_eq!(
        component(page.screen(), "charges")["items"][0]["title"],
        "<img src=x onerror=alert(1)>"
    );
    assert!(!include_str!("../../web/app.js").contains("innerHTML"));
}

#[tokio::test]
async fn every_response_carries_the_security_headers_even_a_404_and_the_health_check() {
    let app = spawn_app().await;
    let responses = [
        ("health", app.http.get(format!("{}/healthz", app.base))),
        (
            "404 fallback",
            app.http.get(format!("{}/no/such/page", app.base)),
        ),
        (
            "refused API call",
            app.http.get(format!("{}/api/v1/alerts/x", app.base)),
        ),
        (
            "unsigned webhook",
            app.http.post(format!("{}/twilio/voice", app.base)),
        ),
        ("bad link", app.http.get(format!("{}/s/nope", app.base))),
    ];
    for (what, request) in responses {
        let res = request.send().await.unwrap();
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(h["x-frame-options"], "DENY", "{what}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
        // This deployment's public URL is plain http (a local trial): no HSTS to pin.
        assert!(h.get("strict-transport-security").is_none(), "{what}");
    }
}

#[tokio::test]
async fn a_flooding_page_is_closed_and_one_session_cannot_hold_hundreds_of_sockets() {
    let app = spawn_app().await;
    let from = caller();
    app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    let link = app.request_link(&mut call, &from).await;
    let mut device = Device::new();
    let mut page = device.open_page(&link, &app.base, &app.origin()).await;

    // The same device cookie opens more sockets to the session until the node says no; the
    // page and the call waiting in the hold loop already listen.
    let path = format!("/p/{}", page.session);
    let mut more = Vec::new();
    let refused = loop {
        match device.connect(&app.base, &path, &app.origin(), 0).await {
            Ok(socket) => more.push(socket),
            Err(status) => break status,
        }
        assert!(more.len() < 50, "sockets are never refused");
    };
    assert_eq!(refused, 429);
    assert!(more.len() <= 7, "{} more sockets", more.len());

    // A page sends a handful of commands a minute; one that floods is cut off.
    for _ in 0..200 {
        page.send_text(r#"{"type":"nonsense"}"#).await;
    }
    let (answered, code) = page.until_closed().await;
    assert_eq!(code, Some(1008), "closed as a policy violation");
    let errors = answered.iter().filter(|m| m["type"] == "error").count();
    assert!(
        (1..=10).contains(&errors),
        "{errors} messages were handled before the close"
    );
}

#[tokio::test]
async fn link_previewers_and_scanners_claim_nothing_and_the_customer_opens_the_link_after_them() {
    let app = spawn_app().await;
    let from = caller();
    app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    let link = app.request_link(&mut call, &from).await;
    // The user agents and request shapes messaging apps and mail/link scanners use.
    let previewers = [
        ("WhatsApp", "WhatsApp/2.24.21.79 A", "GET"),
        (
            "iMessage",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
            "GET",
        ),
        (
            "Slack",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "GET",
        ),
        (
            "Slack's HEAD",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "HEAD",
        ),
        (
            "Facebook",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "GET",
        ),
        (
            "Google",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "GET",
        ),
        (
            "Microsoft Safe Links",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
            "HEAD",
        ),
        ("a bare scanner", "", "GET"),
    ];
    let http = http_client();
    for (who, agent, method) in previewers {
        let request = match method {
            "HEAD" => http.head(&link),
            _ => http.get(&link),
        };
        let res = request
            .header("User-Agent", agent)
            .header("X-Forwarded-For", "66.249.66.1")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{who}");
        assert!(
            res.headers().get("set-cookie").is_none(),
            "{who} got a device"
        );
    }
    // The customer, after all of them, opens the link and the page goes live.
    let mut page = Device::new()
        .open_page(&link, &app.base, &app.origin())
        .await;
    page.expect("page_opened").await;
    call.expect_said("I see you have the charges", SOON)
        .await
        .unwrap();
}

#[tokio::test]
async fn slow_and_silent_clients_are_let_go_and_a_node_holds_a_bounded_number_of_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(Options {
        env: vec![
            ("TANDEM_HEADER_TIMEOUT_MS", "500".into()),
            ("TANDEM_MAX_CONNECTIONS", "20".into()),
        ],
        ..Options::default()
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Twenty clients take every place, each having sent half a request head and no more.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(c);
    }
    let started = Instant::now();
    // A real client is served once they are let go, not never.
    let res = http_client()
        .get(format!("{}/healthz", app.base))
        .timeout(SOON)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "served before any place freed: {waited:?}"
    );
    // Each slow client was closed by the node.
    for mut c in slow {
        let mut buf = [0u8; 256];
        let read = tokio::time::timeout(SOON, c.read(&mut buf)).await.unwrap();
        assert!(
            matches!(read, Ok(0) | Err(_)) || buf.starts_with(b"HTTP/1.1 408"),
            "a slow client was answered {:?}",
            read.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
        );
    }
}
