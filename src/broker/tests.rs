//! The broker driven directly on the embedded store, with a telephony that records what it
//! was asked: which flow an alert runs is the scripts' to say, and so are the words of a
//! refusal.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Broker, BrokerError, Command, Outcome};
use crate::{
    config::Config,
    script::{Script, Scripts},
    session::{Channel, Decision, Refusal, Reply, Then, alert::AlertKind, alert::sample},
    store::MemoryStore,
    telephony::{Answer, CallInfo, CallStatus, Carriers, OutboundSms, ProviderError, Telephony},
};

const FRAUD: &str = include_str!("../../ivr-scripts/fraud-alert.json");
const TEXTED: &str = include_str!("../../ivr-scripts/purchase-confirm-sms.json");

/// Texts and live updates, as a provider would have received them.
#[derive(Default)]
struct Recorded {
    texts: Mutex<Vec<String>>,
}

#[async_trait]
impl Telephony for Recorded {
    async fn update_call(&self, _: &str, _: Uuid, _: u32, _: &Reply) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn send_sms(&self, sms: OutboundSms<'_>) -> Result<(), ProviderError> {
        self.texts.lock().unwrap().push(sms.body.to_owned());
        Ok(())
    }

    async fn call_status(&self, _: &str) -> Result<Option<CallStatus>, ProviderError> {
        Ok(Some(CallStatus::InProgress))
    }
}

fn broker(flows: &[&str]) -> (Broker, Arc<Recorded>) {
    let mut scripts = Scripts::default();
    for (i, flow) in flows.iter().enumerate() {
        scripts.insert(Script::parse(&format!("flow{i}.json"), flow).expect("a valid flow"));
    }
    let config = Config::from_lookup(|k| {
        (k == "TANDEM_PUBLIC_URL").then(|| "https://ivr.example.test".to_owned())
    })
    .unwrap();
    let telephony = Arc::new(Recorded::default());
    let broker = Broker::new(
        Arc::new(config),
        Arc::new(MemoryStore::default()),
        Arc::new(scripts),
        Arc::new(Carriers::new(vec![("twilio", telephony.clone())])),
        CancellationToken::new(),
    );
    (broker, telephony)
}

fn call_from(phone: &str) -> Command {
    Command::StartCall(CallInfo {
        provider: "twilio",
        call_id: format!("call-{}", Uuid::new_v4()),
        from: phone.into(),
        to: "+18005550100".into(),
        status: None,
    })
}

#[tokio::test]
async fn a_second_decision_is_refused_in_the_words_of_the_sessions_script() {
    let flow = FRAUD.replace(
        "These charges were already {decision}.",
        "Those were already {decision}, thank you.",
    );
    let (broker, _) = broker(&[&flow]);
    let phone = "+14155550123";
    let raised = broker
        .apply(Command::RaiseAlert(sample(phone).into_case()))
        .await
        .unwrap();
    assert!(
        matches!(raised, Outcome::AlertRaised { texted: None, .. }),
        "{raised:?}"
    );
    let Outcome::Call(Answer::Reply { session, .. }) =
        broker.apply(call_from(phone)).await.unwrap()
    else {
        panic!("the call is greeted")
    };
    let decide = |decision| Command::Decide {
        session,
        decision,
        by: Channel::Web,
    };
    let first = broker.apply(decide(Decision::Approve)).await.unwrap();
    assert!(matches!(first, Outcome::Applied), "{first:?}");
    let before = broker.load_versioned(session).await.unwrap().version;
    match broker.apply(decide(Decision::Decline)).await.unwrap() {
        Outcome::Refused {
            refusal: Refusal::AlreadyDecided(existing),
            message,
        } => {
            assert_eq!(existing.decision, Decision::Approve);
            assert_eq!(message, "Those were already approved, thank you.");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // A command that cannot change anything costs no write.
    let after = broker.load_versioned(session).await.unwrap().version;
    assert_eq!(before, after, "the refused decision wrote something");
    let session = broker.session(session).await.unwrap();
    assert_eq!(session.decision.unwrap().decision, Decision::Approve);
}

#[tokio::test]
async fn an_alert_no_script_serves_is_refused_and_nothing_is_stored() {
    let card_holds_only = FRAUD.replace(
        r#""serves": ["card_hold", "confirm_purchase"]"#,
        r#""serves": ["card_hold"]"#,
    );
    assert_ne!(
        card_holds_only, FRAUD,
        "the shipped flow names what it serves"
    );
    let (broker, telephony) = broker(&[&card_holds_only]);
    let phone = "+14155550124";
    let mut case = sample(phone).into_case();
    case.kind = AlertKind::CONFIRM_PURCHASE.into();
    match broker.apply(Command::RaiseAlert(case)).await {
        Err(BrokerError::Unserved(why)) if why.contains("confirm_purchase") => {}
        other => panic!("expected the alert refused, got {other:?}"),
    }
    let answer = broker.apply(call_from(phone)).await.unwrap();
    assert!(
        matches!(answer, Outcome::Call(Answer::UnknownCaller)),
        "no alert was stored: {answer:?}"
    );
    assert!(telephony.texts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_alert_kind_a_text_flow_serves_starts_texting_and_a_card_hold_waits_for_the_call() {
    let (broker, telephony) = broker(&[FRAUD, TEXTED]);
    let phone = "+14155550125";
    let mut case = sample(phone).into_case();
    case.kind = AlertKind::CONFIRM_PURCHASE.into();
    let raised = broker.apply(Command::RaiseAlert(case)).await.unwrap();
    assert!(
        matches!(
            raised,
            Outcome::AlertRaised {
                texted: Some(true),
                ..
            }
        ),
        "{raised:?}"
    );
    let texts = telephony.texts.lock().unwrap().clone();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("Reply YES or NO"), "{texts:?}");
    assert!(
        texts[0].contains("https://ivr.example.test/s/"),
        "{texts:?}"
    );
    // A card hold has no text flow: its journey waits for the call.
    let raised = broker
        .apply(Command::RaiseAlert(sample("+14155550126").into_case()))
        .await
        .unwrap();
    assert!(
        matches!(raised, Outcome::AlertRaised { texted: None, .. }),
        "{raised:?}"
    );
}

#[test]
fn a_folder_where_two_usual_flows_serve_one_kind_is_refused() {
    let dir = std::env::temp_dir().join(format!("tandem-flows-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("fraud-alert.json"), FRAUD).unwrap();
    let twin = FRAUD.replace(r#""name": "fraud-alert""#, r#""name": "fraud-twin""#);
    std::fs::write(dir.join("fraud-twin.json"), twin).unwrap();
    let err = Scripts::load_dir(&dir).unwrap_err().to_string();
    assert!(err.contains("both serve card_hold"), "{err}");
    std::fs::remove_file(dir.join("fraud-twin.json")).unwrap();
    assert!(Scripts::load_dir(&dir).is_ok());
}

/// A hold poll that runs out just as something moves the call on (a page opening, a live
/// update) answers where the call now is: an apology there would hang up a call that was fine.
#[tokio::test]
async fn a_hold_poll_that_runs_out_after_the_call_moved_on_answers_where_it_is() {
    let (broker, _) = broker(&[FRAUD]);
    let phone = "+14155550123";
    broker
        .apply(Command::RaiseAlert(sample(phone).into_case()))
        .await
        .unwrap();
    let Outcome::Call(Answer::Reply { session, turn, .. }) =
        broker.apply(call_from(phone)).await.unwrap()
    else {
        panic!("the call is greeted")
    };
    // The call's last reply is the greeting's gather, not a hold: the poll of an earlier hold
    // that ends now hears it again, at the call's turn.
    match broker.holding(session, turn, None).await {
        Answer::Reply {
            turn: now, reply, ..
        } => {
            assert_eq!(now, turn);
            assert!(matches!(reply.then, Then::Gather { .. }), "{reply:?}");
        }
        other => panic!("expected the current reply, got {other:?}"),
    }
    // A poll from a turn the call never reached is still refused.
    assert_eq!(
        broker.holding(session, turn + 1, None).await,
        Answer::Apology
    );
}
