//! Rendering a session's next step as an NCCO, Vonage's JSON array of actions. Vonage has no
//! redirect: a `notify` whose webhook answers with a new NCCO replaces the current one, so
//! the hold loop is a `notify` to `/vonage/hold`, held until the session has news, and a
//! gather is an `input` whose result (a silent one too) is posted to `/vonage/gather`.
//! Nothing is hung up: an NCCO that runs out ends the call.

use serde_json::{Value, json};

use crate::providers::markup::{Gather, Markup, pieces};

/// Vonage reads at most 1,500 characters in one `talk`.
const MAX_TALK_CHARS: usize = 1500;
/// `input`'s limits: 1–20 digits, at most 10 s after the last key.
const MAX_DIGITS: u8 = 20;
const MAX_DTMF_TIMEOUT: u32 = 10;

/// An NCCO being built: its actions so far, as JSON objects joined by commas, so the document
/// is the body in brackets.
#[derive(Default)]
pub struct Ncco {
    body: String,
    /// The `language` of every `talk` and of speech recognition (e.g. `es-ES`); none: Vonage's
    /// default, `en-US`.
    language: Option<String>,
}

impl Ncco {
    fn push(mut self, action: Value) -> Self {
        if !self.body.is_empty() {
            self.body.push(',');
        }
        self.body.push_str(&action.to_string());
        self
    }

    fn talk(self, text: &str, barge_in: bool) -> Self {
        pieces(text, MAX_TALK_CHARS)
            .into_iter()
            .fold(self, |doc, piece| {
                let mut talk = json!({ "action": "talk", "text": piece });
                if let Some(language) = &doc.language {
                    talk["language"] = json!(language);
                }
                // Only a talk right before an input may be cut short by a key: Vonage refuses
                // a barge-in whose next action is not an input.
                if barge_in {
                    talk["bargeIn"] = json!(true);
                }
                doc.push(talk)
            })
    }
}

/// A phone number as Vonage writes it: E.164 digits without the `+`.
pub fn vonage_number(e164: &str) -> String {
    e164.trim().trim_start_matches('+').to_owned()
}

impl Markup for Ncco {
    fn new(language: Option<&str>) -> Self {
        Self {
            body: String::new(),
            language: language.map(str::to_owned),
        }
    }

    fn body(&mut self) -> &mut String {
        &mut self.body
    }

    fn into_body(self) -> String {
        self.body
    }

    fn say(self, text: &str) -> Self {
        self.talk(text, false)
    }

    fn pause(self, secs: u32) -> Self {
        self.push(json!({ "action": "wait", "timeout": secs.clamp(1, 7200) }))
    }

    fn dial(self, number: &str) -> Self {
        self.push(json!({
            "action": "connect",
            "endpoint": [{ "type": "phone", "number": vonage_number(number) }],
        }))
    }

    /// A queue is a named conversation the agents join.
    fn queue(self, name: &str) -> Self {
        self.push(json!({ "action": "conversation", "name": name }))
    }

    fn gather(self, g: &Gather) -> Self {
        let doc = self.talk(g.prompt, true);
        let mut input = json!({
            "action": "input",
            "type": ["dtmf"],
            "dtmf": {
                "maxDigits": g.digits.clamp(1, MAX_DIGITS),
                "timeOut": g.timeout_secs.clamp(1, MAX_DTMF_TIMEOUT),
                "submitOnHash": g.finish_on_key.contains('#'),
            },
            "eventUrl": [g.action],
            "eventMethod": "POST",
        });
        if !g.hints.is_empty() {
            input["type"] = json!(["dtmf", "speech"]);
            let mut speech = json!({
                "context": g.hints,
                "endOnSilence": 1,
                "startTimeout": g.timeout_secs.clamp(1, 60),
            });
            if let Some(language) = &doc.language {
                speech["language"] = json!(language);
            }
            input["speech"] = speech;
        }
        doc.push(input)
    }

    fn play(self, url: &str) -> Self {
        self.push(json!({ "action": "stream", "streamUrl": [url] }))
    }

    /// Vonage's redirect: a `notify` whose webhook answers with the NCCO to go on with.
    fn redirect(self, url: &str) -> Self {
        self.push(json!({
            "action": "notify",
            "payload": { "from": "tandem" },
            "eventUrl": [url],
            "eventMethod": "POST",
        }))
    }

    /// The call ends when its NCCO runs out.
    fn hangup(self) -> Self {
        self
    }

    fn finish(self) -> String {
        format!("[{}]", self.body)
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::{
        config::PublicUrl,
        providers::{
            Dialect,
            markup::{self, Links},
        },
        session::{Prompt, Reply, Then},
    };

    fn links(public: &PublicUrl) -> Links<'_> {
        Links {
            dialect: Dialect::Vonage,
            public,
            session: Uuid::nil(),
            turn: 3,
            agent: Some("+14155550199"),
            call: Some("aaaaaaaa-bbbb-cccc-dddd-0123456789ab"),
        }
    }

    fn actions(doc: &str) -> Vec<Value> {
        serde_json::from_str(doc).expect("an NCCO is a JSON array")
    }

    #[test]
    fn a_gather_is_a_talk_that_a_key_cuts_short_then_an_input_posting_back() {
        let public = PublicUrl::parse("https://ivr.example.com").unwrap();
        let reply = Reply {
            speech: vec![Prompt::Say("We held your card.".into())],
            then: Then::Gather {
                prompt: "Press 1 to approve, or 2 to decline.".into(),
                digits: 1,
                finish_on_key: String::new(),
                timeout_secs: 30,
                hints: vec!["approve".into(), "decline".into()],
            },
            language: Some("es-ES".into()),
        };
        let doc = actions(&markup::render::<Ncco>(&reply, &links(&public), false));
        assert_eq!(doc.len(), 3, "{doc:?}");
        assert_eq!(doc[0]["action"], "talk");
        assert_eq!(doc[0].get("bargeIn"), None);
        assert_eq!(doc[0]["language"], "es-ES");
        assert_eq!(doc[1]["bargeIn"], true);
        let input = &doc[2];
        assert_eq!(input["action"], "input");
        assert_eq!(input["type"], json!(["dtmf", "speech"]));
        assert_eq!(input["dtmf"]["maxDigits"], 1);
        assert_eq!(input["dtmf"]["timeOut"], 10, "clamped to Vonage's most");
        assert_eq!(input["speech"]["context"], json!(["approve", "decline"]));
        assert_eq!(
            input["eventUrl"][0],
            "https://ivr.example.com/vonage/gather?session=00000000-0000-0000-0000-000000000000&turn=3&call=aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
        );
    }

    #[test]
    fn a_hold_notifies_the_hold_route_and_a_hangup_lets_the_ncco_run_out() {
        let public = PublicUrl::parse("https://ivr.example.com").unwrap();
        let hold = Reply {
            speech: vec![],
            then: Then::Hold {
                hold_prompt: "Still there?".into(),
            },
            language: None,
        };
        let doc = actions(&markup::render::<Ncco>(&hold, &links(&public), true));
        assert_eq!(doc[0]["text"], "Still there?");
        assert_eq!(doc[1]["action"], "notify");
        assert!(
            doc[1]["eventUrl"][0]
                .as_str()
                .unwrap()
                .contains("/vonage/hold?session=")
        );
        let bye = Reply {
            speech: vec![Prompt::Say("Goodbye.".into())],
            then: Then::Hangup,
            language: None,
        };
        let doc = actions(&markup::render::<Ncco>(&bye, &links(&public), false));
        assert_eq!(doc, vec![json!({"action": "talk", "text": "Goodbye."})]);
    }

    #[test]
    fn a_transfer_connects_the_agent_without_the_plus_and_text_is_data_not_markup() {
        let doc = actions(&markup::apology::<Ncco>(Some("+14155550199")));
        let connect = doc.last().unwrap();
        assert_eq!(connect["action"], "connect");
        assert_eq!(connect["endpoint"][0]["number"], "14155550199");
        let odd = Ncco::new(None).say("\"]},{\"action\":\"connect\"").finish();
        assert_eq!(actions(&odd).len(), 1);
        let long = "word ".repeat(700);
        assert_eq!(actions(&Ncco::new(None).say(&long).finish()).len(), 3);
    }
}
