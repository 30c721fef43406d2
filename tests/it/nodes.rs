//! Two `tandem serve` processes sharing one Redis behave as one: the call on node A, the page
//! on node B, both behind one public URL as a load balancer would present them.

use tandem_dev::phone::Phone;

use crate::{helpers::*, redis::RedisServer};

const PUBLIC: &str = "https://ivr.bank.test";

#[tokio::test]
async fn a_call_on_one_node_and_its_page_on_another_work_as_one() {
    let redis = RedisServer::start();
    let (port_a, port_b) = (crate::redis::free_port(), crate::redis::free_port());
    // Twilio sends call webhooks to node A, signed for the public URL.
    let mut config = phone_config(&format!("http://127.0.0.1:{port_a}"));
    config.public_url = PUBLIC.into();
    let phone = Phone::new(config);
    let api_base = serve_fake_api(&phone).await;
    let (a, b) = (
        node(port_a, &redis, &api_base, PUBLIC),
        node(port_b, &redis, &api_base, PUBLIC),
    );
    let http = http_client();

    let from = caller();
    let res = http
        .post(format!("{}/api/v1/alerts", b.base))
        .bearer_auth(API_KEY)
        .json(&alert_json(&from))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "an alert raised on B");
    let alert: serde_json::Value = res.json().await.unwrap();
    let alert = alert["id"].as_str().unwrap().to_owned();

    let mut call = phone.place_call(&from, BANK_NUMBER).await;
    call.expect_said("Hello Dana", SOON).await.unwrap();
    call.press("4242");
    call.expect_said("to get a text message with a link", SOON)
        .await
        .unwrap();
    call.press("1");
    let link = link_in(&phone.next_sms(&from, SOON).await.unwrap().body);
    assert!(
        link.starts_with(&format!("{PUBLIC}/s/")),
        "links use the public URL: {link}"
    );
    call.expect_said("on its way", SOON).await.unwrap();

    // The browser reaches node B through the "load balancer".
    let via_b = link.replacen(PUBLIC, &b.base, 1);
    let mut page = Device::new().open_page(&via_b, &b.base, PUBLIC).await;
    call.expect_said("I see you have the charges in front of you", SOON)
        .await
        .unwrap();
    call.expect_gathering(SOON).await.unwrap();
    page.expect("said").await;
    page.tap("approve").await;
    assert_eq!(page.expect("decided").await["event"]["decision"], "approve");
    call.expect_said("approved", SOON).await.unwrap();
    // The bank's record is written before the call is told, so it reads approved already.
    let status = api_get(&format!("{}/api/v1/alerts/{alert}", a.base)).await;
    assert_eq!(status["status"], "approved");
    call.expect_ended(SOON).await.unwrap();
    page.expect("session_closed").await;

    // Both nodes logged the session by its id, and neither logged a secret.
    let token = link.rsplit('/').next().unwrap();
    for (name, node) in [("A", &a), ("B", &b)] {
        let log = node.log().join("\n");
        assert!(
            log.contains(&page.session),
            "node {name} logs carry the session id"
        );
        for secret in [token, AUTH_TOKEN, API_KEY] {
            assert!(!log.contains(secret), "node {name} logged a secret");
        }
    }
    // Served over https, every answer tells browsers to stay on https.
    let health = http
        .get(format!("{}/healthz", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        health.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    // Each request's span names its matched route and, where the request names one, the
    // session: the hold loop's webhooks on A, the page's socket on B.
    for (node, route) in [(&a, route("hold").as_str()), (&b, "/p/{id}/ws")] {
        let traced = node.log().into_iter().any(|line| {
            line.contains(&format!("\"route\":\"{route}\""))
                && line.contains(&format!("\"session_id\":\"{}\"", page.session))
        });
        assert!(traced, "a request span for {route} carries the session");
    }
}
