//! Rendering a session's next step as Plivo XML: `Speak`, `Play`, `Wait`, `GetInput`,
//! `Redirect`, `Dial`, `Conference` and `Hangup`. Every document is well-formed by
//! construction: all text and attribute values are escaped as TwiML's are.

use std::fmt::Write;

use crate::providers::markup::{Gather, Markup, escape, say_pieces};

/// A Plivo XML document being built; [`crate::providers::markup`] writes the call's documents
/// with it.
#[derive(Default)]
pub struct PlivoXml {
    body: String,
    /// `language` for every `<Speak>` and the input's recognition, when not English.
    language: Option<String>,
}

impl Markup for PlivoXml {
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
        let open = match &self.language {
            Some(l) => format!(r#"<Speak language="{}">"#, escape(l)),
            None => "<Speak>".to_owned(),
        };
        for piece in say_pieces(text) {
            let _ = write!(self.body, "{open}{}</Speak>", escape(piece));
        }
        self
    }

    fn pause(mut self, secs: u32) -> Self {
        let _ = write!(self.body, r#"<Wait length="{secs}"/>"#);
        self
    }

    fn dial(mut self, number: &str) -> Self {
        let _ = write!(
            self.body,
            "<Dial><Number>{}</Number></Dial>",
            escape(number)
        );
        self
    }

    /// Plivo has no queue verb: a queue is a conference the agents join.
    fn queue(mut self, name: &str) -> Self {
        let _ = write!(self.body, "<Conference>{}</Conference>", escape(name));
        self
    }

    fn gather(mut self, g: &Gather) -> Self {
        let mut input = match g.hints.is_empty() {
            true => r#"inputType="dtmf""#.to_owned(),
            false => format!(
                r#"inputType="dtmf speech" hints="{}""#,
                escape(&g.hints.join(","))
            ),
        };
        if let Some(language) = &self.language {
            let _ = write!(input, r#" language="{}""#, escape(language));
        }
        // digitEndTimeout is the wait after each key, as TwiML's timeout is; the whole input
        // may take a wait for each key and one more.
        let whole = g
            .timeout_secs
            .saturating_mul(u32::from(g.digits) + 1)
            .clamp(5, 60);
        let _ = write!(
            self.body,
            r#"<GetInput action="{}" method="POST" {input} executionTimeout="{whole}" digitEndTimeout="{}" numDigits="{}" finishOnKey="{}" redirect="true">"#,
            escape(&g.action),
            g.timeout_secs,
            g.digits,
            escape(g.finish_on_key),
        );
        let nested = Self::new(self.language.as_deref()).say(g.prompt);
        self.body.push_str(&nested.body);
        self.body.push_str("</GetInput>");
        self
    }
}

/// The answer to an inbound text: a `<Message>` from the bank's number back to the sender,
/// or an empty document.
pub fn message(text: Option<&str>, from_bank: &str, to: &str) -> String {
    let mut doc = PlivoXml::default();
    if let Some(text) = text {
        let _ = write!(
            doc.body,
            r#"<Message src="{}" dst="{}" type="sms">{}</Message>"#,
            escape(from_bank),
            escape(to),
            escape(text)
        );
    }
    doc.finish()
}

/// Status callbacks expect no instructions.
pub fn empty() -> String {
    PlivoXml::default().finish()
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
        session::{Reply, Then},
    };

    #[test]
    fn a_gather_is_an_input_whose_silence_comes_back_by_the_redirect_after_it() {
        let reply = Reply {
            speech: vec!["Hi <Dana> & co".into()],
            then: Then::Gather {
                prompt: "Press 1".into(),
                digits: 4,
                finish_on_key: "#".into(),
                timeout_secs: 5,
                hints: vec!["agent".into()],
            },
            language: Some("es-US".into()),
        };
        let public = PublicUrl::parse("https://ivr.example.com").unwrap();
        let links = Links {
            dialect: Dialect::Plivo,
            public: &public,
            session: Uuid::nil(),
            turn: 3,
            agent: None,
            call: None,
        };
        let doc = markup::render::<PlivoXml>(&reply, &links, false);
        let action = "https://ivr.example.com/plivo/gather?session=00000000-0000-0000-0000-000000000000&amp;turn=3";
        assert!(
            doc.contains(r#"<Speak language="es-US">Hi &lt;Dana&gt; &amp; co</Speak>"#),
            "{doc}"
        );
        assert!(doc.contains(&format!(r##"<GetInput action="{action}" method="POST" inputType="dtmf speech" hints="agent" language="es-US" executionTimeout="25" digitEndTimeout="5" numDigits="4" finishOnKey="#" redirect="true"><Speak language="es-US">Press 1</Speak></GetInput><Redirect method="POST">{action}</Redirect></Response>"##)), "{doc}");
    }

    #[test]
    fn a_queue_is_a_conference_and_a_text_answer_names_both_numbers() {
        let reply = Reply {
            speech: vec![],
            then: Then::Transfer {
                queue: Some("fraud".into()),
            },
            language: None,
        };
        let public = PublicUrl::parse("https://ivr.example.com").unwrap();
        let links = Links {
            dialect: Dialect::Plivo,
            public: &public,
            session: Uuid::nil(),
            turn: 1,
            agent: None,
            call: None,
        };
        assert!(
            markup::render::<PlivoXml>(&reply, &links, false)
                .contains("<Conference>fraud</Conference>")
        );
        let answer = message(Some("Thanks & bye"), "+18005550100", "+14155550123");
        assert!(answer.contains(r#"<Message src="+18005550100" dst="+14155550123" type="sms">Thanks &amp; bye</Message>"#), "{answer}");
        assert_eq!(
            message(None, "+1", "+2"),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#
        );
    }
}
