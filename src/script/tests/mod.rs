//! The engine, driven directly through the shipped fraud-alert flow; the rest of the language
//! (anywhere, words, branches, audio, texts) in [`language`].

mod language;

use chrono::Utc;
use uuid::Uuid;

use super::{Effect, Input, Next, Outcome, Script, Trigger, step};
use crate::session::{Alert, AlertStatus, Decision, EventKind, Position, Session, Then};

fn script() -> Script {
    let text = include_str!("../../../ivr-scripts/fraud-alert.json");
    Script::parse("fraud-alert.json", text).expect("the shipped script is valid")
}

fn session() -> Session {
    let case = serde_json::from_str::<crate::session::alert::CardAlert>(
        r#"{"customer":{"id":"c-1","name":"Dana Reyes","phone":"+14155550100","verify":{"card_last4":"4242"}},"card":{"brand":"Amex","last4":"4242"},"charges":[{"id":"ch_1","merchant":"Bistro Lumiere","amount":"212.40","currency":"USD","at":"2026-11-21T19:02:00Z","location":"San Francisco, CA","card_present":false}]}"#,
    )
    .unwrap()
    .into_case();
    let alert = Alert {
        id: Uuid::new_v4(),
        created_at: Utc::now(),
        status: AlertStatus::Open,
        case,
    };
    Session::open(
        Uuid::new_v4(),
        &alert,
        "fraud-alert",
        Utc::now(),
        chrono::Duration::hours(1),
    )
}

fn at(state: &str, tries: u8) -> Position {
    Position {
        state: state.into(),
        tries,
    }
}

fn gather_prompt(next: &Next) -> &str {
    match next {
        Next::Reply {
            then: Then::Gather { prompt, .. },
            ..
        } => prompt,
        other => panic!("expected a gather, got {other:?}"),
    }
}

#[test]
fn the_call_opens_with_a_greeting_by_first_name_and_asks_for_the_card() {
    let (script, s) = (script(), session());
    let first = step(&script, &s, &Position::default(), Input::Start).unwrap();
    assert!(
        first.speech[0].contains("Hello Dana."),
        "{:?}",
        first.speech
    );
    assert_eq!(first.position, at("verify", 0));
    assert!(gather_prompt(&first.next).contains("last four digits"));
}

#[test]
fn a_wrong_card_is_asked_again_then_the_caller_is_transferred_after_three_tries() {
    let (script, s) = (script(), session());
    let second = step(&script, &s, &at("verify", 0), Input::Keys("1111")).unwrap();
    assert_eq!(second.position, at("verify", 1));
    assert!(gather_prompt(&second.next).contains("doesn't match"));
    assert!(
        second.log.contains(&EventKind::Digits {
            digits: "••••".into()
        }),
        "credentials are masked"
    );
    let last = step(&script, &s, &at("verify", 2), Input::Keys("1111")).unwrap();
    assert_eq!(last.position.state, "not_verified");
    assert!(matches!(
        last.next,
        Next::Reply {
            then: Then::Transfer { .. },
            ..
        }
    ));
}

#[test]
fn the_right_card_leads_to_the_offer_and_1_sends_the_link() {
    let (script, s) = (script(), session());
    let offer = step(&script, &s, &at("verify", 0), Input::Keys("4242")).unwrap();
    assert!(offer.log.contains(&EventKind::Verified));
    assert!(gather_prompt(&offer.next).contains("Press 1 or say text to get a text message"));
    let send = step(&script, &s, &offer.position, Input::Keys("1")).unwrap();
    let Next::Effect(Effect::SendLink { text }) = &send.next else {
        panic!("expected the link, got {:?}", send.next)
    };
    assert!(text.contains("{link}") && text.contains("Amex"), "{text}");
    let sent = step(&script, &s, &send.position, Input::Done(Outcome::Sent)).unwrap();
    assert!(sent.speech[0].contains("on its way"));
    assert!(matches!(
        sent.next,
        Next::Reply {
            then: Then::Hold { .. },
            wait_secs: Some(90)
        }
    ));
}

#[test]
fn opening_the_page_while_holding_moves_the_call_to_the_decision() {
    let (script, s) = (script(), session());
    let opened = step(
        &script,
        &s,
        &at("waiting", 0),
        Input::Trigger(Trigger::PageOpened),
    )
    .unwrap();
    assert!(opened.speech[0].contains("I see you have the charges in front of you"));
    assert_eq!(opened.position.state, "decide");
}

#[test]
fn a_decision_made_before_the_call_reaches_the_decision_step_is_not_asked_again() {
    let (script, mut s) = (script(), session());
    s.page_opened = true;
    s.decision = Some(crate::session::DecisionRecord {
        decision: Decision::Decline,
        by: crate::session::Channel::Web,
        at: Utc::now(),
    });
    let jumped = step(&script, &s, &at("offer", 0), Input::Keys("1")).unwrap();
    // send_link still runs first; after it the flow skips straight to the outcome.
    let after = step(&script, &s, &jumped.position, Input::Done(Outcome::Sent)).unwrap();
    assert_eq!(after.position.state, "declined");
    assert!(after.speech.iter().any(|l| l.contains("declined")));
}

#[test]
fn keypad_decisions_and_already_decided_both_end_in_the_outcome() {
    let (script, s) = (script(), session());
    let pressed = step(&script, &s, &at("decide", 0), Input::Keys("1")).unwrap();
    assert_eq!(
        pressed.next,
        Next::Effect(Effect::Decide(Decision::Approve))
    );
    let done = step(
        &script,
        &s,
        &pressed.position,
        Input::Done(Outcome::Decided(Decision::Approve)),
    )
    .unwrap();
    assert!(done.speech.last().unwrap().contains("approved"));
    let raced = step(
        &script,
        &s,
        &pressed.position,
        Input::Done(Outcome::AlreadyDecided(Decision::Decline)),
    )
    .unwrap();
    assert!(raced.speech[0].contains("already declined"));
    assert!(matches!(
        raced.next,
        Next::Reply {
            then: Then::Hangup,
            ..
        }
    ));
}

#[test]
fn hearing_the_charges_reads_amount_merchant_and_place() {
    let (script, s) = (script(), session());
    let read = step(&script, &s, &at("offer", 0), Input::Keys("2")).unwrap();
    let text = read
        .speech
        .iter()
        .filter_map(crate::session::Prompt::said)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains(
            "$212.40 at Bistro Lumiere, San Francisco, CA, on Saturday, November 21, online."
        ),
        "{text}"
    );
    assert!(
        text.contains("4 2 4 2"),
        "the card's digits are read one by one: {text}"
    );
    assert_eq!(read.position.state, "decide_by_voice");
}

#[test]
fn events_a_state_does_not_wait_for_are_ignored() {
    let (script, s) = (script(), session());
    assert!(
        step(
            &script,
            &s,
            &at("verify", 0),
            Input::Trigger(Trigger::PageOpened)
        )
        .is_none()
    );
}

#[test]
fn broken_scripts_are_refused_with_the_state_named() {
    let dangling = r#"{"name":"x","start":"a","states":{"a":{"say":"hi","next":"b"}}}"#;
    let err = Script::parse("x.json", dangling).unwrap_err().to_string();
    assert!(err.contains("`a`") && err.contains("`b`"), "{err}");
    let unreachable =
        r#"{"name":"x","start":"a","states":{"a":{"hangup":true},"b":{"hangup":true}}}"#;
    assert!(
        Script::parse("x.json", unreachable)
            .unwrap_err()
            .to_string()
            .contains("never be reached")
    );
    let placeholder =
        r#"{"name":"x","start":"a","states":{"a":{"say":"hi {customer.ssn}","hangup":true}}}"#;
    assert!(
        Script::parse("x.json", placeholder)
            .unwrap_err()
            .to_string()
            .contains("customer.ssn")
    );
    let syntax = "{\n\"name\": \"x\",\n\"start\": 1}";
    assert!(
        Script::parse("x.json", syntax)
            .unwrap_err()
            .to_string()
            .contains("line 3")
    );
}

#[test]
fn a_broken_edit_is_refused_and_the_last_good_version_stays() {
    let dir = std::env::temp_dir().join(format!("tandem-reload-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let flow = include_str!("../../../ivr-scripts/fraud-alert.json");
    std::fs::write(dir.join("fraud-alert.json"), flow).unwrap();
    let scripts = super::Scripts::load_dir(&dir).unwrap();
    let good = scripts.get("fraud-alert").unwrap();
    std::fs::write(
        dir.join("fraud-alert.json"),
        flow.replace("\"next\": \"verify\"", "\"next\": \"nowhere\""),
    )
    .unwrap();
    let err = scripts.reload().unwrap_err().to_string();
    assert!(err.contains("nowhere"), "{err}");
    assert_eq!(scripts.get("fraud-alert").unwrap().version, good.version);
    std::fs::write(dir.join("fraud-alert.json"), flow.replace("Hello", "Hi")).unwrap();
    let keys = scripts.reload().unwrap();
    let newer = scripts.get("fraud-alert").unwrap();
    assert_ne!(newer.version, good.version);
    assert_eq!(keys, vec![newer.key()]);
    // The old version is still there for calls that started on it.
    assert_eq!(scripts.get(&good.key()).unwrap().version, good.version);
}
