//! A call that waits on another channel: texts the customer sends back, spoken answers in
//! menus, and effects (texts) the call performs because of what another channel did.

use std::path::PathBuf;

use crate::helpers::*;

fn flows_with(extra: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-scripts-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("fraud-alert.json"), extra).unwrap();
    dir
}

/// Texts the node; its answer, however the provider carries it ("" for none).
async fn text(app: &TestApp, from: &str, body: &str) -> String {
    app.phone
        .text(from, BANK_NUMBER, body)
        .await
        .unwrap()
        .unwrap_or_default()
}

fn texts_sent(app: &TestApp, body: &str) -> usize {
    app.phone.texts_sent(body)
}

#[tokio::test]
async fn a_caller_on_hold_approves_by_replying_yes_to_the_link_text() {
    let app = spawn_app().await;
    let from = caller();
    let alert = app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    call.press("1");
    let sms = app
        .phone
        .next_sms(&from, SOON)
        .await
        .expect("the link is texted");
    assert!(sms.body.contains("reply YES to approve"), "{}", sms.body);
    call.expect_said("on its way", SOON).await.unwrap();

    // The reply goes to the call, which answers by voice: the text gets no text back.
    let unclear = text(&app, &from, "what?").await;
    assert_eq!(unclear, "", "the call, not a text, answers it");
    call.expect_said("couldn't read your text", SOON)
        .await
        .unwrap();
    assert_eq!(app.alert_status(&alert).await, "open");

    text(&app, &from, " Yes ").await;
    call.expect_said("the charges are approved", SOON)
        .await
        .unwrap();
    call.expect_ended(SOON).await.unwrap();
    assert_eq!(app.alert_status(&alert).await, "approved");
    let (_, ctx) = context(&app, &format!("/api/v1/calls/{}/session", call.sid)).await;
    assert_eq!(ctx["decision"]["by"], "sms", "{ctx}");
    let heard: Vec<&str> = ctx["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["kind"] == "sms_received")
        .map(|e| e["event"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(heard, ["what?", "Yes"]);

    // After the call, a late reply reaches nothing and changes nothing.
    let late = text(&app, &from, "NO").await;
    assert!(late.contains("already been answered"), "{late}");
    assert_eq!(app.alert_status(&alert).await, "approved");
}

#[tokio::test]
async fn spoken_answers_choose_in_menus_and_decide() {
    let app = spawn_app().await;
    let from = caller();
    let alert = app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    call.say("could I hear them please");
    call.expect_said("Here is what we held", SOON)
        .await
        .unwrap();
    call.expect_gathering(SOON).await.unwrap();
    call.say("disapprove");
    call.expect_said("Press 1 to approve the charges, or 2", SOON)
        .await
        .unwrap();
    call.say("Approve.");
    call.expect_said("the charges are approved", SOON)
        .await
        .unwrap();
    call.expect_ended(SOON).await.unwrap();
    assert_eq!(app.alert_status(&alert).await, "approved");
}

#[tokio::test]
async fn texts_a_call_sends_because_of_another_channel_go_out_once_and_move_the_call() {
    let flow = r#"{
      "name": "fraud-alert", "serves": ["card_hold"], "start": "hello",
      "states": {
        "hello": { "action": "send_sms", "sms": "Reply to this text when you are ready, {customer.first_name}.",
                   "on_ok": "ask", "on_error": "bye" },
        "ask": { "gather": { "prompt": "Press 1 to end, or reply to our text.", "digits": 1, "timeout": 10,
                             "finish_on_key": "", "options": { "1": "bye" }, "on_fail": "bye" },
                 "on": { "sms_reply": "thank" } },
        "thank": { "action": "send_sms", "sms": "Thanks, we got your text.", "on_ok": "thanked", "on_error": "bye" },
        "thanked": { "say": "I got your text.",
                     "wait": { "timeout": 30, "hold_prompt": "Still here.", "on_timeout": "bye" },
                     "on": { "sms_reply": "bye" } },
        "bye": { "say": "Goodbye.", "hangup": true }
      }
    }"#;
    let app = spawn_app_with(Options {
        scripts_dir: Some(flows_with(flow)),
        ..redis_options()
    })
    .await;
    let from = caller();
    app.raise_alert(&from).await;
    let mut call = app.place_call(&from).await;
    let first = app
        .phone
        .next_sms(&from, SOON)
        .await
        .expect("the first text");
    assert_eq!(first.body, "Reply to this text when you are ready, Dana.");
    call.expect_said("Press 1 to end", SOON).await.unwrap();

    // The call is busy gathering: the reply reaches it by live update, and the text it
    // leads to is sent from the hold loop, once.
    text(&app, &from, "ready").await;
    let thanks = app.phone.next_sms(&from, SOON).await.expect("the thanks");
    assert_eq!(thanks.body, "Thanks, we got your text.");
    call.expect_said("I got your text", SOON).await.unwrap();
    // Now parked in a wait: the next reply is picked up by the hold loop.
    text(&app, &from, "bye").await;
    call.expect_said("Goodbye", SOON).await.unwrap();
    call.expect_ended(SOON).await.unwrap();
    assert_eq!(texts_sent(&app, "Thanks, we got your text."), 1);
    assert_eq!(
        texts_sent(&app, "Reply to this text when you are ready, Dana."),
        1
    );
    assert!(
        !app.phone.live_updates(&call.sid).is_empty(),
        "the busy call was moved by a live update"
    );
}
