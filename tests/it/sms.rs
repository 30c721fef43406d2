//! Journey 4: a declined purchase confirmed by two-way SMS, with no call and no person.

use serde_json::{Value, json};

use crate::helpers::*;

async fn confirm_purchase(app: &TestApp, phone: &str) -> String {
    let mut alert = alert_json(phone);
    alert["kind"] = json!("confirm_purchase");
    alert["charges"] = json!([{"id": "ch_9", "merchant": "Apple Store Portland", "amount": "1299.00", "currency": "USD",
        "at": "2026-11-22T09:00:00Z", "location": "Portland, OR", "card_present": true}]);
    let res = app.post_alert(&alert, Some(API_KEY)).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["sms_sent"], true);
    body["id"].as_str().unwrap().to_owned()
}

/// Texts the node; its answer, however the provider carries it (a `<Message>` in a valid
/// TwiML-family document, or a text back through the API), "" for none.
async fn reply(app: &TestApp, from: &str, text: &str) -> String {
    app.phone
        .text(from, BANK_NUMBER, text)
        .await
        .unwrap()
        .unwrap_or_default()
}

#[tokio::test]
async fn yes_approves_the_purchase_after_a_help_text_for_anything_else() {
    let app = spawn_app().await;
    let from = caller();
    let alert = confirm_purchase(&app, &from).await;
    let question = app
        .phone
        .next_sms(&from, SOON)
        .await
        .expect("the question is texted");
    let (words, link) = question
        .body
        .split_once(" — or see it on our secure page: ")
        .expect("the question, then the page link");
    assert_eq!(
        words,
        "Did you just try to spend $1,299.00 at Apple Store Portland? Reply YES or NO"
    );
    assert!(link.starts_with(&format!("{}/s/", app.base)), "{link}");
    assert_eq!(question.from, BANK_NUMBER);

    let help = reply(&app, &from, "what is this?").await;
    assert!(
        help.starts_with("Please reply YES if you made this purchase"),
        "{help}"
    );
    assert_eq!(app.alert_status(&alert).await, "open");
    let approved = reply(&app, &from, "  yes ").await;
    assert!(
        approved.contains("approved and your card is ready to use"),
        "{approved}"
    );
    assert_eq!(app.alert_status(&alert).await, "approved");
    let late = reply(&app, &from, "NO").await;
    assert!(late.contains("already been answered"), "{late}");
    assert_eq!(
        app.alert_status(&alert).await,
        "approved",
        "a second answer changes nothing"
    );
}

#[tokio::test]
async fn no_declines_and_blocks_the_card_even_with_control_characters_in_the_reply() {
    let app = spawn_app().await;
    let from = caller();
    let alert = confirm_purchase(&app, &from).await;
    app.phone.next_sms(&from, SOON).await.unwrap();
    let declined = reply(&app, &from, "N\u{7}O\u{1b}").await;
    assert!(
        declined.contains("declined the purchase and blocked your card"),
        "{declined}"
    );
    assert_eq!(app.alert_status(&alert).await, "declined");
}

#[tokio::test]
async fn texts_from_strangers_get_an_empty_answer_and_forged_ones_are_refused() {
    let app = spawn_app().await;
    let from = caller();
    confirm_purchase(&app, &from).await;
    let stranger = reply(&app, &caller(), "YES").await;
    assert_eq!(stranger, "", "a stranger is told nothing");

    // The same text signed with another account's key, as the provider would sign it.
    let mut forger = phone_config(&app.base);
    forger.account = tandem_dev::phone::Account::new(dialect());
    let (status, _) = tandem_dev::phone::Phone::new(forger)
        .send_sms(&from, BANK_NUMBER, "YES")
        .await
        .unwrap();
    assert_eq!(status, 403);
    // The forged YES decided nothing: the real customer's answer still counts.
    let real = reply(&app, &from, "no").await;
    assert!(real.contains("declined"), "{real}");
}

#[tokio::test]
async fn the_texted_page_link_shows_the_purchase_and_a_tap_there_answers_the_question() {
    let app = spawn_app().await;
    let from = caller();
    let alert = confirm_purchase(&app, &from).await;
    let question = app.phone.next_sms(&from, SOON).await.unwrap();
    let mut device = Device::new();
    let mut page = device
        .open_page(&link_in(&question.body), &app.base, &app.origin())
        .await;
    assert_eq!(
        component(page.screen(), "charges")["items"][0]["title"],
        "Apple Store Portland",
        "{}",
        page.snapshot
    );
    page.tap("approve").await;
    page.expect("decided").await;
    assert_eq!(app.alert_status(&alert).await, "approved");
    // The link is bound to the first device.
    let mut other = Device::new();
    let refused = other.open_link(&link_in(&question.body)).await.unwrap_err();
    assert_eq!(refused.0, 404);
    // The texted answer that follows hears the page's decision, not a second one, and ends
    // the conversation: the page closes with it.
    let late = reply(&app, &from, "NO").await;
    assert!(late.contains("already approved"), "{late}");
    assert_eq!(app.alert_status(&alert).await, "approved");
    page.expect_closed().await;
}
