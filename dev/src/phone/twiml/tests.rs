//! The TwiML reader against Twilio's documented verbs, and against what the server renders.

use super::*;

#[test]
fn the_servers_audio_pauses_and_words_are_twiml_the_phone_can_run() {
    use tandem::{
        config::PublicUrl,
        providers::twilio::twiml::{Links, render},
        session::{Prompt, Reply, Then},
    };
    let reply = Reply {
        speech: vec![
            Prompt::Play {
                play: "https://cdn.example/a.mp3?x=1&y=2".into(),
            },
            Prompt::Pause { pause: 2 },
            "Hi".into(),
        ],
        then: Then::Hangup,
        language: None,
    };
    let public = PublicUrl::parse("https://ivr.example.com").unwrap();
    let links = Links {
        dialect: tandem::providers::twilio::Dialect::Twilio,
        public: &public,
        session: uuid::Uuid::nil(),
        turn: 1,
        agent: None,
        call: None,
    };
    let doc = render(&reply, &links, false);
    let verbs = parse(&doc).expect("valid TwiML");
    assert_eq!(verbs.len(), 4, "{verbs:?}");
}

#[test]
fn every_verb_is_read_with_its_attributes_and_entities() {
    let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
        <Response>
          <Say loop="2">Caf&#233; &amp; Bistro &lt;3</Say>
          <Play>https://x.test/a.mp3</Play>
          <Pause length="3"/>
          <Gather numDigits="4" timeout="7" finishOnKey="*" action="/g?a=1&amp;b=2" method="GET" actionOnEmptyResult="true"><Say>Enter</Say></Gather>
          <Redirect method="POST">/hold</Redirect>
          <Dial><Number>+14155550199</Number></Dial>
          <Enqueue>support</Enqueue>
          <Reject reason="busy"/>
          <Hangup/>
        </Response>"#;
    let verbs = parse(doc).unwrap();
    assert_eq!(
        verbs[0],
        Verb::Say {
            text: "Café & Bistro <3".into(),
            loops: 2
        }
    );
    assert_eq!(
        verbs[1],
        Verb::Play {
            url: "https://x.test/a.mp3".into(),
            loops: 1
        }
    );
    assert_eq!(verbs[2], Verb::Pause { length: 3 });
    let Verb::Gather(g) = &verbs[3] else {
        panic!("{:?}", verbs[3])
    };
    assert_eq!(
        (g.num_digits, g.timeout, g.finish_on_key.as_str()),
        (Some(4), 7, "*")
    );
    assert_eq!(
        (
            g.action.as_deref(),
            g.method.as_str(),
            g.action_on_empty_result
        ),
        (Some("/g?a=1&b=2"), "GET", true)
    );
    assert_eq!(
        g.children,
        vec![Verb::Say {
            text: "Enter".into(),
            loops: 1
        }]
    );
    assert_eq!(
        verbs[4],
        Verb::Redirect {
            url: "/hold".into(),
            method: "POST".into()
        }
    );
    assert_eq!(
        verbs[5],
        Verb::Dial {
            number: "+14155550199".into()
        }
    );
    assert_eq!(
        verbs[6],
        Verb::Enqueue {
            name: "support".into()
        }
    );
    assert_eq!(
        verbs[7],
        Verb::Reject {
            reason: "busy".into()
        }
    );
    assert_eq!(verbs[8], Verb::Hangup);
}

#[test]
fn gather_defaults_follow_twilio() {
    let Verb::Gather(g) = parse("<Response><Gather/></Response>").unwrap().remove(0) else {
        panic!()
    };
    assert_eq!(
        (
            g.num_digits,
            g.timeout,
            g.finish_on_key.as_str(),
            g.method.as_str()
        ),
        (None, 5, "#", "POST")
    );
    assert!(!g.action_on_empty_result && g.action.is_none());
}

#[test]
fn malformed_documents_are_reported_as_twilio_would() {
    for doc in [
        "",
        "<Response><Say>hi</Response>",
        "<Response><Say>a & b</Say></Response>",
        "not xml",
        "<Response></Response><Extra/>",
    ] {
        let err = parse(doc).unwrap_err();
        assert!(err.to_string().starts_with("Error 12100"), "{doc}: {err}");
    }
    for doc in [
        "<Respond/>",
        "<Response><Shout>hi</Shout></Response>",
        "<Response><Gather><Dial>1</Dial></Gather></Response>",
        "<Response><Pause length=\"x\"/></Response>",
        "<Response><Redirect method=\"PUT\">/x</Redirect></Response>",
    ] {
        let err = parse(doc).unwrap_err();
        assert!(err.to_string().starts_with("Error 12200"), "{doc}: {err}");
    }
}
