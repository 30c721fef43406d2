//! Journey 5: never the wrong customer. Many customers at once, calls on one node and pages
//! on another; every event, field and page stays inside its own session.

use serde_json::{Value, json};
use tandem_dev::phone::Phone;

use crate::{helpers::*, redis::RedisServer};

const PUBLIC: &str = "https://ivr.bank.test";
const CUSTOMERS: usize = 12;

/// One customer's whole journey; returns every page message and the call's transcript.
async fn journey(
    i: usize,
    phone: &Phone,
    http: &reqwest::Client,
    node_b: &str,
) -> (String, Vec<Value>, Vec<String>) {
    let from = format!("+1628555{i:04}");
    let merchant = format!("Merchant-{i:02}-{}", uuid::Uuid::new_v4().simple());
    let mut alert = alert_json(&from);
    alert["customer"]["id"] = json!(format!("cust-{i}"));
    alert["customer"]["name"] = json!(format!("Person{i:02} Example"));
    alert["charges"][0]["merchant"] = json!(merchant);
    let res = http
        .post(format!("{node_b}/api/v1/alerts"))
        .bearer_auth(API_KEY)
        .json(&alert)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let mut call = phone.place_call(&from, BANK_NUMBER).await;
    call.expect_said(&format!("Hello Person{i:02}"), SOON)
        .await
        .unwrap();
    call.press("4242");
    call.press("1");
    let link = link_in(&phone.next_sms(&from, SOON).await.unwrap().body);
    let mut page = Device::new()
        .open_page(&link.replacen(PUBLIC, node_b, 1), node_b, PUBLIC)
        .await;
    call.expect_gathering(SOON).await.unwrap();
    call.expect_said("in front of you", SOON).await.unwrap();
    // Half approve on the page, half decline by keypad: different paths through each node.
    if i.is_multiple_of(2) {
        page.tap("approve").await;
    } else {
        call.press("2");
    }
    // Everything the page was given: the screen it arrived with, the snapshot, every message.
    let mut seen = vec![page.snapshot.clone(), page.screen().clone()];
    seen.extend(page.collect_until("bye").await);
    call.expect_ended(SOON).await.unwrap();
    (merchant, seen, call.transcript())
}

/// One customer's text conversation; returns their merchant and every text they saw.
async fn texting(
    i: usize,
    phone: &Phone,
    http: &reqwest::Client,
    node: &str,
) -> (String, Vec<String>) {
    let from = format!("+1628556{i:04}");
    let merchant = format!("Shop-{i:02}-{}", uuid::Uuid::new_v4().simple());
    let mut alert = alert_json(&from);
    alert["kind"] = json!("confirm_purchase");
    alert["customer"]["id"] = json!(format!("texter-{i}"));
    alert["charges"][0]["merchant"] = json!(merchant);
    let res = http
        .post(format!("{node}/api/v1/alerts"))
        .bearer_auth(API_KEY)
        .json(&alert)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let question = phone.next_sms(&from, SOON).await.unwrap().body;
    let answer = if i.is_multiple_of(2) { "YES" } else { "NO" };
    let reply = phone
        .text(&from, BANK_NUMBER, answer)
        .await
        .unwrap()
        .unwrap_or_default();
    (merchant, vec![question, reply])
}

#[tokio::test]
async fn many_customers_at_once_across_two_nodes_never_see_each_other() {
    let redis = RedisServer::start();
    let (port_a, port_b) = (crate::redis::free_port(), crate::redis::free_port());
    let mut config = phone_config(&format!("http://127.0.0.1:{port_a}"));
    config.public_url = PUBLIC.into();
    let phone = Phone::new(config);
    let api_base = serve_fake_api(&phone).await;
    let (_a, b) = (
        node(port_a, &redis, &api_base, PUBLIC),
        node(port_b, &redis, &api_base, PUBLIC),
    );
    let http = http_client();

    let runs = (0..CUSTOMERS).map(|i| {
        let (phone, http, node_b) = (phone.clone(), http.clone(), b.base.clone());
        tokio::spawn(async move { journey(i, &phone, &http, &node_b).await })
    });
    let texts = (0..CUSTOMERS).map(|i| {
        let (phone, http, node) = (
            phone.clone(),
            http.clone(),
            if i.is_multiple_of(2) {
                b.base.clone()
            } else {
                format!("http://127.0.0.1:{port_a}")
            },
        );
        tokio::spawn(async move { texting(i, &phone, &http, &node).await })
    });
    let mut results = Vec::new();
    for run in runs {
        results.push(run.await.unwrap());
    }
    let mut conversations = Vec::new();
    for text in texts {
        conversations.push(text.await.unwrap());
    }
    for (i, (merchant, seen)) in conversations.iter().enumerate() {
        let all = seen.join("\n");
        assert!(
            all.contains(merchant.as_str()),
            "texter {i} is asked about their own purchase: {all}"
        );
        assert!(
            all.contains(if i.is_multiple_of(2) {
                "approved"
            } else {
                "declined"
            }),
            "texter {i}: {all}"
        );
        let foreign = conversations
            .iter()
            .map(|(m, _)| m)
            .chain(results.iter().map(|(m, _, _)| m));
        for other in foreign.filter(|m| *m != merchant) {
            assert!(
                !all.contains(other.as_str()),
                "texter {i} saw someone else's purchase"
            );
        }
    }

    let sessions: Vec<String> = results
        .iter()
        .map(|(_, seen, _)| seen[0]["session"]["id"].as_str().unwrap().to_owned())
        .collect();
    for (i, (merchant, seen, transcript)) in results.iter().enumerate() {
        let page = serde_json::to_string(seen).unwrap();
        let call = transcript.join("\n");
        assert!(
            page.contains(merchant.as_str()),
            "customer {i} sees their own charge"
        );
        assert!(
            call.contains(&format!("Person{i:02}")),
            "customer {i} is greeted by name"
        );
        let outcome = if i.is_multiple_of(2) {
            "approved"
        } else {
            "declined"
        };
        assert!(
            call.contains(outcome),
            "customer {i} hears their own outcome: {call}"
        );
        for (j, (other_merchant, _, _)) in results.iter().enumerate().filter(|(j, _)| *j != i) {
            for text in [&page, &call] {
                assert!(
                    !text.contains(other_merchant.as_str()),
                    "customer {i} saw customer {j}'s charge"
                );
                assert!(
                    !text.contains(&format!("Person{j:02}")),
                    "customer {i} saw customer {j}'s name"
                );
                assert!(
                    !text.contains(&sessions[j]),
                    "customer {i} saw customer {j}'s session"
                );
            }
        }
        let decisions = seen
            .iter()
            .filter(|m| m["event"]["kind"] == "decided")
            .count();
        assert_eq!(
            decisions, 1,
            "customer {i}: exactly one decision in their log"
        );
    }
}
