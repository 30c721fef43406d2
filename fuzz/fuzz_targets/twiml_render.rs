//! Any reply the engine could make, with any text where text comes from data (customer names,
//! merchants and prompts filled from them; speech hints): the document must be well-formed XML,
//! parse as TwiML and hold exactly the verbs asked for, so no text can ever become markup.
//! Audio URLs, queue names and the agent's number are checked where they are configured (the
//! script loader, the settings), so they take valid values here.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::{
    config::PublicUrl,
    phone::twiml::{self, Verb},
    providers::twilio::{
        Dialect,
        twiml::{Links, render},
    },
    session::{Prompt, Reply, Then},
};

type Input<'a> = (
    Vec<(u8, &'a str, u32)>,
    u8,
    &'a str,
    u8,
    &'a str,
    u32,
    Vec<&'a str>,
    bool,
);

fuzz_target!(|input: Input| {
    let (prompts, then, text, digits, key, timeout, hints, holding) = input;
    let speech: Vec<Prompt> = prompts
        .into_iter()
        .map(|(kind, text, n)| match kind % 3 {
            0 => Prompt::Say(text.to_owned()),
            1 => Prompt::Play {
                play: "https://audio.example.com/hold.mp3".into(),
            },
            _ => Prompt::Pause { pause: n },
        })
        .collect();
    let then = match then % 5 {
        0 => Then::Gather {
            prompt: text.to_owned(),
            digits,
            finish_on_key: key.to_owned(),
            timeout_secs: timeout,
            hints: hints.iter().map(|h| (*h).to_owned()).collect(),
        },
        1 => Then::Hold {
            hold_prompt: text.to_owned(),
        },
        2 => Then::Hangup,
        3 => Then::Transfer {
            queue: Some("fraud".into()),
        },
        _ => Then::Transfer { queue: None },
    };
    let public = PublicUrl::parse("https://ivr.example.com").unwrap();
    let links = Links {
        // Every dialect's document must parse as TwiML does.
        dialect: [Dialect::Twilio, Dialect::SignalWire, Dialect::Telnyx][timeout as usize % 3],
        public: &public,
        session: uuid::Uuid::nil(),
        turn: timeout,
        agent: holding.then_some("+14155550199"),
    };
    let reply = Reply {
        speech: speech.clone(),
        then: then.clone(),
        language: None,
    };
    let doc = render(&reply, &links, holding);
    // XML 1.0's Char production: anything else makes the document unreadable to Twilio.
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
    assert!(doc.chars().all(allowed), "{doc:?}");
    let verbs = twiml::parse(&doc).unwrap_or_else(|e| panic!("{e}: {doc}"));

    let kind = |v: &Verb| match v {
        Verb::Say { .. } => "say",
        Verb::Play { .. } => "play",
        Verb::Pause { .. } => "pause",
        Verb::Gather(_) => "gather",
        Verb::Redirect { .. } => "redirect",
        Verb::Hangup => "hangup",
        Verb::Reject { .. } => "reject",
        Verb::Dial { .. } => "dial",
        Verb::Enqueue { .. } => "enqueue",
    };
    let mut want: Vec<&str> = speech
        .iter()
        .map(|p| match p {
            Prompt::Say(_) => "say",
            Prompt::Play { .. } => "play",
            Prompt::Pause { .. } => "pause",
        })
        .collect();
    match &then {
        Then::Gather { .. } => want.push("gather"),
        Then::Hold { hold_prompt } => {
            if holding && !hold_prompt.is_empty() {
                want.push("say");
            }
            want.push("redirect");
        }
        Then::Hangup => want.push("hangup"),
        Then::Transfer { queue: Some(_) } => want.push("enqueue"),
        Then::Transfer { queue: None } if !holding => want.extend(["say", "hangup"]),
        Then::Transfer { queue: None } => want.push("dial"),
    }
    let got: Vec<&str> = verbs.iter().map(kind).collect();
    assert_eq!(got, want, "{doc}");
});
