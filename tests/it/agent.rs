//! Journey 3: a person when it matters. "0" on the keypad or the page's button hands the
//! caller over; the agent sees the whole session and records what the script never foresaw.

use serde_json::{Value, json};
use tandem_dev::phone::Call;

use crate::helpers::*;

/// The representative's desktop takes the call: the waiting caller is put through.
async fn agent_joins(app: &TestApp, call: &Call) {
    let (status, ctx) = context(app, &format!("/api/v1/calls/{}/session", call.sid)).await;
    assert_eq!(status, 200);
    let url = format!(
        "{}/api/v1/sessions/{}/agent",
        app.base,
        ctx["id"].as_str().unwrap()
    );
    let res = app
        .http
        .post(url)
        .bearer_auth(API_KEY)
        .json(&json!({"name": "Sam"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
}

#[tokio::test]
async fn pressing_0_hands_the_caller_to_an_agent_who_sees_the_whole_call() {
    let app = spawn_app_with(Options {
        agent: true,
        ..redis_options()
    })
    .await;
    let mut call = app.caller_waiting_for_a_person(&caller()).await;
    agent_joins(&app, &call).await;
    assert_eq!(transferred(&mut call).await, AGENT_NUMBER);

    let path = format!("/api/v1/calls/{}/session", call.sid);
    let unauthorised = app
        .http
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    let (status, ctx) = context(&app, &path).await;
    assert_eq!(status, 200);
    assert_eq!(ctx["customer"]["name"], "Dana Reyes");
    assert_eq!(ctx["call"]["state"], "to_agent");
    assert_eq!(ctx["card"]["masked"], "•••• 4242");
    let kinds: Vec<&str> = ctx["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "call_started",
        "verified",
        "digits",
        "agent_joined",
        "transferred",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(
        !ctx.to_string().contains("card_last4"),
        "credentials stay out of the agent's view"
    );
    assert_eq!(
        context(&app, &format!("/api/v1/sessions/{}", uuid::Uuid::new_v4()))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn the_pages_talk_to_someone_button_reaches_the_waiting_call_at_once() {
    let app = spawn_app_with(Options {
        agent: true,
        ..redis_options()
    })
    .await;
    let from = caller();
    app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    let link = app.request_link(&mut call, &from).await;
    let mut page = Device::new()
        .open_page(&link, &app.base, &app.origin())
        .await;
    call.expect_gathering(SOON).await.unwrap();
    page.talk_to_someone().await;
    assert_eq!(page.expect("agent_requested").await["event"]["by"], "web");
    call.expect_said("Connecting you with a representative", SOON)
        .await
        .unwrap();
    agent_joins(&app, &call).await;
    assert_eq!(page.expect("agent_joined").await["event"]["name"], "Sam");
    assert_eq!(transferred(&mut call).await, AGENT_NUMBER);

    let (_, ctx) = context(&app, &format!("/api/v1/sessions/{}", page.session)).await;
    assert_eq!(ctx["agent_requested"], true);
    assert_eq!(ctx["page"]["opened"], true);
    assert_eq!(
        ctx["charges"][1]["merchant"], "Skyline Electronics",
        "the agent sees what the page shows"
    );
}

#[tokio::test]
async fn an_agent_records_a_request_outside_the_script_as_a_case_with_its_expectation() {
    let app = spawn_app().await;
    let from = caller();
    app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    let link = app.request_link(&mut call, &from).await;
    let mut page = Device::new()
        .open_page(&link, &app.base, &app.origin())
        .await;
    let cases = format!("{}/api/v1/sessions/{}/cases", app.base, page.session);
    let post = |body: Value| {
        app.http
            .post(&cases)
            .bearer_auth(API_KEY)
            .json(&body)
            .send()
    };

    for bad in [
        json!({"note": "", "expectation": "soon"}),
        json!({"note": "x".repeat(501), "expectation": "soon"}),
        json!({"note": "stop offers", "expectation": "soon", "priority": "high"}),
        json!({"note": "stop offers"}),
    ] {
        let res = post(bad.clone()).await.unwrap();
        assert_eq!(res.status(), 422, "{bad}");
    }
    let res = post(json!({"note": "Stop sending card offers to my two-year-old", "expectation": "Mailings stop within a few weeks"})).await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.json::<Value>().await.unwrap()["cases"],
        1,
        "only the valid case was stored"
    );
    let opened = page.expect("case_opened").await;
    assert_eq!(
        opened["event"]["expectation"],
        "Mailings stop within a few weeks"
    );
    let (_, ctx) = context(&app, &format!("/api/v1/sessions/{}", page.session)).await;
    assert_eq!(
        ctx["cases"][0]["note"],
        "Stop sending card offers to my two-year-old"
    );
}

#[tokio::test]
async fn saying_agent_at_a_menu_hands_the_caller_over_but_not_while_typing_card_digits() {
    let app = spawn_app_with(Options {
        agent: true,
        ..redis_options()
    })
    .await;
    let from = caller();
    app.raise_alert(&from).await;
    let mut call = app.place_call(&from).await;
    call.expect_said("last four digits", SOON).await.unwrap();
    // The card-digits gather takes keys only: the words are ignored, the keys go through.
    call.say("agent");
    call.press("4242");
    call.expect_said("to get a text message with a link", SOON)
        .await
        .unwrap();
    call.expect_gathering(SOON).await.unwrap();
    call.say("I'd like to speak to a representative");
    call.expect_said("Connecting you with a representative", SOON)
        .await
        .unwrap();
    agent_joins(&app, &call).await;
    assert_eq!(transferred(&mut call).await, AGENT_NUMBER);
}

#[tokio::test]
async fn when_no_representative_joins_in_time_the_caller_gets_a_callback_case() {
    // The shipped flow waits two minutes for a person; this copy waits one second.
    let dir = std::env::temp_dir().join(format!("tandem-scripts-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let flow = include_str!("../../ivr-scripts/fraud-alert.json")
        .replace("\"timeout\": 120", "\"timeout\": 1");
    std::fs::write(dir.join("fraud-alert.json"), flow).unwrap();
    let app = spawn_app_with(Options {
        scripts_dir: Some(dir),
        ..redis_options()
    })
    .await;
    let from = caller();
    app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    call.press("0");
    call.expect_said("Connecting you with a representative", SOON)
        .await
        .unwrap();
    call.expect_said("all our representatives are busy", SOON)
        .await
        .unwrap();
    call.expect_ended(SOON).await.unwrap();
    let (_, ctx) = context(&app, &format!("/api/v1/calls/{}/session", call.sid)).await;
    assert_eq!(
        ctx["cases"][0]["expectation"],
        "A representative calls back within two hours"
    );
    assert!(
        ctx["cases"][0]["note"]
            .as_str()
            .unwrap()
            .starts_with("Dana Reyes asked for a representative")
    );
}

#[tokio::test]
async fn a_caller_with_an_open_request_is_offered_a_person_first_and_put_through() {
    let app = spawn_app_with(Options {
        agent: true,
        ..redis_options()
    })
    .await;
    let (from, customer) = (caller(), format!("c-{}", uuid::Uuid::new_v4().simple()));
    let note = json!({"kind": "note", "summary": "Stop sending card offers to my two-year-old (mailings stop within a few weeks)"});
    let res = app
        .http
        .post(format!("{}/api/v1/customers/{customer}/history", app.base))
        .bearer_auth(API_KEY)
        .json(&note)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let mut alert = alert_json(&from);
    alert["customer"]["id"] = json!(customer);
    assert_eq!(app.post_alert(&alert, Some(API_KEY)).await.status(), 201);

    let mut call = app.place_call(&from).await;
    call.expect_said("We have a request of yours open", SOON)
        .await
        .unwrap();
    call.press("4242");
    call.expect_said("Press 1 to talk to a representative", SOON)
        .await
        .unwrap();
    call.press("1");
    call.expect_said("They'll see your open request", SOON)
        .await
        .unwrap();
    let (_, ctx) = context(&app, &format!("/api/v1/calls/{}/session", call.sid)).await;
    assert_eq!(
        ctx["call"]["script"].as_str().unwrap().split('@').next(),
        Some("agent-handoff")
    );
    agent_joins(&app, &call).await;
    assert_eq!(transferred(&mut call).await, AGENT_NUMBER);
}
