//! One node serving every provider at once, each under its own path prefix: each call is
//! answered in its provider's dialect, moved by that provider's live update, and its customer
//! texted through it; a journey nothing ties to a provider texts through the first named.

use std::sync::Arc;

use serde_json::json;
use tandem_dev::phone::{Account, Phone, PhoneConfig, provider::DIALECTS};

use crate::{helpers::*, redis::RedisServer};

/// One node on its own redis-server serving `providers` (named in that order), one phone and
/// fake REST API for each account, an app handle per phone.
async fn node(accounts: Vec<Account>, providers: &str) -> Vec<TestApp> {
    let redis = Arc::new(RedisServer::start());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut vars = vec![
        ("TANDEM_LISTEN", listener.local_addr().unwrap().to_string()),
        ("TANDEM_PUBLIC_URL", base.clone()),
        ("TANDEM_API_KEY", API_KEY.to_owned()),
        ("TANDEM_SMS_FROM", BANK_NUMBER.to_owned()),
        ("TANDEM_REDIS_URL", redis.url()),
        (
            "TANDEM_SCRIPTS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../ivr-scripts").to_owned(),
        ),
        ("TANDEM_PROVIDERS", providers.to_owned()),
    ];
    let mut phones = Vec::new();
    for account in accounts {
        let phone = Phone::new(PhoneConfig {
            voice_path: account.voice_path(),
            status_path: account.status_path(),
            account: account.clone(),
            ..phone_config(&base)
        });
        let api_base = serve_fake_api(&phone).await;
        vars.extend(
            account
                .server_env(&api_base)
                .into_iter()
                .filter(|(k, _)| *k != "TANDEM_PROVIDERS"),
        );
        phones.push(phone);
    }
    let config = tandem::config::Config::from_lookup(|k| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .expect("a node may serve every provider");
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(tandem::app::run(config, listener, shutdown.clone()));
    phones
        .into_iter()
        .map(|phone| TestApp {
            base: base.clone(),
            phone,
            http: http_client(),
            shutdown: shutdown.clone(),
            _redis: Some(redis.clone()),
        })
        .collect()
}

/// A purchase the bank asks about by text alone, raised on `app`'s node.
async fn texted_purchase(app: &TestApp, from: &str) {
    let mut alert = alert_json(from);
    alert["kind"] = json!("confirm_purchase");
    let res = app.post_alert(&alert, Some(API_KEY)).await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn one_node_serves_every_provider_at_once_each_call_through_its_own() {
    // Telnyx first: it texts the journeys no call or text ties to a provider.
    let apps = node(
        DIALECTS.into_iter().map(Account::new).collect(),
        "telnyx,twilio,signalwire,plivo,vonage",
    )
    .await;

    // A customer on each provider, at once: each tap is heard on its own call, moved by its
    // own provider's live update; each link was texted by the provider that carries the call.
    let journeys = apps.iter().map(|app| async move {
        let from = caller();
        let (alert, mut call, mut page) = app.at_decision(&from).await;
        page.tap("approve").await;
        page.expect("decided").await;
        call.expect_said("approved", SOON).await.unwrap();
        assert_eq!(app.alert_status(&alert).await, "approved");
        (call.sid.clone(), app.phone.config().account.dialect)
    });
    let calls = futures_util::future::join_all(journeys).await;
    for (app, (sid, dialect)) in apps.iter().zip(&calls) {
        assert_eq!(app.phone.config().account.dialect, *dialect);
        for other in &apps {
            let updates = other.phone.live_updates(sid).len();
            let expected = usize::from(other.phone.config().account.dialect == *dialect);
            assert_eq!(
                updates, expected,
                "{sid} is updated through {dialect:?} only"
            );
        }
    }

    // A purchase confirmed by text alone goes out through the first provider named, and the
    // customer's reply there is answered through it too.
    let from = caller();
    texted_purchase(&apps[0], &from).await;
    let telnyx = &apps
        .iter()
        .find(|a| a.phone.config().account.dialect.name() == "telnyx")
        .unwrap()
        .phone;
    let question = telnyx
        .next_sms(&from, SOON)
        .await
        .expect("texted by Telnyx");
    assert!(
        question.body.contains("Reply YES or NO"),
        "{}",
        question.body
    );
    let answer = telnyx.text(&from, BANK_NUMBER, "YES").await.unwrap();
    assert!(answer.unwrap_or_default().contains("approved"));
    for other in apps.iter().filter(|a| !std::ptr::eq(&a.phone, telnyx)) {
        assert_eq!(other.phone.texts_sent(&question.body), 0);
    }
}

/// Telnyx may deliver one message event twice, Vonage retry one message: the text is read,
/// decided and answered once.
#[tokio::test]
async fn a_text_delivered_twice_is_read_and_answered_once() {
    use tandem_dev::phone::Dialect;
    for dialect in [Dialect::Telnyx, Dialect::Vonage] {
        let apps = node(vec![Account::new(dialect)], dialect.name()).await;
        let app = &apps[0];
        let from = caller();
        texted_purchase(app, &from).await;
        app.phone.next_sms(&from, SOON).await.expect("the question");
        let (event, deliver) = match dialect {
            Dialect::Telnyx => (
                tandem_dev::phone::telnyx_message(&from, BANK_NUMBER, "YES"),
                0,
            ),
            _ => (
                tandem_dev::phone::vonage_message(&from, BANK_NUMBER, "YES"),
                1,
            ),
        };
        let send = || async {
            match deliver {
                0 => app.phone.telnyx_event(&event).await.unwrap(),
                _ => app.phone.vonage_message(&event).await.unwrap(),
            }
        };
        let (status, _) = send().await;
        assert_eq!(status, 200, "{dialect:?}");
        let answer = app.phone.next_sms(&from, SOON).await.expect("the answer");
        assert!(answer.body.contains("approved"), "{}", answer.body);
        let (status, _) = send().await;
        assert_eq!(
            status, 200,
            "a repeat is acknowledged, so {dialect:?} stops sending it"
        );
        // The answer goes out before the webhook is answered: none came for the repeat.
        assert_eq!(
            app.phone.next_sms(&from, std::time::Duration::ZERO).await,
            None,
            "answered once on {dialect:?}"
        );
        // A new text from the customer is read as usual: it is the event, not the words,
        // that is remembered.
        let late = app.phone.text(&from, BANK_NUMBER, "YES").await.unwrap();
        assert_eq!(
            late.as_deref(),
            Some("This question has already been answered. Thank you.")
        );
    }
}
