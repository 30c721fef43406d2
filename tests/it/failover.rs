//! Nodes fail: one is killed outright, or asked to stop. The call's next webhook is served by
//! the other node and the page resumes there, with nothing missed and nothing doubled.

use std::time::Duration;

use tandem_dev::phone::{Phone, page};

use crate::{helpers::*, redis::RedisServer};

const PUBLIC: &str = "https://ivr.bank.test";

struct Pair {
    redis: RedisServer,
    a: tandem_dev::bench::local::LocalNode,
    b: tandem_dev::bench::local::LocalNode,
    phone: Phone,
}

/// Two nodes on one Redis; Twilio reaches them through a failover balancer, A first.
async fn pair() -> Pair {
    let redis = RedisServer::start();
    let (port_a, port_b) = (crate::redis::free_port(), crate::redis::free_port());
    let (base_a, base_b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    let balancer = failover(vec![base_a, base_b]).await;
    let mut config = phone_config(&balancer);
    config.public_url = PUBLIC.into();
    let phone = Phone::new(config);
    let api_base = serve_fake_api(&phone).await;
    let a = node(port_a, &redis, &api_base, PUBLIC);
    let b = node(port_b, &redis, &api_base, PUBLIC);
    Pair { redis, a, b, phone }
}

async fn raise(p: &Pair, from: &str) {
    let res = http_client()
        .post(format!("{}/api/v1/alerts", p.a.base))
        .bearer_auth(API_KEY)
        .json(&alert_json(from))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

/// Opens the link on `node` as the customer's phone would through the balancer, connects the
/// page there, and waits until the call has heard that the page is open and gathers.
async fn open_page_on(
    node: &str,
    link: &str,
    call: &mut tandem_dev::phone::Call,
) -> (page::Device, String, page::PageSocket) {
    let mut device = page::Device::new();
    let path = device
        .open_link(&link.replacen(PUBLIC, node, 1))
        .await
        .unwrap();
    let socket = device.connect(node, &path, PUBLIC, 0).await.unwrap();
    call.expect_said("I see you have the charges", SOON)
        .await
        .unwrap();
    call.expect_gathering(SOON).await.unwrap();
    (device, path, socket)
}

#[tokio::test]
async fn the_page_node_killed_the_page_resumes_on_the_other_with_nothing_missed_or_doubled() {
    let mut p = pair().await;
    let from = caller();
    raise(&p, &from).await;
    let mut call = p.phone.place_call(&from, BANK_NUMBER).await;
    let link = to_link(&p.phone, &mut call, &from).await;
    let (device, path, mut on_b) = open_page_on(&p.b.base, &link, &mut call).await;
    on_b.expect("page_opened", SOON).await.unwrap();

    p.b.kill();
    // What was already on its way is read; then the socket on B is gone.
    while on_b.next(SOON).await.is_ok() {}
    let seen = on_b.last_seq;
    // While the page is away the caller decides by voice, on A.
    call.press("1");
    call.expect_said("approved", SOON).await.unwrap();
    call.expect_ended(SOON).await.unwrap();

    // The page reconnects to A from the last event it saw: every later event arrives once,
    // in order (the client fails on a repeated or out-of-order seq), ending with the close.
    let mut on_a = device
        .connect(&p.a.base, &path, PUBLIC, seen)
        .await
        .unwrap();
    let mut kinds = Vec::new();
    loop {
        let msg = on_a.next(SOON).await.unwrap();
        if let Some(kind) = msg["event"]["kind"].as_str() {
            kinds.push(kind.to_owned());
            if kind == "session_closed" {
                break;
            }
        }
    }
    assert!(
        kinds.iter().any(|k| k == "decided"),
        "missed the decision: {kinds:?}"
    );
    assert_eq!(on_a.snapshot["session"]["decision"]["decision"], "approve");
    let _ = &p.redis;
}

#[tokio::test]
async fn the_call_node_killed_the_next_webhook_goes_on_at_the_other_node() {
    let mut p = pair().await;
    let from = caller();
    raise(&p, &from).await;
    let mut call = p.phone.place_call(&from, BANK_NUMBER).await;
    call.expect_said("last four digits", SOON).await.unwrap();
    call.expect_gathering(SOON).await.unwrap();

    // A dies with the call waiting for digits; the answer reaches B, which knows the call.
    p.a.kill();
    call.press("4242");
    call.expect_said("to get a text message with a link", SOON)
        .await
        .unwrap();
    call.press("1");
    let link = link_in(&p.phone.next_sms(&from, SOON).await.unwrap().body);
    call.expect_said("on its way", SOON).await.unwrap();
    let (_, _, mut page) = open_page_on(&p.b.base, &link, &mut call).await;
    page.tap("approve").await.unwrap();
    call.expect_said("approved", SOON).await.unwrap();
    call.expect_ended(SOON).await.unwrap();
    page.expect("session_closed", SOON).await.unwrap();
    let _ = &p.redis;
}

#[tokio::test]
async fn a_node_asked_to_stop_answers_its_holding_call_tells_its_pages_and_exits() {
    let mut p = pair().await;
    // Customer X: call holding on A for the page. Customer Y: page connected to A.
    let (x, y) = (caller(), caller());
    raise(&p, &x).await;
    raise(&p, &y).await;
    let mut call_y = p.phone.place_call(&y, BANK_NUMBER).await;
    let link_y = to_link(&p.phone, &mut call_y, &y).await;
    let (device_y, path_y, mut page_y) = open_page_on(&p.a.base, &link_y, &mut call_y).await;
    let mut call_x = p.phone.place_call(&x, BANK_NUMBER).await;
    let link_x = to_link(&p.phone, &mut call_x, &x).await;
    // Stopped once X's hold request is in A's hands: a request on its way at the very moment
    // the socket closes is the balancer's problem, not this test's.
    p.a.wait_log(&["call holding", &call_x.sid], SOON)
        .await
        .unwrap();

    p.a.terminate().unwrap();
    // Y's page is told to go elsewhere before the socket closes.
    let bye = page_y.expect("bye", SOON).await.unwrap();
    assert_eq!(bye["reason"], "shutdown", "{bye}");
    assert!(page_y.closed(SOON).await.is_ok());
    let status = p.a.wait_exit(Duration::from_secs(10)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "A exits cleanly and in time: {status:?}"
    );

    // X's call, held on A, carries on at B: the page opened there reaches it.
    let (_, _, mut page_x) = open_page_on(&p.b.base, &link_x, &mut call_x).await;
    page_x.tap("decline").await.unwrap();
    call_x.expect_said("declined", SOON).await.unwrap();

    // Y's page reconnects to B where it left off, and its tap reaches Y's call.
    let mut page_y = device_y
        .connect(&p.b.base, &path_y, PUBLIC, page_y.last_seq)
        .await
        .unwrap();
    page_y.tap("approve").await.unwrap();
    call_y.expect_said("approved", SOON).await.unwrap();
    call_y.expect_ended(SOON).await.unwrap();
    let _ = &p.redis;
}

#[tokio::test]
async fn a_node_stopped_under_load_hands_every_call_and_page_to_the_other() {
    const EACH: usize = 8;
    let mut p = pair().await;
    // On A: EACH customers with the page open and the call asking for a decision, and EACH
    // whose calls hold for a page they have not opened yet.
    let mut with_page = Vec::new();
    for _ in 0..EACH {
        let from = caller();
        raise(&p, &from).await;
        let mut call = p.phone.place_call(&from, BANK_NUMBER).await;
        let link = to_link(&p.phone, &mut call, &from).await;
        let (device, path, page) = open_page_on(&p.a.base, &link, &mut call).await;
        with_page.push((call, device, path, page));
    }
    let mut holding = Vec::new();
    for _ in 0..EACH {
        let from = caller();
        raise(&p, &from).await;
        let mut call = p.phone.place_call(&from, BANK_NUMBER).await;
        let link = to_link(&p.phone, &mut call, &from).await;
        holding.push((call, link));
    }
    for (call, _) in &holding {
        p.a.wait_log(&["call holding", &call.sid], SOON)
            .await
            .unwrap();
    }

    p.a.terminate().unwrap();
    for (_, _, _, page) in &mut with_page {
        let bye = page.expect("bye", SOON).await.unwrap();
        assert_eq!(bye["reason"], "shutdown", "{bye}");
        assert!(page.closed(SOON).await.is_ok());
    }
    let status = p.a.wait_exit(Duration::from_secs(10)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "A exits cleanly and in time: {status:?}"
    );

    // Everyone carries on at B at once: the pages reconnect where they left off and approve;
    // the holding callers open their pages there and decline.
    let approvals = with_page.into_iter().map(|(mut call, device, path, page)| {
        let b = p.b.base.clone();
        async move {
            let mut page = device
                .connect(&b, &path, PUBLIC, page.last_seq)
                .await
                .unwrap();
            page.tap("approve").await.unwrap();
            call.expect_said("approved", SOON).await.unwrap();
            call.expect_ended(SOON).await.unwrap();
        }
    });
    let declines = holding.into_iter().map(|(mut call, link)| {
        let b = p.b.base.clone();
        async move {
            let (_, _, mut page) = open_page_on(&b, &link, &mut call).await;
            page.tap("decline").await.unwrap();
            call.expect_said("declined", SOON).await.unwrap();
            call.expect_ended(SOON).await.unwrap();
        }
    });
    tokio::join!(
        futures_util::future::join_all(approvals),
        futures_util::future::join_all(declines)
    );
    let _ = &p.redis;
}
