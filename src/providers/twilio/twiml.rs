//! Rendering a session's next step as TwiML. Every document here is well-formed by
//! construction: all text and attribute values go through [`escape`].

use std::fmt::Write;

use uuid::Uuid;

use super::Dialect;
use crate::{
    config::PublicUrl,
    session::{Prompt, Reply, Then},
};

/// Where a rendered document's follow-up requests go, and in which dialect it is written.
pub struct Links<'a> {
    pub dialect: Dialect,
    pub public: &'a PublicUrl,
    pub session: Uuid,
    pub turn: u32,
    pub agent: Option<&'a str>,
}

impl Links<'_> {
    fn url(&self, route: &str) -> String {
        self.public.join(&format!(
            "/{}/{route}?session={}&turn={}",
            self.dialect.name(),
            self.session,
            self.turn
        ))
    }
}

/// A TwiML document being built.
#[derive(Default)]
pub struct Twiml {
    body: String,
    /// `language` for every `<Say>` (and the gather's recognition), when not English.
    language: Option<String>,
}

/// Twilio reads at most 4,096 characters in one `<Say>`, and 3,000 with Polly voices: a
/// longer text is spoken as several, one after another.
const MAX_SAY_CHARS: usize = 3000;

/// `text` in pieces Twilio will read whole: cut after a sentence where one ends in reach,
/// else at a space, else (one endless word) anywhere.
fn say_pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some((limit, _)) = rest.char_indices().nth(MAX_SAY_CHARS) {
        let head = &rest[..limit];
        let cut = head
            .rfind(". ")
            .map(|i| i + 1)
            .or_else(|| head.rfind(' '))
            .filter(|&i| i > 0)
            .unwrap_or(limit);
        pieces.push(rest[..cut].trim_end());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest.trim_end());
    }
    pieces
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

impl Twiml {
    pub fn say(mut self, text: &str) -> Self {
        write_say(&mut self.body, text, self.language.as_deref());
        self
    }

    pub fn prompt(mut self, prompt: &Prompt) -> Self {
        match prompt {
            Prompt::Say(text) => return self.say(text),
            Prompt::Play { play } => {
                let _ = write!(self.body, "<Play>{}</Play>", escape(play));
            }
            Prompt::Pause { pause } => {
                let _ = write!(self.body, r#"<Pause length="{pause}"/>"#);
            }
        }
        self
    }

    pub fn redirect(mut self, url: &str) -> Self {
        let _ = write!(
            self.body,
            r#"<Redirect method="POST">{}</Redirect>"#,
            escape(url)
        );
        self
    }

    pub fn hangup(mut self) -> Self {
        self.body.push_str("<Hangup/>");
        self
    }

    /// Sends the caller to a person, or says goodbye when no agent number is configured.
    pub fn transfer(mut self, agent: Option<&str>) -> Self {
        // A blank number would be an empty <Dial>, which Twilio refuses with an error tone.
        match agent.filter(|n| n.chars().any(|c| !c.is_whitespace() && !c.is_control())) {
            Some(number) => {
                let _ = write!(self.body, "<Dial>{}</Dial>", escape(number));
                self
            }
            None => self.say("Sorry, no one can take your call right now. Please call us again later. Goodbye.").hangup(),
        }
    }

    pub fn enqueue(mut self, queue: &str) -> Self {
        let _ = write!(self.body, "<Enqueue>{}</Enqueue>", escape(queue));
        self
    }

    /// A reply text, in answer to an inbound message.
    pub fn message(mut self, text: &str) -> Self {
        let _ = write!(self.body, "<Message>{}</Message>", escape(text));
        self
    }

    pub fn finish(self) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response>{}</Response>"#,
            self.body
        )
    }
}

/// The document for a reply. `holding` marks a hold-loop answer with nothing new to say, so
/// the caller hears the hold prompt before the loop goes round again.
pub fn render(reply: &Reply, links: &Links, holding: bool) -> String {
    let start = Twiml {
        language: reply.language.clone(),
        ..Twiml::default()
    };
    let mut doc = reply
        .speech
        .iter()
        .fold(start, |doc, prompt| doc.prompt(prompt));
    match &reply.then {
        Then::Gather {
            prompt,
            digits,
            finish_on_key,
            timeout_secs,
            hints,
        } => {
            let mut input = match hints.is_empty() {
                true => r#"input="dtmf""#.to_owned(),
                false => format!(
                    r#"input="dtmf speech" speechTimeout="auto" hints="{}""#,
                    escape(&hints.join(", "))
                ),
            };
            if let Some(language) = &reply.language {
                let _ = write!(input, r#" language="{}""#, escape(language));
            }
            // Silence comes back to us too, so retries stay in the script: by
            // actionOnEmptyResult where the dialect has it, else by the verb after the gather,
            // which a silent gather runs on to (posting no digits, as a silent gather does).
            let empty = match links.dialect.posts_empty_gathers() {
                true => r#" actionOnEmptyResult="true""#,
                false => "",
            };
            let _ = write!(
                doc.body,
                r#"<Gather {input} numDigits="{digits}" finishOnKey="{}" timeout="{timeout_secs}" action="{}" method="POST"{empty}>"#,
                escape(finish_on_key),
                escape(&links.url("gather")),
            );
            write_say(&mut doc.body, prompt, doc.language.as_deref());
            doc.body.push_str("</Gather>");
            if !links.dialect.posts_empty_gathers() {
                doc = doc.redirect(&links.url("gather"));
            }
            doc.finish()
        }
        Then::Hold { hold_prompt } => {
            if holding && !hold_prompt.is_empty() {
                doc = doc.say(hold_prompt);
            }
            doc.redirect(&links.url("hold")).finish()
        }
        Then::Hangup => doc.hangup().finish(),
        Then::Transfer { queue: Some(queue) } => doc.enqueue(queue).finish(),
        Then::Transfer { queue: None } => doc.transfer(links.agent).finish(),
    }
}

/// While the store is away: a moment's pause, then the hold loop again, remembering when the
/// outage began.
pub fn store_wait(links: &Links, since: i64) -> String {
    Twiml::default()
        .say("One moment, please.")
        .prompt(&Prompt::Pause { pause: 1 })
        .redirect(&format!("{}&outage={since}", links.url("hold")))
        .finish()
}

/// Said when something on our side failed: the caller is never left with an error tone.
pub fn apology(agent: Option<&str>) -> String {
    let doc = Twiml::default().say("Sorry, we're having a problem on our side.");
    match agent {
        Some(_) => doc
            .say("Let me connect you with a representative.")
            .transfer(agent)
            .finish(),
        None => doc
            .say("Please call us again in a few minutes. Goodbye.")
            .hangup()
            .finish(),
    }
}

pub fn unknown_caller(agent: Option<&str>) -> String {
    let doc = Twiml::default()
        .say("Thank you for calling. We couldn't find an open alert for this phone number.");
    match agent {
        Some(_) => doc.say("Let me connect you with a representative.").transfer(agent).finish(),
        None => doc.say("If you have a question about your card, please call the number on the back of it. Goodbye.").hangup().finish(),
    }
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters, and these two, even when escaped.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => out.push(' '),
            '\u{FFFE}' | '\u{FFFF}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
