//! Journey 2: memory across calls. Every session leaves a record in the customer's history;
//! a caller with a recent stolen-card report is greeted with it and taken straight to the charge.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::*;

async fn history(app: &TestApp, customer: &str) -> Vec<Value> {
    let res = app
        .http
        .get(format!("{}/api/v1/customers/{customer}/history", app.base))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["records"]
        .as_array()
        .unwrap()
        .clone()
}

async fn add(app: &TestApp, customer: &str, body: Value) -> reqwest::Response {
    app.http
        .post(format!("{}/api/v1/customers/{customer}/history", app.base))
        .bearer_auth(API_KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// An alert for a customer of its own, so parallel tests never share a history.
async fn alert_for(app: &TestApp, phone: &str, customer: &str) {
    let mut alert = alert_json(phone);
    alert["customer"]["id"] = json!(customer);
    assert_eq!(app.post_alert(&alert, Some(API_KEY)).await.status(), 201);
}

#[tokio::test]
async fn a_caller_who_reported_the_card_stolen_is_reminded_and_taken_straight_to_the_charge() {
    let app = spawn_app().await;
    let (from, customer) = (caller(), format!("c-{}", uuid::Uuid::new_v4().simple()));
    let reported = Utc::now() - Duration::days(5);
    let res = add(&app, &customer, json!({"kind": "card_reported_stolen", "summary": "Reported the card stolen", "at": reported})).await;
    assert_eq!(res.status(), 201);
    alert_for(&app, &from, &customer).await;

    let mut call = app.place_call(&from).await;
    let expected = format!(
        "I see you called on {} to report your card stolen",
        reported.format("%A, %B %-d")
    );
    call.expect_said(&expected, SOON).await.unwrap();
    call.press("4242");
    let charge = call.expect_said("The pending charge", SOON).await.unwrap();
    assert!(charge.contains("Bistro Lumiere"), "{charge}");
    assert!(
        !call
            .transcript()
            .iter()
            .any(|l| l.contains("to get a text message with a link")),
        "no menu, no story asked again"
    );
    call.press("2");
    call.expect_said("added it to your stolen-card claim", SOON)
        .await
        .unwrap();
    call.expect_ended(SOON).await.unwrap();

    // The call's record lands once the status callback closes the session.
    let deadline = tokio::time::Instant::now() + SOON;
    let records = loop {
        let records = history(&app, &customer).await;
        if records.len() == 2 || tokio::time::Instant::now() > deadline {
            break records;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["kind"], "call", "newest first");
    assert!(
        records[0]["summary"]
            .as_str()
            .unwrap()
            .contains("declined by voice"),
        "{}",
        records[0]
    );
    assert_eq!(records[1]["kind"], "card_reported_stolen");
}

#[tokio::test]
async fn an_old_report_or_none_at_all_leaves_the_usual_greeting() {
    let app = spawn_app().await;
    for days_ago in [Some(45), None] {
        let (from, customer) = (caller(), format!("c-{}", uuid::Uuid::new_v4().simple()));
        if let Some(days) = days_ago {
            let at = Utc::now() - Duration::days(days);
            add(
                &app,
                &customer,
                json!({"kind": "card_reported_stolen", "summary": "Reported stolen", "at": at}),
            )
            .await;
        }
        alert_for(&app, &from, &customer).await;
        let mut call = app.place_call(&from).await;
        let greeting = call.expect_said("Hello Dana", SOON).await.unwrap();
        assert!(
            greeting.contains("This is the fraud team"),
            "{days_ago:?}: {greeting}"
        );
    }
}

#[tokio::test]
async fn the_history_api_takes_only_what_the_bank_may_add() {
    let app = spawn_app().await;
    let customer = format!("c-{}", uuid::Uuid::new_v4().simple());
    let future = Utc::now() + Duration::days(1);
    for bad in [
        json!({"kind": "call", "summary": "forged call"}),
        json!({"kind": "note", "summary": ""}),
        json!({"kind": "note", "summary": "x", "at": future}),
        json!({"kind": "note", "summary": "x", "extra": 1}),
    ] {
        assert_eq!(
            add(&app, &customer, bad.clone()).await.status(),
            422,
            "{bad}"
        );
    }
    assert!(
        history(&app, &customer).await.is_empty(),
        "nothing was stored"
    );
    let res = app
        .http
        .get(format!("{}/api/v1/customers/{customer}/history", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        add(&app, "bad id!", json!({"kind": "note", "summary": "x"}))
            .await
            .status(),
        404
    );
}
