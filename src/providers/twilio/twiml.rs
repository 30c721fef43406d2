//! Rendering a session's next step as TwiML. Every document here is well-formed by
//! construction: all text and attribute values go through [`escape`].

use std::fmt::Write;

pub use crate::providers::markup::{Links, Markup, escape};
use crate::{
    providers::markup::{self, Gather, say_pieces},
    session::Reply,
};

/// A TwiML document being built.
#[derive(Default)]
pub struct Twiml {
    body: String,
    /// `language` for every `<Say>` (and the gather's recognition), when not English.
    language: Option<String>,
}

/// One `<Say>` per piece of `text`, in `language` when one is given.
fn write_say(body: &mut String, text: &str, language: Option<&str>) {
    let open = match language {
        Some(l) => format!(r#"<Say language="{}">"#, escape(l)),
        None => "<Say>".to_owned(),
    };
    for piece in say_pieces(text) {
        let _ = write!(body, "{open}{}</Say>", escape(piece));
    }
}

impl Markup for Twiml {
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

    fn say(mut self, text: &str) -> Self {
        write_say(&mut self.body, text, self.language.as_deref());
        self
    }

    fn pause(mut self, secs: u32) -> Self {
        let _ = write!(self.body, r#"<Pause length="{secs}"/>"#);
        self
    }

    fn dial(mut self, number: &str) -> Self {
        let _ = write!(self.body, "<Dial>{}</Dial>", escape(number));
        self
    }

    fn queue(mut self, name: &str) -> Self {
        let _ = write!(self.body, "<Enqueue>{}</Enqueue>", escape(name));
        self
    }

    fn gather(mut self, g: &Gather) -> Self {
        let mut input = match g.hints.is_empty() {
            true => r#"input="dtmf""#.to_owned(),
            false => format!(
                r#"input="dtmf speech" speechTimeout="auto" hints="{}""#,
                escape(&g.hints.join(", "))
            ),
        };
        if let Some(language) = &self.language {
            let _ = write!(input, r#" language="{}""#, escape(language));
        }
        // TeXML has no actionOnEmptyResult; the document's next verb takes silence there.
        let empty = match g.posts_empty {
            true => r#" actionOnEmptyResult="true""#,
            false => "",
        };
        let _ = write!(
            self.body,
            r#"<Gather {input} numDigits="{}" finishOnKey="{}" timeout="{}" action="{}" method="POST"{empty}>"#,
            g.digits,
            escape(g.finish_on_key),
            g.timeout_secs,
            escape(&g.action),
        );
        write_say(&mut self.body, g.prompt, self.language.as_deref());
        self.body.push_str("</Gather>");
        self
    }
}

impl Twiml {
    /// A reply text, in answer to an inbound message.
    pub fn message(mut self, text: &str) -> Self {
        let _ = write!(self.body, "<Message>{}</Message>", escape(text));
        self
    }
}

/// The document for a reply in a TwiML dialect. `holding` marks a hold-loop answer with
/// nothing new to say, so the caller hears the hold prompt before the loop goes round again.
pub fn render(reply: &Reply, links: &Links, holding: bool) -> String {
    markup::render::<Twiml>(reply, links, holding)
}

pub fn store_wait(links: &Links, since: i64) -> String {
    markup::store_wait::<Twiml>(links, since)
}

pub fn apology(agent: Option<&str>) -> String {
    markup::apology::<Twiml>(agent)
}

pub fn unknown_caller(agent: Option<&str>) -> String {
    markup::unknown_caller::<Twiml>(agent)
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::{
        config::PublicUrl,
        providers::{Dialect, markup::MAX_SAY_CHARS},
        session::{Prompt, Then},
    };

    #[test]
    fn markup_in_text_is_escaped() {
        let reply = Reply {
            speech: vec!["Bistro <Lumiere> & \"Co\"\u{7}".into()],
            then: Then::Hangup,
            language: None,
        };
        let public = PublicUrl::parse("https://ivr.example.com").unwrap();
        let links = Links {
            dialect: Dialect::Twilio,
            public: &public,
            session: Uuid::nil(),
            turn: 3,
            agent: None,
            call: None,
        };
        let doc = render(&reply, &links, false);
        assert!(
            doc.contains("<Say>Bistro &lt;Lumiere&gt; &amp; &quot;Co&quot; </Say><Hangup/>"),
            "{doc}"
        );
    }

    /// A Spanish session is spoken and heard in Spanish: every `<Say>` and the gather say so.
    #[test]
    fn a_reply_in_another_language_names_it_on_every_say_and_the_gather() {
        let reply = Reply {
            speech: vec!["Hola Ana.".into()],
            then: Then::Gather {
                prompt: "Marque 1.".into(),
                digits: 1,
                finish_on_key: "#".into(),
                timeout_secs: 5,
                hints: vec!["agente".into()],
            },
            language: Some("es-US".into()),
        };
        let public = PublicUrl::parse("https://ivr.example.com").unwrap();
        let links = Links {
            dialect: Dialect::Twilio,
            public: &public,
            session: Uuid::nil(),
            turn: 1,
            agent: None,
            call: None,
        };
        let doc = render(&reply, &links, false);
        assert!(
            doc.contains(r#"<Say language="es-US">Hola Ana.</Say>"#),
            "{doc}"
        );
        assert!(doc.contains(r#"hints="agente" language="es-US""#), "{doc}");
        assert!(
            doc.contains(r#"<Say language="es-US">Marque 1.</Say></Gather>"#),
            "{doc}"
        );
    }

    /// Found by the `twiml_render` fuzz target: a blank agent number rendered `<Dial></Dial>`.
    #[test]
    fn a_blank_agent_number_never_renders_an_empty_dial() {
        for agent in ["", "  "] {
            let doc = Twiml::default().transfer(Some(agent)).finish();
            assert!(!doc.contains("<Dial"), "{doc}");
            assert!(doc.contains("<Hangup/>"), "{doc}");
        }
    }

    #[test]
    fn characters_xml_forbids_never_reach_the_document() {
        let doc = Twiml::default()
            .say("a\u{0}b\u{1b}c\u{FFFE}d\u{FFFF}e")
            .finish();
        assert!(doc.contains("<Say>a b c d e</Say>"), "{doc}");
    }

    #[test]
    fn a_gather_posts_back_with_its_turn_even_on_silence() {
        let reply = Reply {
            speech: vec![],
            then: Then::Gather {
                prompt: "Press 1".into(),
                digits: 1,
                finish_on_key: "*".into(),
                timeout_secs: 5,
                hints: vec![],
            },
            language: None,
        };
        let public = PublicUrl::parse("https://ivr.example.com").unwrap();
        let links = Links {
            dialect: Dialect::Twilio,
            public: &public,
            session: Uuid::nil(),
            turn: 7,
            agent: None,
            call: None,
        };
        let doc = render(&reply, &links, false);
        assert!(doc.contains(r#"action="https://ivr.example.com/twilio/gather?session=00000000-0000-0000-0000-000000000000&amp;turn=7""#), "{doc}");
        assert!(doc.contains(r#"actionOnEmptyResult="true""#));
        assert!(doc.contains(r#"finishOnKey="*""#), "{doc}");
    }

    /// TeXML has no actionOnEmptyResult: silence runs on to the redirect after the gather,
    /// which posts back to the same action with no digits.
    #[test]
    fn a_telnyx_gather_sends_silence_back_by_the_verb_after_it() {
        let reply = Reply {
            speech: vec![],
            then: Then::Gather {
                prompt: "Press 1".into(),
                digits: 1,
                finish_on_key: "#".into(),
                timeout_secs: 5,
                hints: vec![],
            },
            language: None,
        };
        let public = PublicUrl::parse("https://ivr.example.com").unwrap();
        let links = Links {
            dialect: Dialect::Telnyx,
            public: &public,
            session: Uuid::nil(),
            turn: 2,
            agent: None,
            call: None,
        };
        let doc = render(&reply, &links, false);
        let action = "https://ivr.example.com/telnyx/gather?session=00000000-0000-0000-0000-000000000000&amp;turn=2";
        assert!(!doc.contains("actionOnEmptyResult"), "{doc}");
        assert!(
            doc.contains(&format!(
                r#"</Gather><Redirect method="POST">{action}</Redirect></Response>"#
            )),
            "{doc}"
        );
        assert!(doc.contains(&format!(r#"action="{action}""#)), "{doc}");
    }

    #[test]
    fn audio_and_pauses_render_as_play_and_pause() {
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
            dialect: Dialect::Twilio,
            public: &public,
            session: Uuid::nil(),
            turn: 1,
            agent: None,
            call: None,
        };
        let doc = render(&reply, &links, false);
        // The dev phone's crate also runs this document through its TwiML parser.
        assert!(doc.contains(r#"<Play>https://cdn.example/a.mp3?x=1&amp;y=2</Play><Pause length="2"/><Say>Hi</Say><Hangup/>"#), "{doc}");
    }

    #[test]
    fn a_text_longer_than_twilio_reads_in_one_say_is_spoken_whole_in_several() {
        let sentence = "Ein Einkauf bei Café Zürich über 12,50 €, heute um 9 Uhr. ";
        let long = sentence.repeat(200);
        let doc = Twiml::default().say(&long).finish();
        let says: Vec<&str> = doc
            .split("<Say>")
            .skip(1)
            .map(|s| s.split("</Say>").next().unwrap())
            .collect();
        assert!(says.len() > 1, "{} pieces", says.len());
        for say in &says {
            assert!(
                say.chars().count() <= MAX_SAY_CHARS,
                "{}",
                say.chars().count()
            );
            assert!(say.ends_with('.'), "cut after a sentence: {say:?}");
        }
        let heard = says.join(" ").replace("&amp;", "&");
        assert_eq!(heard, long.trim_end(), "nothing lost or repeated");
        let word = "x".repeat(7000);
        assert_eq!(
            say_pieces(&word).concat(),
            word,
            "an endless word is cut anywhere"
        );
        assert_eq!(say_pieces(""), vec![""]);
    }
}
