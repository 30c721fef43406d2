//! Providers retry webhooks and deliver status callbacks out of order: the same delivery
//! twice, or a stale one late, changes nothing a second time.

use serde_json::Value;
use tandem_dev::phone::{parse_document, twiml::Verb};

use crate::helpers::*;

/// One call id of the provider's shape for the whole file, as the session finds it.
fn call_sid() -> &'static str {
    static SID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SID.get_or_init(|| account().new_call_id())
}

/// Posts a webhook exactly as the provider signs it; the document answered.
async fn deliver(app: &TestApp, url: &str, form: &[(String, String)]) -> String {
    let (status, body) = app.phone.webhook(url, form.to_vec()).await.unwrap();
    assert_eq!(status, 200, "{url}: {body}");
    // Vonage reads nothing from the answer to a status event, and is sent nothing.
    let event = url.ends_with(&route("status"));
    if !(dialect() == tandem_dev::phone::Dialect::Vonage && event && body.is_empty()) {
        parse_document(dialect(), &body)
            .unwrap_or_else(|e| panic!("invalid document ({e}): {body}"));
    }
    body
}

/// The session as the bank's API shows it, found by the call.
async fn session(app: &TestApp) -> Value {
    api_get(&format!("{}/api/v1/calls/{}/session", app.base, call_sid())).await
}

fn gather_action(app: &TestApp, doc: &str) -> String {
    let action = parse_document(dialect(), doc)
        .unwrap()
        .into_iter()
        .find_map(|v| match v {
            Verb::Gather(g) => g.action,
            _ => None,
        })
        .expect("the answer gathers");
    if action.starts_with("http") {
        action
    } else {
        format!("{}{action}", app.base)
    }
}

#[tokio::test]
async fn a_retried_or_late_webhook_changes_nothing_twice() {
    let app = spawn_app().await;
    let from = caller();
    app.raise_alert(&from).await;
    let call = |status: &'static str| {
        tandem_dev::phone::call_params(&account(), call_sid(), status, &from, BANK_NUMBER)
    };
    let voice = format!("{}{}", app.base, route("voice"));

    // The incoming call, then Twilio's retry of it: one session, the same greeting.
    let greeting = deliver(&app, &voice, &call("ringing")).await;
    let first = session(&app).await;
    let retried = deliver(&app, &voice, &call("ringing")).await;
    assert_eq!(retried, greeting);
    let after_retry = session(&app).await;
    assert_eq!(after_retry["id"], first["id"], "one session per call");
    assert_eq!(
        after_retry["events"], first["events"],
        "the retry added nothing"
    );

    // The card digits, delivered twice: the menu both times, the digits checked once.
    let action = gather_action(&app, &greeting);
    let mut digits = call("in-progress");
    digits.push(("Digits".into(), "4242".into()));
    let menu = deliver(&app, &action, &digits).await;
    assert!(menu.contains("text message with a link"), "{menu}");
    let once = session(&app).await;
    let twice = deliver(&app, &action, &digits).await;
    assert_eq!(twice, menu, "the duplicate hears what the first heard");
    assert_eq!(session(&app).await["events"], once["events"]);

    // The call ends; the callback is repeated, then a stale "in-progress" arrives late.
    let status = format!("{}{}", app.base, route("status"));
    deliver(&app, &status, &call("completed")).await;
    let ended = session(&app).await;
    assert_eq!(ended["status"], "closed", "{ended}");
    deliver(&app, &status, &call("completed")).await;
    deliver(&app, &status, &call("in-progress")).await;
    // And a retried key press for a call that has ended still gets a valid document.
    deliver(&app, &action, &digits).await;
    let last = session(&app).await;
    assert_eq!(last["status"], "closed");
    assert_eq!(
        last["events"], ended["events"],
        "nothing after the end changed anything"
    );
}

#[tokio::test]
async fn a_call_that_ended_with_its_status_callback_lost_is_closed_once_the_provider_says_so() {
    let app = spawn_app_with(Options {
        lose_status_callbacks: true,
        hold_poll_ms: Some(500),
        ..redis_options()
    })
    .await;
    let from = caller();
    app.raise_alert(&from).await;
    let mut call = app.verified_call(&from).await;
    let link = app.request_link(&mut call, &from).await;
    // The caller hangs up while holding for the page; the status callback never arrives.
    call.hang_up().await;
    call.expect_ended(SOON).await.unwrap();
    // The page opens: the call is told in the hold loop, which nobody polls any more. The
    // node asks the provider, learns the call is over, and closes the session.
    let mut page = Device::new()
        .open_page(&link, &app.base, &app.origin())
        .await;
    sees_the_call_over(&mut page).await;
}

#[tokio::test]
async fn a_call_gone_while_gathering_with_its_status_callback_lost_is_closed_when_a_live_update_fails()
 {
    let app = spawn_app_with(Options {
        lose_status_callbacks: true,
        ..redis_options()
    })
    .await;
    let (_, mut call, mut page) = app.at_decision(&caller()).await;
    call.hang_up().await;
    call.expect_ended(SOON).await.unwrap();
    // The tap's live update finds no call: the provider is asked, and the session closes.
    page.tap("approve").await;
    page.expect("decided").await;
    sees_the_call_over(&mut page).await;
}

#[tokio::test]
async fn a_call_gone_with_nothing_waiting_for_it_and_its_status_callback_lost_is_closed_once_quiet()
{
    let app = spawn_app_with(Options {
        lose_status_callbacks: true,
        hold_poll_ms: Some(500),
        env: vec![("TANDEM_QUIET_CALL_MS", "1500".into())],
        ..redis_options()
    })
    .await;
    let (_, mut call, mut page) = app.at_decision(&caller()).await;
    // The caller hangs up while the page is open and nobody taps: no reply waits for the call
    // and no live update is tried. Its silence is what makes the node ask the provider.
    call.hang_up().await;
    call.expect_ended(SOON).await.unwrap();
    sees_the_call_over(&mut page).await;
}

/// The page hears the call ended (as the provider reports it) and the session closed.
async fn sees_the_call_over(page: &mut Page) {
    let ended = page.expect("call_ended").await;
    assert_eq!(ended["event"]["status"], "completed", "{ended}");
    page.expect("session_closed").await;
}
