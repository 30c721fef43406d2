//! The shapes of a call's documents, written once for every dialect: what a reply, a hold, a
//! store outage, an apology and an unknown caller sound like. A dialect says how each verb is
//! spelt ([`Markup`]); TwiML (Twilio, SignalWire, Telnyx), Plivo XML and Vonage's NCCO
//! implement it.

use uuid::Uuid;

use crate::{
    config::PublicUrl,
    providers::dialect::Dialect,
    session::{Prompt, Reply, Then},
};

/// A gather as the script asked for it.
pub struct Gather<'a> {
    pub prompt: &'a str,
    pub digits: u8,
    pub finish_on_key: &'a str,
    pub timeout_secs: u32,
    pub hints: &'a [String],
    /// Where its answer goes.
    pub action: String,
    /// Whether the dialect can post a silent gather back itself.
    pub posts_empty: bool,
}

/// How one dialect spells each verb. Every text and attribute is escaped, so every document
/// is well-formed by construction. `Play`, `Redirect`, `Hangup` and the `<Response>` around
/// them are spelt alike in the XML dialects; NCCO spells them its own way.
pub trait Markup: Sized {
    /// An empty document whose speech and recognition are in `language` (none: English).
    fn new(language: Option<&str>) -> Self;
    /// The elements written so far, in the document's own notation.
    fn body(&mut self) -> &mut String;
    fn into_body(self) -> String;
    fn say(self, text: &str) -> Self;
    fn pause(self, secs: u32) -> Self;
    fn dial(self, number: &str) -> Self;
    fn queue(self, name: &str) -> Self;
    /// The gather with its prompt nested, so a key interrupts it.
    fn gather(self, gather: &Gather) -> Self;

    fn play(mut self, url: &str) -> Self {
        let element = format!("<Play>{}</Play>", escape(url));
        self.body().push_str(&element);
        self
    }

    fn redirect(mut self, url: &str) -> Self {
        let element = format!(r#"<Redirect method="POST">{}</Redirect>"#, escape(url));
        self.body().push_str(&element);
        self
    }

    fn hangup(mut self) -> Self {
        self.body().push_str("<Hangup/>");
        self
    }

    fn finish(self) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response>{}</Response>"#,
            self.into_body()
        )
    }

    fn prompt(self, prompt: &Prompt) -> Self {
        match prompt {
            Prompt::Say(text) => self.say(text),
            Prompt::Play { play } => self.play(play),
            Prompt::Pause { pause } => self.pause(*pause),
        }
    }

    /// Sends the caller to a person, or says goodbye when no agent number is configured.
    fn transfer(self, agent: Option<&str>) -> Self {
        // A blank number would be an empty dial, which providers refuse with an error tone.
        match agent.filter(|n| n.chars().any(|c| !c.is_whitespace() && !c.is_control())) {
            Some(number) => self.dial(number),
            None => self
                .say("Sorry, no one can take your call right now. Please call us again later. Goodbye.")
                .hangup(),
        }
    }
}

/// The document for a reply. `holding` marks a hold-loop answer with nothing new to say, so
/// the caller hears the hold prompt before the loop goes round again.
pub fn render<M: Markup>(reply: &Reply, links: &Links, holding: bool) -> String {
    let doc = reply
        .speech
        .iter()
        .fold(M::new(reply.language.as_deref()), |doc, p| doc.prompt(p));
    match &reply.then {
        Then::Gather {
            prompt,
            digits,
            finish_on_key,
            timeout_secs,
            hints,
        } => {
            let doc = doc.gather(&Gather {
                prompt,
                digits: *digits,
                finish_on_key,
                timeout_secs: *timeout_secs,
                hints,
                action: links.url("gather"),
                posts_empty: links.dialect.posts_empty_gathers(),
            });
            // Silence comes back to us too, so retries stay in the script: where the dialect
            // cannot post a silent gather back, by the verb after it, which silence runs on to.
            match links.dialect.posts_empty_gathers() {
                true => doc.finish(),
                false => doc.redirect(&links.url("gather")).finish(),
            }
        }
        Then::Hold { hold_prompt } => {
            let doc = match holding && !hold_prompt.is_empty() {
                true => doc.say(hold_prompt),
                false => doc,
            };
            doc.redirect(&links.url("hold")).finish()
        }
        Then::Hangup => doc.hangup().finish(),
        Then::Transfer { queue: Some(queue) } => doc.queue(queue).finish(),
        Then::Transfer { queue: None } => doc.transfer(links.agent).finish(),
    }
}

/// While the store is away: a moment's pause, then the hold loop again, remembering when the
/// outage began.
pub fn store_wait<M: Markup>(links: &Links, since: i64) -> String {
    M::new(None)
        .say("One moment, please.")
        .pause(1)
        .redirect(&format!("{}&outage={since}", links.url("hold")))
        .finish()
}

/// Said when something on our side failed: the caller is never left with an error tone.
pub fn apology<M: Markup>(agent: Option<&str>) -> String {
    let doc = M::new(None).say("Sorry, we're having a problem on our side.");
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

pub fn unknown_caller<M: Markup>(agent: Option<&str>) -> String {
    let doc = M::new(None)
        .say("Thank you for calling. We couldn't find an open alert for this phone number.");
    match agent {
        Some(_) => doc.say("Let me connect you with a representative.").transfer(agent).finish(),
        None => doc.say("If you have a question about your card, please call the number on the back of it. Goodbye.").hangup().finish(),
    }
}

/// Where a rendered document's follow-up requests go, and in which dialect it is written.
pub struct Links<'a> {
    pub dialect: Dialect,
    pub public: &'a PublicUrl,
    pub session: Uuid,
    pub turn: u32,
    pub agent: Option<&'a str>,
    /// The call, where the provider's follow-up requests do not name it (Vonage's `notify`).
    pub call: Option<&'a str>,
}

impl Links<'_> {
    pub(crate) fn url(&self, route: &str) -> String {
        let call = match self.call {
            Some(call) => format!("&call={}", urlencode(call)),
            None => String::new(),
        };
        self.public.join(&format!(
            "/{}/{route}?session={}&turn={}{call}",
            self.dialect.name(),
            self.session,
            self.turn
        ))
    }
}

fn urlencode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Twilio reads at most 4,096 characters in one `<Say>`, and 3,000 with Polly voices: a
/// longer text is spoken as several, one after another.
pub(crate) const MAX_SAY_CHARS: usize = 3000;

/// `text` in pieces Twilio will read whole: cut after a sentence where one ends in reach,
/// else at a space, else (one endless word) anywhere.
pub(crate) fn say_pieces(text: &str) -> Vec<&str> {
    pieces(text, MAX_SAY_CHARS)
}

/// `text` in pieces of at most `max` characters, cut as [`say_pieces`] cuts.
pub(crate) fn pieces(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some((limit, _)) = rest.char_indices().nth(max) {
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
