//! One conformance suite, run against both stores: they must be interchangeable.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use tandem::{
    session::{Alert, AlertStatus, Case, Channel, Decision, Draft, EventKind, Session},
    store::{Commit, Index, MemoryStore, RedisStore, Store, Wake},
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{helpers::sample_case, redis::RedisServer};

const TTL: Duration = Duration::from_secs(60);

fn alert(case: Case) -> Alert {
    Alert {
        id: Uuid::new_v4(),
        created_at: Utc::now(),
        status: AlertStatus::Open,
        case,
    }
}

fn new_session(alert: &Alert) -> Draft {
    let now = Utc::now();
    let mut d = Draft::new(
        Session::open(
            Uuid::new_v4(),
            alert,
            "fraud-alert",
            now,
            chrono::Duration::minutes(5),
        ),
        now,
    );
    d.emit(EventKind::SessionOpened);
    d
}

async fn conformance(store: Arc<dyn Store>) {
    alerts_are_found_by_phone_until_resolved(&*store).await;
    a_newer_alert_for_a_phone_supersedes_an_open_one_but_not_a_decided_one(&*store).await;
    an_alert_knows_its_session_only_while_it_exists(&*store).await;
    commits_are_compare_and_set_and_append_events_in_order(&*store).await;
    first_decision_wins_when_two_writers_race(store.clone()).await;
    indexes_bind_once(&*store).await;
    commits_wake_listeners(&*store).await;
    failures_count_per_client_within_their_window(&*store).await;
}

async fn failures_count_per_client_within_their_window(store: &dyn Store) {
    let (a, b) = (format!("203.0.113.{}", rand_octet()), "198.51.100.1");
    let window = Duration::from_secs(600);
    assert_eq!(store.failures(&a).await.unwrap(), 0);
    assert_eq!(store.add_failure(&a, window).await.unwrap(), 1);
    assert_eq!(store.add_failure(&a, window).await.unwrap(), 2);
    assert_eq!(store.failures(&a).await.unwrap(), 2);
    assert_eq!(store.failures(b).await.unwrap(), 0, "counted per client");
    // A window that has passed starts again from nothing.
    let brief = format!("{a}-brief");
    store
        .add_failure(&brief, Duration::from_millis(1))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while store.failures(&brief).await.unwrap() != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the window never closed"
        );
        tokio::task::yield_now().await;
    }
    assert_eq!(store.add_failure(&brief, window).await.unwrap(), 1);
}

fn rand_octet() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0]
}

async fn alerts_are_found_by_phone_until_resolved(store: &dyn Store) {
    let a = alert(sample_case("+14155550111"));
    store.put_alert(&a, TTL).await.unwrap();
    assert_eq!(store.alert(a.id).await.unwrap().as_ref(), Some(&a));
    assert_eq!(
        store
            .open_alert_for_phone("+14155550111")
            .await
            .unwrap()
            .map(|x| x.id),
        Some(a.id)
    );
    store
        .set_alert_status(a.id, &a.case.customer.phone, AlertStatus::Approved)
        .await
        .unwrap();
    assert_eq!(
        store.alert(a.id).await.unwrap().unwrap().status,
        AlertStatus::Approved
    );
    assert!(
        store
            .open_alert_for_phone("+14155550111")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.alert(Uuid::new_v4()).await.unwrap().is_none());
}

async fn a_newer_alert_for_a_phone_supersedes_an_open_one_but_not_a_decided_one(store: &dyn Store) {
    let phone = format!("+1415555{:04}", rand_octet() as u16 * 10);
    let (first, second, third) = (
        alert(sample_case(&phone)),
        alert(sample_case(&phone)),
        alert(sample_case(&phone)),
    );
    store.put_alert(&first, TTL).await.unwrap();
    store.put_alert(&second, TTL).await.unwrap();
    let status = |id| async move { store.alert(id).await.unwrap().unwrap().status };
    assert_eq!(status(first.id).await, AlertStatus::Superseded);
    assert_eq!(status(second.id).await, AlertStatus::Open);
    let open = store.open_alert_for_phone(&phone).await.unwrap();
    assert_eq!(
        open.map(|a| a.id),
        Some(second.id),
        "the newer one is the phone's"
    );
    // A decided alert keeps its outcome when another comes after it.
    store
        .set_alert_status(second.id, &phone, AlertStatus::Declined)
        .await
        .unwrap();
    store.put_alert(&third, TTL).await.unwrap();
    assert_eq!(status(second.id).await, AlertStatus::Declined);
    assert_eq!(status(third.id).await, AlertStatus::Open);
}

async fn an_alert_knows_its_session_only_while_it_exists(store: &dyn Store) {
    let a = alert(sample_case("+14155550112"));
    store.put_alert(&a, TTL).await.unwrap();
    assert_eq!(store.alert_session(a.id).await.unwrap(), None);
    let session = Uuid::new_v4();
    store.attach_session(a.id, session).await.unwrap();
    assert_eq!(store.alert_session(a.id).await.unwrap(), Some(session));
    // An alert that does not exist gains nothing (no key without its time to live).
    let ghost = Uuid::new_v4();
    store.attach_session(ghost, session).await.unwrap();
    assert_eq!(store.alert_session(ghost).await.unwrap(), None);
    assert!(store.alert(ghost).await.unwrap().is_none());
}

async fn commits_are_compare_and_set_and_append_events_in_order(store: &dyn Store) {
    let a = alert(sample_case("+14155550112"));
    let draft = new_session(&a);
    let id = draft.session.id;
    assert_eq!(
        store.commit(&draft, 0, TTL).await.unwrap(),
        Commit::Done { version: 1 }
    );
    // Creating it again is a conflict, not an overwrite.
    assert_eq!(
        store.commit(&draft, 0, TTL).await.unwrap(),
        Commit::Conflict
    );

    let loaded = store.load(id).await.unwrap().unwrap();
    assert_eq!(loaded.version, 1);
    assert_eq!(loaded.session, draft.session);

    let mut next = Draft::new(loaded.session.clone(), Utc::now());
    next.emit(EventKind::CallStarted);
    next.emit(EventKind::Said {
        text: "Hello <Dana> & co".into(),
    });
    assert_eq!(
        store.commit(&next, 1, TTL).await.unwrap(),
        Commit::Done { version: 2 }
    );
    // A writer holding the old version loses.
    assert_eq!(store.commit(&next, 1, TTL).await.unwrap(), Commit::Conflict);

    let all = store.events_after(id, 0, 100).await.unwrap();
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(
        all[2].event,
        EventKind::Said {
            text: "Hello <Dana> & co".into()
        }
    );
    let tail = store.events_after(id, 2, 100).await.unwrap();
    assert_eq!(tail.len(), 1);
    assert_eq!(store.events_after(id, 1, 1).await.unwrap().len(), 1);
    assert!(store.load(Uuid::new_v4()).await.unwrap().is_none());
}

async fn first_decision_wins_when_two_writers_race(store: Arc<dyn Store>) {
    let a = alert(sample_case("+14155550113"));
    let draft = new_session(&a);
    let id = draft.session.id;
    store.commit(&draft, 0, TTL).await.unwrap();
    let base = store.load(id).await.unwrap().unwrap();
    let attempt = |decision, by| {
        let store = store.clone();
        let mut d = Draft::new(base.session.clone(), Utc::now());
        d.decide(decision, by).unwrap();
        async move { store.commit(&d, base.version, TTL).await.unwrap() }
    };
    let (web, voice) = tokio::join!(
        attempt(Decision::Approve, Channel::Web),
        attempt(Decision::Decline, Channel::Voice)
    );
    let wins = [web, voice]
        .iter()
        .filter(|c| matches!(c, Commit::Done { .. }))
        .count();
    assert_eq!(wins, 1, "exactly one writer wins: {web:?} {voice:?}");
    let decided = store.events_after(id, 0, 100).await.unwrap();
    let decisions = decided
        .iter()
        .filter(|e| matches!(e.event, EventKind::Decided { .. }))
        .count();
    assert_eq!(decisions, 1);
}

async fn indexes_bind_once(store: &dyn Store) {
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    let key = format!("CA{}", Uuid::new_v4().simple());
    assert_eq!(
        store.bind(Index::Call, &key, first, TTL).await.unwrap(),
        None
    );
    assert_eq!(
        store.bind(Index::Call, &key, second, TTL).await.unwrap(),
        Some(first)
    );
    assert_eq!(store.lookup(Index::Call, &key).await.unwrap(), Some(first));
    // Indexes are separate namespaces.
    assert_eq!(store.lookup(Index::Token, &key).await.unwrap(), None);
}

async fn commits_wake_listeners(store: &dyn Store) {
    let mut bus = store.wakeups();
    let a = alert(sample_case("+14155550114"));
    let draft = new_session(&a);
    let id = draft.session.id;
    store.commit(&draft, 0, TTL).await.unwrap();
    let woke = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match bus.recv().await {
                Ok(Wake::Session { id: got, seq }) if got == id => return seq,
                Ok(_) => continue,
                Err(e) => panic!("bus closed: {e}"),
            }
        }
    })
    .await
    .expect("a commit wakes listeners");
    assert_eq!(woke, 1);
}

#[tokio::test]
async fn the_memory_store_passes_the_conformance_suite() {
    conformance(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn the_redis_store_passes_the_conformance_suite() {
    let redis = RedisServer::start();
    let shutdown = CancellationToken::new();
    let store = RedisStore::connect(&redis.url(), "conf", shutdown.clone()).unwrap();
    // The bus subscribes in the background; wait for its first resync before relying on it.
    let mut bus = store.wakeups();
    tokio::time::timeout(Duration::from_secs(5), async {
        while bus.recv().await != Ok(Wake::Resync) {}
    })
    .await
    .expect("the bus subscribes");
    conformance(Arc::new(store)).await;
    shutdown.cancel();
}

#[tokio::test]
async fn the_redis_store_reports_an_outage_quickly_instead_of_hanging() {
    let redis = RedisServer::start();
    let url = redis.url();
    drop(redis);
    let store = RedisStore::connect(&url, "down", CancellationToken::new()).unwrap();
    let started = std::time::Instant::now();
    assert!(store.load(Uuid::new_v4()).await.is_err());
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
}

/// Always on a real three-master cluster, whatever the run: every session's keys land on one
/// master (one slot), and sessions spread over all three.
#[tokio::test]
async fn on_a_three_master_cluster_each_session_lives_in_one_slot_and_sessions_spread() {
    let cluster = tandem_dev::bench::local::LocalCluster::start(3).expect("a cluster forms");
    let shutdown = CancellationToken::new();
    let store = RedisStore::connect(&cluster.url(), "slots", shutdown.clone()).unwrap();
    let alert = alert(sample_case("+14155550123"));
    store.put_alert(&alert, TTL).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..30 {
        let draft = new_session(&alert);
        assert!(matches!(
            store.commit(&draft, 0, TTL).await.unwrap(),
            Commit::Done { version: 1 }
        ));
        assert_eq!(
            store
                .events_after(draft.session.id, 0, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        ids.push(draft.session.id);
    }
    let keys_on = |port: u16| {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &port.to_string(), "--scan", "--pattern", "slots:*"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let held: Vec<String> = cluster.ports.iter().map(|p| keys_on(*p)).collect();
    for id in &ids {
        let home: Vec<&String> = held
            .iter()
            .filter(|keys| keys.contains(&format!("slots:{{{id}}}:session")))
            .collect();
        assert_eq!(home.len(), 1, "session {id} on exactly one master");
        assert!(
            home[0].contains(&format!("slots:{{{id}}}:events")),
            "its events beside it"
        );
    }
    for (port, keys) in cluster.ports.iter().zip(&held) {
        assert!(
            keys.contains(":session"),
            "master {port} holds some of the 30 sessions"
        );
    }
    // The alert and its phone pointer sit in different slots; both were written and read.
    assert_eq!(
        store
            .open_alert_for_phone("+14155550123")
            .await
            .unwrap()
            .map(|a| a.id),
        Some(alert.id)
    );
    shutdown.cancel();
}

#[tokio::test]
async fn on_a_cluster_with_one_master_down_the_node_stays_ready_for_the_others() {
    one_master_down(|cluster| cluster.kill(0)).await;
}

#[tokio::test]
async fn on_a_cluster_with_one_master_hung_the_node_stays_ready_for_the_others() {
    one_master_down(|cluster| cluster.freeze(0)).await;
}

async fn one_master_down(down: impl FnOnce(&mut tandem_dev::bench::local::LocalCluster)) {
    // The others mark a silent master failed after 1.5 s here (5 s by default).
    let mut cluster =
        tandem_dev::bench::local::LocalCluster::start_with(3, 1500).expect("a cluster forms");
    let shutdown = CancellationToken::new();
    let store = RedisStore::connect(&cluster.url(), "health", shutdown.clone()).unwrap();
    store.ping().await.expect("all three answer");
    down(&mut cluster);
    // A third of the slots are gone; the node still serves the other two thirds, so it must
    // not leave its balancer (which would stop every session) — nor may a node that starts
    // (or reconnects) now.
    let late = RedisStore::connect(&cluster.url(), "health", shutdown.clone()).unwrap();
    // Every probe counts, not only the last: a balancer takes a node out after a couple of
    // failed checks. Past the cluster's node timeout, when the others mark it failed.
    let until = std::time::Instant::now() + Duration::from_millis(2500);
    let mut probes = 0;
    while std::time::Instant::now() < until {
        store.ping().await.expect("the running node stays ready");
        late.ping().await.expect("a node that starts now is ready");
        probes += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Each probe is bounded by the store's 1 s timeout: at least two ran.
    assert!(probes >= 2, "probed throughout: {probes}");
    shutdown.cancel();
}
