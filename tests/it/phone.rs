//! The dev phone against a stub server with hand-written TwiML: each verb, the malformed
//! cases, live updates and the fake REST API, all checked the way Twilio would behave.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::{Request, State},
    http::{Method, StatusCode},
    response::{IntoResponse, Response},
};
use tandem::providers::twilio::signature;
use tandem_dev::phone::{CallEvent, EndReason, Phone, PhoneConfig};
use tokio::sync::mpsc;

use crate::helpers::{ACCOUNT_SID, AUTH_TOKEN, SOON, serve_fake_api};

/// A webhook the stub received.
#[derive(Debug)]
struct Hook {
    method: Method,
    path: String,
    params: HashMap<String, String>,
    signed: bool,
}

#[derive(Clone)]
struct Stub {
    base: String,
    docs: Arc<Mutex<HashMap<String, (u16, String)>>>,
    hooks: mpsc::UnboundedSender<Hook>,
}

async fn answer(State(stub): State<Stub>, req: Request) -> Response {
    let (method, uri, sig) = (
        req.method().clone(),
        req.uri().clone(),
        req.headers().get("x-twilio-signature").cloned(),
    );
    let body: Bytes = axum::body::to_bytes(req.into_body(), 65536).await.unwrap();
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let url = format!("{}{}", stub.base, uri.path_and_query().unwrap());
    let signed =
        sig.is_some_and(|s| signature::validate(AUTH_TOKEN, &url, &form, s.to_str().unwrap()));
    let mut params: HashMap<String, String> = form.into_iter().collect();
    if let Some(q) = uri.query() {
        params.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    let path = uri.path().to_owned();
    let _ = stub.hooks.send(Hook {
        method,
        path: path.clone(),
        params,
        signed,
    });
    let (status, doc) = stub
        .docs
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or((200, "<Response/>".into()));
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "text/xml")],
        doc,
    )
        .into_response()
}

struct Rig {
    phone: Phone,
    stub: Stub,
    hooks: mpsc::UnboundedReceiver<Hook>,
}

impl Rig {
    async fn new(docs: &[(&str, &str)]) -> Self {
        Self::speaking(docs, tandem_dev::phone::Voice::Instant).await
    }

    async fn speaking(docs: &[(&str, &str)], voice: tandem_dev::phone::Voice) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, hooks) = mpsc::unbounded_channel();
        let docs = docs
            .iter()
            .map(|(p, d)| ((*p).to_owned(), (200, (*d).to_owned())))
            .collect();
        let stub = Stub {
            base: base.clone(),
            docs: Arc::new(Mutex::new(docs)),
            hooks: tx,
        };
        let app = Router::new().fallback(answer).with_state(stub.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let phone = Phone::new(PhoneConfig {
            server: base.clone(),
            public_url: base,
            account: tandem_dev::phone::Account::twilio(ACCOUNT_SID, AUTH_TOKEN),
            voice_path: "/twilio/voice".into(),
            status_path: "/twilio/status".into(),
            // Gather timeouts and pauses of "1 s" take 20 ms.
            timeout_scale: 0.02,
            voice,
        });
        Self { phone, stub, hooks }
    }

    fn serve(&self, path: &str, status: u16, doc: &str) {
        self.stub
            .docs
            .lock()
            .unwrap()
            .insert(path.into(), (status, doc.into()));
    }

    async fn hook(&mut self) -> Hook {
        let hook = tokio::time::timeout(SOON, self.hooks.recv())
            .await
            .expect("a webhook in time")
            .unwrap();
        assert!(
            hook.signed,
            "every webhook is signed as Twilio signs: {hook:?}"
        );
        hook
    }

    /// Events until the call ends.
    async fn events(call: &mut tandem_dev::phone::Call) -> Vec<CallEvent> {
        let mut all = Vec::new();
        while let Some(e) = call.next_event(SOON).await {
            let end = matches!(e, CallEvent::Ended(_));
            if !matches!(e, CallEvent::Webhook { .. }) {
                all.push(e);
            }
            if end {
                return all;
            }
        }
        panic!("the call did not end: {all:?}");
    }
}

#[tokio::test]
async fn say_play_and_pause_run_in_order_and_hangup_posts_the_status_callback() {
    let doc = r#"<Response><Say loop="2">Hi &amp; welcome</Say><Play>https://x.test/a.mp3</Play><Pause length="1"/><Hangup/><Say>never</Say></Response>"#;
    let mut rig = Rig::new(&[("/twilio/voice", doc)]).await;
    let mut call = rig.phone.place_call("+14155550100", "+18005550100").await;
    let first = rig.hook().await;
    assert_eq!(
        (first.method, first.path.as_str()),
        (Method::POST, "/twilio/voice")
    );
    assert_eq!(first.params["CallStatus"], "ringing");
    assert_eq!(first.params["CallSid"], call.sid);
    let said = Rig::events(&mut call).await;
    assert_eq!(
        said,
        vec![
            CallEvent::Said("Hi & welcome".into()),
            CallEvent::Said("Hi & welcome".into()),
            CallEvent::Played("https://x.test/a.mp3".into()),
            CallEvent::Paused(1),
            CallEvent::Ended(EndReason::ServerHangup),
        ]
    );
    let status = rig.hook().await;
    assert_eq!(status.path, "/twilio/status");
    assert_eq!(status.params["CallStatus"], "completed");
    assert!(status.params.contains_key("CallDuration"));
}

#[tokio::test]
async fn gather_posts_digits_on_its_finish_key_or_digit_count_with_the_method_asked() {
    let mut rig = Rig::new(&[
        ("/twilio/voice", r#"<Response><Gather action="/g1" timeout="50"><Say>Enter</Say></Gather></Response>"#),
        ("/g1", r#"<Response><Gather numDigits="2" action="/g2?step=2" method="GET" timeout="50"/></Response>"#),
        ("/g2", "<Response><Hangup/></Response>"),
    ])
    .await;
    let mut call = rig.phone.place_call("+14155550100", "+18005550100").await;
    rig.hook().await;
    call.expect_gathering(SOON).await.unwrap();
    call.press("12#");
    let g1 = rig.hook().await;
    assert_eq!((g1.method, g1.path.as_str()), (Method::POST, "/g1"));
    assert_eq!(
        (
            g1.params["Digits"].as_str(),
            g1.params["FinishedOnKey"].as_str()
        ),
        ("12", "#")
    );
    assert_eq!(g1.params["CallStatus"], "in-progress");
    call.press("345");
    let g2 = rig.hook().await;
    assert_eq!((g2.method, g2.path.as_str()), (Method::GET, "/g2"));
    assert_eq!(
        (g2.params["Digits"].as_str(), g2.params["step"].as_str()),
        ("34", "2")
    );
}

/// Sixty seconds of speech at a voice's pace: 1.2 s on this phone's clock.
fn a_minute_of_speech() -> String {
    ["Please listen carefully."; 53].join(" ")
}

#[tokio::test]
async fn a_gathers_timeout_runs_from_the_end_of_its_speech_as_on_twilio() {
    let doc = format!(
        r#"<Response><Gather action="/g" timeout="5" actionOnEmptyResult="true"><Say>{}</Say></Gather></Response>"#,
        a_minute_of_speech()
    );
    let mut rig = Rig::speaking(
        &[
            ("/twilio/voice", &doc),
            ("/g", "<Response><Hangup/></Response>"),
        ],
        tandem_dev::phone::Voice::Paced,
    )
    .await;
    let speech = tandem_dev::phone::voice::estimate(&a_minute_of_speech()).mul_f64(0.02);
    let started = std::time::Instant::now();
    let _call = rig.phone.place_call("+14155550100", "+18005550100").await;
    rig.hook().await;
    // Nobody presses: the empty result comes only after the speech and then the 5 s (0.1 s).
    let empty = rig.hook().await;
    assert_eq!(empty.params["Digits"], "");
    assert!(
        started.elapsed() >= speech + Duration::from_millis(100),
        "the timeout ran during the speech: {:?} < {speech:?} + 100 ms",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_key_during_a_gathers_speech_stops_it_and_starts_the_answer() {
    let doc = format!(
        r#"<Response><Gather action="/g" numDigits="2" timeout="50"><Say>{}</Say><Say>The rest of the menu</Say></Gather></Response>"#,
        a_minute_of_speech()
    );
    let mut rig = Rig::speaking(
        &[
            ("/twilio/voice", &doc),
            ("/g", "<Response><Hangup/></Response>"),
        ],
        tandem_dev::phone::Voice::Paced,
    )
    .await;
    let mut call = rig.phone.place_call("+14155550100", "+18005550100").await;
    rig.hook().await;
    call.expect_said("Please listen carefully", SOON)
        .await
        .unwrap();
    call.press("42");
    let g = rig.hook().await;
    assert_eq!(g.params["Digits"], "42");
    assert!(
        !call
            .transcript()
            .iter()
            .any(|l| l.contains("The rest of the menu")),
        "the speech went on after the key: {:?}",
        call.transcript()
    );
}

#[tokio::test]
async fn a_silent_gather_falls_through_or_posts_an_empty_result_when_asked() {
    let mut rig = Rig::new(&[
        ("/twilio/voice", r#"<Response><Gather timeout="1" action="/never"/><Say>No input</Say><Redirect>/r</Redirect></Response>"#),
        ("/r", r#"<Response><Gather timeout="1" action="/e" actionOnEmptyResult="true"/></Response>"#),
        ("/e", "<Response><Hangup/></Response>"),
    ])
    .await;
    let mut call = rig.phone.place_call("+14155550100", "+18005550100").await;
    rig.hook().await;
    call.expect_said("No input", SOON).await.unwrap();
    assert_eq!(rig.hook().await.path, "/r");
    let empty = rig.hook().await;
    assert_eq!(
        (empty.path.as_str(), empty.params["Digits"].as_str()),
        ("/e", "")
    );
}

#[tokio::test]
async fn dial_enqueue_and_reject_end_the_call_as_transfers_or_busy() {
    for (doc, event, reason, status) in [
        (
            "<Response><Dial><Number>+14155550199</Number></Dial></Response>",
            Some(CallEvent::Transferred("+14155550199".into())),
            EndReason::Transferred,
            "completed",
        ),
        (
            "<Response><Enqueue>support</Enqueue></Response>",
            Some(CallEvent::Enqueued("support".into())),
            EndReason::Transferred,
            "completed",
        ),
        (
            r#"<Response><Reject reason="busy"/></Response>"#,
            None,
            EndReason::Rejected,
            "busy",
        ),
    ] {
        let mut rig = Rig::new(&[("/twilio/voice", doc)]).await;
        let mut call = rig.phone.place_call("+14155550100", "+18005550100").await;
        rig.hook().await;
        let events = Rig::events(&mut call).await;
        let expected: Vec<CallEvent> = event
            .into_iter()
            .chain([CallEvent::Ended(reason)])
            .collect();
        assert_eq!(events, expected, "{doc}");
        assert_eq!(rig.hook().await.params["CallStatus"], status, "{doc}");
    }
}

#[tokio::test]
async fn malformed_twiml_and_http_errors_end_the_call_with_twilios_error() {
    for (status, doc, code) in [
        (200, "<Response><Say>unclosed</Response>", "Error 12100"),
        (200, "<Response><Shout>hi</Shout></Response>", "Error 12200"),
        (200, "this is not xml", "Error 12100"),
        (500, "boom", "Error 11200"),
    ] {
        let mut rig = Rig::new(&[]).await;
        rig.serve("/twilio/voice", status, doc);
        let mut call = rig.phone.place_call("+14155550100", "+18005550100").await;
        rig.hook().await;
        let events = Rig::events(&mut call).await;
        let [
            CallEvent::Error(message),
            CallEvent::Ended(EndReason::Error(_)),
        ] = events.as_slice()
        else {
            panic!("{doc}: {events:?}");
        };
        assert!(message.starts_with(code), "{doc}: {message}");
        assert_eq!(
            rig.hook().await.params["CallStatus"],
            "completed",
            "a status callback follows"
        );
    }
}

#[tokio::test]
async fn the_fake_rest_api_interrupts_calls_and_delivers_texts_with_twilios_auth_and_errors() {
    let mut rig = Rig::new(&[(
        "/twilio/voice",
        r#"<Response><Gather timeout="600"><Say>Waiting</Say></Gather></Response>"#,
    )])
    .await;
    let api = serve_fake_api(&rig.phone).await;
    let http = reqwest::Client::new();
    let calls = |sid: &str| format!("{api}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json");
    let post = |url: String, form: Vec<(&'static str, String)>, token: &'static str| {
        http.post(url)
            .basic_auth(ACCOUNT_SID, Some(token))
            .form(&form)
            .send()
    };

    let mut call = rig.phone.place_call("+14155550100", "+18005550100").await;
    rig.hook().await;
    call.expect_gathering(SOON).await.unwrap();
    let update = vec![(
        "Twiml",
        "<Response><Say>Interrupted</Say><Hangup/></Response>".to_owned(),
    )];
    let denied = post(calls(&call.sid), update.clone(), "wrong")
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    assert_eq!(
        denied.json::<serde_json::Value>().await.unwrap()["code"],
        20003
    );
    let bad = post(
        calls(&call.sid),
        vec![("Twiml", "<Response><Say>".to_owned())],
        AUTH_TOKEN,
    )
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        post(calls(&call.sid), update, AUTH_TOKEN)
            .await
            .unwrap()
            .status(),
        200
    );
    let events = Rig::events(&mut call).await;
    assert!(
        matches!(events[0], CallEvent::LiveUpdate { .. }),
        "{events:?}"
    );
    assert_eq!(
        events[1..],
        [
            CallEvent::Said("Interrupted".into()),
            CallEvent::Ended(EndReason::ServerHangup)
        ]
    );
    let gone = post(
        calls(&call.sid),
        vec![("Status", "completed".into())],
        AUTH_TOKEN,
    )
    .await
    .unwrap();
    assert_eq!(gone.status(), 404);

    let mut second = rig.phone.place_call("+14155550100", "+18005550100").await;
    second.expect_gathering(SOON).await.unwrap();
    assert_eq!(
        post(
            calls(&second.sid),
            vec![("Status", "completed".into())],
            AUTH_TOKEN
        )
        .await
        .unwrap()
        .status(),
        200
    );
    assert_eq!(
        second.expect_ended(SOON).await.unwrap(),
        EndReason::LiveUpdateCompleted
    );

    let messages = format!("{api}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json");
    let missing = post(messages.clone(), vec![("Body", "hi".into())], AUTH_TOKEN)
        .await
        .unwrap();
    assert_eq!(
        missing.json::<serde_json::Value>().await.unwrap()["code"],
        21604
    );
    let sent = post(
        messages,
        vec![
            ("To", "+14155550100".into()),
            ("From", "+18005550100".into()),
            ("Body", "hello".into()),
        ],
        AUTH_TOKEN,
    )
    .await
    .unwrap();
    assert_eq!(sent.status(), 201);
    assert!(
        sent.json::<serde_json::Value>().await.unwrap()["sid"]
            .as_str()
            .unwrap()
            .starts_with("SM")
    );
    let sms = rig.phone.next_sms("+14155550100", SOON).await.unwrap();
    assert_eq!(
        (sms.from.as_str(), sms.body.as_str()),
        ("+18005550100", "hello")
    );
    assert!(
        rig.phone
            .next_sms("+14155550100", Duration::from_millis(1))
            .await
            .is_none(),
        "delivered once"
    );
}

#[tokio::test]
async fn the_demo_completes_the_approve_journey_headless_and_exits_cleanly() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["demo", "--headless", "--port", "0"])
        .env(
            "TANDEM_SCRIPTS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/..", "/ivr-scripts"),
        )
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("I see you have the charges in front of you"),
        "{stdout}"
    );
    assert!(stdout.contains("the charges are approved"), "{stdout}");
    assert!(stdout.contains("demo complete"), "{stdout}");
}

#[tokio::test]
async fn tandem_phone_runs_a_scenario_file_against_a_running_server() {
    let port = crate::redis::free_port();
    let app = crate::helpers::spawn_app_with(crate::helpers::Options {
        api_base: Some(format!("http://127.0.0.1:{port}")),
        ..crate::helpers::Options::default()
    })
    .await;
    let alert = app.raise_alert("+14155550100").await;
    // Whichever provider this pass plays, named and credentialed on the command line.
    let account = crate::helpers::account();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args([
            "phone",
            "--server",
            &app.base,
            "--api-listen",
            &format!("127.0.0.1:{port}"),
            "--mute",
        ])
        .args(["--provider", account.dialect.name()])
        .arg(format!("--account-sid={}", account.account_sid))
        // A Vonage private key's PEM starts with dashes: given with `=`, it is not a flag.
        .arg(format!("--auth-token={}", account.auth_token))
        .arg(format!("--signing-key={}", account.signing_key))
        .envs(
            account
                .answer_secret
                .iter()
                .map(|s| ("TANDEM_VONAGE_ANSWER_SECRET", s.as_str())),
        )
        .args([
            "--scenario",
            concat!(env!("CARGO_MANIFEST_DIR"), "/..", "/scenarios/approve.json"),
        ])
        .env_remove("TANDEM_TWILIO_ACCOUNT_SID")
        .env_remove("TANDEM_TWILIO_AUTH_TOKEN")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("tapped approve on the page"), "{stdout}");
    assert_eq!(app.alert_status(&alert).await, "approved");
}

#[tokio::test]
async fn tandem_phone_runs_a_journey_on_screens_from_a_scenario_file() {
    let port = crate::redis::free_port();
    let app = crate::helpers::spawn_app_with(crate::helpers::Options {
        api_base: Some(format!("http://127.0.0.1:{port}")),
        ..crate::helpers::Options::default()
    })
    .await;
    // The documented request, as the bank sends it.
    let journey: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/sample-journey.json")).unwrap();
    app.start_journey(
        journey["script"].as_str().unwrap(),
        journey["customer"].clone(),
        journey["data"].clone(),
    )
    .await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args([
            "phone",
            "--server",
            &app.base,
            "--api-listen",
            &format!("127.0.0.1:{port}"),
            "--mute",
        ])
        .args([
            "--scenario",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/..",
                "/scenarios/address-change.json"
            ),
        ])
        .env("TANDEM_TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        .env("TANDEM_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("address answered on the page"), "{stdout}");
    assert!(stdout.contains("tapped confirm on the page"), "{stdout}");
}
