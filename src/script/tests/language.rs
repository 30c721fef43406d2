//! The rest of the flow language, driven directly: ways out from anywhere, spoken answers,
//! branches, silence and cases, audio, texted replies and actions.

use super::*;

#[test]
fn zero_reaches_an_agent_from_any_gather_that_does_not_use_it() {
    let (script, s) = (script(), session());
    for state in ["verify", "offer", "decide", "decide_by_voice"] {
        let out = step(&script, &s, &at(state, 0), Input::Keys("0")).unwrap();
        assert_eq!(out.position.state, "agent", "from {state}");
        let waits = matches!(
            out.next,
            Next::Reply {
                then: Then::Hold { .. },
                wait_secs: Some(120)
            }
        );
        assert!(
            waits,
            "from {state}, the call waits for a person: {:?}",
            out.next
        );
    }
    let asked = step(
        &script,
        &s,
        &at("link_sent", 0),
        Input::Trigger(Trigger::AgentRequested),
    )
    .unwrap();
    assert_eq!(asked.position.state, "agent");
    let broken = r#"{"name":"x","start":"a","anywhere":{"keys":{"0":"nobody"}},"states":{"a":{"hangup":true}}}"#;
    assert!(
        Script::parse("x.json", broken)
            .unwrap_err()
            .to_string()
            .contains("`nobody`")
    );
    let queued =
        r#"{"name":"x","start":"a","states":{"a":{"say":"hold on","transfer":{"queue":"fraud"}}}}"#;
    let q = Script::parse("x.json", queued).unwrap();
    let out = step(&q, &s, &Position::default(), Input::Start).unwrap();
    assert_eq!(
        out.next,
        Next::Reply {
            then: Then::Transfer {
                queue: Some("fraud".into())
            },
            wait_secs: None
        }
    );
}

#[test]
fn saying_agent_in_a_menu_reaches_a_person_and_other_words_count_as_a_try() {
    let (script, s) = (script(), session());
    let heard = step(
        &script,
        &s,
        &at("offer", 0),
        Input::Words("Can I talk to an Agent, please?"),
    )
    .unwrap();
    assert_eq!(heard.position.state, "agent");
    assert!(heard.log.contains(&EventKind::SpeechHeard {
        text: "Can I talk to an Agent, please?".into()
    }));
    let other = step(&script, &s, &at("offer", 0), Input::Words("bananas")).unwrap();
    assert_eq!(other.position, at("offer", 1));
    // Menus listen for the words; the card-digits gather does not.
    let Next::Reply {
        then: Then::Gather { hints, .. },
        ..
    } = &other.next
    else {
        panic!()
    };
    assert!(hints.contains(&"agent".to_owned()));
    let first = step(&script, &s, &Position::default(), Input::Start).unwrap();
    let Next::Reply {
        then: Then::Gather { hints, .. },
        ..
    } = &first.next
    else {
        panic!()
    };
    assert!(hints.is_empty(), "no speech while asking for card digits");
}

#[test]
fn branches_silence_and_cases_follow_the_script() {
    let flow = r#"{
      "name": "x", "start": "route",
      "states": {
        "route": { "branch": [ { "if": { "page_opened": true }, "then": "seen" },
                               { "if": { "history": "card_reported_stolen", "within_days": 30 }, "then": "stolen" } ],
                   "else": "ask" },
        "ask": { "gather": { "prompt": "Press 1.", "digits": 1, "timeout": 5, "retries": 2,
                             "no_input": "I didn't hear anything. Press 1.", "options": { "1": "seen" },
                             "on_no_input": "quiet", "on_fail": "seen" } },
        "quiet": { "say": "Let's talk later.", "open_case": { "note": "{customer.name} said nothing", "expectation": "We call back tomorrow" }, "hangup": true },
        "seen": { "hangup": true },
        "stolen": { "say": "Stolen on {history.stolen_report_date}.", "hangup": true }
      }
    }"#;
    let script = Script::parse("x.json", flow).unwrap();
    let mut s = session();
    let plain = step(&script, &s, &Position::default(), Input::Start).unwrap();
    assert_eq!(plain.position.state, "ask");
    let hush = step(&script, &s, &at("ask", 0), Input::Keys("")).unwrap();
    assert_eq!(
        gather_prompt(&hush.next),
        "I didn't hear anything. Press 1."
    );
    let gone = step(&script, &s, &at("ask", 1), Input::Keys("")).unwrap();
    assert_eq!(
        gone.position.state, "quiet",
        "silence on the last try takes the no-input path"
    );
    assert!(gone.log.contains(&EventKind::CaseOpened {
        note: "Dana Reyes said nothing".into(),
        expectation: "We call back tomorrow".into()
    }));
    let wrong = step(&script, &s, &at("ask", 1), Input::Keys("9")).unwrap();
    assert_eq!(
        wrong.position.state, "seen",
        "a wrong key on the last try takes on_fail"
    );

    s.history.push(crate::session::history::Record {
        at: s.created_at - chrono::Duration::days(3),
        kind: crate::session::history::RecordKind::CardReportedStolen,
        summary: "reported".into(),
        session: None,
    });
    assert_eq!(
        step(&script, &s, &Position::default(), Input::Start)
            .unwrap()
            .position
            .state,
        "stolen"
    );
    s.page_opened = true;
    assert_eq!(
        step(&script, &s, &Position::default(), Input::Start)
            .unwrap()
            .position
            .state,
        "seen",
        "arms are tried in order"
    );
    let no_else = r#"{"name":"x","start":"a","states":{"a":{"branch":[{"if":{"decided":true},"then":"a"}]}}}"#;
    assert!(
        Script::parse("x.json", no_else)
            .unwrap_err()
            .to_string()
            .contains("else")
    );
}

#[test]
fn audio_and_pauses_follow_the_words_and_bad_ones_are_refused() {
    let flow = r#"{"name":"x","start":"a","states":{"a":{"say":"Hello.","play":"https://cdn.example/jingle.mp3","pause":2,"hangup":true}}}"#;
    let script = Script::parse("x.json", flow).unwrap();
    let out = step(&script, &session(), &Position::default(), Input::Start).unwrap();
    assert_eq!(
        out.speech,
        vec![
            crate::session::Prompt::Say("Hello.".into()),
            crate::session::Prompt::Play {
                play: "https://cdn.example/jingle.mp3".into()
            },
            crate::session::Prompt::Pause { pause: 2 },
        ]
    );
    for bad in [
        r#""play":"http://x/a.mp3""#,
        r#""pause":0"#,
        r#""pause":11"#,
    ] {
        let flow =
            format!(r#"{{"name":"x","start":"a","states":{{"a":{{{bad},"hangup":true}}}}}}"#);
        assert!(Script::parse("x.json", &flow).is_err(), "{bad}");
    }
}

#[test]
fn menus_take_spoken_answers_as_well_as_keys() {
    let (script, s) = (script(), session());
    let read = step(
        &script,
        &s,
        &at("offer", 0),
        Input::Words("Could I hear them please"),
    )
    .unwrap();
    assert_eq!(read.position.state, "decide_by_voice");
    let said = step(&script, &s, &at("decide", 0), Input::Words("Approve")).unwrap();
    assert_eq!(said.next, Next::Effect(Effect::Decide(Decision::Approve)));
    // A word inside another word is not the word: "disapprove" approves nothing.
    let other = step(&script, &s, &at("decide", 0), Input::Words("disapprove")).unwrap();
    assert_eq!(other.position, at("decide", 1));
    // Spoken digits are keys: recognisers return "4 2 4 2" or "4242".
    let verified = step(&script, &s, &at("verify", 0), Input::Words("4 2 4 2.")).unwrap();
    assert!(verified.log.contains(&EventKind::Verified));
    assert!(
        !verified
            .log
            .iter()
            .any(|e| matches!(e, EventKind::SpeechHeard { .. })),
        "a secret is never logged as heard"
    );
    let Next::Reply {
        then: Then::Gather { hints, .. },
        ..
    } = &read.next
    else {
        panic!()
    };
    assert!(hints.contains(&"approve".to_owned()) && hints.contains(&"decline".to_owned()));
    assert!(
        !hints.contains(&"1".to_owned()),
        "keys are not speech hints"
    );
}

#[test]
fn a_texted_reply_moves_a_waiting_call_and_decides_for_the_sms_channel() {
    let (script, mut s) = (script(), session());
    s.sms_reply = Some("YES".into());
    let yes = step(
        &script,
        &s,
        &at("waiting", 0),
        Input::Trigger(Trigger::SmsReply),
    )
    .unwrap();
    assert_eq!(yes.position.state, "approve_by_text");
    assert_eq!(yes.next, Next::Effect(Effect::Decide(Decision::Approve)));
    let done = step(
        &script,
        &s,
        &yes.position,
        Input::Done(Outcome::Decided(Decision::Approve)),
    )
    .unwrap();
    assert_eq!(done.position.state, "approved");
    // The page decided first: the caller hears that decision.
    s.decision = Some(crate::session::DecisionRecord {
        decision: Decision::Decline,
        by: crate::session::Channel::Web,
        at: Utc::now(),
    });
    let raced = step(
        &script,
        &s,
        &yes.position,
        Input::Done(Outcome::AlreadyDecided(Decision::Decline)),
    )
    .unwrap();
    assert_eq!(raced.position.state, "declined");
    s.decision = None;
    s.sms_reply = Some("MAYBE".into());
    let unclear = step(
        &script,
        &s,
        &at("waiting", 0),
        Input::Trigger(Trigger::SmsReply),
    )
    .unwrap();
    assert!(unclear.speech[0].contains("couldn't read your text"));
    assert_eq!(unclear.position.state, "waiting");
    assert!(matches!(
        unclear.next,
        Next::Reply {
            then: Then::Hold { .. },
            wait_secs: Some(90)
        }
    ));
    // Texts that arrive while the call is elsewhere mean nothing there.
    assert!(
        step(
            &script,
            &s,
            &at("decide", 0),
            Input::Trigger(Trigger::SmsReply)
        )
        .is_none()
    );
}

#[test]
fn plain_texts_finish_keys_and_decisions_are_actions_a_flow_can_take() {
    let flow = r#"{
      "name": "x", "start": "ask",
      "states": {
        "ask": { "gather": { "prompt": "Enter your case number, then star.", "digits": 8, "timeout": 5,
                 "finish_on_key": "*", "options": { "12#": "text", "yes": "text" }, "on_fail": "bye" } },
        "text": { "action": "send_sms", "sms": "Hi {customer.first_name}, your case is open.", "on_ok": "ok", "on_error": "bye" },
        "ok": { "action": "approve", "on_ok": "bye", "on_error": "bye" },
        "bye": { "say": "Goodbye.", "hangup": true }
      }
    }"#;
    let script = Script::parse("x.json", flow).unwrap();
    let s = session();
    let first = step(&script, &s, &Position::default(), Input::Start).unwrap();
    let Next::Reply {
        then: Then::Gather { finish_on_key, .. },
        ..
    } = &first.next
    else {
        panic!()
    };
    assert_eq!(finish_on_key, "*");
    let text = step(&script, &s, &first.position, Input::Keys("12#")).unwrap();
    assert_eq!(
        text.next,
        Next::Effect(Effect::SendSms {
            text: "Hi Dana, your case is open.".into()
        })
    );
    assert_eq!(
        crate::script::effect_at(&script, &s, &text.position),
        Some(Effect::SendSms {
            text: "Hi Dana, your case is open.".into()
        })
    );
    // A text that never reported back (its node died) takes the error path.
    let lost = step(&script, &s, &text.position, Input::WaitOver).unwrap();
    assert_eq!(lost.position.state, "bye");
    let sent = step(&script, &s, &text.position, Input::Done(Outcome::Sent)).unwrap();
    assert_eq!(sent.next, Next::Effect(Effect::Decide(Decision::Approve)));
    for (bad, why) in [
        (
            r#""finish_on_key": "*", "options": { "1*": "text" }"#,
            "finish key",
        ),
        (
            r#""finish_on_key": "ab", "options": { "1": "text" }"#,
            "finish_on_key",
        ),
        (r#""options": { "1a": "text" }"#, "neither keys"),
    ] {
        let flow = flow.replace(
            r#""finish_on_key": "*", "options": { "12#": "text", "yes": "text" }"#,
            bad,
        );
        let err = Script::parse("x.json", &flow).unwrap_err().to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
    for (bad, why) in [
        (r#""action": "send_sms", "on_ok""#, "needs the `sms`"),
        (
            r#""action": "send_sms", "sms": "see {link}", "on_ok""#,
            "belongs in a send_link",
        ),
        (
            r#""action": "send_link", "sms": "no address", "on_ok""#,
            "must hold `{link}`",
        ),
        (
            r#""action": "send_sms", "sms": "{card.pin}", "on_ok""#,
            "unknown placeholder",
        ),
    ] {
        let flow = flow.replace(
            r#""action": "send_sms", "sms": "Hi {customer.first_name}, your case is open.", "on_ok""#,
            bad,
        );
        let err = Script::parse("x.json", &flow).unwrap_err().to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

/// A form that checks a credential: the answer is compared, recorded as verified or not, and
/// kept only masked.
#[test]
fn a_secret_field_is_compared_with_the_credential_and_kept_masked() {
    let text = r#"{"name": "id-check", "screen": "id",
      "screens": {"id": {"title": "Confirm it's you", "components": [
        {"type": "form", "id": "identity", "submit": "Continue", "fields": [
          {"name": "card", "type": "digits", "length": 4, "secret": true, "expect": "customer.verify.card_last4",
           "label": "Last 4 digits of your card", "errors": {"invalid": "Those digits don't match our records"}},
          {"name": "nickname", "type": "text", "required": false, "label": "Nickname", "max_length": 10}]}]}},
      "start": "wait",
      "states": {"wait": {"wait": {"timeout": 60, "hold_prompt": "Waiting", "on_timeout": "bye"},
                          "on": {"page.submit.identity": "bye"}},
                 "bye": {"say": "Bye", "hangup": true}}}"#;
    let script = Script::parse("id-check.json", text).unwrap();
    let mut s = session();
    s.case.customer.locale = None;
    let form = script.form("identity").unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    let given = |card: &str, nick: &str| -> std::collections::BTreeMap<String, String> {
        [
            ("card".to_owned(), card.to_owned()),
            ("nickname".to_owned(), nick.to_owned()),
        ]
        .into()
    };

    let ok = super::super::form::check(&script, form, &given("42 42", ""), &s, today).unwrap();
    assert_eq!(ok.verified, Some(true));
    assert_eq!(ok.values.get("card").map(String::as_str), Some("••••"));
    assert!(
        !ok.values.contains_key("nickname"),
        "an empty optional field is left out"
    );

    let wrong = super::super::form::check(&script, form, &given("1234", "x"), &s, today);
    let super::super::form::Refused::Fields(errors) = wrong.unwrap_err() else {
        panic!("a wrong credential is a field error")
    };
    assert_eq!(errors["card"], "Those digits don't match our records");

    let long = super::super::form::check(&script, form, &given("4242", "eleven chars"), &s, today);
    let super::super::form::Refused::Fields(errors) = long.unwrap_err() else {
        panic!("a broken rule is a field error")
    };
    assert_eq!(
        errors["nickname"],
        "Nickname must be 10 characters or fewer"
    );
}

/// A Spanish session hears the decision in Spanish, inside its own sentence.
#[test]
fn the_decision_is_worded_in_the_sessions_language() {
    let text = r#"{"name": "bilingual", "locales": ["en", "es"], "start": "bye",
      "states": {"bye": {"say": {"en": "It was {decision}.", "es": "Quedó {decision}."}, "hangup": true}}}"#;
    let script = Script::parse("bilingual.json", text).unwrap();
    let mut s = session();
    s.decision = Some(crate::session::DecisionRecord {
        decision: Decision::Approve,
        by: crate::session::Channel::Web,
        at: chrono::Utc::now(),
    });
    let bye = &script.states["bye"];
    s.case.customer.locale = Some("es-US".into());
    assert_eq!(
        script.words(bye.say.as_ref().unwrap(), &s),
        "Quedó aprobado."
    );
    s.case.customer.locale = None;
    assert_eq!(
        script.words(bye.say.as_ref().unwrap(), &s),
        "It was approved."
    );
}
