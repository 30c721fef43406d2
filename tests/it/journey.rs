//! Journey 1 end to end: a signed Twilio call, the texted link, the page's websocket, on Redis.

use serde_json::json;
use tandem_dev::phone::EndReason;

use crate::helpers::*;

#[tokio::test]
async fn approving_on_the_page_is_heard_on_the_call_at_once_and_resolves_the_alert() {
    let app = spawn_app().await;
    let from = caller();
    let alert = app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    let link = app.request_link(&mut call, &from).await;
    assert!(link.starts_with(&format!("{}/s/", app.base)), "{link}");

    let mut device = Device::new();
    let mut page = device.open_page(&link, &app.base, &app.origin()).await;
    // The page shows what the script's screen names, drawn from the alert's data.
    let screen = page.screen();
    assert_eq!(screen["title"], "Review suspected charges");
    assert_eq!(component(screen, "card-line")["text"], "Amex •••• 4242");
    let charges = &component(screen, "charges")["items"];
    assert_eq!(charges[0]["title"], "Bistro Lumiere");
    assert_eq!(
        charges[1]["value"],
        json!([{"money": {"amount": "1299.00", "currency": "USD"}}])
    );
    assert_eq!(charges[1]["fields"][1]["value"], "Portland, OR · In person");
    assert_eq!(component(screen, "actions")["approve"], "Approve charges");
    assert!(
        !page.snapshot.to_string().contains("verify"),
        "credentials never reach the page"
    );

    call.expect_said("I see you have the charges in front of you", SOON)
        .await
        .unwrap();
    call.expect_gathering(SOON).await.unwrap();
    page.expect("page_opened").await;

    page.tap("approve").await;
    let decided = page.expect("decided").await;
    assert_eq!(decided["event"]["decision"], "approve");
    assert_eq!(decided["event"]["by"], "web");
    let said = call.expect_said("approved", SOON).await.unwrap();
    assert!(said.contains("ready to use"), "{said}");
    let pushed = app.phone.live_updates(&call.sid).len();
    assert_eq!(
        pushed, 1,
        "the decision reached the busy call by one live update"
    );
    assert_eq!(app.alert_status(&alert).await, "approved");

    assert_eq!(
        call.expect_ended(SOON).await.unwrap(),
        EndReason::ServerHangup
    );
    page.expect("session_closed").await;
    page.expect("bye").await;
    page.expect_closed().await;
    assert_eq!(
        Device::new().open_link(&link).await.unwrap_err().0,
        404,
        "the link stops working when the call ends"
    );
}

#[tokio::test]
async fn declining_on_the_page_blocks_the_card_and_says_so_on_both_sides() {
    let app = spawn_app().await;
    let from = caller();
    let alert = app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    let link = app.request_link(&mut call, &from).await;
    let mut page = Device::new()
        .open_page(&link, &app.base, &app.origin())
        .await;
    call.expect_gathering(SOON).await.unwrap();
    page.tap("decline").await;
    assert_eq!(page.expect("decided").await["event"]["decision"], "decline");
    let said = call.expect_said("declined", SOON).await.unwrap();
    assert!(said.contains("replacement card"), "{said}");
    assert_eq!(app.alert_status(&alert).await, "declined");
}

#[tokio::test]
async fn a_caller_without_a_page_hears_the_charges_and_decides_by_keypad() {
    let app = spawn_app().await;
    let from = caller();
    let alert = app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    call.press("2");
    let read = call.expect_said("Bistro Lumiere", SOON).await.unwrap();
    assert!(
        read.contains("$212.40") && read.contains("Skyline Electronics"),
        "{read}"
    );
    call.expect_said("press 1 or say approve", SOON)
        .await
        .unwrap();
    call.press("2");
    call.expect_said("declined", SOON).await.unwrap();
    assert_eq!(
        call.expect_ended(SOON).await.unwrap(),
        EndReason::ServerHangup
    );
    assert_eq!(app.alert_status(&alert).await, "declined");
}

#[tokio::test]
async fn when_the_page_is_never_opened_the_call_falls_back_to_voice() {
    // The same flow with a one-second wait for the page, so the test need not wait 90 s.
    let dir = std::env::temp_dir().join(format!("tandem-scripts-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let flow = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/..",
        "/ivr-scripts/fraud-alert.json"
    ))
    .unwrap();
    let short = flow.replace("\"timeout\": 90", "\"timeout\": 1");
    assert_ne!(flow, short, "the page wait is configured in the script");
    std::fs::write(dir.join("fraud-alert.json"), short).unwrap();
    let app = spawn_app_with(Options {
        scripts_dir: Some(dir),
        ..redis_options()
    })
    .await;

    let from = caller();
    let alert = app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    app.request_link(&mut call, &from).await;
    call.expect_said("hasn't opened", SOON).await.unwrap();
    call.expect_said("Bistro Lumiere", SOON).await.unwrap();
    call.expect_gathering(SOON).await.unwrap();
    call.press("1");
    call.expect_said("approved", SOON).await.unwrap();
    assert_eq!(app.alert_status(&alert).await, "approved");
}

#[tokio::test]
async fn three_wrong_card_numbers_end_in_a_transfer_to_an_agent() {
    let app = spawn_app_with(Options {
        agent: true,
        ..redis_options()
    })
    .await;
    let from = caller();
    let alert = app.raise_alert(&from).await;
    let mut call = app.place_call(&from).await;
    call.expect_said("last four digits", SOON).await.unwrap();
    for _ in 0..2 {
        call.press("1111");
        call.expect_said("doesn't match", SOON).await.unwrap();
    }
    call.press("9999");
    call.expect_said("couldn't confirm your card", SOON)
        .await
        .unwrap();
    assert_eq!(transferred(&mut call).await, AGENT_NUMBER);
    assert_eq!(
        app.alert_status(&alert).await,
        "open",
        "nothing was decided"
    );
}

#[tokio::test]
async fn a_second_tap_and_a_keypad_press_racing_a_tap_give_one_decision() {
    let app = spawn_app().await;

    // Double tap on the page.
    let from = caller();
    app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    let link = app.request_link(&mut call, &from).await;
    let mut page = Device::new()
        .open_page(&link, &app.base, &app.origin())
        .await;
    call.expect_gathering(SOON).await.unwrap();
    page.tap("approve").await;
    page.tap("decline").await;
    call.expect_said("approved", SOON).await.unwrap();
    // The call hangs up after the outcome and the session closes, so the page ends up with the
    // whole log: one decision, and the second tap refused if it was read before the close.
    let log = page.collect_until("bye").await;
    let decisions: Vec<_> = log
        .iter()
        .filter(|m| m["event"]["kind"] == "decided")
        .collect();
    assert_eq!(decisions.len(), 1, "{log:?}");
    assert_eq!(decisions[0]["event"]["decision"], "approve");
    for refused in log.iter().filter(|m| m["type"] == "decision_refused") {
        assert!(
            refused["reason"] == "already_decided" || refused["reason"] == "session_closed",
            "{refused}"
        );
    }

    // A keypad press racing a tap: whichever lands first wins, the other changes nothing.
    let from = caller();
    let alert = app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    let link = app.request_link(&mut call, &from).await;
    let mut page = Device::new()
        .open_page(&link, &app.base, &app.origin())
        .await;
    call.expect_gathering(SOON).await.unwrap();
    call.press("2");
    page.tap("approve").await;
    // The call hangs up after the outcome, which closes the session: the page then holds the
    // whole log, every event exactly once.
    let log = page.collect_until("bye").await;
    let decisions: Vec<_> = log
        .iter()
        .filter(|e| e["event"]["kind"] == "decided")
        .collect();
    assert_eq!(decisions.len(), 1, "{log:?}");
    let winner = if decisions[0]["event"]["decision"] == "approve" {
        "approved"
    } else {
        "declined"
    };
    if decisions[0]["event"]["by"] == "voice" {
        let refused = log
            .iter()
            .find(|m| m["type"] == "decision_refused")
            .expect("the losing tap is refused");
        assert_eq!(refused["reason"], "already_decided");
    }
    call.expect_said(winner, SOON).await.unwrap();
    assert_eq!(app.alert_status(&alert).await, winner);
}

#[tokio::test]
async fn hanging_up_closes_the_page_and_the_link() {
    let app = spawn_app().await;
    let from = caller();
    app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    let link = app.request_link(&mut call, &from).await;
    let mut device = Device::new();
    let mut page = device.open_page(&link, &app.base, &app.origin()).await;
    call.expect_gathering(SOON).await.unwrap();
    call.hang_up().await;
    let closed = page.expect("session_closed").await;
    assert_eq!(closed["event"]["reason"], "call ended");
    assert_eq!(page.expect("bye").await["reason"], "session_closed");
    // Reloading on the same device shows the ended session and is told it is over; the
    // link itself is dead.
    let mut again = device
        .connect(&app.base, &format!("/p/{}", page.session), &app.origin(), 0)
        .await
        .unwrap();
    assert_eq!(again.snapshot["session"]["status"], "closed");
    assert_eq!(again.expect("bye").await["reason"], "session_closed");
    assert_eq!(device.open_link(&link).await.unwrap_err().0, 404);
}

#[tokio::test]
async fn an_unknown_caller_is_told_so_and_offered_a_person() {
    let app = spawn_app_with(Options {
        agent: true,
        ..redis_options()
    })
    .await;
    let mut call = app.place_call(&caller()).await;
    call.expect_said("couldn't find an open alert", SOON)
        .await
        .unwrap();
    assert_eq!(transferred(&mut call).await, AGENT_NUMBER);
}

#[tokio::test]
async fn the_embedded_store_runs_the_same_journey_without_redis() {
    let app = spawn_app_with(Options::default()).await;
    let from = caller();
    let alert = app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    let link = app.request_link(&mut call, &from).await;
    let mut page = Device::new()
        .open_page(&link, &app.base, &app.origin())
        .await;
    call.expect_gathering(SOON).await.unwrap();
    page.tap("approve").await;
    call.expect_said("approved", SOON).await.unwrap();
    assert_eq!(app.alert_status(&alert).await, "approved");
}

#[tokio::test]
async fn a_link_opened_the_instant_its_text_arrives_opens() {
    // A provider that hands the text to a customer who opens the link at once, before the
    // provider has even answered the node: the link must already be the session's.
    let (opened_tx, mut opened) = tokio::sync::mpsc::unbounded_channel();
    let messages = axum::routing::post(move |body: axum::body::Bytes| {
        let opened_tx = opened_tx.clone();
        async move {
            // A form's `Body`, or (Telnyx) a JSON `text`.
            let text: String = match serde_json::from_slice::<serde_json::Value>(&body) {
                Ok(json) => json["text"].as_str().unwrap_or_default().to_owned(),
                Err(_) => form_urlencoded::parse(&body)
                    .find(|(k, _)| k == "Body")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default(),
            };
            let opened = Device::new().open_link(&link_in(&text)).await;
            let _ = opened_tx.send(opened);
            (
                axum::http::StatusCode::CREATED,
                axum::Json(serde_json::json!({ "sid": "SM00000000000000000000000000000000" })),
            )
        }
    });
    let path = match dialect() {
        tandem_dev::phone::Dialect::Twilio => "/2010-04-01/Accounts/{account}/Messages.json",
        tandem_dev::phone::Dialect::SignalWire => {
            "/api/laml/2010-04-01/Accounts/{account}/Messages"
        }
        tandem_dev::phone::Dialect::Telnyx => "/v2/messages",
        tandem_dev::phone::Dialect::Plivo => "/v1/Account/{account}/Message/",
        tandem_dev::phone::Dialect::Vonage => "/v1/messages",
    };
    let api = axum::Router::new().route(path, messages);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api).await });
    let app = spawn_app_with(Options {
        api_base: Some(api_base),
        ..redis_options()
    })
    .await;
    let from = caller();
    app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    call.press("1");
    let opened = tokio::time::timeout(SOON, opened.recv())
        .await
        .expect("the text is sent")
        .unwrap();
    let page = opened.expect("the link opens while its text is still on the way");
    assert!(page.starts_with("/p/"), "{page}");
    call.expect_said("on its way", SOON).await.unwrap();
}
